// tomo's own small enhancements. Every page works without them: they only make
// plain links and forms livelier. Behaviours attach by data attributes:
//   form[data-confirm="question"]    asks before sending
//   form[data-live]                  re-runs the search as the user types; the
//                                    element #results is replaced from the answer
//   [data-refresh="seconds"][id]     re-reads the page now and then and replaces
//                                    this element (live statuses)
//   .icon img                        removed when it cannot load: the letter shows
//   .screens img                     left out when it cannot load (a file the
//                                    repository lacks, an address out of reach),
//                                    and its section when none is left
"use strict";

(function () {
  function swapFrom(html, id) {
    const fresh = new DOMParser().parseFromString(html, "text/html").getElementById(id);
    const current = document.getElementById(id);
    if (fresh && current) current.replaceWith(fresh);
    return fresh;
  }

  function confirmations() {
    document.addEventListener("submit", function (event) {
      const form = event.target;
      if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  }

  function liveSearch(form) {
    let timer = null;
    let latest = 0;
    const run = function () {
      const query = new URLSearchParams(new FormData(form));
      for (const [key, value] of Array.from(query.entries())) {
        if (value === "") query.delete(key);
      }
      const url = form.action.split("?")[0] + (query.toString() ? "?" + query : "");
      const ticket = ++latest;
      fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (answer) { return answer.text(); })
        .then(function (html) {
          if (ticket !== latest) return; // an older answer arriving late
          const results = swapFrom(html, "results");
          if (results) {
            history.replaceState(null, "", url);
            fixIcons(results);
            const status = document.getElementById("results-status");
            if (status) status.textContent = results.dataset.summary || "";
          }
        })
        .catch(function () { /* the plain form still works: nothing to undo */ });
    };
    form.addEventListener("input", function (event) {
      if (event.target.type === "search" || event.target.tagName === "SELECT") {
        clearTimeout(timer);
        timer = setTimeout(run, event.target.tagName === "SELECT" ? 0 : 200);
      }
    });
  }

  function refreshing(element) {
    const seconds = Math.max(2, parseInt(element.dataset.refresh, 10) || 10);
    const id = element.id;
    let timer = null;
    const tick = function () {
      if (document.hidden) return;
      fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.text() : null; })
        .then(function (html) {
          const fresh = html ? swapFrom(html, id) : null;
          fixIcons(fresh);
          // The page stopped asking (a sync ended, say): so does the script.
          if (fresh && !fresh.hasAttribute("data-refresh")) clearInterval(timer);
          // It asks at another pace (an operation began or ended): that one, now.
          else if (fresh && fresh.dataset.refresh !== element.dataset.refresh) {
            clearInterval(timer);
            refreshing(fresh);
          }
        })
        .catch(function () {});
    };
    timer = setInterval(tick, seconds * 1000);
  }

  function whenBroken(img, drop) {
    if (img.complete && img.naturalWidth === 0) drop();
    else img.addEventListener("error", drop, { once: true });
  }

  function fixIcons(root) {
    if (!root) return;
    root.querySelectorAll(".icon img").forEach(function (img) {
      whenBroken(img, function () { img.remove(); });
    });
  }

  function fixScreens(root) {
    root.querySelectorAll(".screens img").forEach(function (img) {
      whenBroken(img, function () {
        const list = img.closest(".screens");
        img.closest("li").remove();
        if (list && !list.querySelector("li")) list.closest("section").hidden = true;
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    confirmations();
    document.querySelectorAll("form[data-live]").forEach(liveSearch);
    document.querySelectorAll("[data-refresh][id]").forEach(refreshing);
    fixIcons(document);
    fixScreens(document);
  });
})();
