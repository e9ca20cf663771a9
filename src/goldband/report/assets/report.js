(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody.case"));
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  var search = document.getElementById("q");
  var group = document.getElementById("group");
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input[name=status]"));
  var shown = document.getElementById("shown");

  function chosen() {
    return boxes.filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
  }

  function apply() {
    var statuses = chosen();
    var needle = search.value.trim().toLowerCase();
    var wanted = group.value;
    var count = 0;
    rows.forEach(function (row, i) {
      var ok = statuses.indexOf(row.getAttribute("data-status")) >= 0 &&
        (!wanted || row.getAttribute("data-group") === wanted) &&
        (!needle || texts[i].indexOf(needle) >= 0);
      row.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = "showing " + count + " of " + rows.length + " cases";
    var state = new URLSearchParams();
    if (statuses.length !== boxes.length) { state.set("status", statuses.join(",")); }
    if (needle) { state.set("q", needle); }
    if (wanted) { state.set("group", wanted); }
    var hash = state.toString();
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", hash ? "#" + hash : window.location.pathname);
    }
  }

  function restore() {
    var state = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    if (state.has("status")) {
      var statuses = state.get("status").split(",");
      boxes.forEach(function (box) { box.checked = statuses.indexOf(box.value) >= 0; });
    }
    if (state.has("q")) { search.value = state.get("q"); }
    if (state.has("group")) { group.value = state.get("group"); }
  }

  restore();
  boxes.forEach(function (box) { box.addEventListener("change", apply); });
  search.addEventListener("input", apply);
  group.addEventListener("change", apply);
  apply();
  document.body.setAttribute("data-ready", "1");
}());
