/* Statistiques: platform/runs.html, the runs' own history (loaded after app.js). The alerts and the table are
   in the page (they read without this script); this draws its two charts from window.STATS_RUNS
   (platform/runs-data.js) with the specifications of STATS_CONFIG (charts.js, built once per build). */
(function () {
  "use strict";

  var body = document.body;
  if (body.getAttribute("data-page") !== "runs") { return; }
  var config = window.STATS_CONFIG;
  var data = window.STATS_RUNS;
  var charts = [["runs-events", "events"], ["runs-seconds", "seconds"]];
  var drawn = 0;

  charts.forEach(function (pair) {
    var box = document.getElementById(pair[0]);
    if (!config || !data || !window.vegaEmbed) {
      box.textContent = "Le graphique n'a pas pu être affiché.";
      return;
    }
    if (!data[pair[1]].length) {
      box.textContent = "Aucune exécution à montrer.";
      box.setAttribute("data-chart", "empty");
      if (++drawn === charts.length) { body.setAttribute("data-chart-ready", "true"); }
      return;
    }
    var spec = JSON.parse(JSON.stringify(config.specs[pair[0]]));
    spec.datasets = { rows: data[pair[1]] };
    window.vegaEmbed(box, spec, window.STATS_PAGE.chartOptions(config)).then(function () {
      box.setAttribute("data-chart", pair[0]);
      if (++drawn === charts.length) { body.setAttribute("data-chart-ready", "true"); }
    }).catch(function (error) {
      box.textContent = "Le graphique n'a pas pu être affiché.";
      if (window.console) { window.console.error(error); }
    });
  });
}());
