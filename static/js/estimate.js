// The cost before running: what the settings would cost on this server (GET …/drift/cost), shown under the settings,
// and, when they would be refused, said at the control that was changed, with the nearest settings that run, in the
// page's own controls. The depth menu marks the depths over the limit with the other settings kept.

import { announce } from "./figures/plot.js";

const $ = (selector) => document.querySelector(selector);

// Phrases for the control that was changed last: what the new choice is, in words.
const CHOICE = {
  depth: (state) => `${state.depth} hidden layer${state.depth === 1 ? "" : "s"} with these widths`,
  widths: () => "These widths",
  steps: (state) => `${state.steps} training steps`,
  districts: (state) => `${state.districts} training districts`,
};

const seconds = (value) => (value < 10 ? value.toPrecision(2) : Math.round(value).toLocaleString("en"));

// What does run now, changing one control: the admissible settings the server found, where they differ from the state.
export function nearest(estimate, state, widths) {
  const { depth, widest, steps } = estimate.admissible;
  const options = [];
  if (widest !== null && widest < Math.max(...widths)) options.push(`widths up to ${widest} lanes`);
  if (depth !== null && depth < state.depth) options.push(`${depth} hidden layer${depth === 1 ? "" : "s"}`);
  if (steps !== null && steps < state.steps) options.push(`at most ${steps} training steps`);
  return options;
}

// The sentence for a refused estimate.
export function refusal(estimate, state, widths, changed) {
  const choice = (CHOICE[changed] ?? (() => "These settings"))(state);
  const why = estimate.seconds > estimate.limit_seconds
    ? `would need about ${seconds(estimate.seconds)} s of computing, above this server's limit of ${estimate.limit_seconds} s`
    : `are over a limit of this server: ${estimate.detail}`;
  const options = nearest(estimate, state, widths);
  const instead = options.length ? `What runs now: ${options.join(", or ")}.`
    : "No single setting brings them under it: choose a scenario, or fewer widths and steps.";
  return `${choice} ${why}. ${instead}`;
}

export function estimateText(estimate) {
  return `Estimated computing: ${seconds(estimate.seconds)} s of the ${estimate.limit_seconds} s one request may use here.`;
}

// Show an estimate for the state: the line under the settings, the depth menu's marks, and the refusal (or none) at
// the control changed last (changed: its name, or null for the first state). estimate null: none could be had, and
// nothing of an earlier one stays. The refusal is spoken once through the page's one live region (announce).
export function showEstimate(estimate, state, widths, changed) {
  const line = $("#cost-estimate");
  if (!line) return; // an embed without its settings
  const note = refusalNote();
  if (!estimate) {
    line.textContent = "";
    note.hidden = true;
    return;
  }
  line.textContent = estimateText(estimate);
  const depth = $("#control-depth");
  for (const option of depth?.options ?? []) {
    const over = estimate.admissible.depth === null || Number(option.value) > estimate.admissible.depth;
    option.textContent = `${option.value}${over ? " (over this server's limit)" : ""}`;
  }
  if (estimate.fits) {
    note.hidden = true;
    note.textContent = "";
    return;
  }
  const control = document.getElementById(`control-${changed}`)?.closest(".field") ?? line;
  control.after(note);
  note.hidden = false;
  note.textContent = refusal(estimate, state, widths, changed);
  announce(note.textContent);
}

function refusalNote() {
  let note = $("#refusal");
  if (!note) {
    note = document.createElement("p");
    note.id = "refusal";
    note.className = "status refusal";
    note.dataset.kind = "error";
    note.hidden = true;
  }
  return note;
}
