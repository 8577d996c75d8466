/* Dashboards: draw each chart from its json_script figure with the vendored plotly.js.
 * Reads data-* attributes only: data-figure (id of the JSON), data-filename (PNG name),
 * data-drill-url (a bar click opens the incidents behind it), data-legend-url (a legend
 * click drills into that category), data-static (printable page: no hover, no modebar). */
(function () {
  "use strict";

  function config(element) {
    var isStatic = element.hasAttribute("data-static");
    return {
      responsive: true,
      displaylogo: false,
      staticPlot: isStatic,
      modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d"],
      toImageButtonOptions: { format: "png", filename: element.dataset.filename || "chart", scale: 2 },
    };
  }

  function monthOf(value) {
    return String(value).slice(0, 7);
  }

  function wireDrillDown(element) {
    var url = element.dataset.drillUrl;
    if (!url) return;
    element.on("plotly_click", function (event) {
      var point = event.points && event.points[0];
      if (!point || !point.customdata) return;
      var key = point.customdata[0], month = point.customdata[1];
      window.location.href = url + "&option=" + encodeURIComponent(key) + "&month=" + monthOf(month);
    });
  }

  function wireLegend(element, figure) {
    var url = element.dataset.legendUrl;
    if (!url) return;
    element.on("plotly_legendclick", function (event) {
      var trace = figure.data[event.curveNumber];
      var key = trace && trace.customdata && trace.customdata[0] && trace.customdata[0][0];
      if (key) window.location.href = url + "&category=" + encodeURIComponent(key);
      return false;  // drill down instead of hiding the trace
    });
  }

  function draw(element) {
    var source = document.getElementById(element.dataset.figure);
    if (!source || !window.Plotly) return;
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(element, figure.data, figure.layout, config(element)).then(function () {
      wireDrillDown(element);
      wireLegend(element, figure);
    });
  }

  document.querySelectorAll(".chart[data-figure]").forEach(draw);
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
