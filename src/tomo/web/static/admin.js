// The token page's copy button: button[data-copy="ID"] copies the text of #ID.
// Without it the value is still there to select (and it selects as one piece).
"use strict";

(function () {
  function copied(button, said) {
    const status = document.querySelector('[data-copy-status="' + button.dataset.copy + '"]');
    if (status) status.textContent = said;
  }

  function byHand(source) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return document.execCommand && document.execCommand("copy");
  }

  function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const text = source.textContent.trim();
    const fallback = function () {
      copied(button, byHand(source) ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, "Copied."); }, fallback);
    } else {
      fallback();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  });
})();
