// Wider roads, steadier traffic: kernel drift against width on log–log axes.
import { COLORS, DASHES, MARKERS, ROAD, baseLayout, divergence, median, mountFigure, powerLaw, round, signed } from "./plot.js";

// Drawn from the experiment (its drift document), and sketched from the widths done so far while it streams in; over
// it, the same experiment with erf units (overlay: the API parameters that change), whose units never switch off.
export const needs = { document: "experiment", progress: true, overlay: () => ({ activation: "erf" }) };

export const mount = (element) => mountFigure(element, { spec, summary, table, fit });

// On a phone (under 420 px) the legend names drop their slopes, which the summary sentence gives, so each fits a line.
export function fit({ data, layout }, width) {
  if (width >= 420) return { data, layout };
  return { data: data.map((trace) => ({ ...trace, name: trace.name?.replace(/ \(slope [^)]*\)/, "") })), layout };
}

const ROAD_PX = 8;
const last = (series) => series[series.length - 1];

function slopeLabel(fit) {
  return fit && fit.slope !== null ? `${signed(fit.slope)} ± ${fit.stderr.toFixed(2)}` : "—";
}

const fitted = (fit) => fit && fit.slope !== null;
const fitLine = (fit, span) => span.map((n) => Math.exp(fit.intercept) * n ** fit.slope);

// The two parts of a ReLU experiment's final drift (docs/maths.md §5): [slope key, label, the per-seed values of a width].
// Legend entries are kept short enough for one line in a phone's 330-px plot (tests/web/test_page.py); the card and
// the summary say what each part is.
const PARTS = [
  ["drift_switching", "switching part", (w) => w.drift_switching],
  ["drift_smooth", "smooth part", (w) => w.drift_smooth],
];

// The erf overlay, when it is a different experiment from the one on show (an erf experiment is its own overlay).
const erfOverlay = (doc, overlay) => (overlay && overlay.query.activation !== doc.query?.activation ? overlay : null);

// The parts are drawn only where units can switch: for erf, drift_switching is null and drift_smooth is the drift.
const hasParts = (doc) => doc.widths.some((w) => w.drift_switching);

// Per-width medians of a part, with its fitted line (same colour, dashed); one legend entry carries the slope.
function partTraces(doc, span, [key, label, pick], style) {
  const fit = doc.slopes?.[key];
  const name = `${label} (slope ${slopeLabel(fit)})`;
  const traces = [{
    name, legendgroup: key, x: doc.widths.map((w) => w.width), y: doc.widths.map((w) => median(pick(w) ?? [])),
    type: "scatter", mode: "markers", marker: { color: style.color, symbol: style.symbol, size: 10 },
    hovertemplate: `width %{x}: %{y:.3g}<extra>${label}</extra>`,
  }];
  if (fitted(fit)) {
    traces.push({ name: `${label}, fitted`, legendgroup: key, showlegend: false, x: span, y: fitLine(fit, span),
      mode: "lines", type: "scatter", line: { color: style.color, dash: style.dash, width: 2 }, hoverinfo: "skip" });
  }
  return traces;
}

// The erf experiment's final drift, each seed, and its fitted line.
function erfTraces(erf, span) {
  const fit = erf.slopes?.drift;
  const traces = [{
    name: `erf units, each seed (slope ${slopeLabel(fit)})`, legendgroup: "erf",
    x: erf.widths.flatMap((w) => w.drift.map(() => w.width)), y: erf.widths.flatMap((w) => w.drift.map(last)),
    mode: "markers", type: "scatter", marker: { color: COLORS[6], symbol: `${MARKERS[0]}-open`, size: 9 },
    hovertemplate: "width %{x}: erf kernel moved %{y:.3g}<extra></extra>",
  }];
  if (fitted(fit)) {
    traces.push({ name: "erf units, fitted", legendgroup: "erf", showlegend: false, x: span, y: fitLine(fit, span),
      mode: "lines", type: "scatter", line: { color: COLORS[6], dash: DASHES[3], width: 2 }, hoverinfo: "skip" });
  }
  return traces;
}

