// Training frequency by frequency: networks trained on cos γ + cos 2γ + cos 4γ + cos 8γ; the share of each frequency
// left in their residual against the step (log axis), a narrow and a wide road beside the infinite-width kernel's
// forecast |1 − ηλ_k/N|^t, with the step each reaches 1/e marked.
import { architectureParams, getSpectralBias } from "../api.js";
import { COLORS, baseLayout, divergence, mountFigure, round } from "./plot.js";

// Drawn from GET /api/v1/spectral-bias for the state's architecture and seed (its narrow and wide widths, steps and
// target are the endpoint's defaults).
const params = (state) => {
  const query = architectureParams(state);
  query.set("seed", String(state.seed));
  return query;
};
export const needs = {
  load: (state, signal) => Promise.all([getSpectralBias(params(state), signal)]),
  key: (state) => params(state).toString(),
};

export const mount = (element) => mountFigure(element, { spec, summary, table });

const GREY = "#3a3a3a";
// How each source is drawn: [label, dash, width, marker of its fit step].
const STYLES = { kernel: ["kernel's forecast", "dash", 2, "circle-open"], wide: ["", "solid", 2.5, "circle"],
  narrow: ["", "dot", 1.8, "diamond"] };

const lanes = (network) => `${network.width} lanes`;
const lastStep = (doc) => doc.steps.at(-1);
const mean = (values) => {
  const kept = values.filter((v) => v !== null && v !== undefined);
  return kept.length ? kept.reduce((a, b) => a + b, 0) / kept.length : null;
};

// The seeds' mean of A_k(t)/A_k(0) for frequency i at every plotted step.
const meanCurve = (network, i) => network.relative[0][i].map((_, t) => mean(network.relative.map((seed) => seed[i][t])));

// The narrow and the wide networks: the first and the last width.
const roads = (doc) => ({ narrow: doc.networks[0], wide: doc.networks.at(-1) });

// A network's fit step for frequency i: { steps: the mean over the seeds that reached 1/e, reached, of }.
function measured(network, i) {
  const steps = network.fit_steps.map((seed) => seed[i]);
  const reached = steps.filter((t) => t !== null);
  return { steps: reached.length ? Math.round(mean(reached)) : null, reached: reached.length, of: steps.length };
}

function curves(doc) {
  const x = doc.steps.slice(1);
  const data = [];
  const { narrow, wide } = roads(doc);
  doc.frequencies.forEach((k, i) => {
    const color = COLORS[i % COLORS.length];
    const line = (name, y, [, dash, width]) => ({
      name, x, y: y.slice(1), type: "scatter", mode: "lines", line: { color, dash, width }, showlegend: false,
      legendgroup: `k${k}`, hovertemplate: `${name}: step %{x}, %{y:.3f} left<extra></extra>`,
    });
    data.push(line(`k = ${k}, kernel's forecast`, doc.forecast[i], STYLES.kernel));
    if (narrow !== wide) data.push(line(`k = ${k}, ${lanes(narrow)}`, meanCurve(narrow, i), STYLES.narrow));
    data.push(line(`k = ${k}, ${lanes(wide)}`, meanCurve(wide, i), STYLES.wide));
  });
  return data;
}

// Where each curve reaches 1/e: one marker per frequency and source, in the frequency's colour.
function fitMarkers(doc) {
  const { narrow, wide } = roads(doc);
  const sources = [["kernel", null], ...(narrow !== wide ? [["narrow", narrow]] : []), ["wide", wide]];
  return sources.map(([source, network]) => {
    const points = doc.frequencies.map((k, i) => ({
      k, color: COLORS[i % COLORS.length],
      step: network ? measured(network, i).steps : doc.kernel.fit_steps[k],
    })).filter((p) => p.step !== null && p.step >= 1 && p.step <= lastStep(doc));
    const label = network ? lanes(network) : "kernel";
    return {
      name: `${label} reaches 1/e`, x: points.map((p) => p.step), y: points.map(() => doc.fit_fraction),
      text: points.map((p) => `k = ${p.k}`), type: "scatter", mode: "markers", showlegend: false,
      marker: { color: points.map((p) => p.color), symbol: STYLES[source][3], size: 11, line: { width: 2, color: points.map((p) => p.color) } },
      hovertemplate: `%{text}, ${label}: 1/e left at step %{x}<extra></extra>`,
    };
  });
}

