/* HighSeas 公海 CRM — small progressive enhancements. Every form also works without this file. */
(function () {
  "use strict";

  var TOAST_MS = 6000;

  function toastBox() {
    return document.getElementById("toasts");
  }

  function dismiss(toast) {
    toast.classList.add("leaving");
    setTimeout(function () { toast.remove(); }, 220);
  }

  function arm(toast) {
    var close = toast.querySelector(".toast-close");
    if (close) close.addEventListener("click", function () { dismiss(toast); });
    if (!toast.classList.contains("error")) {
      setTimeout(function () { dismiss(toast); }, TOAST_MS);
    }
  }

  function toast(level, text, link) {
    var box = toastBox();
    if (!box || !text) return;
    var item = document.createElement("div");
    item.className = "toast " + (level || "success");
    item.setAttribute("role", level === "error" ? "alert" : "status");
    var body = document.createElement("span");
    body.textContent = text;
    if (link && link.href) {
      var anchor = document.createElement("a");
      anchor.href = link.href;
      anchor.textContent = link.text;
      body.appendChild(anchor);
    }
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "×");
    close.textContent = "×";
    item.appendChild(body);
    item.appendChild(close);
    box.appendChild(item);
    arm(item);
  }

  function setUnread(count) {
    document.querySelectorAll("[data-unread]").forEach(function (badge) {
      badge.textContent = String(count);
      badge.classList.toggle("is-zero", count === 0);
    });
  }

  function removeRow(form) {
    var row = form.closest("tr, li");
    if (!row) return;
    row.classList.add("leaving");
    setTimeout(function () { row.remove(); }, 360);
  }

  async function submitAsync(form, submitter) {
    var action = (submitter && submitter.getAttribute("formaction")) || form.action;
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    try {
      var response = await fetch(action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-HighSeas-Async": "1", "Accept": "application/json" }
      });
      var answer;
      try {
        answer = await response.json();
      } catch (notJson) {
        toast("error", document.body.dataset.failed || String(response.status));
        return;
      }
      var link = answer.customer_url ? { href: answer.customer_url, text: answer.link_text } : null;
      toast(answer.level, answer.message, link);
      if (answer.quota_html) {
        var quota = document.getElementById("quota");
        if (quota) quota.outerHTML = answer.quota_html;
      }
      if (typeof answer.unread === "number") setUnread(answer.unread);
      if (answer.ok && form.hasAttribute("data-remove-row")) removeRow(form);
      if (answer.ok && form.hasAttribute("data-mark-read")) {
        var item = form.closest("li");
        if (item) item.classList.remove("unread");
        form.remove();
      }
      if (!answer.ok && answer.code === "already_owned" && form.hasAttribute("data-remove-row")) {
        removeRow(form);
      }
    } catch (error) {
      form.removeAttribute("data-async");
      form.submit();
    } finally {
      buttons.forEach(function (b) { b.disabled = false; });
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var submitter = event.submitter;
    var confirmText = submitter && submitter.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) {
      event.preventDefault();
      return;
    }
    if (form.hasAttribute("data-async") && window.fetch && window.FormData) {
      event.preventDefault();
      submitAsync(form, submitter);
    }
  });

  function cityFilter() {
    var province = document.querySelector("[data-province]");
    var city = document.querySelector("[data-city]");
    if (!province || !city) return;
    province.addEventListener("change", function () {
      Array.prototype.forEach.call(city.options, function (option) {
        if (!option.value) return;
        option.hidden = Boolean(province.value) && option.dataset.of !== province.value;
      });
      if (city.selectedOptions[0] && city.selectedOptions[0].hidden) city.value = "";
    });
  }

  function bulkBar() {
    var form = document.getElementById("bulk");
    if (!form) return;
    var bar = form.querySelector("[data-bulk-bar]");
    var counter = form.querySelector("[data-selected-count]");
    var initial = counter.textContent;
    var all = form.querySelector("[data-select-all]");
    var action = form.querySelector("[data-bulk-action]");
    var owner = form.querySelector("[data-bulk-owner]");
    var until = form.querySelector("[data-bulk-until]");
    var template = counter.dataset.template || "{n}";
    function boxes() { return form.querySelectorAll("input[name=ids]"); }
    function refresh() {
      var chosen = form.querySelectorAll("input[name=ids]:checked").length;
      bar.classList.toggle("has-selection", chosen > 0);
      counter.textContent = chosen ? template.replace("{n}", String(chosen)) : initial;
    }
    function modes() {
      owner.hidden = action.value !== "give";
      until.hidden = action.value !== "freeze";
    }
    form.addEventListener("change", function (event) {
      if (event.target === all) boxes().forEach(function (box) { box.checked = all.checked; });
      if (event.target === action) modes();
      refresh();
    });
    modes();
    refresh();
  }

  function collapseFiltersOnPhones() {
    if (window.innerWidth > 760) return;
    document.querySelectorAll("details[data-collapse-on-phone]").forEach(function (panel) {
      panel.open = false;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".toast").forEach(arm);
    collapseFiltersOnPhones();
    cityFilter();
    bulkBar();
  });
})();
