/* Statistiques: what every page does (the root index's filter, the entity switcher, the reader's own entities
   from GET /_me). Reads window.STATS_NAV when the switcher opens; detail pages add detail.js. Text from data
   always goes through textContent, never innerHTML. */
(function () {
  "use strict";

  var body = document.body;
  var root = body.getAttribute("data-root") || "";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  /* Hide the items whose key (folded) lacks a word of the query; the number left shown. The root index's
     list and the side-by-side tables (compare.js) filter with it. */
  function filterItems(items, keys, query) {
    var words = fold(query).split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var match = true;
      for (var w = 0; w < words.length; w++) {
        if (keys[i].indexOf(words[w]) < 0) { match = false; break; }
      }
      if (items[i].hidden === match) { items[i].hidden = !match; }
      if (match) { shown++; }
    }
    return shown;
  }

  /* Root index: filter the list of structures --------------------------------------------------- */
  function setupRootFilter() {
    var input = document.getElementById("filter");
    var list = document.getElementById("structures");
    if (!input || !list) { return; }
    var items = Array.prototype.slice.call(list.children);
    var keys = null;
    var count = document.getElementById("filter-count");
    var pending = false;
    function apply() {
      pending = false;
      if (!keys) {
        keys = items.map(function (li) {
          return fold(li.textContent + " " + (li.firstElementChild.getAttribute("href") || ""));
        });
      }
      var shown = filterItems(items, keys, input.value);
      count.textContent = shown + (shown > 1 ? " établissements" : " établissement");
    }
    input.addEventListener("input", function () {
      if (!pending) { pending = true; window.requestAnimationFrame(apply); }
    });
  }

  /* The reader's own entities ------------------------------------------------------------------- */
  /* GET /_me, answered by the ENT's session check behind nginx (README "Access"): the reader's structures
     and classes, and the summary the root index opens. null where nothing answers it (a page opened from
     disk, a plain static server): the pages then work as they always have. */
  var OWN_PATH = /^structures\/[A-Za-z0-9_-]+\/(classes\/[A-Za-z0-9_-]+\/)?$/;
  var OPENED_KEY = "statistiques.opened";
  var readerAnswer = null;

  function loadReader(done) {
    if (!readerAnswer) {
      readerAnswer = new Promise(function (resolve) {
        if (!window.fetch || window.location.protocol === "file:") { resolve(null); return; }
        window.fetch(root + "_me", { credentials: "same-origin", cache: "no-store" })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (me) { resolve(readerOf(me)); }, function () { resolve(null); });
      });
    }
    readerAnswer.then(done);
  }

  /* only folders of the site's own shape are followed: the answer names where links and the root go */
  function readerOf(me) {
    if (!me || me.version !== 1 || !Array.isArray(me.entities)) { return null; }
    var entities = me.entities.filter(function (e) {
      return e && typeof e.path === "string" && OWN_PATH.test(e.path) && typeof e.name === "string";
    });
    var main = typeof me.main === "string" && OWN_PATH.test(me.main) ? me.main : null;
    return { main: main, entities: entities };
  }

  function ownLabel(entity) {
    return entity.kind === "class" && entity.structure ? entity.name + " — " + entity.structure : entity.name;
  }

  /* Root index: the reader's main summary on the way in (once a tab: the site's own link back to the index
     then shows the whole list, the reader's own entities first) */
  function setupRootReader() {
    var section = document.getElementById("own");
    if (!section) { return; }
    loadReader(function (me) {
      if (!me || !me.entities.length) { return; }
      /* without session storage (refused by the browser), arriving means coming from no page of the site */
      var arriving = !document.referrer;
      try {
        arriving = !window.sessionStorage.getItem(OPENED_KEY);
        window.sessionStorage.setItem(OPENED_KEY, "1");
      } catch (error) { /* keep the referrer's answer */ }
      if (arriving && me.main) {
        window.location.replace(root + me.main + "index.html");
        return;
      }
      var list = document.getElementById("own-list");
      me.entities.forEach(function (e) {
        list.appendChild(linkItem(ownLabel(e), root + e.path + "index.html"));
      });
      section.hidden = false;
    });
  }

  /* Entity switcher ---------------------------------------------------------------------------- */
  var SWITCHER_LIMIT = 200;

  function currentFile() {
    var indicator = body.getAttribute("data-indicator");
    return indicator ? indicator + ".html" : "index.html";
  }

  function loadNavigation(done) {
    if (window.STATS_NAV) { done(); return; }
    var script = el("script", { src: body.getAttribute("data-nav") });
    script.onload = function () { done(); };
    script.onerror = function () { done(new Error("navigation")); };
    document.head.appendChild(script);
  }

  function linkItem(name, href, extra, current) {
    var li = el("li");
    var a = el("a", { href: href }, name);
    if (current) { a.setAttribute("aria-current", "page"); }
    li.appendChild(a);
    if (extra) { li.appendChild(el("span", { "class": "uai" }, extra)); }
    return li;
  }

  function buildSwitcher(panel, me) {
    var data = window.STATS_DATA || { entity: {}, classes: [] };
    var entity = data.entity;
    var file = currentFile();
    panel.textContent = "";
    var here = entity.kind === "class" ? "structures/" + entity.structure_id + "/classes/" + entity.id + "/"
      : entity.kind === "structure" ? "structures/" + entity.id + "/" : null;
    if (me && me.entities.length) {
      panel.appendChild(el("h2", { "class": "switch-title", id: "switch-own" }, "Vos établissements et classes"));
      var ownList = el("ul", { "class": "switch-list own", "aria-labelledby": "switch-own" });
      me.entities.forEach(function (e) {
        ownList.appendChild(linkItem(ownLabel(e), root + e.path + file, null, e.path === here));
      });
      panel.appendChild(ownList);
    }
    var platformList = el("ul", { "class": "switch-list" });
    platformList.appendChild(linkItem(window.STATS_NAV.platform, root + "platform/" + file, null,
      entity.kind === "platform"));
    panel.appendChild(platformList);
    if (data.classes && data.classes.length) {
      var structureBase = root + "structures/" + encodeURIComponent(entity.structure_id) + "/";
      panel.appendChild(el("h2", { "class": "switch-title", id: "switch-classes" },
        "Classes — " + entity.structure_name));
      var classList = el("ul", { "class": "switch-list", "aria-labelledby": "switch-classes" });
      if (entity.kind === "class") {
        classList.appendChild(linkItem(entity.structure_name + " (tout l'établissement)", structureBase + file));
      }
      data.classes.forEach(function (c) {
        classList.appendChild(linkItem(c[1], structureBase + "classes/" + encodeURIComponent(c[0]) + "/" + file,
          null, entity.kind === "class" && entity.id === c[0]));
      });
      panel.appendChild(classList);
    }
    panel.appendChild(el("h2", { "class": "switch-title", id: "switch-structures" }, "Établissements"));
    var label = el("label", { "for": "switch-filter", "class": "switch-label" }, "Rechercher un établissement");
    var input = el("input", { type: "search", id: "switch-filter", autocomplete: "off", spellcheck: "false" });
    var status = el("p", { "class": "switch-status", "aria-live": "polite" });
    var list = el("ul", { "class": "switch-list structures", "aria-labelledby": "switch-structures" });
    panel.appendChild(label);
    panel.appendChild(input);
    panel.appendChild(status);
    panel.appendChild(list);
    var structures = window.STATS_NAV.structures;
    var keys = structures.map(function (s) { return fold(s[1] + " " + s[2] + " " + s[0]); });
    function show() {
      var words = fold(input.value).split(/\s+/).filter(Boolean);
      var fragment = document.createDocumentFragment();
      var matched = 0;
      for (var i = 0; i < structures.length; i++) {
        var ok = words.every(function (w) { return keys[i].indexOf(w) >= 0; });
        if (!ok) { continue; }
        matched++;
        if (matched <= SWITCHER_LIMIT) {
          var s = structures[i];
          fragment.appendChild(linkItem(s[1], root + "structures/" + encodeURIComponent(s[0]) + "/" + file, s[2],
            entity.kind === "structure" && entity.id === s[0]));
        }
      }
      list.textContent = "";
      list.appendChild(fragment);
      status.textContent = matched > SWITCHER_LIMIT
        ? SWITCHER_LIMIT + " établissements affichés sur " + matched + " : précisez la recherche."
        : matched + (matched > 1 ? " établissements" : " établissement");
    }
    input.addEventListener("input", show);
    show();
    return input;
  }

  function setupSwitcher() {
    var button = document.getElementById("switcher-toggle");
    var panel = document.getElementById("switcher-panel");
    if (!button || !panel) { return; }
    var built = false;
    function close(focusButton) {
      panel.hidden = true;
      button.setAttribute("aria-expanded", "false");
      if (focusButton) { button.focus(); }
    }
    function open() {
      panel.hidden = false;
      button.setAttribute("aria-expanded", "true");
      if (built) { panel.querySelector("input").focus(); return; }
      panel.textContent = "Chargement…";
      loadNavigation(function (error) {
        if (error) { panel.textContent = "La liste des établissements n'a pas pu être chargée."; return; }
        loadReader(function (me) {
          if (built) { return; }
          built = true;
          buildSwitcher(panel, me).focus();
        });
      });
    }
    button.addEventListener("click", function () {
      if (panel.hidden) { open(); } else { close(false); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !panel.hidden) { close(true); }
    });
    document.addEventListener("click", function (event) {
      if (!panel.hidden && !panel.contains(event.target) && !button.contains(event.target)) { close(false); }
    });
    var switcher = panel.parentNode;  /* the button and its panel */
    switcher.addEventListener("focusout", function (event) {
      var next = event.relatedTarget;  /* null when the window itself loses focus: the panel stays */
      if (!panel.hidden && next && !switcher.contains(next)) { close(false); }
    });
  }

  /* vega-embed's options for every chart of the site: SVG, the French locales of STATS_CONFIG, and no <style>
     injected (the Content-Security-Policy forbids inline styles): style.css has their rules */
  function chartOptions(config) {
    return {
      actions: false, renderer: "svg", formatLocale: config.numberLocale, timeFormatLocale: config.timeLocale,
      defaultStyle: false, tooltip: { theme: "light", disableDefaultStyle: true }
    };
  }

  /* for detail.js, compare.js, runs.js */
  window.STATS_PAGE = { el: el, fold: fold, filterItems: filterItems, chartOptions: chartOptions };

  setupRootFilter();
  setupRootReader();
  setupSwitcher();
}());