// Legend entries only: one per frequency (its colour), one per source (its dash), in grey.
function legend(doc) {
  const { narrow, wide } = roads(doc);
  const entry = (name, color, dash) => ({ name, x: [null], y: [null], type: "scatter", mode: "lines",
    line: { color, dash, width: 2.5 }, hoverinfo: "skip" });
  return [
    ...doc.frequencies.map((k, i) => entry(`cos ${k === 1 ? "" : k}γ`, COLORS[i % COLORS.length], "solid")),
    entry("kernel's forecast", GREY, "dash"),
    ...(narrow !== wide ? [entry(lanes(narrow), GREY, "dot")] : []),
    entry(lanes(wide), GREY, "solid"),
  ];
}

export function spec(doc) {
  const highest = Math.max(1.05, ...doc.networks.flatMap((n) => n.relative.flat(2)).filter((v) => v !== null));
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "training step (log scale)" }, range: [-0.08, Math.log10(lastStep(doc)) + 0.02] },
    yaxis: { title: { text: "share of the frequency left, A<sub>k</sub>(t)/A<sub>k</sub>(0)" }, range: [-0.04, Math.min(highest, 2)],
      zeroline: false },
    shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: doc.fit_fraction, y1: doc.fit_fraction,
      line: { color: "#767676", width: 1, dash: "dot" } }],
    annotations: [{ xref: "paper", x: 0, xanchor: "left", y: doc.fit_fraction, yanchor: "top", showarrow: false,
      text: "1/e left: fitted", font: { size: 11, color: "#555555" } }],
    legend: { orientation: "h", y: -0.2, yanchor: "top" },
    margin: { l: 64, r: 20, t: 20, b: 60 },
    height: 520,
    datarevision: JSON.stringify(doc.query),
  });
  return { data: [...curves(doc), ...fitMarkers(doc), ...legend(doc)], layout };
}

// "3, 9, 137 and more than 1000": each frequency's steps to 1/e, in words.
function list(texts) {
  return texts.length > 1 ? `${texts.slice(0, -1).join(", ")} and ${texts.at(-1)}` : texts[0];
}

function networkSteps(doc, network) {
  return list(doc.frequencies.map((_, i) => {
    const { steps, reached, of } = measured(network, i);
    if (reached === of) return String(steps);
    if (reached === 0) return `more than ${lastStep(doc)}`;
    return `${steps} (${reached} of ${of} seeds; the others more than ${lastStep(doc)})`;
  }));
}

// A drift document's divergence() reads its widths' diverged_at and divergence: the same fields here.
const asDrift = (doc) => ({ widths: doc.networks });

export function summary(doc) {
  const { narrow, wide } = roads(doc);
  const kernel = list(doc.frequencies.map((k) => (doc.kernel.fit_steps[k] === null ? "never (a zero eigenvalue)"
    : doc.kernel.fit_steps[k].toLocaleString("en-GB"))));
  const target = doc.frequencies.map((k) => `cos ${k === 1 ? "" : k}γ`).join(" + ");
  const networks = narrow === wide ? `the networks (${lanes(wide)}) take ${networkSteps(doc, wide)}`
    : `the wide networks (${lanes(wide)}) take ${networkSteps(doc, wide)}, the narrow ones (${lanes(narrow)}) `
      + `${networkSteps(doc, narrow)}`;
  const diverged = divergence(asDrift(doc), { missing: "their curves stop there" });
  return `Learning ${target} on ${doc.query.districts} districts at η = ${doc.learning_rate.toPrecision(3)} (a quarter of `
    + `the stable limit 2N/λ_max): the kernel's forecast brings frequencies ${list(doc.frequencies.map(String))} down `
    + `to 1/e in ${kernel} steps; ${networks} (mean over ${wide.fit_steps.length} seeds).${diverged ? ` ${diverged}` : ""}`;
}

export function table(doc) {
  const { narrow, wide } = roads(doc);
  const networks = narrow === wide ? [wide] : [narrow, wide];
  const means = networks.map((network) => doc.frequencies.map((_, i) => meanCurve(network, i)));
  const rows = doc.steps.map((step, t) => [step, ...doc.frequencies.flatMap((_, i) => [
    round(doc.forecast[i][t]), ...means.map((curvesOf) => round(curvesOf[i][t]))])]);
  const columns = ["step", ...doc.frequencies.flatMap((k) => [`k = ${k}: kernel's forecast`,
    ...networks.map((network) => `k = ${k}: ${lanes(network)} (mean of ${network.relative.length} seeds)`)])];
  return { columns, rows };
}
