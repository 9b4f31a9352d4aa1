// How fast the road works may go. Top: each width's training loss against the step. Bottom: the largest stable
// learning rate of its kernel at that step, 2N/λ_max(t), against the learning rate η: in the catapult the loss rises
// while η is above the limit, and falls once the kernel has shrunk enough for the limit to climb above η. The summary
// says in words why any network diverged.
import { COLORS, DASHES, baseLayout, mountFigure, rateOf, round } from "./plot.js";

// Drawn from the experiment (its drift document), and sketched from the widths done so far while it streams in.
export const needs = { document: "experiment", progress: true };

export const mount = (element) => mountFigure(element, { spec, summary, table, fit });

// The legend sits in the bottom margin, one row per ~270 px of width: the margin (and the figure) grows by its rows,
// so on a phone the legend never lies over the lower panel's axis.
export function fit({ data, layout }, width) {
  const entries = data.filter((trace) => trace.showlegend !== false).length;
  const rows = Math.ceil(entries / Math.max(1, Math.floor(width / 270)));
  const legend = rows * 21 + 20;
  const [height, margin] = [layout.height + legend, { ...layout.margin, b: layout.margin.b + legend }];
  const below = (layout.margin.b + 12) / (height - margin.t - margin.b); // under the axis title, in plot heights
  return { data, layout: { ...layout, height, margin, legend: { ...layout.legend, yref: "paper", y: -below, yanchor: "top" } } };
}

const fmt = (value) => (value === null ? "—" : Number(value.toPrecision(3)).toString());
const finite = (values) => values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
const minimum = (values) => Math.min(...finite(values));
const range = (values) => {
  const kept = finite(values);
  const [low, high] = [Math.min(...kept), Math.max(...kept)];
  return fmt(low) === fmt(high) ? fmt(low) : `${fmt(low)}–${fmt(high)}`;
};

// The networks of a width that diverged: their seeds' reasons, as the server gave them.
const diverged = (width) => width.divergence.map((reason, seed) => ({ seed, reason })).filter((d) => d.reason);


// A network's limit 2N/λ_max(t) at each snapshot (null where it had diverged); N is the number of districts.
const limitsOf = (doc, width, seed) => width.lambda_max[seed].map((lam) => (lam === null || lam <= 0 ? null
  : (2 * doc.gamma_train.length) / lam));

// Every network of the experiment with its curves: loss (at loss_steps) and limits (at the snapshots).
const networks = (doc) => doc.widths.flatMap((w) => w.lr_limit.map((limit, seed) => ({
  width: w.width, seed, start: limit, loss: w.loss[seed], limits: limitsOf(doc, w, seed), diverged: w.diverged_at[seed] >= 0,
})));

export function spec(doc, state) {
  const rate = rateOf(doc, state);
  const complete = doc.snapshot_steps.length > 0; // a document still streaming in has no snapshot steps yet
  const data = [];
  doc.widths.forEach((width, i) => {
    const stable = width.lr_limit.every((limit) => limit === null || rate < limit);
    const style = { color: COLORS[i % COLORS.length], dash: DASHES[i % DASHES.length] };
    data.push({
      name: `${width.width} lanes: limit ${fmt(minimum(width.lr_limit))} at step 0${stable ? "" : ", η above"}`,
      legendgroup: `${width.width}`, x: width.loss_steps, y: width.loss[0], type: "scatter", mode: "lines",
      line: { ...style, width: stable ? 2 : 3 },
      hovertemplate: `step %{x}: loss %{y:.3g}<extra>${width.width} lanes</extra>`,
    });
    if (complete) {
      data.push({
        name: `${width.width} lanes: limit 2N/λ_max(t)`, legendgroup: `${width.width}`, showlegend: false,
        xaxis: "x2", yaxis: "y2", x: doc.snapshot_steps, y: limitsOf(doc, width, 0), type: "scatter",
        mode: "lines+markers", line: { ...style, width: 2 }, marker: { color: style.color, size: 7 },
        hovertemplate: `step %{x}: 2N/λ_max = %{y:.3g}<extra>${width.width} lanes</extra>`,
      });
    }
  });
  if (complete) {
    const steps = doc.snapshot_steps;
    data.push({ name: `learning rate η = ${fmt(rate)}`, xaxis: "x2", yaxis: "y2", x: [steps[0], steps[steps.length - 1]],
      y: [rate, rate], type: "scatter", mode: "lines", line: { color: "#1a1a1a", width: 2 }, hoverinfo: "skip" });
  }
  const panelTitle = (y, text) => ({ xref: "paper", yref: "paper", x: 0, xanchor: "left", y, yanchor: "bottom",
    showarrow: false, text, font: { size: 13 } });
  const layout = baseLayout({
    xaxis: { anchor: "y", title: { text: complete ? "" : "training step t" } }, // below, the limits' axis has it
    yaxis: { type: "log", domain: [0.56, 0.96], title: { text: "training loss L" }, nticks: 5, exponentformat: "power" },
    xaxis2: { anchor: "y2", matches: "x", title: { text: "training step t" } },
    yaxis2: { domain: [0, 0.37], title: { text: "limit 2N/λ_max(t)" } },
    annotations: [panelTitle(1.0, `Training loss (first seed), η = ${fmt(rate)}`),
      panelTitle(0.4, "Limit 2N/λ_max(t), first seed")],
    legend: { orientation: "h", y: -0.14, yanchor: "top" }, // fit() puts it below the axis title, whatever its rows
    margin: { l: 60, r: 20, t: 30, b: 60 },
    datarevision: `${doc.widths.length}-${rate}-${complete}`,
    height: 760,
  });
  return { data, layout };
}

