// Why a wide road's map freezes: every layer's weights move less as the road widens, while the answers move as far.
import { COLORS, DASHES, MARKERS, baseLayout, divergence, mountFigure, round, signed } from "./plot.js";

// Drawn from the experiment (its drift document), and sketched from the widths done so far while it streams in.
export const needs = { document: "experiment", progress: true };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const last = (series) => series[series.length - 1];
const mean = (values) => {
  const finite = values.filter((v) => v !== null && Number.isFinite(v));
  return finite.length ? finite.reduce((s, v) => s + v, 0) / finite.length : null;
};

// How far one seed's answers moved over the day: the root mean square of f_T − f_0 over the ring (null if diverged).
function answerMoved(width, seed) {
  const first = width.function[seed][0];
  const final = last(width.function[seed]);
  const squares = first.map((v, j) => (v === null || final[j] === null ? null : (final[j] - v) ** 2));
  return squares.includes(null) ? null : Math.sqrt(squares.reduce((s, v) => s + v, 0) / squares.length);
}

const layerCount = (doc) => doc.widths[0]?.weight_change[0][0].length ?? 0;

function layerName(layer, layers) {
  if (layer === 0) return "input weights";
  return layer === layers - 1 ? "readout weights" : `hidden weights ${layer} → ${layer + 1}`;
}

// Per series: its name, the fit's key in doc.slopes (or null), and its value for a width (mean over seeds).
function series(doc) {
  const layers = layerCount(doc);
  const moved = Array.from({ length: layers }, (_, l) => ({
    name: layerName(l, layers), slope: `weight_change_${l + 1}`,
    value: (w) => mean(w.weight_change.map((perSeed) => last(perSeed)[l])),
  }));
  moved.push({ name: "answers on the ring (RMS change)", slope: null,
    value: (w) => mean(w.function.map((_, seed) => answerMoved(w, seed))) });
  return moved;
}

function fitLabel(fit) {
  return fit && fit.slope !== null ? `slope ${signed(fit.slope)} ± ${fit.stderr.toFixed(2)}` : "no fit";
}

export function spec(doc, state) {
  const widths = doc.widths.map((w) => w.width);
  const data = series(doc).map((s, i) => {
    const answers = s.slope === null;
    const label = answers ? s.name : `${s.name} (${fitLabel(doc.slopes?.[s.slope])})`;
    return {
      name: label, x: widths, y: doc.widths.map(s.value), type: "scatter", mode: "lines+markers",
      marker: { color: COLORS[answers ? 6 : i], symbol: MARKERS[answers ? 5 : i], size: answers ? 11 : 8 },
      line: { color: COLORS[answers ? 6 : i], dash: DASHES[answers ? 0 : (i + 1) % DASHES.length], width: answers ? 3 : 1.5 },
      hovertemplate: `width %{x}: %{y:.3g}<extra>${s.name}</extra>`,
    };
  });
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "width n (lanes)" }, tickvals: widths, ticktext: widths.map(String) },
    yaxis: { type: "log", title: { text: "how far it moved" }, dtick: 1, exponentformat: "power" },
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: state.width, x1: state.width, y0: 0, y1: 1,
      line: { color: "#999", width: 1, dash: "dot" } }],
    datarevision: `${doc.widths.length}-${state.width}`,
    height: 460,
  });
  return { data, layout };
}

export function summary(doc) {
  if (doc.widths.length < 2) return `${doc.widths.length} width${doc.widths.length === 1 ? "" : "s"} computed so far…`;
  const [narrow, wide] = [doc.widths[0], last(doc.widths)];
  const [weights, answers] = [series(doc)[0], last(series(doc))];
  const format = (v) => (v === null ? "an unknown amount (diverged)" : round(v, 2));
  return (`From ${narrow.width} to ${wide.width} lanes, the input weights moved ${format(weights.value(narrow))} → `
    + `${format(weights.value(wide))} of their size (${fitLabel(doc.slopes?.[weights.slope])}), while the answers `
    + `moved ${format(answers.value(narrow))} → ${format(answers.value(wide))} (RMS over the ring). `
    + divergence(doc, { missing: "their movements are left out of the means" })).trim();
}

export function table(doc) {
  const all = series(doc);
  const rows = doc.widths.map((w) => [w.width, ...all.map((s) => round(s.value(w)))]);
  return { columns: ["width", ...all.map((s) => `${s.name}, mean over seeds`)], rows };
}
