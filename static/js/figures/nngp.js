// Two kernels: the widest networks at initialisation against the NNGP prior's ±2σ band (top), and after training, the
// NNGP posterior mean against the NTK forecast at t = ∞ (bottom). Blue is the NNGP, vermillion the NTK.
import { COLORS, DASHES, MARKERS, baseLayout, degrees, degreesOf, lastStep, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document): the widest width and the reference; the view does not change it.
export const needs = { document: "experiment" };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const NNGP = COLORS[0];
const NTK = COLORS[1];
const TRAINED = COLORS[2];
const NETWORK = "#3a3a3a";
const BAND_FILL = "rgba(0, 114, 178, 0.16)";

const widest = (doc) => doc.widths[doc.widths.length - 1];
const initial = (doc) => widest(doc).function.map((seed) => seed[0]); // (S, G): f(γ; θ₀), the raw network
const seedName = (doc, k) => `seed ${doc.query.seed + k}`;
const twoSigma = (doc) => doc.reference?.nngp_variance?.map((v) => 2 * Math.sqrt(v)) ?? null;

// The seeds' mean after the last step, per grid point (null where every seed diverged).
function trainedMean(doc) {
  const finals = widest(doc).function.map((seed) => seed[seed.length - 1]);
  return doc.gamma_grid.map((_, j) => {
    const values = finals.map((f) => f[j]).filter((v) => v !== null);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  });
}

const maxGap = (f, g) => {
  const gaps = f.map((v, j) => (v === null || g[j] === null ? null : Math.abs(v - g[j]))).filter((v) => v !== null);
  return gaps.length ? Math.max(...gaps) : null;
};

function bandTraces(doc) {
  const band = twoSigma(doc);
  if (!band) return [];
  const edge = { color: NNGP, width: 1 };
  return [
    { x: degrees(doc.gamma_grid), y: band.map((b) => -b), type: "scatter", mode: "lines", line: edge, legendgroup: "band",
      showlegend: false, hovertemplate: "−2σ = %{y:.3g}<extra></extra>" },
    { x: degrees(doc.gamma_grid), y: band, type: "scatter", mode: "lines", line: edge, fill: "tonexty", fillcolor: BAND_FILL,
      legendgroup: "band", name: "NNGP prior ±2σ", hovertemplate: "+2σ = %{y:.3g}<extra></extra>" },
  ];
}

function initialTraces(doc) {
  return initial(doc).map((f, k) => ({
    x: degrees(doc.gamma_grid), y: f, type: "scatter", mode: "lines", name: `initial, ${seedName(doc, k)}`,
    line: { color: NETWORK, width: 1.6, dash: DASHES[k % DASHES.length] },
  }));
}

function trainedTraces(doc) {
  const below = { xaxis: "x2", yaxis: "y2", type: "scatter" };
  const ref = doc.reference;
  const data = [];
  if (ref?.nngp_mean) {
    data.push({ ...below, x: degrees(doc.gamma_grid), y: ref.nngp_mean, mode: "lines", name: "NNGP posterior mean",
      line: { color: NNGP, width: 2.5 } });
  }
  if (ref) {
    data.push({ ...below, x: degrees(doc.gamma_grid), y: ref.ntk_mean, mode: "lines", name: "NTK forecast, t = ∞",
      line: { color: NTK, width: 2.5, dash: "dash" } });
  }
  const seeds = widest(doc).function.length;
  data.push({ ...below, x: degrees(doc.gamma_grid), y: trainedMean(doc), mode: "lines",
    name: `trained, step ${lastStep(doc)} (mean of ${seeds})`,
    line: { color: TRAINED, width: 2, dash: "dot" } });
  data.push({ ...below, x: degrees(doc.gamma_train), y: doc.y_train, mode: "markers", name: "districts",
    marker: { color: "#1a1a1a", symbol: MARKERS[2], size: 9 } });
  return data;
}

// Half the height of the top panel's y range: the band and every initial network, with room above and below.
function reach(doc) {
  const values = [...(twoSigma(doc) ?? []), ...initial(doc).flat().filter((v) => v !== null).map(Math.abs)];
  return 1.25 * Math.max(...values, 1e-9);
}