// What the kernels did during training, in words: a catapult (η above the limit at the start, not diverged, limit
// above η at the end), or how far the limits moved.
function kernelSentence(doc, rate) {
  const alive = networks(doc).filter((n) => !n.diverged && n.limits.length && n.limits.at(-1) !== null);
  if (!alive.length) return "";
  const T = doc.snapshot_steps.at(-1);
  const caught = alive.filter((n) => n.start !== null && n.start <= rate && n.limits.at(-1) > rate);
  if (!caught.length) {
    return ` Over ${T} steps the networks' limits moved from ${range(alive.map((n) => n.start))} to `
      + `${range(alive.map((n) => n.limits.at(-1)))}.`;
  }
  const rose = caught.filter((n) => Math.max(...finite(n.loss)) > n.loss[0]);
  const fell = rose.filter((n) => n.loss.at(-1) < n.loss[0]);
  const fold = Math.max(...rose.map((n) => Math.max(...finite(n.loss)) / n.loss[0]));
  const lossClause = rose.length ? `; meanwhile the loss of ${rose.length} of them first rose, up to ${fmt(fold)}-fold, `
    + `${fell.length === rose.length ? "and then fell below where it started" : `and ${fell.length} then fell below its start`}` : "";
  return ` ${caught.length} network${caught.length === 1 ? "" : "s"} started with η above ${caught.length === 1 ? "its" : "their"} `
    + `limit and did not diverge: the kernel shrank until 2N/λ_max climbed above η, to ${range(caught.map((n) => n.limits.at(-1)))} `
    + `by step ${T}${rose.length ? " (the catapult)" : ""}${lossClause}.`;
}

export function summary(doc, state) {
  const rate = rateOf(doc, state);
  const over = doc.widths.filter((w) => w.lr_limit.some((limit) => limit !== null && rate >= limit));
  const failed = doc.widths.flatMap((w) => diverged(w).map((d) => ({ width: w.width, ...d })));
  const limits = doc.widths.map((w) => `${w.width} lanes ${fmt(minimum(w.lr_limit))}`).join(", ");
  let verdict = `The learning rate η = ${fmt(rate)} is below every network's starting limit`;
  if (over.length) verdict = `η = ${fmt(rate)} is above the starting limit at ${over.map((w) => w.width).join(", ")} lanes`;
  const after = doc.snapshot_steps.length ? kernelSentence(doc, rate) : "";
  if (!failed.length) return `${verdict}; no network diverged. Limits 2N/λ_max at the start: ${limits}.${after}`;
  const first = failed[0];
  return `${verdict}; ${failed.length} network${failed.length === 1 ? "" : "s"} diverged — at ${first.width} lanes, `
    + `seed ${first.seed}: ${first.reason}. Limits 2N/λ_max at the start: ${limits}.${after}`;
}

export function table(doc) {
  const rows = networks(doc).map((n) => {
    const peak = Math.max(...finite(n.loss));
    const width = doc.widths.find((w) => w.width === n.width);
    return [n.width, n.seed, round(n.start), round(n.limits.at(-1) ?? null), round(n.loss[0]), round(peak),
      width.loss_steps[n.loss.indexOf(peak)], round(n.loss.at(-1)), n.diverged ? width.diverged_at[n.seed] : "",
      width.divergence[n.seed] ?? ""];
  });
  const T = doc.snapshot_steps.at(-1);
  return { columns: ["width", "seed", "limit 2N/λ_max at the start", `limit 2N/λ_max at step ${T}`, "loss at step 0",
    "highest loss", "at step", "final loss", "diverged at step", "why"], rows };
}
