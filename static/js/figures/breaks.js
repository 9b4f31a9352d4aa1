// When the analogy breaks: drift against width for the NTK scaling and another one.
import { COMPARISONS } from "../state.js";
import { COLORS, DASHES, MARKERS, baseLayout, median, mountFigure, powerLaw, round, signed } from "./plot.js";

// The comparisons (each scaling's settings and its name in the legend) are declared once, in app/parameters.py.
// Drawn from two drift documents of the same experiment: under the NTK scaling, and under the scaling chosen with
// state.compare (scaling(state): the API parameters that change).
export const needs = { document: "comparison", scaling: (state) => COMPARISONS[state.compare].overrides };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const finalMedian = (w) => median(w.drift.map((s) => s[s.length - 1]));
const fmt = (value, digits = 2) => (value === null ? "—" : Number(value.toPrecision(digits)).toString());

// Per width: how many of its networks diverged, out of how many, and the median of its networks' limits 2N/λ_max at init.
const divergence = (w) => ({
  width: w.width, lost: w.diverged_at.filter((step) => step >= 0).length, seeds: w.diverged_at.length,
  limit: median(w.lr_limit),
});

// A network that trained to the end (no null) and ends the same everywhere on the ring's grid, to 1e-9 of its size: with
// ReLU, every hidden unit dead and only the readout bias left.
const constantAtTheEnd = (seed) => {
  const final = seed[seed.length - 1];
  if (final.some((v) => v === null)) return false;
  const [low, high] = [Math.min(...final), Math.max(...final)];
  return high - low <= 1e-9 * Math.max(1, Math.abs(low), Math.abs(high));
};

export function spec(base, other, state) {
  const series = [["NTK scaling", base], [COMPARISONS[state.compare].legend, other]];
  const data = series.map(([label, doc], i) => ({
    name: `${label} (slope ${doc.slopes.drift.slope === null ? "—" : signed(doc.slopes.drift.slope)})`,
    x: doc.widths.map((w) => w.width), y: doc.widths.map(finalMedian), type: "scatter", mode: "lines+markers",
    marker: { color: COLORS[i], symbol: MARKERS[i], size: 9 }, line: { color: COLORS[i], dash: DASHES[i], width: 2 },
    hovertemplate: `width %{x}: kernel moved %{y:.3g}<extra>${label}</extra>`,
  }));
  // Widths where every network of the comparison diverged have no drift: a cross below the curves marks each (its
  // height only places it; its legend entry and hover say what it means).
  const gone = other.widths.map(divergence).filter((d) => d.lost === d.seeds);
  if (gone.length) {
    const plotted = data.flatMap((trace) => trace.y).filter((v) => v !== null);
    const floor = plotted.length ? Math.min(...plotted) / 2 : 1;
    data.push({
      name: `${series[1][0]}: every network diverged`, x: gone.map((d) => d.width),
      y: gone.map(() => floor), type: "scatter", mode: "markers",
      marker: { color: COLORS[1], symbol: "x", size: 11 }, customdata: gone.map((d) => fmt(d.limit)),
      hovertemplate: "width %{x}: every network diverged (2N/λ_max ≈ %{customdata})<extra></extra>",
    });
  }
  const widths = base.widths.map((w) => w.width);
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "width (lanes)" }, tickvals: widths, ticktext: widths.map(String) },
    yaxis: { type: "log", title: { text: "kernel drift (median of seeds)" }, exponentformat: "power" },
    height: 420, datarevision: `${state.compare}-${widths.join(",")}`,
  });
  return { data, layout };
}

