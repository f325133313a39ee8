// The rule editor without round trips for show/hide: the custom-field key only for a custom
// field, and only the target fields of the chosen kind. Everything works without it.
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn(); else document.addEventListener("DOMContentLoaded", fn);
  }
  ready(function () {
    var form = document.querySelector("[data-rule-form]");
    if (!form) return;
    document.documentElement.classList.add("js");
    function syncRow(row) {
      var select = row.querySelector("[data-field]");
      row.setAttribute("data-custom", select && select.value === "custom" ? "on" : "off");
    }
    function syncKind() {
      var checked = form.querySelector("input[name=target_kind]:checked");
      var kind = checked ? checked.value : "team";
      form.querySelectorAll("[data-for-kind]").forEach(function (el) {
        var kinds = el.getAttribute("data-for-kind").split(" ");
        if (kinds.indexOf(kind) >= 0) el.removeAttribute("data-hidden-kind");
        else el.setAttribute("data-hidden-kind", "");
      });
    }
    form.querySelectorAll(".cond-row").forEach(syncRow);
    form.addEventListener("change", function (event) {
      var row = event.target.closest(".cond-row");
      if (row) syncRow(row);
      if (event.target.name === "target_kind") syncKind();
    });
    syncKind();
  });
})();