export function spec(doc) {
  const ring = { range: [-180, 180], tickvals: [-180, -90, 0, 90, 180], zeroline: false };
  const lanes = widest(doc).width;
  const panelTitle = (y, text) => ({ xref: "paper", yref: "paper", x: 0, xanchor: "left", y, yanchor: "bottom",
    showarrow: false, text, font: { size: 13 } });
  const layout = baseLayout({
    xaxis: { ...ring, anchor: "y" },
    yaxis: { domain: [0.58, 1], title: { text: "f(γ; θ₀)" }, range: [-reach(doc), reach(doc)] },
    xaxis2: { ...ring, anchor: "y2", title: { text: "position on the ring γ (°)" } },
    yaxis2: { domain: [0, 0.42], title: { text: "f(γ) after training" } },
    annotations: [panelTitle(1.0, `At initialisation, ${lanes} lanes`), panelTitle(0.43, "After training")],
    legend: { orientation: "h", y: -0.2, yanchor: "top" },
    margin: { l: 60, r: 20, t: 30, b: 60 },
    height: 680,
  });
  return { data: [...bandTraces(doc), ...initialTraces(doc), ...trainedTraces(doc)], layout };
}

function insideBand(doc) {
  const band = twoSigma(doc);
  const values = initial(doc).flatMap((f) => f.map((v, j) => [v, band[j]])).filter(([v]) => v !== null);
  return { inside: values.filter(([v, b]) => Math.abs(v) <= b).length, total: values.length };
}

// "differ by at most z" — unless z is below what 4 significant digits of the targets' scale can tell apart.
function meansGap(doc) {
  const ref = doc.reference;
  const gap = maxGap(ref.nngp_mean, ref.ntk_mean);
  const scale = Math.max(...doc.y_train.map(Math.abs), ...ref.nngp_mean.map(Math.abs), ...ref.ntk_mean.map(Math.abs));
  return gap <= 1e-3 * scale ? "agree to the 4 significant digits sent" : `differ by at most ${gap.toPrecision(2)}`;
}
const allDiverged = (doc) => trainedMean(doc).every((v) => v === null);

// "after T steps the networks' mean is within w of the NTK forecast", or that they diverged.
function afterTraining(doc) {
  if (allDiverged(doc)) return `every network diverged before step ${lastStep(doc)}`;
  return `after ${lastStep(doc)} steps the networks' mean is within ${maxGap(trainedMean(doc), doc.reference.ntk_mean).toPrecision(2)} `
    + "of the NTK forecast";
}

export function summary(doc) {
  const ref = doc.reference;
  const seeds = widest(doc).function.length;
  const lanes = widest(doc).width;
  if (!ref) {
    const trained = allDiverged(doc) ? `(every one diverged before step ${lastStep(doc)})` : `and after ${lastStep(doc)} steps`;
    return "The standard parameterization has no infinite-width kernel limit, so neither the band nor the two means "
      + `are drawn: only the ${seeds} networks of ${lanes} lanes at initialisation ${trained}.`;
  }
  const notes = [ref.nngp_mean && ref.nngp_note ? ` NNGP: ${ref.nngp_note}.` : "", ref.note ? ` NTK: ${ref.note}.` : ""].join("");
  if (!ref.nngp_mean) return `No NNGP band or posterior mean: ${ref.nngp_note}; ${afterTraining(doc)}.${notes}`;
  const { inside, total } = insideBand(doc);
  return `${inside} of ${total} grid values of the ${seeds} initial networks of ${lanes} lanes lie inside the NNGP's ±2σ `
    + `band (${Math.round((100 * inside) / total)} %; a Gaussian lands there 95 % of the time); the NNGP posterior mean `
    + `and the NTK forecast at t = ∞ ${meansGap(doc)}, and ${afterTraining(doc)}.${notes}`;
}

export function table(doc) {
  const ref = doc.reference;
  const starts = initial(doc);
  const band = twoSigma(doc);
  const trained = trainedMean(doc);
  const district = (g) => doc.gamma_train.findIndex((t) => Math.abs(t - g) < 1e-4);
  const rows = doc.gamma_grid.map((g, j) => {
    const i = district(g);
    return [degreesOf(g), ...starts.map((f) => round(f[j])), band ? round(band[j]) : "",
      ref?.nngp_mean ? round(ref.nngp_mean[j]) : "", ref ? round(ref.ntk_mean[j]) : "", round(trained[j]),
      i < 0 ? "" : round(doc.y_train[i])];
  });
  const columns = ["γ (°)", ...starts.map((_, k) => `initial network, ${seedName(doc, k)}`), "2σ of the NNGP prior",
    "NNGP posterior mean", "NTK forecast, t = ∞", `trained network, step ${lastStep(doc)} (mean of seeds)`,
    "district target"];
  return { columns, rows };
}
