// Wider roads, steadier traffic: kernel drift against width on log–log axes.
import { COLORS, DASHES, MARKERS, baseLayout, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document), and sketched from the widths done so far while it streams in.
export const needs = { document: "experiment", progress: true };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const last = (series) => series[series.length - 1];
const median = (values) => {
  const finite = values.filter((v) => v !== null && v > 0).sort((a, b) => a - b);
  return finite.length ? finite[Math.floor(finite.length / 2)] : null;
};

function slopeLabel(fit) {
  return fit && fit.slope !== null ? `${fit.slope.toFixed(2)} ± ${fit.stderr.toFixed(2)}` : "—";
}

// doc: a drift document, possibly partial (widths so far, no slopes yet while streaming).
export function spec(doc, state) {
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
  if (fit && fit.slope !== null) {
    data.push({
      name: `fitted slope ${slopeLabel(fit)}`, x: span, y: span.map((n) => Math.exp(fit.intercept) * n ** fit.slope),
      mode: "lines", type: "scatter", line: { color: COLORS[0], width: 3 }, hoverinfo: "skip",
    });
  }
  const anchor = median(doc.widths[0]?.drift.map(last) ?? []);
  if (anchor) {
    for (const [power, dash, label] of [[-0.5, "dash", "−½ reference"], [-1, "dot", "−1 reference"]]) {
      data.push({
        name: label, x: span, y: span.map((n) => anchor * (n / span[0]) ** power), mode: "lines", type: "scatter",
        line: { color: "#6b6b6b", dash, width: 1.5 }, hoverinfo: "skip",
      });
    }
  }
  const layers = doc.widths[0]?.weight_change[0][0].length ?? 0;
  const extra = [["init_distance", "initial kernel's distance from the analytic one", (w) => w.init_distance]];
  if (layers) {
    extra.push(["weight_change_1", "input weights' relative movement", (w) => w.weight_change.map((s) => last(s)[0])]);
    extra.push([`weight_change_${layers}`, "readout weights' relative movement", (w) => w.weight_change.map((s) => last(s)[layers - 1])]);
  }
  extra.forEach(([key, label, pick], i) => {
    const y = doc.widths.map((w) => (pick(w) ? median(pick(w)) : null));
    if (y.every((v) => v === null)) return;
    data.push({
      name: `${label} (slope ${slopeLabel(doc.slopes?.[key])})`, x: widths, y, type: "scatter", mode: "lines+markers",
      marker: { color: COLORS[i + 1], symbol: MARKERS[i + 1], size: 8 }, line: { color: COLORS[i + 1], dash: DASHES[i + 1], width: 1.5 },
      hovertemplate: `width %{x}: %{y:.3g}<extra>${label}</extra>`,
    });
  });
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "width (lanes)" }, tickvals: widths, ticktext: widths.map(String) },
    yaxis: { type: "log", title: { text: "relative change" }, exponentformat: "power" },
    shapes: [{ type: "line", xref: "x", yref: "paper", x0: state.width, x1: state.width, y0: 0, y1: 1,
      line: { color: "#999", width: 1, dash: "dot" } }],
    datarevision: `${doc.widths.length}-${state.width}`,
    height: 460,
  });
  return { data, layout };
}

export function summary(doc) {
  const fit = doc.slopes?.drift;
  const count = doc.widths.length;
  if (!fit) return `${count} width${count === 1 ? "" : "s"} computed so far…`;
  if (fit.slope === null) return "Too few networks trained without diverging to fit a slope.";
  const verdict = fit.slope < -0.25 ? "wider roads keep steadier traffic maps" : "the traffic map keeps moving however wide the road";
  return `Kernel drift scales like width^${fit.slope.toFixed(2)} ± ${fit.stderr.toFixed(2)} over ${fit.points} networks: ${verdict}.`;
}

export function table(doc) {
  const rows = doc.widths.flatMap((w) => w.drift.map((perSeed, seed) => [
    w.width, seed, round(last(perSeed)), w.init_distance ? round(w.init_distance[seed]) : "",
    ...last(w.weight_change[seed]).map((v) => round(v)), w.divergence[seed] ?? "",
  ]));
  const layers = doc.widths[0]?.weight_change[0][0].length ?? 0;
  const columns = ["width", "seed", "kernel drift", "init distance",
    ...Array.from({ length: layers }, (_, l) => `weights ${l + 1} moved`), "diverged"];
  return { columns, rows };
}
