// When the analogy breaks: drift against width for the NTK scaling and another one.
import { COLORS, DASHES, MARKERS, baseLayout, mountFigure, round, signed } from "./plot.js";

const COMPARISONS = {
  mean_field: { label: "mean-field scaling", overrides: { parameterization: "mean_field", depth: 1, alpha: 1 } },
  alpha: { label: "lazy-training scale α = 0.1", overrides: { parameterization: "ntk", alpha: 0.1 } },
  standard: { label: "standard parameterization", overrides: { parameterization: "standard", alpha: 1 } },
};

// Drawn from two drift documents of the same experiment: under the NTK scaling, and under the scaling chosen with
// state.compare (scaling(state): the API parameters that change).
export const needs = { document: "comparison", scaling: (state) => COMPARISONS[state.compare].overrides };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const finalMedian = (w) => {
  const values = w.drift.map((s) => s[s.length - 1]).filter((v) => v !== null && v > 0).sort((a, b) => a - b);
  return values.length ? values[Math.floor(values.length / 2)] : null;
};

export function spec(base, other, state) {
  const series = [["NTK scaling", base], [COMPARISONS[state.compare].label, other]];
  const data = series.map(([label, doc], i) => ({
    name: `${label} (slope ${doc.slopes.drift.slope === null ? "—" : signed(doc.slopes.drift.slope)})`,
    x: doc.widths.map((w) => w.width), y: doc.widths.map(finalMedian), type: "scatter", mode: "lines+markers",
    marker: { color: COLORS[i], symbol: MARKERS[i], size: 9 }, line: { color: COLORS[i], dash: DASHES[i], width: 2 },
    hovertemplate: `width %{x}: kernel moved %{y:.3g}<extra>${label}</extra>`,
  }));
  const widths = base.widths.map((w) => w.width);
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "width (lanes)" }, tickvals: widths, ticktext: widths.map(String) },
    yaxis: { type: "log", title: { text: "relative kernel change (median of seeds)" } },
    height: 420, datarevision: `${state.compare}-${widths.join(",")}`,
  });
  return { data, layout };
}

export function summary(base, other, state) {
  const slope = (doc) => doc.slopes.drift.slope;
  const label = COMPARISONS[state.compare].label;
  const otherSlope = slope(other);
  if (otherSlope === null) return `With the ${label}, too many networks diverged to fit a slope — the analogy broke outright.`;
  return `NTK scaling: drift ∝ width to the power ${signed(slope(base))}; ${label}: to the power ${signed(otherSlope)}.`;
}

export function table(base, other, state) {
  const rows = base.widths.map((w, i) => [w.width, round(finalMedian(w)), other.widths[i] ? round(finalMedian(other.widths[i])) : ""]);
  return { columns: ["width", "NTK scaling", COMPARISONS[state.compare].label], rows };
}
