/* kamen 卡盟 — the reseller dashboard's earnings chart (the last 30 days), drawn with the vendored Chart.js.
 *
 * The page holds, and this file reads, nothing but:
 *   <canvas id="earnings-chart" role="img" aria-label="…"></canvas>
 *   <script type="application/json" id="earnings-data">
 *     {"labels": ["11-02", …], "earned": ["1.20", …], "currency": "¥", "label": "佣金"}
 *   </script>
 * (Django's json_script filter writes the second.) Amounts travel as strings: tooltips are formatted from
 * those strings, numbers are only for the bar heights. No inline script anywhere: the CSP allows scripts
 * from 'self' only. Load static/vendor/chartjs/chart.umd.min.js before this file (both `defer`); without
 * it, without the canvas or with data it cannot read, this does nothing.
 */
(function () {
  "use strict";

  // "12.30" -> 1230 fen; null for anything that is not an amount, so a bad value is a gap, not a bar.
  function toFen(value) {
    var match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(value).trim());
    if (!match) return null;
    var fen = parseInt(match[2], 10) * 100 + parseInt(((match[3] || "") + "00").slice(0, 2), 10);
    return match[1] ? -fen : fen;
  }
  function groupThousands(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  // An amount string as it is shown: "¥1,234.50". Used for tooltips, from the string the server sent.
  function formatAmount(currency, value) {
    var fen = toFen(value);
    if (fen === null) return currency + String(value);
    var sign = fen < 0 ? "-" : "";
    fen = Math.abs(fen);
    var cents = String(fen % 100);
    return sign + currency + groupThousands(String(Math.floor(fen / 100))) + "." + (cents.length < 2 ? "0" + cents : cents);
  }
  // An axis tick (a number Chart.js chose): "¥10" when every tick is whole yuan, else "¥0.50" for all of
  // them, so one axis never mixes "¥1" with "¥1.50".
  function formatTick(currency, value, ticks) {
    var whole = ticks.every(function (tick) {
      return Math.round(tick.value * 100) % 100 === 0;
    });
    var shown = formatAmount(currency, value.toFixed(2));
    return whole ? shown.replace(/\.00$/, "") : shown;
  }

  function readData(element) {
    var data;
    try {
      data = JSON.parse(element.textContent);
    } catch (error) {
      return null;
    }
    if (!data || !Array.isArray(data.labels) || !Array.isArray(data.earned)) return null;
    return {
      labels: data.labels.map(String),
      earned: data.earned.map(String),
      currency: typeof data.currency === "string" ? data.currency : "¥",
      label: typeof data.label === "string" ? data.label : "",
    };
  }

  // The site's colours, from static/css/site.css, so the chart follows a change of theme.
  function siteColour(name, fallback) {
    var value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function options(data, theme, narrow) {
    var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var font = { family: theme.font, size: 12 };
    return {
      responsive: true,
      maintainAspectRatio: true,
      aspectRatio: narrow ? 1.6 : 2.6,
      animation: reduceMotion ? false : { duration: 400 },
      interaction: { mode: "index", intersect: false },
      layout: { padding: { top: 8 } },
      plugins: {
        legend: { display: false },
        tooltip: {
          backgroundColor: theme.text,
          titleColor: "#fff",
          bodyColor: "#fff",
          padding: 10,
          cornerRadius: 6,
          displayColors: false,
          titleFont: { family: theme.font, weight: "normal" },
          bodyFont: { family: theme.font, weight: "bold", size: 14 },
          callbacks: {
            label: function (item) {
              return formatAmount(data.currency, data.earned[item.dataIndex]);
            },
          },
        },
      },
      scales: {
        x: {
          grid: { display: false },
          border: { color: theme.line },
          ticks: { color: theme.muted, font: font, maxRotation: 0, autoSkipPadding: 12 },
        },
        y: {
          beginAtZero: true,
          suggestedMax: 1,
          grid: { color: theme.line },
          border: { display: false },
          ticks: {
            color: theme.muted,
            font: font,
            maxTicksLimit: 6,
            callback: function (value, index, ticks) {
              return formatTick(data.currency, value, ticks);
            },
          },
        },
      },
    };
  }

  function drawEarningsChart() {
    var canvas = document.getElementById("earnings-chart");
    var source = document.getElementById("earnings-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    var data = readData(source);
    if (!data) return;
    var theme = {
      brand: siteColour("--brand", "#ff5000"),
      brandDark: siteColour("--brand-dark", "#e24600"),
      text: siteColour("--text", "#1f2329"),
      muted: siteColour("--muted", "#8a919f"),
      line: siteColour("--line", "#ebedf0"),
      font: getComputedStyle(canvas).fontFamily || "sans-serif",
    };
    if (!canvas.getAttribute("aria-label") && data.label) canvas.setAttribute("aria-label", data.label);

    var wide = window.matchMedia("(min-width: 768px)");
    var chart = new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          {
            label: data.label,
            data: data.earned.map(function (value) {
              var fen = toFen(value);
              return fen === null ? null : fen / 100;
            }),
            backgroundColor: theme.brand,
            hoverBackgroundColor: theme.brandDark,
            borderRadius: 4,
            maxBarThickness: 18,
          },
        ],
      },
      options: options(data, theme, !wide.matches),
    });
    // A phone turned on its side: a wider, flatter chart.
    wide.addEventListener("change", function () {
      chart.options.aspectRatio = wide.matches ? 2.6 : 1.6;
      chart.resize();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawEarningsChart);
  } else {
    drawEarningsChart();
  }
})();
