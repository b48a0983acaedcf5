// The logs page's Follow toggle: streams the container's new lines from the API
// (the session cookie authenticates a GET) and appends them to the page, scrolled
// to the newest line unless the reader has scrolled up to read older ones.
// Without this script the page still shows the last lines and a Reload link.
"use strict";

(function () {
  const MAX_CHARS = 2000000; // the oldest text goes past this: a tab must not grow forever

  function follower(log, button, status) {
    let controller = null;
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

    const read = function (reader, decoder) {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          const rest = decoder.decode();
          if (rest) append(rest);
          return;
        }
        append(decoder.decode(chunk.value, { stream: true }));
        return read(reader, decoder);
      });
    };

    const start = function () {
      controller = new AbortController();
      const mine = controller;
      shown(true);
      say("Following: new lines appear as the container prints them.");
      const empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      log.scrollTop = log.scrollHeight;
      fetch(log.dataset.follow, { credentials: "same-origin", signal: mine.signal,
                                  headers: { Accept: "text/plain" } })
        .then(function (answer) {
          if (!answer.ok || !answer.body) throw new Error("HTTP " + answer.status);
          return read(answer.body.getReader(), new TextDecoder());
        })
        .then(function () {
          if (controller !== mine) return;
          controller = null;
          shown(false);
          say("The log stream ended (the container stopped, or the connection closed).");
        })
        .catch(function (error) {
          if (controller !== mine) return; // stopped on purpose
          controller = null;
          shown(false);
          say("Following stopped: " + (error && error.message ? error.message : "the connection failed") +
              ". Reload the page to see the latest lines.");
        });
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
