// Ring city: the selected district's row of the kernel, Θ̂(x_sel, ·), as traffic glowing along the ring road (drawn by
// our own code, static/js/city.js), and the same row as a profile against γ at dawn, now and on the planner's map.
import { colorBar, lanesFor, linear, nearestIndex, niceTicks, road, signedShort, svg, svgRoot } from "../city.js";
import { driftAt, meterText } from "../meter.js";
import { COLORS, degreesOf, divergence, mountDrawnFigure, round, symmetric } from "./plot.js";

// Drawn from the experiment (its drift document), and again whenever the district or the time of day changes.
export const needs = { document: "experiment", view: ["district", "time"] };

const TIME_MS = 650; // from one snapshot to the next: Play the day steps every 700 ms (main.js), so the glow flows
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const ease = (x) => (x < 0.5 ? 2 * x * x : 1 - (-2 * x + 2) ** 2 / 2);

// The ring, and the drift meter beside it.
export function mount(element) {
  const view = createView(element);
  const figure = mountDrawnFigure(element, { view, summary, table });
  const meter = document.getElementById("drift-meter");
  return { ...figure, draw: (doc, state) => {
    figure.draw(doc, state);
    meter.textContent = meterText(doc, state);
  } };
}

// The grid point nearest to district i (districts lie on the grid when their count divides it).
export const gridIndex = (doc, district) => nearestIndex(doc.gamma_grid, doc.gamma_train[district]);

// What is drawn at time t (a snapshot index; fractional between two: their rows blended): the selected district's row
// now, at dawn and on the planner's map, and the scales that stay put all day.
export function frameAt(doc, state, t) {
  const snapshots = doc.kernel.snapshots;
  const last = snapshots.length - 1;
  const district = Math.min(state.district, doc.gamma_train.length - 1);
  const row = gridIndex(doc, district);
  const i = Math.min(Math.floor(t), Math.max(0, last - 1));
  const f = last === 0 ? 0 : Math.min(1, t - i);
  const [a, b] = [snapshots[i][row], snapshots[Math.min(i + 1, last)][row]];
  const now = a.map((v, j) => (v === null || b[j] === null ? null : v + (b[j] - v) * f));
  const planner = doc.reference?.kernel?.[row] ?? null;
  const everything = [...snapshots.flatMap((k) => k[row]), ...(planner ?? [])].filter((v) => v !== null);
  return {
    now, dawn: snapshots[0][row], planner, district, row,
    scale: symmetric(snapshots.flatMap((k) => k[row])), // the glow's: one for the whole day, centred on zero
    range: everything.length ? [Math.min(...everything, 0), Math.max(...everything, 0)] : [-1, 1],
    step: f === 0 || f === 1 ? doc.snapshot_steps[f === 1 ? i + 1 : i] : null,
    steps: [doc.snapshot_steps[i], doc.snapshot_steps[Math.min(i + 1, last)]],
  };
}

// The road beside the profile from 560 px, above it on a phone.
export function layout(width) {
  if (width >= 560) {
    const side = Math.min(380, width * 0.5);
    return { road: { x: 0, y: 0, side }, profile: { x: side + 8, y: 20, width: width - side - 8, height: side - 40 }, height: side + 8 };
  }
  const side = Math.min(width, 380);
  return { road: { x: (width - side) / 2, y: 0, side }, profile: { x: 0, y: side + 8, width, height: 240 }, height: side + 248 };
}

function build(root, doc, state, width) {
  const box = layout(width);
  root.replaceChildren(root.firstChild); // keep the <style>
  root.setAttribute("width", String(width));
  root.setAttribute("height", String(box.height));
  root.setAttribute("viewBox", `0 0 ${width} ${box.height}`);
  return [roadPart(root, doc, state, box.road), profilePart(root, doc, box.profile)];
}

