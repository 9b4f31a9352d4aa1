// The planner's forecast: networks along the ring against their infinite-width forecasts.
import { COLORS, MARKERS, baseLayout, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the view (district, time of day) changes.
export const needs = { document: "experiment", view: true };

export const mount = (element) => mountFigure(element, { spec, summary, table });

function shownWidths(doc, state) {
  const widths = doc.widths.map((w) => w.width);
  return [...new Set([widths[0], state.width, widths[widths.length - 1]])];
}

const gap = (f, g) => {
  const pairs = f.map((v, i) => [v, g[i]]).filter(([a, b]) => a !== null && b !== null);
  const num = Math.sqrt(pairs.reduce((s, [a, b]) => s + (a - b) ** 2, 0));
  const den = Math.sqrt(pairs.reduce((s, [, b]) => s + b ** 2, 0));
  return pairs.length && den > 0 ? num / den : null;
};

export function spec(doc, state) {
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  const data = [];
  shownWidths(doc, state).forEach((width, i) => {
    const result = doc.widths.find((w) => w.width === width);
    const color = COLORS[i];
    data.push({ name: `${width} lanes: network`, x: doc.gamma_grid, y: result.function[0][t], type: "scatter", mode: "lines",
      line: { color, width: 2.5 } });
    if (result.forecast) {
      data.push({ name: `${width} lanes: forecast`, x: doc.gamma_grid, y: result.forecast[0][t], type: "scatter",
        mode: "lines", line: { color, width: 2, dash: "dot" } });
    }
  });
  data.push({ name: "training districts", x: doc.gamma_train, y: doc.y_train, type: "scatter", mode: "markers",
    marker: { color: "#1a1a1a", symbol: MARKERS[2], size: 9 } });
  const layout = baseLayout({
    xaxis: { title: { text: "position on the ring γ (radians)" }, range: [-Math.PI, Math.PI] },
    yaxis: { title: { text: "network output f(γ)" } },
    annotations: [{ xref: "paper", yref: "paper", x: 0, y: 1.08, showarrow: false, text: `step ${doc.snapshot_steps[t]}` }],
    height: 440, datarevision: `${state.width}-${t}`,
  });
  return { data, layout };
}

export function summary(doc, state) {
  const t = doc.snapshot_steps.length - 1;
  const parts = shownWidths(doc, state).map((width) => {
    const result = doc.widths.find((w) => w.width === width);
    const g = result.forecast ? gap(result.function[0][t], result.forecast[0][t]) : null;
    return g === null ? `${width} lanes: no forecast` : `${width} lanes ${(100 * g).toFixed(1)} %`;
  });
  return `After training, the network is off its infinite-width forecast by ${parts.join(", ")}.`;
}

export function table(doc, state) {
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  const widths = shownWidths(doc, state).map((width) => doc.widths.find((w) => w.width === width));
  const rows = doc.gamma_grid.map((g, j) => [round(g), ...widths.flatMap((w) => [round(w.function[0][t][j]),
    w.forecast ? round(w.forecast[0][t][j]) : ""])]);
  return { columns: ["γ", ...widths.flatMap((w) => [`network ${w.width}`, `forecast ${w.width}`])], rows };
}
