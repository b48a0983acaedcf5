// The logs page's Follow toggle: streams the containers' lines from the API (the
// session cookie authenticates a GET), starting right after the last line the page
// shows, and appends them, scrolled to the newest line unless the reader has
// scrolled up to read older ones. The lines come stamped by Docker, so the script
// keeps each container's place (its last stamp, and how many lines of that stamp it
// has): Follow after Stop, or a reconnection after the stream dropped, carries on
// after the last line received, with none lost or twice.
// Without this script the page still shows the last lines and a Reload link.
"use strict";

(function () {
  const MAX_CHARS = 2000000; // the oldest text goes past this: a tab must not grow forever
  const STAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;
  const RETRIES = 3; // reconnections in a row that bring no line, before giving up

  // Each container's place, from the `after` values the page's stream starts from:
  // `SERVICE` (none of its lines shown) or `SERVICE,STAMP,COUNT`.
  function placesIn(url) {
    const places = new Map();
    url.searchParams.getAll("after").forEach(function (value) {
      const parts = value.split(",");
      const known = parts.length === 3;
      places.set(parts[0], { stamp: known ? parts[1] : "", seen: known ? Number(parts[2]) : 0 });
    });
    return places;
  }

  function follower(log, button, status) {
    const stream = new URL(log.dataset.follow, window.location.href);
    const places = placesIn(stream);
    const merged = places.size > 1; // merged lines are led by their service: `web | text`
    const only = merged ? null : places.keys().next().value;
    let controller = null;
    let misses = 0; // reconnections in a row that brought no line
    let size = log.textContent.length;

    const atBottom = function () {
      return log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    };
    const append = function (text) {
      const stick = atBottom();
      log.appendChild(document.createTextNode(text)); // text, never markup
      size += text.length;
      while (size > MAX_CHARS && log.firstChild) {
        size -= log.firstChild.textContent.length;
        log.removeChild(log.firstChild);
      }
      if (stick) log.scrollTop = log.scrollHeight;
    };
    const say = function (words) { status.textContent = words; };
    const shown = function (on) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "Stop following" : "Follow";
      button.classList.toggle("btn-primary", on);
    };

    // Where the next stream starts: right after each container's place.
    const nextUrl = function () {
      const url = new URL(stream);
      url.searchParams.delete("after");
      places.forEach(function (place, service) {
        const written = place.stamp ? [service, place.stamp, place.seen].join(",") : service;
        url.searchParams.append("after", written);
      });
      return url.toString();
    };

    // One stamped line: its container's place moves past it; shown without the stamp.
    const taken = function (line) {
      const space = line.indexOf(" ");
      const stamp = space < 0 ? "" : line.slice(0, space);
      if (!STAMP.test(stamp)) return line; // no stamp of Docker's: the place stays
      const text = line.slice(space + 1);
      const service = merged ? text.split(" ", 1)[0] : only;
      const place = places.get(service) || { stamp: "", seen: 0 };
      places.set(service, { stamp: stamp, seen: place.stamp === stamp ? place.seen + 1 : 1 });
      return text;
    };

    // Whole lines only: a line cut short when a stream drops comes whole with the next.
    const read = function (reader, decoder, pending) {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        const lines = (pending + decoder.decode(chunk.value, { stream: true })).split("\n");
        const rest = lines.pop();
        if (lines.length) {
          append(lines.map(taken).join("\n") + "\n");
          if (misses) say("Following: new lines appear as they are printed.");
          misses = 0;
        }
        return read(reader, decoder, rest);
      });
    };

    const connect = function (mine) {
      fetch(nextUrl(), { credentials: "same-origin", signal: mine.signal,
                         headers: { Accept: "text/plain" } })
        .then(function (answer) {
          if (!answer.ok || !answer.body) {
            const failed = new Error("HTTP " + answer.status);
            failed.refused = answer.status >= 400 && answer.status < 500;
            throw failed;
          }
          return read(answer.body.getReader(), new TextDecoder(), "");
        })
        .then(function () { lost(mine, null); }, function (error) { lost(mine, error); });
    };

    // The stream ended or failed while following: connect again (after a pause
    // that grows) from the last line received, unless tomo refused the request or
    // the last reconnections brought nothing (the containers stopped, say).
    const lost = function (mine, error) {
      if (controller !== mine) return; // stopped on purpose
      if ((error && error.refused) || misses >= RETRIES) {
        controller = null;
        shown(false);
        say(error ? "Following stopped: " + (error.message || "the connection failed") +
                    ". Click Follow to try again."
                  : "The log stream ended (the containers stopped, or the connection closed).");
        return;
      }
      misses += 1;
      say("The log stream was interrupted; reconnecting (" + misses + " of " + RETRIES + ").");
      window.setTimeout(function () {
        if (controller === mine) connect(mine);
      }, 1000 * misses);
    };

    const start = function () {
      controller = new AbortController();
      misses = 0;
      shown(true);
      say("Following: new lines appear as they are printed.");
      const empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      log.scrollTop = log.scrollHeight;
      connect(controller);
    };

    const stop = function () {
      const running = controller;
      controller = null;
      if (running) running.abort();
      shown(false);
      say("Not following.");
    };

    button.hidden = false;
    button.addEventListener("click", function () {
      if (controller) stop(); else start();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const log = document.getElementById("log");
    const button = document.getElementById("log-follow");
    const status = document.getElementById("log-status");
    if (!log || !button || !status || !window.fetch || !window.ReadableStream) return;
    log.scrollTop = log.scrollHeight; // the newest lines first in view
    follower(log, button, status);
  });
})();