function roadPart(root, doc, state, { x, y, side }) {
  const group = svg("g", { transform: `translate(${x},${y})` }, root);
  const radius = side * 0.3;
  const drawn = road(group, { cx: side / 2, cy: side / 2 - 8, radius, lanePx: (side * 0.16) / 9, gammas: doc.gamma_grid,
    districts: doc.gamma_train, labelDistricts: doc.gamma_train.length <= 16 });
  const bar = colorBar(group, { x: side * 0.2, y: side - 22, width: side * 0.6, height: 8 });
  const width = doc.kernel?.width ?? state.width; // the road whose kernel is drawn
  const lanes = lanesFor(width);
  return (frame) => {
    drawn.update({ lanes, values: frame.now, scale: frame.scale, selected: frame.district, label: `${width} lanes`,
      sublabel: frame.step === null ? `step ${frame.steps[0]} → ${frame.steps[1]}` : `step ${frame.step}` });
    bar.update(frame.scale, "");
  };
}

// Θ̂(x_sel, γ) against γ: now (solid), at dawn (dashed) and on the planner's map (dotted), the district marked.
function profilePart(root, doc, { x, y, width, height }) {
  const margin = { l: 48, r: 10, t: 56, b: 34 };
  const group = svg("g", { transform: `translate(${x},${y})` }, root);
  const degreesGrid = doc.gamma_grid.map(degreesOf);
  const toX = linear([-180, 180], [margin.l, width - margin.r]);
  for (const tick of [-180, -90, 0, 90, 180]) {
    svg("line", { x1: toX(tick), x2: toX(tick), y1: margin.t, y2: height - margin.b, class: "grid-line" }, group);
    svg("text", { x: toX(tick), y: height - margin.b + 14, "text-anchor": "middle", class: "tick" }, group).textContent = signedShort(tick);
  }
  svg("text", { x: (margin.l + width - margin.r) / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" }, group)
    .textContent = "γ, where on the ring (°)";
  const ticks = svg("g", {}, group);
  const marker = svg("line", { y1: margin.t, y2: height - margin.b, stroke: "#D55E00", "stroke-width": 1.5, "stroke-dasharray": "2 3" }, group);
  const curves = [
    ["planner's map Θ", COLORS[6], "2 4", 2],
    ["at dawn Θ̂₀", COLORS[0], "7 4", 2],
    ["now Θ̂ₜ", COLORS[1], "", 2.5],
  ].map(([name, color, dash, thickness]) => {
    const path = svg("path", { fill: "none", stroke: color, "stroke-width": thickness, "stroke-dasharray": dash }, group);
    return { path, name, color, dash, thickness };
  });
  // The key: entries side by side, on a second line where the first is full (about 6.5 px per character).
  let [keyX, keyY] = [margin.l, 12];
  for (const { name, color, dash, thickness } of [...curves].reverse().filter((c, k) => k < 2 || doc.reference?.kernel)) {
    const room = 26 + name.length * 6.5;
    if (keyX + room > width && keyX > margin.l) [keyX, keyY] = [margin.l, keyY + 15];
    svg("line", { x1: keyX, x2: keyX + 18, y1: keyY - 4, y2: keyY - 4, stroke: color, "stroke-width": thickness,
      "stroke-dasharray": dash }, group);
    svg("text", { x: keyX + 22, y: keyY, class: "legend" }, group).textContent = name;
    keyX += room + 8;
  }
  const title = svg("text", { x: margin.l, y: margin.t - 8, class: "axis-title" }, group);
  title.textContent = "Θ̂(x_sel, γ): the marked district's traffic";
  const line = (values, toY) => values.map((v, j) => (v === null ? null : `${toX(degreesGrid[j]).toFixed(1)},${toY(v).toFixed(1)}`))
    .reduce((d, point) => (point === null ? `${d} ` : `${d}${/\d$/.test(d) ? "L" : "M"}${point}`), "");
  let scaleKey = null;
  let toY = null;
  return (frame) => {
    const key = frame.range.join();
    if (key !== scaleKey) { // new axes only when the range changes (a new district): the curves move, not the axes
      scaleKey = key;
      const pad = 0.06 * (frame.range[1] - frame.range[0] || 1);
      toY = linear([frame.range[0] - pad, frame.range[1] + pad], [height - margin.b, margin.t]);
      ticks.replaceChildren();
      for (const value of niceTicks(frame.range[0] - pad, frame.range[1] + pad, 4)) {
        svg("line", { x1: margin.l, x2: width - margin.r, y1: toY(value), y2: toY(value), class: value === 0 ? "axis" : "grid-line" }, ticks);
        svg("text", { x: margin.l - 5, y: toY(value) + 4, "text-anchor": "end", class: "tick" }, ticks).textContent = signedShort(value);
      }
    }
    const mark = toX(degreesOf(doc.gamma_grid[frame.row]));
    marker.setAttribute("x1", mark.toFixed(1));
    marker.setAttribute("x2", mark.toFixed(1));
    curves[0].path.setAttribute("d", frame.planner ? line(frame.planner, toY) : "");
    curves[1].path.setAttribute("d", line(frame.dawn, toY));
    curves[2].path.setAttribute("d", line(frame.now, toY));
  };
}

function createView(element) {
  const root = svgRoot(element);
  let current = null; // { doc, state, key }
  let parts = [];
  let shownTime = 0;
  let tween = null;

  const render = () => {
    const frame = frameAt(current.doc, current.state, shownTime);
    for (const update of parts) update(frame);
  };
  let builtAt = null; // the width the figure was last built for
  const relayout = () => {
    if (!current) return;
    builtAt = Math.max(200, element.clientWidth);
    parts = build(root, current.doc, current.state, builtAt);
    render();
  };
  // Built again when its width changes; the observer's first report, of the width just built for, changes nothing.
  new ResizeObserver(() => {
    if (Math.max(200, element.clientWidth) !== builtAt) relayout();
  }).observe(element);

  return {
    draw(doc, state) {
      const key = `${JSON.stringify(doc.query)}|${state.width}|${state.district}`;
      const target = Math.min(state.time, doc.snapshot_steps.length - 1);
      const sameRoad = current && current.key === key;
      current = { doc, state, key };
      if (tween) cancelAnimationFrame(tween);
      tween = null;
      if (!sameRoad || reducedMotion.matches || Math.abs(target - shownTime) > 1.5) {
        shownTime = target;
        relayout();
        return;
      }
      const from = shownTime;
      let start = null;
      tween = requestAnimationFrame(function step(now) {
        start ??= now;
        const x = Math.min(1, (now - start) / TIME_MS);
        shownTime = from + (target - from) * ease(x);
        render();
        tween = x < 1 ? requestAnimationFrame(step) : null;
      });
    },
    image(width) {
      const copy = svgRoot(document.createElement("div"));
      const drawn = build(copy, current.doc, current.state, width);
      const frame = frameAt(current.doc, current.state, shownTime);
      for (const update of drawn) update(frame);
      return copy;
    },
  };
}

export function summary(doc, state) {
  const t = Math.min(state.time, doc.snapshot_steps.length - 1);
  const drift = driftAt(doc, state);
  const moved = drift === null ? "an unknown amount (the network diverged)" : `${(100 * drift).toFixed(1)} %`;
  const why = drift === null ? divergence(doc, { widths: [state.width], missing: "the first seed's network, which the ring shows, has no map after that step" }) : "";
  return `With ${state.width} lanes, by step ${doc.snapshot_steps[t]} the traffic map has changed by ${moved} since the morning. ${why}`.trim();
}

export function table(doc, state) {
  const row = gridIndex(doc, Math.min(state.district, doc.gamma_train.length - 1));
  const planner = doc.reference?.kernel?.[row];
  const rows = doc.gamma_grid.map((g, j) => [degreesOf(g), ...doc.kernel.snapshots.map((k) => round(k[row][j])),
    ...(planner ? [round(planner[j])] : [])]);
  return { columns: ["γ (°)", ...doc.snapshot_steps.map((s) => `Θ̂ at step ${s}`), ...(planner ? ["Θ, planner's map"] : [])], rows };
}
