// What the kernel learns first: the infinite-width NTK's and NNGP's eigenvalue per point μ_k against the frequency k
// on log–log axes, with the fitted decay and the frequencies that are zero to rounding marked below the curves. The
// right axis reads the same points as the steps gradient descent needs to fit each frequency (to 1/e), at the
// learning rate 'Training frequency by frequency' uses: η = N/(2λ_max), so N/(ηλ_k) = 2μ_max/μ_k.
import { architectureParams, getSpectrum } from "../api.js";
import { COLORS, MARKERS, baseLayout, mountFigure, round, signed } from "./plot.js";

// Drawn from GET /api/v1/spectrum for the state's architecture; nothing else changes it.
export const needs = {
  load: (state, signal) => Promise.all([getSpectrum(architectureParams(state), signal)]),
  key: (state) => architectureParams(state).toString(),
};

export const mount = (element) => mountFigure(element, { spec, summary, table });

// The two kernels of a spectrum document: [its part of the document, label, colour, marker].
export const KERNELS = [[(doc) => doc.ntk, "NTK", COLORS[1], MARKERS[1]], [(doc) => doc.nngp, "NNGP", COLORS[0], MARKERS[0]]];
const FIT_COLOR = "#1a1a1a"; // the fitted decays, over either kernel's markers
const LR_FRACTION = 0.25; // the spectral-bias experiment's default: η = 0.25 · 2N/λ_max

// The frequencies on the log axis: k ≥ 1 (k = 0, the constant mode, is in the table and the summary).
const shown = (doc) => doc.frequencies.filter((k) => k >= 1);
const positive = (doc) => KERNELS.flatMap(([pick]) => pick(doc).per_point.filter((v, k) => k >= 1 && !pick(doc).zero[k] && v > 0));

// The y range (log10): every nonzero eigenvalue, and a band below the smallest where the zeros are marked.
function range(doc) {
  const values = positive(doc);
  const [low, high] = [Math.log10(Math.min(...values)), Math.log10(Math.max(...values))];
  return [low - 1.2, high + 0.3];
}

// A fitted law's value at k: power e^a k^s, geometric e^{a + s k}.
export const law = (fit, k) => Math.exp(fit.intercept + fit.slope * (fit.law === "power" ? Math.log(k) : k));

// "k^−2.02" or "÷3.6 per frequency": a fit in words, as the legend and the summary write it.
export function lawText(fit) {
  return fit.law === "power" ? `k^${signed(fit.slope)}` : `÷${Math.exp(-fit.slope).toFixed(2)} per frequency`;
}

// The same for a legend, with the exponent raised.
function lawLegend(fit) {
  return fit.law === "power" ? `k<sup>${signed(fit.slope)}</sup>` : lawText(fit);
}

function kernelTraces(doc, [pick, label, color, symbol], floor) {
  const part = pick(doc);
  const ks = shown(doc);
  const traces = [{
    name: `${label} μ_k`, legendgroup: label, x: ks, y: ks.map((k) => (part.zero[k] ? null : part.per_point[k])),
    type: "scatter", mode: "lines+markers", line: { color, width: 1.5 }, marker: { color, symbol, size: 6 },
    connectgaps: false, hovertemplate: `${label}: k = %{x}, μ_k = %{y:.3e}<extra></extra>`,
  }];
  const zeros = ks.filter((k) => part.zero[k]);
  if (zeros.length) {
    traces.push({
      name: `${label}: zero to rounding`, legendgroup: label, x: zeros, y: zeros.map(() => floor), type: "scatter",
      mode: "markers", marker: { color, symbol: "x-thin-open", size: 9, line: { color, width: 2 } },
      hovertemplate: `${label}: k = %{x} is zero to rounding<extra></extra>`,
    });
  }
  for (const fit of part.fits) {
    const span = [];
    for (let k = fit.k_min; k <= fit.k_max; k += 1) span.push(k);
    traces.push({
      name: `${label} fit, ${fit.parity} k: ${lawLegend(fit)}`, legendgroup: label, x: span, y: span.map((k) => law(fit, k)),
      type: "scatter", mode: "lines", line: { color: FIT_COLOR, width: 2, dash: fit.parity === "even" ? "dash" : "dot" },
      hoverinfo: "skip",
    });
  }
  return traces;
}

export function spec(doc) {
  const [low, high] = range(doc);
  const floor = (i) => 10 ** (low + 0.35 + 0.35 * i); // each kernel's row of crosses, the NTK's above the NNGP's
  const top = Math.max(doc.ntk.per_point[0], ...positive(doc)); // μ_max among the frequencies shown… and k = 0
  const muMax = doc.max_eigenvalue.ntk / doc.points;
  const steps = (mu) => Math.log10(muMax / (LR_FRACTION * 2 * mu)); // N/(ηλ_k) with η = lr_fraction · 2N/λ_max
  const layout = baseLayout({
    xaxis: { type: "log", title: { text: "frequency k (waves around the ring)" }, range: [-0.05, Math.log10(shown(doc).at(-1)) + 0.05],
      tickvals: [1, 2, 4, 8, 16, 32, 64, 128] },
    yaxis: { type: "log", title: { text: "eigenvalue per point μ<sub>k</sub> = λ<sub>k</sub>/M" }, range: [low, high],
      exponentformat: "power" },
    yaxis2: { type: "log", overlaying: "y", side: "right", range: [steps(10 ** low), steps(10 ** high)],
      title: { text: "NTK: steps to fit (1/e)" }, tickvals: powers(steps(10 ** high), steps(10 ** low)),
      exponentformat: "power", showgrid: false },
    legend: { orientation: "h", y: -0.22, yanchor: "top" },
    margin: { l: 70, r: 70, t: 20, b: 60 },
    height: 560,
    datarevision: `${doc.query.depth}-${doc.query.activation}-${doc.query.w_std}-${doc.query.b_std}-${top}`,
  });
  // An invisible trace on the right axis, so plotly draws it (an axis without traces is not shown).
  const anchor = { x: [1], y: [10 ** steps(muMax)], yaxis: "y2", type: "scatter", mode: "markers", showlegend: false,
    hoverinfo: "skip", marker: { opacity: 0 } };
  return { data: [...KERNELS.flatMap((kernel, i) => kernelTraces(doc, kernel, floor(KERNELS.length - 1 - i))), anchor], layout };
}

