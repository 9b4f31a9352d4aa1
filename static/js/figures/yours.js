// Your own target (drawn, typed, or read from a CSV: static/js/drawing.js), learned. Top: the target along the ring, the
// districts' targets (noise included), the widest networks after training (mean of the seeds) and the infinite-width
// forecast after the same steps. Bottom: at the districts, the part of the targets in the kernel's slow and
// never-learned modes (the drift document's reference.speeds: η λ_k T / N < 1, or λ_k in the null space), and what the
// forecast still misses there.
import { COLORS, DASHES, MARKERS, baseLayout, degrees, degreesOf, lastStep, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document); the view does not change it.
export const needs = { document: "experiment" };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const TARGET = "#1a1a1a";
const TRAINED = COLORS[2];
const FORECAST = COLORS[1];
const SLOW = COLORS[0];
const MISSED = COLORS[3];

const widest = (doc) => doc.widths[doc.widths.length - 1];
const last = (rows) => rows[rows.length - 1];

// The widest networks' mean after the last step on the grid (null where every seed diverged).
function trainedMean(doc) {
  const finals = widest(doc).function.map(last);
  return doc.gamma_grid.map((_, j) => {
    const values = finals.map((f) => f[j]).filter((v) => v !== null);
    return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  });
}

// The widest networks' error at the districts after the last step, as an RMS: √(2 L_T) from each seed's loss
// L = Σ (f − y)² / 2N, averaged over the seeds that did not diverge (null: none).
function trainedRms(doc) {
  const errors = widest(doc).loss.map((seed) => last(seed)).filter((v) => v !== null).map((v) => Math.sqrt(2 * v));
  return errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : null;
}

const rms = (values) => Math.sqrt(values.reduce((a, v) => a + v * v, 0) / values.length);
// A share in per cent: whole numbers, one decimal below 1 %, and "under 0.1 %" for what rounding would call 0.
const percent = (share) => {
  if (share === 0) return "0 %";
  return share < 0.001 ? "under 0.1 %" : `${(100 * share).toFixed(share < 0.01 ? 1 : 0)} %`;
};
const count = (flags) => flags.filter(Boolean).length;
const forecastAtEnd = (doc) => (doc.reference ? last(doc.reference.forecast) : null);

function topTraces(doc) {
  const data = [];
  if (doc.target_grid) {
    data.push({ x: degrees(doc.gamma_grid), y: doc.target_grid, type: "scatter", mode: "lines", name: "your target",
      line: { color: TARGET, width: 2 } });
  }
  data.push({ x: degrees(doc.gamma_train), y: doc.y_train, type: "scatter", mode: "markers", name: "districts' targets",
    marker: { color: TARGET, symbol: MARKERS[2], size: 9 } });
  data.push({ x: degrees(doc.gamma_grid), y: trainedMean(doc), type: "scatter", mode: "lines",
    name: `trained, ${widest(doc).width} lanes`,
    line: { color: TRAINED, width: 2.5, dash: DASHES[1] } });
  const forecast = forecastAtEnd(doc);
  if (forecast) {
    data.push({ x: degrees(doc.gamma_grid), y: forecast, type: "scatter", mode: "lines",
      name: "infinite-width forecast", line: { color: FORECAST, width: 2, dash: DASHES[2] } });
  }
  return data;
}

function bottomTraces(doc) {
  const speeds = doc.reference?.speeds;
  if (!speeds) return [];
  const below = { xaxis: "x2", yaxis: "y2", type: "scatter" };
  const x = degrees(doc.gamma_train);
  return [
    { ...below, x, y: speeds.still_to_learn, mode: "lines+markers", name: "still to learn",
      line: { color: SLOW, width: 2 }, marker: { color: SLOW, symbol: MARKERS[0], size: 8 } },
    { ...below, x, y: speeds.residual, mode: "markers", name: "the forecast still misses",
      marker: { color: MISSED, symbol: MARKERS[1], size: 9 } },
  ];
}

export function spec(doc) {
  const ring = { range: [-180, 180], tickvals: [-180, -90, 0, 90, 180], zeroline: false };
  const panelTitle = (y, text) => ({ xref: "paper", yref: "paper", x: 0, xanchor: "left", y, yanchor: "bottom",
    showarrow: false, text, font: { size: 13 } });
  const steps = lastStep(doc);
  const annotations = [panelTitle(1.0, `After ${steps} steps`),
    panelTitle(0.41, "At the districts: still to learn")];
  if (!doc.reference?.speeds) {
    annotations.push({ xref: "paper", yref: "paper", x: 0.5, y: 0.2, showarrow: false,
      text: "No infinite-width kernel (standard parameterization): nothing to split" });
  }
  const layout = baseLayout({
    xaxis: { ...ring, anchor: "y" },
    yaxis: { domain: [0.56, 1], title: { text: "f(γ)" }, zeroline: true },
    xaxis2: { ...ring, anchor: "y2", title: { text: "position on the ring γ (°)" } },
    yaxis2: { domain: [0, 0.4], title: { text: "left of the target" }, zeroline: true, range: leftRange(doc) },
    annotations,
    legend: { orientation: "h", y: -0.2, yanchor: "top" },
    margin: { l: 60, r: 20, t: 30, b: 60 },
    height: 700,
  });
  return { data: [...topTraces(doc), ...bottomTraces(doc)], layout };
}

