// The editor's two conveniences; every form also works without them.
// 1. "Add a row" copies the row's <template>, numbered after the rows there.
// 2. A challenge row shows the parameters of the rule kind chosen (the server ignores the others).
(function () {
  "use strict";

  function showFor(row, selectSuffix, attribute) {
    var kindSelect = row.querySelector('select[name$="' + selectSuffix + '"]');
    if (!kindSelect) return;
    row.querySelectorAll("[" + attribute + "]").forEach(function (part) {
      part.hidden = part.getAttribute(attribute).split(" ").indexOf(kindSelect.value) === -1;
    });
  }

  function showKinds(row) {
    showFor(row, ".rule.kind", "data-kinds");
    showFor(row, ".rule.member_rule.kind", "data-member-kinds");
  }

  function nextIndex(container) {
    var highest = -1;
    container.querySelectorAll("[name]").forEach(function (field) {
      var found = /^[a-z_]+\[(\d+)\]/.exec(field.getAttribute("name"));
      if (found) highest = Math.max(highest, parseInt(found[1], 10));
    });
    return highest + 1;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (!button) return;
    var kind = button.getAttribute("data-add-row");
    var container = document.getElementById(kind + "-rows");
    var template = document.getElementById("row-template-" + kind);
    var index = nextIndex(container);
    var html = template.innerHTML.split("__INDEX__").join(String(index));
    container.insertAdjacentHTML("beforeend", html);
    var added = container.lastElementChild;
    if (added.hasAttribute("data-rule")) showKinds(added);
    var first = added.querySelector("input, select, textarea");
    if (first) first.focus();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches('select[name$=".rule.kind"], select[name$=".member_rule.kind"]')) {
      showKinds(event.target.closest("[data-rule]"));
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-rule]").forEach(showKinds);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  });
})();
