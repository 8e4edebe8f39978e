/* Statistiques: the side-by-side pages (platform/structures.html, structures/<id>/classes.html). The table is
   in the page (it reads without this script); this sorts it by any column (a header's button, by mouse or
   keyboard; a second press reverses), filters it by name or UAI, says how many rows it shows, and announces
   each sort. Rows are moved, never rebuilt: their text stays the page's. */
(function () {
  "use strict";

  var table = document.getElementById("compare-table");
  if (!table) { return; }
  var groups = Array.prototype.slice.call(table.tBodies);  /* rows in groups of equal size (the last less) */
  var groupSize = groups.length ? groups[0].rows.length : 0;
  var rows = [];
  groups.forEach(function (group) { rows.push.apply(rows, Array.prototype.slice.call(group.rows)); });
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var input = document.getElementById("compare-filter");
  var count = document.getElementById("compare-count");
  var announce = document.getElementById("compare-sorted");
  var nouns = (count.getAttribute("data-nouns") || "|").split("|");
  var total = rows.length;
  var number = new Intl.NumberFormat("fr-FR");
  var weekdays = (table.getAttribute("data-weekdays") || "").split("|");
  var keys = null;  /* per row, its sort key of each column (null: no value, always last) */
  var names = null;  /* per row, its name and UAI folded, for the filter */
  var sorted = { column: 0, ascending: true };

  var fold = window.STATS_PAGE.fold;  /* app.js, loaded before */

  function readKeys() {
    keys = new Array(rows.length);
    names = new Array(rows.length);
    var types = headers.map(function (th) { return th.getAttribute("data-type"); });
    var filtered = [];  /* the name and UAI columns */
    headers.forEach(function (th, c) { if (th.hasAttribute("data-filter")) { filtered.push(c); } });
    for (var r = 0; r < rows.length; r++) {
      var cells = rows[r].cells;
      var key = new Array(cells.length);
      for (var c = 0; c < cells.length; c++) { key[c] = keyOf(cells[c].textContent, types[c]); }
      key.order = r;  /* the page's order (name, then id): ties keep it */
      keys[r] = key;
      names[r] = filtered.map(function (c) { return fold(cells[c].textContent); }).join(" ");
    }
  }

  /* a cell's sort key from its text as shown: `12 345`, `4,50`, `−5 %`, `nouveau` (above every change),
     `18h-19h` (its hour), a weekday (its place from Monday), a name; null for `—` or nothing */
  function keyOf(text, type) {
    text = text.trim();
    if (text === "" || text === "\u2014") { return null; }
    if (type === "text") { return fold(text); }
    if (type === "weekday") { return weekdays.indexOf(text); }
    if (text === "nouveau") { return Infinity; }
    var value = parseFloat(text.replace(/[\s\u202f\u00a0%]/g, "").replace("\u2212", "-").replace(",", "."));
    return isNaN(value) ? null : value;
  }

  function compare(column, ascending) {
    var direction = ascending ? 1 : -1;
    return function (a, b) {
      var x = a[column], y = b[column];
      if (x === null || y === null) {
        if (x === y) { return a.order - b.order; }
        return x === null ? 1 : -1;
      }
      if (x < y) { return -direction; }
      if (x > y) { return direction; }
      return a.order - b.order;
    };
  }

  function label(th) {
    return th.querySelector("button").textContent.replace(/\s+/g, " ").trim();
  }

  function sortBy(column, ascending) {
    if (!keys) { readKeys(); }
    var order = keys.slice().sort(compare(column, ascending));
    for (var g = 0; g < groups.length; g++) {  /* the groups keep their sizes: rows move between them */
      var fragment = document.createDocumentFragment();
      var end = Math.min(order.length, (g + 1) * groupSize);
      for (var i = g * groupSize; i < end; i++) { fragment.appendChild(rows[order[i].order]); }
      groups[g].appendChild(fragment);
    }
    headers.forEach(function (th, c) {
      if (c === column) { th.setAttribute("aria-sort", ascending ? "ascending" : "descending"); }
      else { th.removeAttribute("aria-sort"); }
    });
    sorted = { column: column, ascending: ascending };
    announce.textContent = "Tableau trié par " + label(headers[column]) + ", ordre " +
      (ascending ? "croissant" : "décroissant") + ".";
  }

  headers.forEach(function (th, column) {
    th.querySelector("button").addEventListener("click", function () {
      /* a new column: names A to Z, figures largest first; the same column again: the other way */
      var ascending = column === sorted.column ? !sorted.ascending
        : th.getAttribute("data-type") !== "number";
      sortBy(column, ascending);
    });
  });

  function showCount(shown) {
    var noun = total > 1 ? nouns[1] : nouns[0];
    count.textContent = shown === total ? number.format(total) + " " + noun
      : number.format(shown) + " " + (shown > 1 ? nouns[1] : nouns[0]) + " sur " + number.format(total);
  }

  var pending = false;
  function filter() {
    pending = false;
    if (!keys) { readKeys(); }
    showCount(window.STATS_PAGE.filterItems(rows, names, input.value));
  }
  input.addEventListener("input", function () {
    if (!pending) { pending = true; window.requestAnimationFrame(filter); }
  });

  /* opened from disk, only the stored csv/<name>.csv.gz exists: link it (served, the .csv URL works) */
  var exportLink = document.getElementById("compare-export");
  if (exportLink && window.location.protocol === "file:") {
    exportLink.setAttribute("href", exportLink.getAttribute("href") + ".gz");
  }

  /* the sort keys are read while the reader looks, so that the first sort costs no more than the next */
  (window.requestIdleCallback || function (run) { window.setTimeout(run, 200); })(function () {
    if (!keys) { readKeys(); }
  });

  window.STATS_COMPARE = { sortBy: sortBy };
}());
