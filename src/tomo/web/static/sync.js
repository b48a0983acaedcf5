// A repository's sync, followed live on its page. The page shows the sync's
// progress as it was when the page was made (and a reload link); this re-reads
// that part (#sync-run, from its data-status-url) about once a second, and when
// the sync has ended shows the page again with the fresh report.
"use strict";

(function () {
  const QUICK = 700; // ms between looks while the answers come
  const SLOW = 4000; // after a failed look: the server may be restarting

  function follow(box) {
    const statusUrl = box.dataset.statusUrl;
    const doneUrl = box.dataset.doneUrl;
    const look = function () {
      fetch(statusUrl, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (answer) {
          if (!answer.ok) throw new Error(String(answer.status));
          return answer.text();
        })
        .then(function (html) {
          const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("sync-run");
          const current = document.getElementById("sync-run");
          if (!fresh || !current) return;
          if (fresh.dataset.state === "running") {
            withoutReloadHint(fresh);
            current.replaceWith(fresh);
            setTimeout(look, QUICK);
          } else {
            location.replace(doneUrl); // the report, the counts and the badge change too
          }
        })
        .catch(function () { setTimeout(look, SLOW); });
    };
    setTimeout(look, QUICK);
  }

  function withoutReloadHint(box) { // this script does the reloading
    box.querySelectorAll(".no-js-only").forEach(function (hint) { hint.remove(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("sync-run");
    if (box && box.dataset.state === "running" && box.dataset.statusUrl) {
      withoutReloadHint(box);
      follow(box);
    }
  });
})();
