// The planner's forecast. Top: along the ring, each shown width's network (first seed) against two forecasts with a
// fixed kernel from the same start: the planner's, with the analytic infinite-width kernel Θ, and the network's own
// linearisation, with its own kernel at init Θ̂₀ (Lee et al. 2019). Bottom: how far every trained network ends from
// each, against width, one point per seed, with the fitted slopes. A forecast whose fixed kernel is too large for the
// step (η ≥ 2N/λ_max) diverges: it is not drawn, and the summary says why.
import { COLORS, MARKERS, baseLayout, degrees, lastStep, mountFigure, powerLaw, rateOf, round, signed } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the time of day changes.
export const needs = { document: "experiment", view: ["time"] };

export const mount = (element) => mountFigure(element, { spec, summary, table });

// The distances after training: [document key, legend label, colour, marker, fitted line's dash]. The network's to
// each forecast, and the two forecasts' own distance: the initial kernel's error Θ̂₀ − Θ alone.
const GAPS = [
  ["forecast_gap", "network to the planner's forecast", COLORS[6], MARKERS[1], "dot"],
  ["linearization_gap", "network to its own linearisation", COLORS[3], `${MARKERS[0]}-open`, "dash"],
  ["linearization_forecast_gap", "between the two forecasts", COLORS[4], `${MARKERS[3]}-open`, "dashdot"],
];

const fmt = (value) => Number(value.toPrecision(3)).toString();
const percent = (value) => `${Number((100 * value).toPrecision(2))} %`;
const finite = (values) => values.filter((v) => v !== null && v !== undefined);
const span = (values) => {
  const kept = finite(values);
  return kept.length ? [Math.min(...kept), Math.max(...kept)] : null;
};
// "4.8–12 %", or one number when the seeds agree to the digits shown.
const percentRange = ([low, high]) => (percent(low) === percent(high) ? percent(low)
  : `${Number((100 * low).toPrecision(2))}–${percent(high)}`);
const range = ([low, high]) => (fmt(low) === fmt(high) ? fmt(low) : `${fmt(low)}–${fmt(high)}`);

function shownWidths(doc, state) {
  const widths = doc.widths.map((w) => w.width);
  return [...new Set([widths[0], state.width, widths[widths.length - 1]])].filter((w) => widths.includes(w));
}

// Does gradient descent with a fixed kernel of this limit 2N/λ_max converge at the experiment's learning rate?
const stable = (limit, rate) => limit === null || rate < limit;
const plannerStable = (doc, state) => doc.reference !== null && stable(doc.reference.lr_limit, rateOf(doc, state));
const ownStable = (width, seed, rate) => stable(width.lr_limit[seed], rate);

function ringTraces(doc, state, t) {
  const rate = rateOf(doc, state);
  const data = [];
  shownWidths(doc, state).forEach((width, i) => {
    const result = doc.widths.find((w) => w.width === width);
    const line = { color: COLORS[i] };
    data.push({ name: `${width} lanes: network`, legendgroup: `${width}`, x: degrees(doc.gamma_grid), y: result.function[0][t],
      type: "scatter", mode: "lines", line: { ...line, width: 2.5 } });
    if (result.forecast && plannerStable(doc, state)) {
      data.push({ name: `${width} lanes: planner's forecast`, legendgroup: `${width}`, x: degrees(doc.gamma_grid),
        y: result.forecast[0][t], type: "scatter", mode: "lines", line: { ...line, width: 2, dash: "dot" } });
    }
    if (ownStable(result, 0, rate)) {
      data.push({ name: `${width} lanes: own linearisation`, legendgroup: `${width}`, x: degrees(doc.gamma_grid),
        y: result.linearization[0][t], type: "scatter", mode: "lines", line: { ...line, width: 1.5, dash: "dash" } });
    }
  });
  data.push({ name: "training districts", x: degrees(doc.gamma_train), y: doc.y_train, type: "scatter", mode: "markers",
    marker: { color: "#1a1a1a", symbol: MARKERS[2], size: 9 } });
  return data;
}

