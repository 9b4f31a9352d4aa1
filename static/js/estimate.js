// The cost before running: what the settings would cost on this server (GET …/drift/cost), shown under the settings,
// and whether they run now, only as a job, or not at all. When not now, it is said at the control that was changed,
// with the nearest settings that do run now, in the page's own controls. The depth menu marks the depths that run
// only as a job and those over the limit, the other settings kept.

import { announce } from "./figures/plot.js";

const $ = (selector) => document.querySelector(selector);

// Phrases for the control that was changed last: what the new choice is, in words (a plural subject).
const CHOICE = {
  depth: (state) => `${state.depth} hidden layer${state.depth === 1 ? "" : "s"} with these widths`,
  widths: () => "These widths",
  steps: (state) => `${state.steps} training steps`,
  districts: (state) => `${state.districts} training districts`,
};

// The depth menu's mark for a depth's verdict (runs: "now", "job", "refused", "invalid": the core refuses that depth
// with the other settings, as mean-field does above one hidden layer; undefined: not known, no mark).
const DEPTH_MARK = { job: " (runs as a job)", refused: " (over this server's limit)", invalid: " (not with these settings)" };

// Seconds in words, the number and its unit kept on one line: "0.42 s", "40 s", "6 min", "2.5 h".
export function duration(value) {
  if (value < 10) return `${value.toPrecision(2)}\u00a0s`;
  if (value < 90) return `${Math.round(value)}\u00a0s`;
  if (value < 90 * 60) return `${Math.round(value / 60)}\u00a0min`;
  return `${(value / 3600).toPrecision(2)}\u00a0h`;
}

// What does run now, changing one control: the admissible settings the server found, where they differ from the state.
export function nearest(estimate, state, widths) {
  const { depth, widest, steps } = estimate.admissible;
  const options = [];
  if (widest !== null && widest < Math.max(...widths)) options.push(`widths up to ${widest} lanes`);
  if (depth !== null && depth < state.depth) options.push(`${depth} hidden layer${depth === 1 ? "" : "s"}`);
  if (steps !== null && steps < state.steps) options.push(`at most ${steps} training steps`);
  return options;
}

// Why settings do not run now, after their subject (plural: "3 hidden layers with these widths …").
function whyNotNow(estimate) {
  const here = duration(estimate.seconds_here);
  if (estimate.runs === "job") {
    return `take about ${here} on this server, too long to run at once: they run as a job, queued and computed in the `
      + "background";
  }
  if (estimate.seconds > estimate.job_limit_seconds) return `would take about ${here} on this server, longer than the longest job it runs`;
  return `are over a limit of this server: ${estimate.detail}`;
}

// The sentence at the changed control for settings that do not run now: why, and what runs now instead.
export function costNote(estimate, state, widths, changed) {
  const choice = (CHOICE[changed] ?? (() => "These settings"))(state);
  const options = nearest(estimate, state, widths);
  const instead = options.length ? `What runs now: ${options.join(", or ")}.`
    : "No single setting brings them under the limit of what runs at once: choose a scenario, or fewer widths and steps.";
  return `${choice} ${whyNotNow(estimate)}. ${instead}`;
}

export function estimateText(estimate) {
  const here = `Estimated time on this server: about ${duration(estimate.seconds_here)}`;
  if (estimate.runs === "now") return `${here}. Runs now.`;
  if (estimate.runs === "job") return `${here}, too long to run at once: runs as a job.`;
  return `${here}. Over this server's limits: not run.`;
}

// Show an estimate for the state: the line under the settings, the depth menu's marks (depthRuns: depth → verdict, see
// DEPTH_MARK), and the note (or none) at the control changed last (changed: its name, or null for the first state).
// estimate null: none could be had, and nothing of an earlier one stays. The note is spoken once through the page's
// one live region (announce). Returns the note when one is on show (the job panel goes right after it), else null.
export function showEstimate(estimate, state, widths, changed, depthRuns = new Map()) {
  const line = $("#cost-estimate");
  if (!line) return null; // an embed without its settings
  const note = costNoteElement();
  for (const option of $("#control-depth")?.options ?? []) {
    option.textContent = `${option.value}${DEPTH_MARK[depthRuns.get(Number(option.value))] ?? ""}`;
  }
  if (!estimate) {
    line.textContent = "";
    hideCostNote();
    return null;
  }
  line.textContent = estimateText(estimate);
  if (estimate.runs === "now") {
    hideCostNote();
    return null;
  }
  const control = document.getElementById(`control-${changed}`)?.closest(".field") ?? line;
  control.after(note);
  note.hidden = false;
  note.dataset.kind = estimate.runs === "job" ? "note" : "error";
  note.textContent = costNote(estimate, state, widths, changed);
  announce(note.textContent);
  return note;
}

// No note at any control: the settings run now, or their result is on show.
export function hideCostNote() {
  const note = $("#cost-note");
  if (!note) return;
  note.hidden = true;
  note.textContent = "";
}

function costNoteElement() {
  let note = $("#cost-note");
  if (!note) {
    note = document.createElement("p");
    note.id = "cost-note";
    note.className = "status cost-note";
    note.hidden = true;
  }
  return note;
}