// Every power of ten between 10^from and 10^to (log10 values), for an axis's ticks.
function powers(from, to) {
  const ticks = [];
  for (let n = Math.ceil(from); n <= Math.floor(to); n += 1) ticks.push(10 ** n);
  return ticks;
}

export const architecture = (query) => `${query.depth} hidden ${query.activation === "relu" ? "ReLU" : "erf"} `
  + `layer${query.depth > 1 ? "s" : ""}, σw = ${query.w_std}, σb = ${query.b_std}`;

// The fits of one kernel in words, for the summary: "like k^−2.08 ± 0.01 (even k) and k^−1.95 ± 0.01 (odd k)", or
// "geometrically, each frequency 3.66 (even k) and 3.93 (odd k) times smaller than the one before".
function decay(part) {
  if (!part.fits.length) return "too few nonzero frequencies to fit";
  const power = part.fits.filter((fit) => fit.law === "power");
  const geometric = part.fits.filter((fit) => fit.law === "geometric");
  const texts = [];
  if (power.length) {
    texts.push(`like ${power.map((fit) => `k^${signed(fit.slope)} ± ${fit.stderr.toFixed(2)} (${fit.parity} k)`).join(" and ")}`);
  }
  if (geometric.length) {
    texts.push(`geometrically, each frequency ${geometric.map((fit) => `${Math.exp(-fit.slope).toFixed(2)} (${fit.parity} k)`)
      .join(" and ")} times smaller than the one before`);
  }
  return texts.join(", and ");
}

// The zero frequencies among those shown, in words: a parity the kernel misses ("every odd k from 3", "every even k
// (k = 0 too)"), the tail below rounding ("every k from 21"), both, none, or a count.
export function zerosText(doc, part) {
  const all = doc.frequencies;
  const zero = (k) => part.zero[k];
  const ks = all.filter(zero);
  if (!ks.length) return `none of k = 0 … ${all.at(-1)}`;
  let tail = all.length; // the first k from which every frequency shown is zero
  while (tail > 0 && zero(tail - 1)) tail -= 1;
  const below = ks.filter((k) => k < tail);
  const same = (a, b) => a.length === b.length && a.every((k, i) => k === b[i]);
  const parities = [["every odd k from 3", all.filter((k) => k < tail && k % 2 === 1 && k >= 3)],
    ["every even k (k = 0 too)", all.filter((k) => k < tail && k % 2 === 0)]];
  const parity = below.length ? parities.find(([, expected]) => same(below, expected))?.[0] : "";
  const from = tail < all.length ? `every k from ${tail}` : "";
  if (parity === undefined) return `${ks.length} of k = 0 … ${all.at(-1)}, from k = ${ks[0]}`;
  return [parity, from].filter(Boolean).join(" and ");
}

export function summary(doc) {
  const ntk = doc.ntk;
  const fastest = LR_FRACTION * 2; // ηλ_max/N
  const steps = (k) => (ntk.zero[k] ? "never"
    : Math.ceil(doc.max_eigenvalue.ntk / (fastest * ntk.eigenvalues[k])).toLocaleString("en-GB"));
  return `${architecture(doc.query)}: over k = ${doc.fit_range[0]} … ${doc.fit_range[1]} the NTK's eigenvalues fall `
    + `${decay(ntk)}, the NNGP's ${decay(doc.nngp)}. Zero to rounding (|λ_k| ≤ ${doc.zero_rtol.toExponential(0)} λ_max): `
    + `for the NTK ${zerosText(doc, doc.ntk)}, for the NNGP ${zerosText(doc, doc.nngp)}. At η = N/(2λ_max) gradient descent `
    + `with the NTK needs about N/(ηλ_k) steps to fit frequency k to 1/e: ${steps(1)} for k = 1, ${steps(4)} for 4, `
    + `${steps(16)} for 16 and ${steps(64)} for 64.`;
}

export function table(doc) {
  const muMax = doc.max_eigenvalue.ntk / doc.points;
  const rows = doc.frequencies.map((k) => [k, doc.multiplicity[k],
    ...KERNELS.flatMap(([pick]) => [pick(doc).eigenvalues[k], pick(doc).per_point[k], pick(doc).zero[k] ? "zero" : ""]),
    doc.ntk.zero[k] ? "never" : round(muMax / (LR_FRACTION * 2 * doc.ntk.per_point[k]))]);
  const columns = ["frequency k", "modes (cos, sin)", ...KERNELS.flatMap(([, label]) => [`${label} λ_k (M = ${doc.points})`,
    `${label} μ_k = λ_k/M`, `${label} zero to rounding`]), "NTK steps to fit (1/e) at η = N/(2λ_max)"];
  return { columns, rows };
}
