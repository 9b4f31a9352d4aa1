// A kernel zoo: the infinite-width NTK and NNGP of 1 to 4 hidden layers of ReLU and of erf units, at the state's σw
// and σb. Above, their spectra on the ring, each divided by its largest eigenvalue, on shared log–log axes; below,
// their traffic maps between ring positions, each divided by its value at γ = γ′, on one colour scale from −1 to 1.
import { architectureParams, getSpectrum } from "../api.js";
import { FIELDS } from "../state.js";
import { COLORS, DASHES, DIVERGING, baseLayout, mountFigure, round } from "./plot.js";
import { lawText, zerosText } from "./spectrum.js";

const DEPTHS = [];
for (let depth = FIELDS.depth.type.min; depth <= FIELDS.depth.type.max; depth += 1) DEPTHS.push(depth);
const ACTIVATIONS = FIELDS.activation.type.values; // relu, erf
const NAMES = { relu: "ReLU", erf: "erf" };
// The two kernels of a spectrum document: its part for the kernel, and that kernel's largest eigenvalue.
const NTK = { part: (doc) => doc.ntk, top: (doc) => doc.max_eigenvalue.ntk };
const KINDS = [[NTK, "NTK"], [{ part: (doc) => doc.nngp, top: (doc) => doc.max_eigenvalue.nngp }, "NNGP"]];
// The panels, in order: each activation's NTK and NNGP.
const PANELS = ACTIVATIONS.flatMap((activation) => KINDS.map(([kind, label]) => ({ activation, kind,
  label: `${NAMES[activation]} ${label}` })));

// Every (activation, depth) of the zoo, in the order its documents are fetched and passed to spec().
const MEMBERS = ACTIVATIONS.flatMap((activation) => DEPTHS.map((depth) => ({ activation, depth })));
const memberParams = (state) => MEMBERS.map(({ activation, depth }) => architectureParams(state, { activation, depth }));

export const needs = {
  load: (state, signal) => Promise.all(memberParams(state).map((params) => getSpectrum(params, signal))),
  key: (state) => architectureParams(state, { depth: 0, activation: "" }).toString(), // σw and σb only
};

export const mount = (element) => mountFigure(element, { spec, summary, table, fit });

const docOf = (docs, activation, depth) => docs[MEMBERS.findIndex((m) => m.activation === activation && m.depth === depth)];
const layers = (depth) => `${depth} hidden layer${depth > 1 ? "s" : ""}`;
const ks = (doc) => doc.frequencies.filter((k) => k >= 1);

// μ_k/μ_max of a kernel (null where it is zero to rounding: not on a log axis).
const normalised = (doc, kind) => kind.part(doc).per_point.map((v, k) => (kind.part(doc).zero[k] ? null
  : v / (kind.top(doc) / doc.points)));

// The traffic map k(γ, γ′)/k(γ, γ) on the profile's angles: row i, column j is k(γ_j − γ_i) / k(0) (circulant).
function correlationMap(doc, kind) {
  const profile = kind.part(doc).profile;
  const size = profile.length;
  return profile.map((_, i) => profile.map((__, j) => profile[(j - i + size) % size] / profile[0]));
}

const angles = (doc) => doc.profile_angles.map((a) => Number(((a * 180) / Math.PI - 180).toFixed(3)));

// The map's value at the opposite district, k(180°)/k(0): how much a push at one district moves the opposite one.
export const opposite = (doc, kind) => {
  const { profile } = kind.part(doc);
  return profile[profile.length / 2] / profile[0];
};

function spectrumTraces(docs) {
  return PANELS.flatMap((panel, p) => DEPTHS.map((depth, d) => {
    const doc = docOf(docs, panel.activation, depth);
    const values = normalised(doc, panel.kind);
    return {
      name: layers(depth), legendgroup: `depth${depth}`, showlegend: p === 0, xaxis: `x${p + 1}`, yaxis: `y${p + 1}`,
      x: ks(doc), y: ks(doc).map((k) => values[k]), type: "scatter", mode: "lines", connectgaps: false,
      line: { color: COLORS[d % COLORS.length], dash: DASHES[d % DASHES.length], width: 2 },
      hovertemplate: `${panel.label}, ${layers(depth)}: k = %{x}, μ_k/μ_max = %{y:.3e}<extra></extra>`,
    };
  }));
}

function mapTraces(docs) {
  return PANELS.flatMap((panel, p) => DEPTHS.map((depth, d) => {
    const doc = docOf(docs, panel.activation, depth);
    const axis = PANELS.length + p * DEPTHS.length + d + 1;
    return {
      type: "heatmap", name: `${panel.label}, ${layers(depth)}`, z: correlationMap(doc, panel.kind), x: angles(doc),
      y: angles(doc), xaxis: `x${axis}`, yaxis: `y${axis}`, zmin: -1, zmax: 1, colorscale: DIVERGING,
      showscale: p === 0 && d === 0, colorbar: { thickness: 10, title: { text: "k(γ, γ′)/k(γ, γ)", side: "right" } },
      hovertemplate: `${panel.label}, ${layers(depth)}<br>γ = %{x}°, γ′ = %{y}°: %{z:.3f}<extra></extra>`,
    };
  }));
}

