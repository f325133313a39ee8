/* Reveal a masked field in place (the form also works without this file). */
(function () {
  "use strict";
  document.addEventListener("submit", async function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-reveal]") || !window.fetch) return;
    event.preventDefault();
    var response = await fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-HighSeas-Async": "1", "Accept": "application/json" }
    });
    var answer = await response.json();
    var cell = document.querySelector('[data-field="' + form.dataset.reveal + '"]');
    if (answer.ok && cell) {
      cell.textContent = answer.value || "—";
      cell.classList.remove("masked");
      cell.setAttribute("data-revealed", "");
      form.remove();
    } else if (cell) {
      cell.setAttribute("title", answer.message || "");
    }
  });
})();