// Every seed's gap at every width (bottom panel), and its fitted line when the document has a slope for it.
function gapTraces(doc) {
  const below = { xaxis: "x2", yaxis: "y2", type: "scatter" };
  const widths = doc.widths.map((w) => w.width);
  const ends = [Math.min(...widths), Math.max(...widths)];
  const data = [];
  for (const [key, label, color, symbol, dash] of GAPS) {
    if (!doc.widths.some((w) => w[key] && finite(w[key]).length)) continue;
    const fit = doc.slopes?.[key];
    const fitted = fit && fit.slope !== null;
    // Two lines per entry, so that the legend fits a phone's width.
    data.push({ ...below, name: `${label}${fitted ? `,<br>slope ${signed(fit.slope)} ± ${fit.stderr.toFixed(2)}` : ""}`,
      legendgroup: key, x: doc.widths.flatMap((w) => (w[key] ?? []).map(() => w.width)),
      y: doc.widths.flatMap((w) => w[key] ?? []), mode: "markers",
      marker: { color, symbol, size: 9, line: { width: 1.5, color } },
      hovertemplate: `width %{x}: %{y:.2%}<extra>${label}</extra>` });
    if (fitted) {
      data.push({ ...below, name: `${label}, fitted`, legendgroup: key, showlegend: false, x: ends,
        y: ends.map((n) => Math.exp(fit.intercept) * n ** fit.slope), mode: "lines",
        line: { color, width: 1.5, dash }, hoverinfo: "skip" });
    }
  }
  return data;
}

export function spec(doc, state) {
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  const rate = rateOf(doc, state);
  const ring = ringTraces(doc, state, t);
  const gaps = gapTraces(doc);
  const widths = doc.widths.map((w) => w.width);
  const panelTitle = (y, text) => ({ xref: "paper", yref: "paper", x: 0, xanchor: "left", y, yanchor: "bottom",
    showarrow: false, text, font: { size: 13 } });
  const note = (y, text) => ({ xref: "paper", yref: "paper", x: 0.5, xanchor: "center", y, yanchor: "middle",
    showarrow: false, text, font: { size: 12, color: "#5a5a5a" } });
  // Without a single gap (every forecast or network diverged) the lower panel would stay empty: the ring takes it all.
  const both = gaps.length > 0;
  const annotations = [panelTitle(1.0, `Along the ring, step ${doc.snapshot_steps[t]} (first seed)`)];
  if (both) annotations.push(panelTitle(0.32, `After ${lastStep(doc)} steps, every seed`));
  const withheld = (doc.reference && !plannerStable(doc, state)) || doc.widths.some((w) => !ownStable(w, 0, rate));
  if (withheld) annotations.push(note(0.97, "fixed-kernel forecasts diverge: not drawn"));
  const layout = baseLayout({
    xaxis: { range: [-180, 180], tickvals: [-180, -90, 0, 90, 180], anchor: "y", title: { text: "position on the ring γ (°)" } },
    yaxis: { domain: both ? [0.55, 0.94] : [0, 0.94], title: { text: "network output f(γ)" } },
    xaxis2: { type: "log", anchor: "y2", title: { text: "width (lanes)" }, tickvals: widths, ticktext: widths.map(String),
      visible: both },
    yaxis2: { type: "log", domain: [0, 0.31], title: { text: "distance / ‖f‖" }, exponentformat: "power",
      visible: both },
    annotations,
    legend: { orientation: "h", y: both ? -0.14 : -0.2, yanchor: "top" },
    margin: { l: 60, r: 20, t: 30, b: 60 },
    height: both ? 960 : 560, datarevision: `${state.width}-${t}-${both}`,
  });
  return { data: [...ring, ...gaps], layout };
}

// "falls like width to the power −0.55 ± 0.04"; "grows like …" or "stays level within its error (…)" where it does not
// fall by more than twice its standard error (the mean-field scaling's drift: 0.02 ± 0.01).
function trend(fit) {
  if (fit.slope + 2 * fit.stderr < 0) return `falls like ${powerLaw(fit)}`;
  if (fit.slope - 2 * fit.stderr > 0) return `grows like ${powerLaw(fit)}`;
  return `stays level within its error (${powerLaw(fit)})`;
}

// "4.8–12 % (16 lanes) to 0.61–0.82 % (4096 lanes)": the seeds' range of a distance at the narrowest and the widest
// width where it is finite (null if it is nowhere).
function gapRange(doc, key) {
  const per = doc.widths.map((w) => ({ width: w.width, span: w[key] ? span(w[key]) : null })).filter((w) => w.span);
  if (!per.length) return null;
  const [first, widest] = [per[0], per[per.length - 1]];
  return first === widest ? `${percentRange(first.span)} (${first.width} lanes)`
    : `${percentRange(first.span)} (${first.width} lanes) to ${percentRange(widest.span)} (${widest.width} lanes)`;
}