// The comparison in words, measured on its own documents: its slope over the widths it was fitted on and what that
// says (falling, at about the NTK scaling's slope or faster; flat; rising), how many times the NTK scaling's drift it
// is, and, where networks diverged, which and with what limit 2N/λ_max beside the learning rate they were trained with.
function describe(base, other, label) {
  const fit = other.slopes.drift;
  const ntk = base.slopes.drift;
  const drawn = other.widths.filter((w) => finalMedian(w) !== null);
  const span = drawn.length ? `${drawn[0].width}–${drawn.at(-1).width} lanes` : "no width";
  const ratios = other.widths.map((w, i) => [finalMedian(w), base.widths[i] && finalMedian(base.widths[i])])
    .filter(([a, b]) => a !== null && b).map(([a, b]) => a / b).sort((a, b) => a - b);
  const levels = drawn.map(finalMedian).sort((a, b) => a - b);
  const clauses = [];
  if (fit.slope === null) {
    clauses.push(`${label}: too few networks trained without diverging to fit a slope`);
  } else {
    const head = `${label}: drift ∝ ${powerLaw(fit)} over ${span}`;
    const alike = ntk.slope !== null && Math.abs(fit.slope - ntk.slope) < 2 * Math.hypot(fit.stderr, ntk.stderr);
    if (fit.slope < -0.25 && ratios.length && ratios[0] > 1) {
      clauses.push(`${head}, ${fmt(ratios[0])}–${fmt(ratios.at(-1))}× the NTK scaling's at the same widths, yet falling `
        + `with width ${alike ? "at about the NTK scaling's slope" : "all the same"}`);
    } else if (fit.slope < -0.25) {
      const faster = ntk.slope !== null && !alike && fit.slope < ntk.slope;
      clauses.push(`${head}: it falls with width${faster ? ", faster than under the NTK scaling" : ""}: the kernel freezes`);
    } else if (fit.slope <= 0.25) {
      const [low, high] = [fmt(levels[0]), fmt(levels.at(-1))];
      const level = low === high ? `at ${low}` : `between ${low} and ${high}`;
      clauses.push(`${head}: it does not fall with width, the kernel's relative change staying ${level} at every width here`);
    } else {
      clauses.push(`${head}: it rises with width`);
    }
  }
  const lost = other.widths.map(divergence).filter((d) => d.lost > 0);
  const rate = other.query?.learning_rate;
  const perWidth = other.query?.lr_scaling === "inverse_width" ? "/width" : "";
  if (lost.length) {
    const limits = other.widths.map(divergence);
    const above = limits.filter((d) => d.limit !== null && rate >= d.limit).length;
    const where = above === limits.length ? "every width" : `${above} of ${limits.length} widths`;
    const listed = lost.map((d, i) => `${d.width} lanes (${d.lost === d.seeds ? `all ${d.seeds}` : `${d.lost} of ${d.seeds}`}, `
      + `${i === 0 ? "limit " : ""}≈ ${fmt(d.limit)})`);
    const stops = drawn.length && drawn.at(-1).width < other.widths.at(-1).width ? `, so its curve stops at ${drawn.at(-1).width} lanes` : "";
    clauses.push(`η = ${fmt(rate, 3)}${perWidth} is above its stable limit 2N/λ_max at ${where} (${fmt(limits[0].limit)} at `
      + `${limits[0].width} lanes, ${fmt(limits.at(-1).limit)} at ${limits.at(-1).width}), and networks diverged at `
      + `${listed.join(", ")}${stops}`);
  } else if (other.query?.parameterization === "standard") {
    clauses.push(`at η = ${fmt(rate, 3)}${perWidth} none of its networks diverged`);
  }
  const flat = other.widths.map((w) => ({ width: w.width, count: w.function.filter(constantAtTheEnd).length }))
    .filter((d) => d.count > 0);
  if (flat.length) {
    const total = flat.reduce((sum, d) => sum + d.count, 0);
    const where = flat.map((d, i) => `${d.count} at ${d.width}${i === 0 ? " lanes" : ""}`).join(", ");
    clauses.push(`${total} of its networks that did not diverge (${where}) end as a constant function on the ring: `
      + "nothing learned");
  }
  return clauses.join("; ");
}

export function summary(base, other, state) {
  const fit = base.slopes.drift;
  const ntk = fit.slope === null ? "NTK scaling: too few networks to fit a slope" : `NTK scaling: drift ∝ ${powerLaw(fit)}`;
  return `${ntk}; ${describe(base, other, COMPARISONS[state.compare].legend)}.`;
}

export function table(base, other, state) {
  const label = COMPARISONS[state.compare].legend;
  const rows = base.widths.map((w, i) => {
    const o = other.widths[i];
    if (!o) return [w.width, round(finalMedian(w)), "", "", "", ""];
    const d = divergence(o);
    return [w.width, round(finalMedian(w)), round(finalMedian(o)), round(d.limit), `${d.lost} of ${d.seeds}`,
      `${o.function.filter(constantAtTheEnd).length} of ${d.seeds}`];
  });
  const columns = ["width", "NTK scaling", label, `${label}: limit 2N/λ_max`, `${label}: networks diverged`,
    `${label}: networks ending constant`];
  return { columns, rows };
}