// The shared y range of the spectra (log10): the smallest nonzero μ_k/μ_max shown, up to 1.
function spectrumRange(docs) {
  const values = PANELS.flatMap((panel) => DEPTHS.flatMap((depth) => {
    const doc = docOf(docs, panel.activation, depth);
    return ks(doc).map((k) => normalised(doc, panel.kind)[k]);
  })).filter((v) => v !== null && v > 0);
  return [Math.floor(Math.log10(Math.min(...values))) - 0.6, 0.2]; // room under the lowest tick label
}

export function spec(...args) {
  const docs = args.slice(0, MEMBERS.length);
  const [w, b] = [docs[0].query.w_std, docs[0].query.b_std];
  const layout = baseLayout({
    legend: { orientation: "h", x: 0, y: 1, yanchor: "bottom" },
    datarevision: `${w}-${b}`,
    spectrumRange: spectrumRange(docs), // read by fit()
  });
  return { data: [...spectrumTraces(docs), ...mapTraces(docs)], layout };
}

const MARGIN = { l: 64, r: 70, t: 84, b: 50 }; // t: the legend, above the spectra's titles; r: the colour bar
const PHONE = { l: 58, r: 12, t: 84, b: 110 }; // under 480 px: the colour bar lies under the maps
const GAP = 14;  // px between heatmaps
const BAND = 76; // px between the spectra and the maps: the spectra's x title, the maps' column titles
const ROW_GAP = 64; // px between two rows of spectra: the upper one's x title, the lower one's title

// The spectra in one row from 720 px, two by two below; the 4 × 4 maps square, rows by kernel, columns by depth. On a
// phone the colour bar lies under the maps and the labels shorten, so the maps keep most of the width.
export function fit({ data, layout }, width) {
  const phone = width < 480;
  const margin = phone ? PHONE : MARGIN;
  const plotWidth = width - margin.l - margin.r;
  const columns = width >= 720 ? 4 : 2;
  const spectraGap = columns === 4 ? 36 : 40;
  const spectrumSide = (plotWidth - (columns - 1) * spectraGap) / columns;
  const spectrumHeight = Math.min(240, Math.max(150, spectrumSide * 0.9));
  const spectraRows = Math.ceil(PANELS.length / columns);
  const gap = phone ? 6 : GAP;
  const side = (plotWidth - (DEPTHS.length - 1) * gap) / DEPTHS.length;
  const mapsHeight = PANELS.length * side + (PANELS.length - 1) * gap;
  const spectraHeight = spectraRows * spectrumHeight + (spectraRows - 1) * ROW_GAP;
  const height = margin.t + spectraHeight + BAND + mapsHeight + margin.b;
  const plotHeight = height - margin.t - margin.b;
  const fromTop = (px) => 1 - px / plotHeight;
  const laidOut = { ...layout, height, margin, annotations: [],
    legend: { ...layout.legend, y: 1 + 20 / plotHeight, yanchor: "bottom" } };
  delete laidOut.spectrumRange;
  PANELS.forEach((panel, p) => {
    const [row, column] = [Math.floor(p / columns), p % columns];
    const left = column * (spectrumSide + spectraGap);
    const top = row * (spectrumHeight + ROW_GAP);
    const suffix = p === 0 ? "" : p + 1;
    laidOut[`xaxis${suffix}`] = { domain: [left / plotWidth, (left + spectrumSide) / plotWidth], anchor: `y${suffix}`,
      type: "log", range: [-0.05, Math.log10(128) + 0.05], tickvals: [1, 10, 100], title: { text: "k", standoff: 2 },
      fixedrange: true };
    laidOut[`yaxis${suffix}`] = { domain: [fromTop(top + spectrumHeight), fromTop(top)], anchor: `x${suffix}`, type: "log",
      range: layout.spectrumRange, exponentformat: "power", dtick: phone ? 6 : 3, tickfont: { size: phone ? 10 : 12 },
      fixedrange: true,
      title: { text: column === 0 && !phone ? "μ<sub>k</sub>/μ<sub>max</sub>" : "", standoff: 2 }, showticklabels: column === 0 };
    laidOut.annotations.push({ text: panel.label, showarrow: false, xref: `x${suffix} domain`, yref: `y${suffix} domain`,
      x: 0.5, y: 1, yanchor: "bottom", font: { size: 12 } });
  });
  const mapsTop = spectraHeight + BAND;
  PANELS.forEach((panel, p) => DEPTHS.forEach((depth, d) => {
    const axis = PANELS.length + p * DEPTHS.length + d + 1;
    const [left, top] = [d * (side + gap), mapsTop + p * (side + gap)];
    const bottom = p === PANELS.length - 1;
    laidOut[`xaxis${axis}`] = { domain: [left / plotWidth, (left + side) / plotWidth], anchor: `y${axis}`,
      tickvals: phone ? [0] : [-90, 0, 90], tickangle: 0, tickfont: { size: 10 }, showticklabels: bottom,
      title: { text: bottom ? "γ (°)" : "", standoff: 2, font: { size: 11 } }, fixedrange: true };
    laidOut[`yaxis${axis}`] = { domain: [fromTop(top + side), fromTop(top)], anchor: `x${axis}`,
      tickvals: phone ? [0] : [-90, 0, 90], tickfont: { size: 10 }, showticklabels: d === 0 && !phone,
      title: { text: d === 0 ? (phone ? panel.label.replace(" ", "<br>") : panel.label) : "", standoff: 2,
        font: { size: phone ? 10 : 11 } }, fixedrange: true };
    if (p === 0) {
      laidOut.annotations.push({ text: phone ? `${depth}` : layers(depth), showarrow: false, xref: `x${axis} domain`,
        yref: `y${axis} domain`, x: 0.5, y: 1, yanchor: "bottom", font: { size: 11 } });
    }
  }));
  if (phone) {
    laidOut.annotations.push({ text: "hidden layers", showarrow: false, xref: "paper", yref: "paper", x: 0.5,
      y: fromTop(mapsTop), yanchor: "bottom", yshift: 16, font: { size: 11 } });
  }
  const bar = phone
    ? { orientation: "h", x: 0.5, xanchor: "center", y: -(70 / plotHeight), yanchor: "top", len: 1, thickness: 10,
      title: { text: "k(γ, γ′)/k(γ, γ)", side: "top" } }
    : { x: 1.02, y: fromTop(mapsTop + mapsHeight / 2), len: mapsHeight / plotHeight };
  const styled = data.map((trace) => (trace.showscale ? { ...trace, colorbar: { ...trace.colorbar, ...bar } } : trace));
  return { data: styled, layout: laidOut };
}

