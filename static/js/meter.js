// The drift meter: how far the focused width's kernel has moved since the morning, read out beside the ring
// figure and spoken in the page's one sentence per change (main.js).

// The relative change of the focused width's kernel (first seed) by time t; null if that width is not in the document
// or its network diverged.
export function driftAt(doc, state) {
  const width = doc.widths.find((w) => w.width === state.width);
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  return width ? width.drift[0][t] : null;
}

export function meterText(doc, state) {
  const moved = driftAt(doc, state);
  return moved === null ? "Drift meter: diverged" : `Drift meter: ${(100 * moved).toFixed(1)} % since morning`;
}