// "After 500 steps the trained networks end … from the planner's forecast and … from their own linearisations (…).
// Against width the first distance falls like …": the measured distances, then every fitted slope there is.
function gapSentences(doc) {
  const planner = gapRange(doc, "forecast_gap");
  const own = gapRange(doc, "linearization_gap");
  if (!planner && !own) return [];
  const ends = [planner && `${planner} from the planner's forecast`, own && `${own} from their own linearisations`];
  const sentences = [`After ${lastStep(doc)} steps the trained networks end ${ends.filter(Boolean).join(" and ")} `
    + "(distances on the ring relative to the network's size, every seed)."];
  const usable = (fit) => (fit && fit.slope !== null ? fit : null);
  const slopes = [[doc.slopes?.forecast_gap, "the distance to the planner's forecast"],
    [doc.slopes?.linearization_gap, "the distance to the own linearisation"],
    [doc.slopes?.linearization_forecast_gap, "the two forecasts' distance from each other (the initial kernel's error alone)"],
    [doc.slopes?.drift, "the kernel drift"]].filter(([fit]) => usable(fit)).map(([fit, what]) => `${what} ${trend(fit)}`);
  if (slopes.length) {
    sentences.push(`Against width, ${slopes.length > 1 ? `${slopes.slice(0, -1).join(", ")} and ${slopes.at(-1)}` : slopes[0]}.`);
  }
  return sentences;
}

// Why forecasts are missing, in words: the limits 2N/λ_max of the kernels they hold fixed, against η.
function divergenceSentences(doc, state) {
  const rate = rateOf(doc, state);
  const sentences = [];
  const ref = doc.reference;
  if (ref && !plannerStable(doc, state)) {
    sentences.push(`The planner's forecast diverges: η = ${fmt(rate)} is above the analytic kernel's limit 2N/λ_max = `
      + `${fmt(ref.lr_limit)}, so along the kernel's top eigenvector each step overshoots the target by more than the `
      + "error it had, and the error grows without bound; it is not drawn.");
  }
  const networks = doc.widths.flatMap((w) => w.lr_limit.map((limit, seed) => ({ w, seed, limit })));
  const unstable = networks.filter(({ w, seed }) => !ownStable(w, seed, rate));
  if (unstable.length) {
    const limits = range(span(unstable.map((n) => n.limit)));
    const which = unstable.length === networks.length ? `every network's own linearisation diverges too`
      : `${unstable.length} of the ${networks.length} networks' own linearisations diverge`;
    sentences.push(`${sentences.length ? "And " + which : which[0].toUpperCase() + which.slice(1)}: the limits `
      + `2N/λ_max of their kernels at initialisation, ${limits}, are below η = ${fmt(rate)}.`);
    const failed = unstable.filter(({ w, seed }) => w.diverged_at[seed] >= 0);
    const survived = unstable.filter(({ w, seed }) => w.diverged_at[seed] < 0);
    const relieved = survived.filter(({ w, seed }) => {
      const lam = w.lambda_max[seed][w.lambda_max[seed].length - 1];
      return lam !== null && (2 * doc.gamma_train.length) / lam > rate;
    });
    if (!failed.length && relieved.length === survived.length) {
      const after = range(span(relieved.map(({ w, seed }) => (2 * doc.gamma_train.length) / w.lambda_max[seed].at(-1))));
      sentences.push(`Yet none of these networks diverged: each one's kernel shrank until its limit 2N/λ_max rose `
        + `above η, to ${after} by step ${lastStep(doc)} (see “What the fixed kernel does not say”).`);
    } else if (failed.length) {
      const who = failed.length < unstable.length ? `${failed.length} of these networks`
        : failed.length === 1 ? "That network" : `All ${failed.length} of these networks`;
      sentences.push(`${who} diverged as well (“What the fixed kernel does not say” says why).`);
    }
  }
  return sentences;
}

export function summary(doc, state) {
  const sentences = gapSentences(doc);
  if (!doc.reference) {
    sentences.push("The standard parameterization has no infinite-width kernel, so there is no planner's forecast.");
  }
  sentences.push(...divergenceSentences(doc, state));
  if (!sentences.length) return "No forecast could be compared with a trained network.";
  return sentences.join(" ");
}

// One row per (width, seed): the three distances after training and the network's own kernel's limit at the start.
export function table(doc) {
  const rows = doc.widths.flatMap((w) => w.lr_limit.map((limit, seed) => [
    w.width, seed, ...GAPS.map(([key]) => (w[key] ? round(w[key][seed]) : "")), round(limit),
    w.diverged_at[seed] >= 0 ? w.diverged_at[seed] : "",
  ]));
  const columns = ["width", "seed", ...GAPS.map(([, label]) => `${label} after ${lastStep(doc)} steps`),
    "own kernel's limit 2N/λ_max at the start", "network diverged at step"];
  return { columns, rows };
}
