// A job's page, live (templates/jobs/job.html). The job's Server-Sent Events
// (GET /api/jobs/{id}/events: a `step` event each time a step starts, progresses
// or ends, what already happened first; then one `end`) update the steps and the
// image pull's progress bar. At the end the page's final state (the app's links,
// or what went wrong and what was cleaned up) is read from the server and put in
// the page's live region, so a screen reader says it. The markup comes from the
// page's own <template> elements: this script only fills it in.
// Without this script the page reloads itself every few seconds while the job runs.
"use strict";

(function () {
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
    source.addEventListener("step", function (event) {
      const step = JSON.parse(event.data);
      showStep(list, rows, labels, step);
      showPull(step);
    });
    source.addEventListener("end", function () {
      source.close(); // else it would connect again and replay the job
      finish();
    });
    source.addEventListener("error", function () {
      // A dropped connection is retried by the browser; a refused one is not.
      if (source.readyState === EventSource.CLOSED) lost();
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

  // The page as it is now the job has ended: its header, steps and links replaced,
  // the end's content moved into the live region that is already on the page.
  function finish() {
    fetch(location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" })
      .then(function (answer) { return answer.ok ? answer.text() : Promise.reject(answer.status); })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html");
        ["job-head", "job-steps", "job-pull", "job-links"].forEach(function (id) {
          const current = document.getElementById(id);
          const replacement = fresh.getElementById(id);
          if (current && replacement) current.replaceWith(document.adoptNode(replacement));
        });
        const end = fresh.getElementById("job-end");
        if (end) document.getElementById("job-end").replaceChildren(...Array.from(end.childNodes));
        document.title = fresh.title;
      })
      .catch(function () { location.reload(); });
  }

  function lost() {
    const end = document.getElementById("job-end");
    const note = document.createElement("p");
    note.className = "field-error";
    note.append("Lost contact with tomo, so this page stopped following the job. ");
    const again = document.createElement("a");
    again.href = location.href;
    again.textContent = "Reload the page";
    note.append(again, " to see how it goes on.");
    end.append(note);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const card = document.getElementById("job");
    if (card && card.dataset.running === "yes" && window.EventSource) follow(card);
  });
})();