// The fit of a kernel that the summary quotes: its even k's, or its only one.
const mainFit = (part) => part.fits.find((f) => f.parity === "even") ?? part.fits[0] ?? null;
const fitWords = (fit) => (fit === null ? "no fit" : `${lawText(fit)}${fit.parity === "odd" ? " (odd k)" : ""}`);
const share = (value) => value.toFixed(2).replace("-", "−");

export function summary(...args) {
  const docs = args.slice(0, MEMBERS.length);
  const [first, last] = [DEPTHS[0], DEPTHS.at(-1)];
  const { w_std: w, b_std: b } = docs[0].query;
  const decays = ACTIVATIONS.map((activation) => {
    const [shallow, deep] = [docOf(docs, activation, first), docOf(docs, activation, last)];
    return `${NAMES[activation]}: the NTK's spectrum falls ${fitWords(mainFit(shallow.ntk))} with ${layers(first)} and `
      + `${fitWords(mainFit(deep.ntk))} with ${last}, the NNGP's ${fitWords(mainFit(shallow.nngp))} and `
      + `${fitWords(mainFit(deep.nngp))}`;
  }).join("; ");
  const across = ACTIVATIONS.map((activation) => `${share(opposite(docOf(docs, activation, first), NTK))} (${NAMES[activation]}, `
    + `${layers(first)}) and ${share(opposite(docOf(docs, activation, last), NTK))} (${last})`).join(", ");
  const zeros = ACTIVATIONS.map((activation) => `${NAMES[activation]}, ${layers(first)}: ${zerosText(docOf(docs, activation, first), docOf(docs, activation, first).ntk)}; `
    + `${last}: ${zerosText(docOf(docs, activation, last), docOf(docs, activation, last).ntk)}`).join("; ");
  return `At σw = ${w}, σb = ${b}, fitted over k = ${docs[0].fit_range[0]} … ${docs[0].fit_range[1]} (even k unless `
    + `marked). ${decays}. At the opposite district the `
    + `NTK's map is ${across} of its value on the diagonal. Frequencies zero to rounding (NTK): ${zeros}.`;
}

export function table(...args) {
  const docs = args.slice(0, MEMBERS.length);
  const kernels = PANELS.flatMap((panel) => DEPTHS.map((depth) => ({ panel, depth, doc: docOf(docs, panel.activation, depth) })));
  const spectra = kernels.map(({ panel, doc }) => normalised(doc, panel.kind));
  const maps = kernels.map(({ panel, doc }) => panel.kind.part(doc).profile.map((v, _, all) => v / all[0]));
  const rowsCount = Math.max(docs[0].frequencies.length, docs[0].profile_angles.length);
  const rows = [];
  for (let i = 0; i < rowsCount; i += 1) {
    const k = i < docs[0].frequencies.length;
    const a = i < docs[0].profile_angles.length;
    rows.push([k ? i : "", ...spectra.map((s) => (k ? (s[i] === null ? "zero" : round(s[i])) : "")),
      a ? round((docs[0].profile_angles[i] * 180) / Math.PI) : "", ...maps.map((m) => (a ? round(m[i]) : ""))]);
  }
  const names = kernels.map(({ panel, depth }) => `${panel.label}, ${layers(depth)}`);
  return { columns: ["frequency k", ...names.map((n) => `${n}: μ_k/μ_max`), "Δγ (°)", ...names.map((n) => `${n}: k(Δγ)/k(0)`)], rows };
}

