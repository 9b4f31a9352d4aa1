// How fast the road works may go: each width's training loss against the step, with its stable limit 2N/λ_max beside
// the learning rate, and in words why any network diverged.
import { COLORS, DASHES, baseLayout, mountFigure, round } from "./plot.js";

// Drawn from the experiment (its drift document), and sketched from the widths done so far while it streams in.
export const needs = { document: "experiment", progress: true };

export const mount = (element) => mountFigure(element, { spec, summary, table });

const fmt = (value) => (value === null ? "—" : Number(value.toPrecision(3)).toString());
const minimum = (values) => Math.min(...values.filter((v) => v !== null));

// The networks of a width that diverged: their seeds' reasons, as the server gave them.
const diverged = (width) => width.divergence.map((reason, seed) => ({ seed, reason })).filter((d) => d.reason);

// The learning rate of the document's experiment (a document still streaming in has no query yet: the state's).
const rateOf = (doc, state) => doc.query?.learning_rate ?? state.learning_rate;

export function spec(doc, state) {
  const rate = rateOf(doc, state);
  const data = doc.widths.map((width, i) => {
    const stable = width.lr_limit.every((limit) => limit === null || rate < limit);
    return {
      name: `${width.width} lanes: limit ${fmt(minimum(width.lr_limit))}${stable ? "" : " (η above it)"}`,
      x: width.loss_steps, y: width.loss[0], type: "scatter", mode: "lines",
      line: { color: COLORS[i % COLORS.length], dash: DASHES[i % DASHES.length], width: stable ? 2 : 3 },
      hovertemplate: `step %{x}: loss %{y:.3g}<extra>${width.width} lanes</extra>`,
    };
  });
  const layout = baseLayout({
    xaxis: { title: { text: "training step t" } },
    yaxis: { type: "log", title: { text: "training loss L (first seed)" }, dtick: 1, exponentformat: "power" },
    annotations: [{ xref: "paper", yref: "paper", x: 0, y: 1.08, showarrow: false,
      text: `learning rate η = ${fmt(rate)}` }],
    datarevision: `${doc.widths.length}-${rate}`,
    height: 460,
  });
  return { data, layout };
}

export function summary(doc, state) {
  const rate = rateOf(doc, state);
  const over = doc.widths.filter((w) => w.lr_limit.some((limit) => limit !== null && rate >= limit));
  const failed = doc.widths.flatMap((w) => diverged(w).map((d) => ({ width: w.width, ...d })));
  const limits = doc.widths.map((w) => `${w.width} lanes ${fmt(minimum(w.lr_limit))}`).join(", ");
  let verdict = `The learning rate η = ${fmt(rate)} is below every network's limit`;
  if (over.length) verdict = `η = ${fmt(rate)} is above the limit at ${over.map((w) => w.width).join(", ")} lanes`;
  if (!failed.length) return `${verdict}; no network diverged. Limits 2N/λ_max: ${limits}.`;
  const first = failed[0];
  return `${verdict}; ${failed.length} network${failed.length === 1 ? "" : "s"} diverged — at ${first.width} lanes, `
    + `seed ${first.seed}: ${first.reason}. Limits 2N/λ_max: ${limits}.`;
}

export function table(doc) {
  const rows = doc.widths.flatMap((w) => w.lr_limit.map((limit, seed) => [
    w.width, seed, round(limit), round(w.loss[seed][0]), round(w.loss[seed][w.loss[seed].length - 1]),
    w.diverged_at[seed] >= 0 ? w.diverged_at[seed] : "", w.divergence[seed] ?? "",
  ]));
  return { columns: ["width", "seed", "limit 2N/λ_max", "loss at step 0", "final loss", "diverged at step", "why"], rows };
}
