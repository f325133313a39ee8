/* The import page: commit with a live progress indicator. The form posts without this file
   too (the page then waits for the commit and shows its outcome). */
(function () {
  "use strict";

  var POLL_MS = 400;

  function showProgress(form, progress) {
    var bar = form.querySelector("[data-progress-bar]");
    var text = form.querySelector("[data-progress-text]");
    var total = progress.total || 0;
    bar.max = total || 1;
    bar.value = progress.done || 0;
    text.textContent = text.getAttribute("data-template")
      .replace("{done}", String(progress.done || 0))
      .replace("{total}", String(total));
  }

  function commit(form) {
    var button = form.querySelector("[data-commit]");
    var box = form.querySelector("[data-progress]");
    var finished = false;
    button.disabled = true;
    box.hidden = false;
    form.setAttribute("data-running", "");

    function poll() {
      if (finished) return;
      fetch(form.getAttribute("data-progress-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" }
      })
        .then(function (response) { return response.json(); })
        .then(function (progress) {
          if (!finished) showProgress(form, progress);
          setTimeout(poll, POLL_MS);
        })
        .catch(function () { setTimeout(poll, POLL_MS * 3); });
    }

    function done() {
      finished = true;
      window.location.reload();
    }

    poll();
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-HighSeas-Async": "1", Accept: "application/json" }
    }).then(done, done);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-import-commit]");
    if (!form || !window.fetch || !window.FormData) return;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      commit(form);
    });
  });
})();
