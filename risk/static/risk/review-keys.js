// Keyboard shortcuts of the review console (see templates/risk/review/_keys_help.html).
// Keys do nothing while the reviewer is typing in a field.
(function () {
  "use strict";
  function typing(event) {
    var t = event.target;
    return t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  }
  function click(selector) {
    var el = document.querySelector(selector);
    if (!el) return false;
    el.click();
    return true;
  }
  var rows = [];
  var current = -1;
  function select(index) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, index));
    rows.forEach(function (row, i) { row.classList.toggle("rv-row-current", i === current); });
    rows[current].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("DOMContentLoaded", function () {
    rows = Array.prototype.slice.call(document.querySelectorAll("#result_list tbody tr"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var help = document.getElementById("rv-keys-help");
    if (event.key === "?") {
      if (help.open) { help.close(); } else { help.showModal(); }
      event.preventDefault();
      return;
    }
    if (help && help.open) return;
    var onQueue = rows.length > 0 || document.getElementById("result_list");
    var handled = false;
    if (onQueue) {
      if (event.key === "j") { select(current + 1); handled = true; }
      else if (event.key === "k") { select(current - 1); handled = true; }
      else if ((event.key === "o" || event.key === "Enter") && current >= 0) {
        var link = rows[current].querySelector("th a, td a");
        if (link) { link.click(); handled = true; }
      }
    } else {
      var keys = { j: "#rv-next", k: "#rv-previous", u: "#rv-queue", c: "#rv-claim",
                   a: "#rv-quick-approve", r: "#rv-quick-reject",
                   b: "#rv-quick-block_device", t: "#rv-quick-trust_device" };
      if (keys[event.key]) handled = click(keys[event.key]);
    }
    if (handled) event.preventDefault();
  });
})();