// The lower panel's range: what is left, on the scale of the targets (at least a tenth of their largest), so that a
// part left too small to see is drawn flat, not magnified into rounding noise.
function leftRange(doc) {
  const speeds = doc.reference?.speeds;
  const values = [...(speeds?.still_to_learn ?? []), ...(speeds?.residual ?? [])].filter((v) => v !== null).map(Math.abs);
  const reach = 1.15 * Math.max(...values, 0.1 * Math.max(...doc.y_train.map(Math.abs)), 1e-6);
  return [-reach, reach];
}

// A distance from the targets in words: two significant digits, or "almost nothing" below 10⁻⁶ of the targets' size
// (rounding, not a shape anyone could see).
function size(value, doc) {
  return value <= 1e-6 * rms(doc.y_train) ? "almost nothing (an RMS below 10⁻⁶ of the targets')"
    : `${value.toPrecision(2)} (RMS)`;
}

// The infinite-width forecast diverges at this learning rate: a step above 2N/λ_max of the analytic kernel (every mode
// above it grows; its residual is then null).
const forecastDiverges = (doc) => doc.reference?.speeds?.residual.some((v) => v === null);

// What the run leaves to learn, in words: its share of the targets' energy and size, and the modes it lies in.
function speedsInWords(doc) {
  const speeds = doc.reference?.speeds;
  if (!speeds) return "the standard parameterization has no infinite-width kernel, so no part can be called slow";
  if (forecastDiverges(doc)) {
    return `at η = ${speeds.learning_rate} the infinite-width forecast diverges (η ≥ 2N/λ_max ≈ `
      + `${doc.reference.lr_limit.toPrecision(3)}), so its modes are not split into quick and slow`;
  }
  const n = speeds.slow.length;
  const slow = count(speeds.slow);
  const never = count(speeds.never);
  if (!slow && !never) {
    return `all ${n} kernel modes pass their time constant within the ${speeds.steps} steps (η λ T / N ≥ 1: less than `
      + "1/e of each is left), so the curve “still to learn” is flat";
  }
  const left = rms(speeds.still_to_learn);
  const shown = left <= 1e-6 * rms(doc.y_train) ? "too small to see" : `${left.toPrecision(2)} RMS at the districts`;
  const rule = `η λ T / N < 1: more than 1/e of each is left after ${speeds.steps} steps`;
  const parts = [slow ? `${percent(speeds.slow_share)} in the ${slow} of ${n} kernel modes learned slowly (${rule})` : "",
    never ? `${percent(speeds.never_share)} in the ${never} of ${n} kernel modes it never learns` : ""].filter(Boolean);
  return `${percent(speeds.slow_share + speeds.never_share)} of the targets' energy is still to learn (${shown}): `
    + parts.join(" and ")
    + (slow && !never ? ", none in modes it never learns" : "");
}

export function summary(doc) {
  const steps = lastStep(doc);
  const lanes = widest(doc).width;
  const fit = trainedRms(doc);
  const trained = fit === null
    ? `every network of ${lanes} lanes diverged before step ${steps}`
    : `after ${steps} steps the networks of ${lanes} lanes miss the ${doc.y_train.length} districts' targets by `
      + size(fit, doc);
  const residual = doc.reference?.speeds?.residual;
  const forecast = residual && !forecastDiverges(doc) ? `, the infinite-width forecast by ${size(rms(residual), doc)}` : "";
  return `${doc.query?.target === "drawn" ? "Your drawing" : "This target"}: ${trained}${forecast}; ${speedsInWords(doc)}.`;
}

export function table(doc) {
  const trained = trainedMean(doc);
  const forecast = forecastAtEnd(doc);
  const speeds = doc.reference?.speeds;
  const grid = doc.gamma_grid.map((g, j) => [g, [degreesOf(g), "grid", doc.target_grid ? round(doc.target_grid[j]) : "",
    "", round(trained[j]), forecast ? round(forecast[j]) : "", "", ""]]);
  const districts = doc.gamma_train.map((g, i) => [g, [degreesOf(g), `district ${i + 1}`, "", round(doc.y_train[i]), "", "",
    speeds ? round(speeds.still_to_learn[i]) : "", speeds ? round(speeds.residual[i]) : ""]]);
  const rows = [...grid, ...districts].sort((a, b) => a[0] - b[0]).map(([, row]) => row);
  const columns = ["γ (°)", "point", "your target", "district's target (with noise)",
    `trained, ${widest(doc).width} lanes, step ${lastStep(doc)} (mean of seeds)`,
    `infinite-width forecast, step ${lastStep(doc)}`, "still to learn (slow and never-learned modes)",
    "the forecast still misses"];
  return { columns, rows };
}
