// Ring city: the selected district's row of the kernel, drawn around the ring road.
import { driftAt, meterText } from "../meter.js";
import { DIVERGING, ROAD, baseLayout, divergence, mountFigure, round, symmetric } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the view (district, time of day) changes.
export const needs = { document: "experiment", view: true };

// The ring, and the drift meter beside it.
export function mount(element) {
  const figure = mountFigure(element, { spec, summary, table });
  const meter = document.getElementById("drift-meter");
  const draw = (doc, state) => {
    figure.draw(doc, state);
    meter.textContent = meterText(doc, state);
  };
  return { ...figure, draw };
}

const MAX_DRAWN_LANES_PX = 22;

// The grid point nearest to district i (districts lie on the grid when their count divides it).
function gridIndex(doc, district) {
  const target = doc.gamma_train[district];
  let best = 0;
  doc.gamma_grid.forEach((g, j) => {
    const d = Math.abs(Math.atan2(Math.sin(g - target), Math.cos(g - target)));
    const b = Math.abs(Math.atan2(Math.sin(doc.gamma_grid[best] - target), Math.cos(doc.gamma_grid[best] - target)));
    if (d < b) best = j;
  });
  return best;
}

function laneWidthPx(width) {
  return Math.min(2 + 2.5 * Math.log2(Math.max(width, 1)), MAX_DRAWN_LANES_PX);
}

export function spec(doc, state) {
  const snapshots = doc.kernel.snapshots;
  const t = Math.min(state.time, snapshots.length - 1);
  const row = gridIndex(doc, Math.min(state.district, doc.gamma_train.length - 1));
  const values = snapshots[t][row];
  const scale = symmetric(snapshots.flatMap((k) => k[row])); // one scale for the whole day, centred on zero
  const circle = [...doc.gamma_grid, doc.gamma_grid[0]];
  const data = [
    { x: circle.map(Math.cos), y: circle.map(Math.sin), mode: "lines", type: "scatter", hoverinfo: "skip",
      line: { color: ROAD, width: laneWidthPx(state.width) }, showlegend: false },
    { x: doc.gamma_grid.map(Math.cos), y: doc.gamma_grid.map(Math.sin), mode: "markers", type: "scatter",
      name: "traffic response", customdata: values,
      marker: { color: values, cmin: -scale, cmax: scale, colorscale: DIVERGING, size: 13, line: { width: 1, color: "#6b6b6b" },
        colorbar: { title: { text: "Θ(x<sub>sel</sub>, ·)" }, thickness: 12 } },
      hovertemplate: "Θ = %{customdata:.3g}<extra></extra>", showlegend: false },
    { x: doc.gamma_train.map(Math.cos), y: doc.gamma_train.map(Math.sin), mode: "markers", type: "scatter",
      name: "districts", marker: { symbol: "circle-open", size: 20, color: "#1a1a1a", line: { width: 2 } },
      hoverinfo: "skip", showlegend: false },
    { x: [Math.cos(doc.gamma_grid[row])], y: [Math.sin(doc.gamma_grid[row])], mode: "markers", type: "scatter",
      name: "selected district", marker: { symbol: "star", size: 22, color: "#D55E00", line: { width: 1, color: "#fff" } },
      hoverinfo: "skip", showlegend: false },
  ];
  const layout = baseLayout({
    xaxis: { visible: false, range: [-1.35, 1.35] },
    yaxis: { visible: false, range: [-1.35, 1.35], scaleanchor: "x" },
    annotations: [{ x: 0, y: 0, text: `× ${state.width} lanes<br>step ${doc.snapshot_steps[t]}`, showarrow: false,
      font: { size: 16 } }],
    height: 420, margin: { l: 10, r: 10, t: 10, b: 10 },
    datarevision: `${state.width}-${t}-${row}`,
  });
  return { data, layout };
}

export function summary(doc, state) {
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  const drift = driftAt(doc, state);
  const moved = drift === null ? "an unknown amount (the network diverged)" : `${(100 * drift).toFixed(1)} %`;
  const why = drift === null ? divergence(doc, { widths: [state.width], missing: "the first seed's network, which the ring shows, has no map after that step" }) : "";
  return `With ${state.width} lanes, by step ${doc.snapshot_steps[t]} the traffic map has changed by ${moved} since the morning. ${why}`.trim();
}

export function table(doc, state) {
  const row = gridIndex(doc, Math.min(state.district, doc.gamma_train.length - 1));
  const rows = doc.gamma_grid.map((g, j) => [round(g), ...doc.kernel.snapshots.map((k) => round(k[row][j]))]);
  return { columns: ["γ", ...doc.snapshot_steps.map((s) => `Θ at step ${s}`)], rows };
}
