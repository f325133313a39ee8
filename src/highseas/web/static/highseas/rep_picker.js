/* The type-ahead rep picker (选择负责人): the search box asks GET /api/v1/reps/?q= as one
   types and sets the form's owner field (a select) to the person picked. Without this script
   the select lists the first people and the box is sent as owner_q, resolved by the server. */
(function () {
  "use strict";

  function describe(rep) {
    return rep.label + (rep.team ? " · " + rep.team : "") + " (" + rep.holdings + ")";
  }

  function setup(root) {
    var select = root.querySelector("[data-rep-value]");
    var input = root.querySelector("[data-rep-query]");
    var list = root.querySelector("[data-rep-options]");
    var url = root.dataset.url;
    var timer = null;
    var asked = 0;
    var shown = [];
    var active = -1;

    function pickedLabel() {
      var option = select.selectedOptions[0];
      return option && option.value ? option.dataset.label || option.textContent : "";
    }

    root.classList.add("is-live");
    select.hidden = true;
    select.tabIndex = -1;
    input.removeAttribute("name");
    input.value = pickedLabel();
    input.placeholder = root.dataset.hint || "";
    var label = document.querySelector("label[for='" + select.id + "']");
    if (label) label.htmlFor = input.id;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.querySelectorAll("[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.classList.toggle("is-active", i === active); });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function choose(rep) {
      var option = Array.prototype.find.call(select.options, function (o) {
        return o.value === String(rep.id);
      });
      if (!option) {
        option = new Option(describe(rep), String(rep.id));
        option.dataset.label = rep.label;
        select.add(option);
      }
      select.value = String(rep.id);
      input.value = rep.label;
      close();
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }

    function render(reps) {
      shown = reps;
      list.textContent = "";
      if (!reps.length) {
        var none = document.createElement("li");
        none.className = "rep-none";
        none.textContent = root.dataset.none;
        list.appendChild(none);
      }
      reps.forEach(function (rep, i) {
        var item = document.createElement("li");
        item.id = select.id + "-option-" + i;
        item.setAttribute("role", "option");
        item.dataset.rep = String(rep.id);
        var name = document.createElement("span");
        name.className = "rep-name";
        name.textContent = rep.label;
        var sub = document.createElement("span");
        sub.className = "rep-sub";
        var holds = (root.dataset.holds || "{n}").replace("{n}", String(rep.holdings));
        sub.textContent = (rep.team ? rep.team + " · " : "") + holds;
        item.appendChild(name);
        item.appendChild(sub);
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          choose(rep);
        });
        list.appendChild(item);
      });
      list.hidden = false;
      list.style.left = "";
      var over = list.getBoundingClientRect().right - document.documentElement.clientWidth + 12;
      if (over > 0) list.style.left = -over + "px"; // kept on the screen of a phone
      input.setAttribute("aria-expanded", "true");
      active = -1;
    }

    function ask() {
      var mine = ++asked;
      var text = input.value === pickedLabel() ? "" : input.value.trim();
      fetch(url + "?q=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (answer) {
          if (mine === asked && document.activeElement === input) render(answer.results || []);
        })
        .catch(function () { /* the list stays as it was */ });
    }

    input.addEventListener("input", function () {
      if (!input.value.trim() && select.value) {
        select.value = "";
        select.dispatchEvent(new Event("change", { bubbles: true }));
      }
      clearTimeout(timer);
      timer = setTimeout(ask, 150);
    });
    input.addEventListener("focus", ask);
    input.addEventListener("blur", function () {
      close();
      input.value = pickedLabel();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { ask(); return; }
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter" && !list.hidden) {
        event.preventDefault();
        var rep = shown[active >= 0 ? active : 0];
        if (rep) choose(rep);
      } else if (event.key === "Escape") {
        close();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rep-picker]").forEach(setup);
  });
})();
