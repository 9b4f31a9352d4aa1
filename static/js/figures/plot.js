// What every figure shares: its mount() (a chart, a summary and a data table drawn from the module's pure functions),
// drawing with Plotly.react, resizing, the palette, data tables and CSV, status lines and the page's announcements.

// Okabe–Ito: distinguishable with every common colour-vision deficiency; series also differ by marker/dash.
export const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
export const MARKERS = ["circle", "diamond", "square", "triangle-up", "x", "star"];
export const DASHES = ["solid", "dot", "dash", "dashdot", "longdash"];
export const ROAD = "#c8c8c8"; // the ring's road, and the road it shows where another figure marks it
// Kernel values and their changes can be negative: blue below zero, white at zero, red above (ColorBrewer's RdBu,
// readable with every common colour-vision deficiency), always on a scale symmetric about zero (symmetric()).
export const DIVERGING = [[0, "#2166ac"], [1 / 6, "#67a9cf"], [2 / 6, "#d1e5f0"], [0.5, "#f7f7f7"], [4 / 6, "#fddbc7"],
  [5 / 6, "#ef8a62"], [1, "#b2182b"]];

// The largest magnitude among values (nulls skipped; a tiny floor so that an all-zero scale still has a range): a
// DIVERGING scale runs from its negative to it.
export const symmetric = (values) => Math.max(...values.filter((v) => v !== null).map(Math.abs), 1e-12);

const CONFIG = { displayModeBar: false, responsive: true };
const observed = new WeakSet();
const fitted = new WeakMap(); // element → () => its figure laid out for its width now (figures with a fit())

// plotly.js is a deferred classic script placed after main.js, so requests start before it is parsed.
const plotlyReady = new Promise((resolve) => {
  if (window.Plotly) resolve();
  else document.querySelector("script[data-plotly]").addEventListener("load", () => resolve(), { once: true });
});

export const baseLayout = (extra = {}) => ({
  margin: { l: 60, r: 20, t: 30, b: 50 },
  font: { family: "system-ui, sans-serif", size: 13, color: "#1a1a1a" },
  paper_bgcolor: "#ffffff",
  plot_bgcolor: "#ffffff",
  legend: { orientation: "h", y: -0.25 },
  ...extra,
});

// Draw or update a figure; Plotly.react diffs against the previous call. Container-only resizes are
// followed with a ResizeObserver (plotly's own `responsive` only listens to the window); a figure with a fit()
// (its layout for the width it has) is laid out again for its new width.
async function draw(element, figure, fit) {
  await plotlyReady;
  const laidOut = () => (fit ? fit(figure, element.clientWidth) : figure);
  const { data, layout } = laidOut();
  window.Plotly.react(element, data, layout, CONFIG);
  fitted.set(element, fit ? laidOut : null);
  if (!observed.has(element)) {
    observed.add(element);
    performance.mark(`figure:${element.dataset.figure}`); // first drawing, for benchmarks/page.py
    new ResizeObserver(() => {
      const again = fitted.get(element)?.();
      if (again) window.Plotly.react(element, again.data, again.layout, CONFIG);
      else window.Plotly.Plots.resize(element);
    }).observe(element);
  }
}

// The mount() of a figure module whose figure is a plotly chart: figure.draw(...documents, state) draws the chart,
// the one-sentence summary and the data table from the module's pure spec(), summary() and table() of the same
// arguments; figure.sketch(...) draws the chart and summary of a document still arriving (the table waits for all).
// fit(figure, width), if given, is the module's pure layout of spec()'s figure for the width the chart has.
export function mountFigure(element, { spec, summary, table, fit = null }) {
  const id = element.dataset.figure;
  return {
    id,
    draw(...args) {
      draw(element, spec(...args), fit);
      summarize(id, summary(...args));
      const { columns, rows } = table(...args);
      tabulate(id, columns, rows);
    },
    sketch(...args) {
      draw(element, spec(...args), fit);
      summarize(id, summary(...args));
    },
  };
}

// A number with a true minus sign (U+2212), as the page's text and legends write it: −0.75, not -0.75.
export const signed = (value, digits = 2) => value.toFixed(digits).replace("-", "−");

// A fitted power law in words, for summaries and legends: "width to the power −0.75 ± 0.02".
export const powerLaw = (fit, variable = "width") => `${variable} to the power ${signed(fit.slope)} ± ${fit.stderr.toFixed(2)}`;

// In words, which networks of a drift document diverged and why (the server's reason, e.g. "learning rate 30 is above
// 2N/λ_max ≈ 12.3 for this width, so …"): "" when none did. widths: the widths the figure shows (default: all);
// missing: what the figure lacks for them ("their points stop there").
export function divergence(doc, { widths = null, missing = "their values after that step are missing" } = {}) {
  const hit = doc.widths.filter((w) => widths === null || widths.includes(w.width))
    .map((w) => ({ width: w.width, seeds: w.diverged_at.filter((step) => step >= 0).length, of: w.diverged_at.length,
      reason: w.divergence.find((reason) => reason) }))
    .filter((w) => w.seeds > 0);
  if (!hit.length) return "";
  const counts = hit.map((w) => `${w.seeds} of ${w.of} at ${w.width} lanes`).join(", ");
  return `Networks diverged (${counts}): at ${hit[0].width} lanes, ${hit[0].reason}; ${missing}.`;
}

// Positions on the ring in degrees, as every figure shows them (the documents give radians), to 0.001°.
export const degreesOf = (gamma) => Number(((gamma * 180) / Math.PI).toFixed(3));
export const degrees = (gammas) => gammas.map(degreesOf);

export const round = (value, digits = 4) => (value === null || value === undefined ? "" : Number(value.toPrecision(digits)));

// Fill the figure's data table and its CSV link from columns and rows.
function tabulate(id, columns, rows) {
  const wrap = document.querySelector(`[data-table="${id}"]`);
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = column;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows.slice(0, 500)) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = String(cell);
  }
  wrap.replaceChildren(table);
  const csv = [columns, ...rows].map((row) => row.map((cell) => JSON.stringify(cell ?? "")).join(",")).join("\n");
  const link = document.querySelector(`[data-csv="${id}"]`);
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
}

function summarize(id, text) {
  document.getElementById(`${id}-summary`).textContent = text;
}

// Screen readers hear one sentence per change, from the page's single live region, not one per figure:
// summaries and status lines are read on demand (aria-describedby), never pushed.
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region && region.textContent !== text) region.textContent = text;
}

export function status(id, text, kind = "info") {
  const element = document.querySelector(`[data-status="${id}"]`);
  element.textContent = text;
  element.dataset.kind = kind;
}
