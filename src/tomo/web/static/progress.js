// A job's page, live (templates/jobs/job.html). The job's Server-Sent Events
// (GET /api/jobs/{id}/events: a `step` event each time a step starts, progresses
// or ends, what already happened first; then one `end`) update the steps and the
// image pull's progress bar. At the end the page's final state (the app's links,
// or what went wrong and what was cleaned up) is read from the server and put in
// the page's live region, so a screen reader says it. The markup comes from the
// page's own <template> elements: this script only fills it in.
// When the stream breaks (tomo restarted, the network dropped) the page says so in
// its live region and asks again after 1, 2, 4… seconds (at most RETRY_CAP); once
// tomo answers, the steps are read afresh and the stream followed again.
// Without this script the page reloads itself every few seconds while the job runs.
"use strict";

(function () {
  const RETRY_CAP = 30; // seconds between two tries, at most
  const GIVE_UP_AFTER = 60; // tries (about half an hour): then the page says to reload
  let brokenStreams = 0; // streams in a row that failed before they opened

  function clone(id) {
    const template = document.getElementById(id);
    return template ? template.content.firstElementChild.cloneNode(true) : null;
  }

  // A step is its name and the moment it started (a job may run a name twice).
  function keyOf(name, started) {
    return name + "@" + Date.parse(started);
  }

  function follow(card) {
    const list = document.getElementById("job-steps");
    const labels = JSON.parse(list.dataset.labels || "{}");
    const rows = new Map();
    list.querySelectorAll("li[data-name]").forEach(function (row) {
      rows.set(keyOf(row.dataset.name, row.dataset.started), row);
    });
    const source = new EventSource(card.dataset.events);
    source.addEventListener("open", function () {
      brokenStreams = 0;
      card.dataset.live = "yes"; // following the stream: a test waits for this before it cuts tomo off
    });
    source.addEventListener("step", function (event) {
      const step = JSON.parse(event.data);
      showStep(list, rows, labels, step);
      showPull(step);
    });
    source.addEventListener("end", function () {
      source.close(); // else it would connect again and replay the job
      refresh(0);
    });
    source.addEventListener("error", function () {
      // Retried here rather than by the browser, which would not retry a refused
      // connection and would not tell the person either way.
      // A stream that breaks before it opens while the page still loads (a proxy
      // in the way, say) waits longer each time instead of being asked in a loop.
      source.close();
      delete card.dataset.live;
      const pause = brokenStreams > 0 ? Math.min(RETRY_CAP, 2 ** (brokenStreams - 1)) : 0;
      brokenStreams += 1;
      setTimeout(function () { refresh(0); }, pause * 1000);
    });
  }

  function showStep(list, rows, labels, step) {
    const key = keyOf(step.name, step.started_at);
    let row = rows.get(key);
    if (!row) {
      row = placeholder(list, step.name) || newRow(list, labels, step.name);
      row.dataset.started = step.started_at;
      rows.set(key, row);
      const waiting = document.getElementById("job-waiting");
      if (waiting) waiting.remove();
      showRunning();
    }
    if (row.dataset.status !== step.status) {
      const badge = clone("job-badge-" + step.status);
      if (badge) row.querySelector(".step-badge").replaceChildren(badge);
      row.dataset.status = step.status;
    }
    row.querySelector(".step-detail").textContent = step.message || "";
  }

  // A step the page lists as still to come (no start time yet).
  function placeholder(list, name) {
    return Array.from(list.querySelectorAll('li[data-started=""]')).find(function (row) {
      return row.dataset.name === name;
    });
  }

  // A step the page did not expect goes before those still to come.
  function newRow(list, labels, name) {
    const row = clone("job-step-row");
    row.dataset.name = name;
    row.querySelector(".step-name").textContent =
      labels[name] || name.charAt(0).toUpperCase() + name.slice(1);
    list.insertBefore(row, list.querySelector('li[data-started=""]'));
    return row;
  }

  function showRunning() {
    const status = document.getElementById("job-status");
    const shown = status && status.querySelector("[data-status]");
    const badge = clone("job-badge-running");
    if (shown && badge && shown.dataset.status === "pending") status.replaceChildren(badge);
  }

  function showPull(step) {
    if (step.name !== "pull" || !step.progress_total) return;
    const total = step.progress_total;
    const done = step.status === "done" ? total : step.progress_done || 0;
    const bar = document.getElementById("job-pull-bar");
    document.getElementById("job-pull").hidden = false;
    bar.max = total;
    bar.value = done;
    document.getElementById("job-pull-text").textContent = done + " of " + total + " layers";
  }

  // The page as tomo has it now; `tries` failed before this one. A failure to reach
  // tomo is retried after a growing pause; an answer that is not the page (the
  // session ended, the job is gone) is shown as tomo gives it.
  function refresh(tries) {
    fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin",
                           cache: "no-store" })
      .then(function (answer) {
        if (!answer.ok) location.reload();
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        if (tries > 0) say("Connected to tomo again: the steps below are up to date.", "back");
        if (show(html)) follow(document.getElementById("job"));
      }, function () {
        if (tries === 0) say("Connection to tomo lost, retrying…", "lost");
        if (tries + 1 >= GIVE_UP_AFTER) return gaveUp();
        setTimeout(function () { refresh(tries + 1); }, Math.min(RETRY_CAP, 2 ** tries) * 1000);
      });
  }

  // The fresh page's header, steps and links in place of these; once the job has
  // ended, the end's content moved into the live region already on the page.
  // True while the job still runs.
  function show(html) {
    const fresh = new DOMParser().parseFromString(html, "text/html");
    const card = fresh.getElementById("job");
    const running = card !== null && card.dataset.running === "yes";
    ["job-head", "job-steps", "job-pull", "job-links", "job-waiting"].forEach(function (id) {
      const current = document.getElementById(id);
      const replacement = fresh.getElementById(id);
      if (current && replacement) current.replaceWith(document.adoptNode(replacement));
      else if (current) current.remove(); // "waiting for the job to start": it has
    });
    const end = fresh.getElementById("job-end");
    if (end && !running) {
      document.getElementById("job-end").replaceChildren(...Array.from(end.childNodes));
    }
    document.title = fresh.title;
    return running;
  }

  function say(text, state) {
    const note = document.getElementById("job-connection");
    if (!note) return;
    note.textContent = text;
    note.dataset.state = state; // its colour; the words say it too
  }

  function gaveUp() {
    const note = document.getElementById("job-connection");
    if (!note) return;
    const again = document.createElement("a");
    again.href = location.href;
    again.textContent = "Reload the page";
    note.replaceChildren("tomo has not answered for half an hour, so this page stopped asking. ",
                         again, " to see how the job goes on.");
  }

  document.addEventListener("DOMContentLoaded", function () {
    const card = document.getElementById("job");
    if (card && card.dataset.running === "yes" && window.EventSource) follow(card);
  });
})();