// doc: a drift document, possibly partial (widths so far, no slopes yet while streaming); overlay: the same experiment
// with erf units, or null (not arrived yet, not to be had, or the experiment on show is erf's).
export function spec(doc, overlay, state) {
  const widths = doc.widths.map((w) => w.width);
  const seedX = doc.widths.flatMap((w) => w.drift.map(() => w.width));
  const seedY = doc.widths.flatMap((w) => w.drift.map((perSeed) => last(perSeed)));
  const data = [{
    name: "kernel drift, each seed", x: seedX, y: seedY, mode: "markers", type: "scatter",
    marker: { color: COLORS[0], symbol: MARKERS[0], size: 9, line: { width: 1, color: "#fff" } },
    hovertemplate: "width %{x}: kernel moved %{y:.3g}<extra></extra>",
  }];
  const fit = doc.slopes?.drift;
  const span = [Math.min(...widths), Math.max(...widths)];
  if (fitted(fit)) {
    data.push({
      name: `fitted slope ${slopeLabel(fit)}`, x: span, y: fitLine(fit, span),
      mode: "lines", type: "scatter", line: { color: COLORS[0], width: 3 }, hoverinfo: "skip",
    });
  }
  if (hasParts(doc)) {
    data.push(...partTraces(doc, span, PARTS[0], { color: COLORS[4], symbol: MARKERS[4], dash: DASHES[4] }));
    data.push(...partTraces(doc, span, PARTS[1], { color: COLORS[5], symbol: MARKERS[5], dash: DASHES[1] }));
  }
  const erf = erfOverlay(doc, overlay);
  if (erf) data.push(...erfTraces(erf, span));
  const anchor = median(doc.widths[0]?.drift.map(last) ?? []);
  if (anchor) {
    for (const [power, dash, label] of [[-0.5, "dash", "−½ reference"], [-1, "dot", "−1 reference"]]) {
      data.push({
        name: label, x: span, y: span.map((n) => anchor * (n / span[0]) ** power), mode: "lines", type: "scatter",
        line: { color: "#6b6b6b", dash, width: 1.5 }, hoverinfo: "skip",
      });
    }
  }
  // Each layer's weight movement is drawn in the freezing figure (section 4), not here: this legend would not fit.
  const extra = [["init_distance", "initial kernel error", (w) => w.init_distance]];
  extra.forEach(([key, label, pick], i) => {
    const y = doc.widths.map((w) => (pick(w) ? median(pick(w)) : null));
    if (y.every((v) => v === null)) return;
    data.push({
      name: `${label} (slope ${slopeLabel(doc.slopes?.[key])})`, x: widths, y, type: "scatter", mode: "lines+markers",
      marker: { color: COLORS[i + 1], symbol: MARKERS[i + 1], size: 8 }, line: { color: COLORS[i + 1], dash: DASHES[i + 1], width: 1.5 },
      hovertemplate: `width %{x}: %{y:.3g}<extra>${label}</extra>`,
    });
  });
  // The band's legend entry (plotly.js 4.1.1 draws a shape's own legend entry, but then forgets the layout's height).
  data.push({ name: `road shown on the ring (${state.width} lanes)`, x: [null], y: [null], mode: "lines", type: "scatter",
    line: { color: ROAD, width: ROAD_PX }, hoverinfo: "skip" });
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "width (lanes)" }, tickvals: widths, ticktext: widths.map(String), automargin: true },
    // At the figure's foot, whatever room the ticks take (on a phone they turn and the plot is short).
    legend: { orientation: "h", yref: "container", y: 0, yanchor: "bottom" },
    yaxis: { type: "log", title: { text: "relative change" }, exponentformat: "power" },
    // The road the ring and the maps show, drawn like the ring's road: a grey band at its width, behind the points.
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: state.width, x1: state.width, y0: 0, y1: 1, layer: "below",
      line: { color: ROAD, width: ROAD_PX } }],
    datarevision: `${doc.widths.length}-${state.width}-${erfOverlay(doc, overlay) ? "erf" : ""}`,
    height: 540,
  });
  return { data, layout };
}

const power = (fit) => powerLaw(fit);

export function summary(doc, overlay) {
  const fit = doc.slopes?.drift;
  const count = doc.widths.length;
  if (!fit) return `${count} width${count === 1 ? "" : "s"} computed so far…`;
  const lost = divergence(doc, { missing: "their points are missing" });
  if (fit.slope === null) return `Too few networks trained without diverging to fit a slope. ${lost}`.trim();
  const verdict = fit.slope < -0.25 ? "wider roads keep steadier traffic maps" : "the traffic map keeps moving at every width tried";
  const clauses = [`Kernel drift scales like ${power(fit)} over ${fit.points} networks: ${verdict}`];
  const [switching, smooth] = PARTS.map(([key]) => doc.slopes[key]);
  if (hasParts(doc) && fitted(switching) && fitted(smooth)) {
    clauses.push(`the part from units switching on or off scales like ${power(switching)}, the rest like ${power(smooth)}`);
  } else if (doc.query?.activation === "erf") {
    clauses.push("erf units never switch on or off, so all of it is the smooth kind");
  }
  const erf = erfOverlay(doc, overlay)?.slopes.drift;
  if (fitted(erf)) clauses.push(`with erf units, which never switch, the drift scales like ${power(erf)}`);
  return `${clauses.join("; ")}. ${lost}`.trim();
}

// One row per (width, seed) of the experiment on show; the erf overlay's drift beside it, by width and seed.
export function table(doc, overlay) {
  const erf = erfOverlay(doc, overlay);
  const erfDrift = (width, seed) => {
    const perSeed = erf?.widths.find((w) => w.width === width)?.drift[seed];
    return perSeed ? round(last(perSeed)) : "";
  };
  const rows = doc.widths.flatMap((w) => w.drift.map((perSeed, seed) => [
    w.width, seed, round(last(perSeed)), w.init_distance ? round(w.init_distance[seed]) : "",
    ...last(w.weight_change[seed]).map((v) => round(v)), w.divergence[seed] ?? "",
    w.drift_switching ? round(w.drift_switching[seed]) : "", w.drift_smooth ? round(w.drift_smooth[seed]) : "",
    ...(erf ? [erfDrift(w.width, seed)] : []),
  ]));
  const layers = doc.widths[0]?.weight_change[0][0].length ?? 0;
  const columns = ["width", "seed", "kernel drift", "init distance",
    ...Array.from({ length: layers }, (_, l) => `weights ${l + 1} moved`), "diverged",
    "switching part", "smooth part", ...(erf ? ["erf kernel drift"] : [])];
  return { columns, rows };
}
