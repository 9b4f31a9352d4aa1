// Widen the road: one animation from the narrowest road of the experiment to the widest. The road widens (a lane per
// doubling), the change of the traffic map during the day (evening − morning) fades on one colour scale for every
// width, the drift point walks down its log–log line, and the meter falls, all in step. Between computed widths the
// picture is interpolated (linearly in log width: the maps blended, the drift on the line between its two points).
import { colorBar, heatmap, lanesFor, linear, nearestIndex, road, signedShort, svg, svgRoot } from "../city.js";
import { divergence, largestChange, mountDrawnFigure, powerLaw, round, signed } from "./plot.js";

// Redrawn whenever the view changes: the district whose row glows on the road, the colour scale, the width.
export const needs = { document: "experiment", view: ["district", "change_scale"] };

const DWELL_MS = 450;   // a computed width stays on screen this long before the road widens on
const MOVE_MS = 1000;   // from one computed width to the next
const SNAP_MS = 280;    // to the nearest computed width after a scrub or a pause
const STEP_MS = 1200;   // under reduced motion: one computed width after the other, without motion
const SCRUB = 100;      // scrubber units per computed width
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const ease = (x) => (x < 0.5 ? 4 * x * x * x : 1 - (-2 * x + 2) ** 3 / 2); // cubic in and out

export function mount(element) {
  const view = createView(element);
  return { ...mountDrawnFigure(element, { view, summary, table }), needs };
}

// --- the data: every width's change map on the coarse grid, and its drift ------------------------------------------

// What the animation draws, from a drift document with every width's kernel_change (asked for with kernel_width).
export function prepare(doc) {
  const gammas = doc.coarse_grid.map((i) => doc.gamma_grid[i]);
  const widths = doc.widths.map((w) => {
    const change = w.kernel_change ?? null;
    const finals = w.drift.map((seed) => seed[seed.length - 1]);
    return { width: w.width, change, changeMax: w.change_max, measured: finals[0], finals };
  });
  return {
    key: JSON.stringify({ ...doc.query, kernel_width: null }),
    gammas, widths, districts: doc.gamma_train, fit: doc.slopes?.drift ?? null,
    fixedScale: largestChange(doc) ?? 1e-12,
  };
}

const mix = (a, b, f) => a + (b - a) * f;
const mixLog = (a, b, f) => (a > 0 && b > 0 ? Math.exp(mix(Math.log(a), Math.log(b), f)) : f < 0.5 ? a : b);

// The picture at position u ∈ [0, widths − 1] (an integer: a computed width; between: interpolated), for a view.
export function frameAt(data, u, { district, scale }) {
  const last = data.widths.length - 1;
  const i = Math.min(Math.floor(u), Math.max(0, last - 1));
  const f = last === 0 ? 0 : u - i;
  const [a, b] = [data.widths[i], data.widths[Math.min(i + 1, last)]];
  const change = a.change && b.change
    ? a.change.map((row, j) => row.map((v, k) => (v === null || b.change[j][k] === null ? null : mix(v, b.change[j][k], f))))
    : null;
  const row = nearestIndex(data.gammas, data.districts[Math.min(district, data.districts.length - 1)]); // its coarse point
  const perWidth = mixLog(a.changeMax ?? 0, b.changeMax ?? 0, f);
  const drift = a.measured !== null && b.measured !== null ? mixLog(a.measured, b.measured, f) : null;
  return {
    u, i, f, exact: f === 0 || f === 1, widthA: a.width, widthB: b.width,
    width: f === 1 ? b.width : a.width,
    logWidth: mix(Math.log(a.width), Math.log(b.width), f),
    lanes: mix(lanesFor(a.width), lanesFor(b.width), f),
    change, row, district: Math.min(district, data.districts.length - 1),
    scale: scale === "per_width" ? Math.max(perWidth, 1e-12) : data.fixedScale,
    drift,
  };
}

// "64 lanes" at a computed width, "64 → 128 lanes" between two.
const widthText = (frame) => (frame.exact ? `${frame.width} lanes` : `${frame.widthA} → ${frame.widthB} lanes`);
// As the page's other meters write a change: 7.1 %, and two significant digits under 1 % (0.41 %).
const percent = (value) => `${value >= 0.01 ? (100 * value).toFixed(1) : Number((100 * value).toPrecision(2))} %`;

export function meterText(frame) {
  if (frame.drift === null) return `At ${widthText(frame)} the network diverged: its map has no evening`;
  return `At ${widthText(frame)} the traffic map changed ${percent(frame.drift)} during the day${frame.exact ? "" : " (interpolated)"}`;
}

// --- drawing -----------------------------------------------------------------------------------------------------------

// Panels laid out for a width in px: the road and the change map side by side from 440 px (one under the other on a
// phone), the log–log line of drift under them.
export function layout(width) {
  if (width >= 440) {
    const side = Math.min(340, (width - 24) / 2);
    const chart = { x: 0, y: side + 16, width, height: 210 };
    return { width, road: { x: width / 2 - 12 - side, y: 0, side }, map: { x: width / 2 + 12, y: 0, side }, chart,
      height: chart.y + chart.height };
  }
  const side = Math.min(width, 380);
  const mapSide = Math.min(width, 300);
  const map = { x: (width - mapSide) / 2, y: side + 12, side: mapSide };
  const chart = { x: 0, y: map.y + mapSide + 16, width, height: 200 };
  return { width, road: { x: (width - side) / 2, y: 0, side }, map, chart, height: chart.y + chart.height };
}

// One drawing of the whole figure into an <svg> for a width: its parts, each with update(frame).
function build(root, data, width, host = null) {
  const box = layout(width);
  root.replaceChildren(root.firstChild); // keep the <style>
  root.setAttribute("width", String(width));
  root.setAttribute("height", String(box.height));
  root.setAttribute("viewBox", `0 0 ${width} ${box.height}`);
  return [roadPart(root, data, box.road), mapPart(root, data, box.map, host), chartPart(root, data, box.chart)];
}

// The road, its glow the selected district's row of the change (the row outlined on the map).
function roadPart(root, data, { x, y, side }) {
  const group = svg("g", { transform: `translate(${x},${y})` }, root);
  const radius = side * 0.3;
  const lanePx = (side * 0.16) / 9; // 9 lanes (4096) take 16 % of the panel
  const drawn = road(group, { cx: side / 2, cy: side / 2, radius, lanePx, gammas: data.gammas, districts: data.districts });
  return (frame) => drawn.update({
    lanes: frame.lanes, values: frame.change ? frame.change[frame.row] : data.gammas.map(() => null), scale: frame.scale,
    selected: frame.district, label: frame.exact ? `${frame.width} lanes` : `${frame.widthA}→${frame.widthB}`,
  });
}

// The change of the whole map, evening − morning, γ across and γ′ up, the selected district's row outlined.
function mapPart(root, data, { x, y, side }, host) {
  const margin = { l: 38, r: 8, t: 20, b: 56 };
  const group = svg("g", { class: "change-map", transform: `translate(${x},${y})` }, root);
  const size = Math.min(side - margin.l - margin.r, side - margin.t - margin.b); // square cells
  const n = data.gammas.length;
  const cell = size / n;
  const top = margin.t;
  svg("text", { x: margin.l + size / 2, y: 13, "text-anchor": "middle", class: "panel-title" }, group)
    .textContent = "change during the day";
  const map = heatmap(group, host, { x: host ? x + margin.l : margin.l, y: host ? y + top : top, size, n });
  const outline = svg("rect", { x: margin.l, width: size, height: cell, fill: "none", stroke: "#D55E00", "stroke-width": 1.5 }, group);
  // Each cell is centred on its grid point: the axes run from half a cell before the first point to half after the last.
  const first = (data.gammas[0] * 180) / Math.PI;
  const step = 360 / n;
  const toX = linear([first - step / 2, first + (n - 0.5) * step], [margin.l, margin.l + size]);
  const toY = linear([first - step / 2, first + (n - 0.5) * step], [top + size, top]);
  for (const tick of [-90, 0, 90]) {
    svg("text", { x: toX(tick), y: top + size + 13, "text-anchor": "middle", class: "tick" }, group).textContent = signedShort(tick);
    svg("text", { x: margin.l - 4, y: toY(tick) + 4, "text-anchor": "end", class: "tick" }, group).textContent = signedShort(tick);
  }
  svg("text", { x: margin.l + size / 2, y: top + size + 26, "text-anchor": "middle", class: "axis-title" }, group).textContent = "γ (°)";
  const yTitle = svg("text", { x: 10, y: top + size / 2, "text-anchor": "middle", class: "axis-title",
    transform: `rotate(-90 10 ${top + size / 2})` }, group);
  yTitle.textContent = "γ′ (°)";
  const bar = colorBar(group, { x: margin.l, y: top + size + 40, width: size, height: 8 });
  return (frame) => {
    map.update(frame.change, frame.scale);
    outline.setAttribute("y", (top + (n - 1 - frame.row) * cell).toFixed(2));
    bar.update(frame.scale, "");
  };
}

// Drift against width on log–log axes: every network (each seed) faint, the fitted line, the walking point.
function chartPart(root, data, { x, y, width, height }) {
  const margin = { l: 56, r: 14, t: 26, b: 34 };
  const group = svg("g", { transform: `translate(${x},${y})` }, root);
  const points = data.widths.flatMap((w) => w.finals.filter((d) => d !== null && d > 0).map((d) => [w.width, d]));
  const drifts = points.map(([, d]) => d);
  const [w0, w1] = [data.widths[0].width, data.widths[data.widths.length - 1].width];
  const xDomain = [Math.log10(w0) - 0.15, Math.log10(w1) + 0.15];
  const yDomain = drifts.length ? [Math.log10(Math.min(...drifts)) - 0.25, Math.log10(Math.max(...drifts)) + 0.25] : [-3, 0];
  const toX = linear(xDomain, [margin.l, width - margin.r]);
  const toY = linear(yDomain, [height - margin.b, margin.t]);
  const step = data.widths.length > 6 ? 2 : 1;
  data.widths.forEach((w, i) => {
    if (i % step !== 0 && i !== data.widths.length - 1) return;
    const tx = toX(Math.log10(w.width));
    svg("line", { x1: tx, x2: tx, y1: margin.t, y2: height - margin.b, class: "grid-line" }, group);
    svg("text", { x: tx, y: height - margin.b + 14, "text-anchor": "middle", class: "tick" }, group).textContent = String(w.width);
  });
  for (let decade = Math.ceil(yDomain[0]); decade <= Math.floor(yDomain[1]); decade += 1) {
    const ty = toY(decade);
    svg("line", { x1: margin.l, x2: width - margin.r, y1: ty, y2: ty, class: "grid-line" }, group);
    svg("text", { x: margin.l - 5, y: ty + 4, "text-anchor": "end", class: "tick" }, group).textContent = `${Number((100 * 10 ** decade).toPrecision(1))} %`;
  }
  svg("text", { x: (margin.l + width - margin.r) / 2, y: height - 4, "text-anchor": "middle", class: "axis-title" }, group)
    .textContent = "lanes (width of each hidden layer)";
  svg("text", { x: 4, y: 13, class: "panel-title" }, group).textContent = "change during the day, by width";
  for (const [w, d] of points) {
    svg("circle", { cx: toX(Math.log10(w)), cy: toY(Math.log10(d)), r: 3, fill: "#0072B2", opacity: 0.35 }, group);
  }
  if (data.fit && data.fit.slope !== null) {
    const line = [xDomain[0] + 0.1, xDomain[1] - 0.1].map((lx) => [toX(lx), toY((data.fit.intercept + data.fit.slope * lx * Math.LN10) / Math.LN10)]);
    svg("line", { x1: line[0][0], y1: line[0][1], x2: line[1][0], y2: line[1][1], stroke: "#0072B2", "stroke-width": 1.5,
      "stroke-dasharray": "6 4" }, group);
    svg("text", { x: margin.l + 6, y: height - margin.b - 8, class: "legend" }, group) // bottom left: the drift falls
      .textContent = `fitted line: slope ${signed(data.fit.slope)} ± ${data.fit.stderr.toFixed(2)}`;
  }
  const walker = svg("circle", { r: 7, fill: "#D55E00", stroke: "#ffffff", "stroke-width": 2 }, group);
  const label = svg("text", { class: "legend" }, group);
  return (frame) => {
    const shown = frame.drift !== null;
    walker.setAttribute("opacity", shown ? "1" : "0");
    label.setAttribute("opacity", shown ? "1" : "0");
    if (!shown) return;
    const [wx, wy] = [toX(frame.logWidth / Math.LN10), toY(Math.log10(frame.drift))];
    walker.setAttribute("cx", wx.toFixed(2));
    walker.setAttribute("cy", wy.toFixed(2));
    const right = wx > width - margin.r - 60; // near the right edge: the label goes left of the point
    label.setAttribute("x", (right ? wx - 10 : wx + 10).toFixed(2));
    label.setAttribute("text-anchor", right ? "end" : "start");
    label.setAttribute("y", (wy - 8).toFixed(2));
    label.textContent = percent(frame.drift);
  };
}

// --- the view: its <svg>, the frame on show, the animation -------------------------------------------------------------

function createView(element) {
  const root = svgRoot(element);
  const section = element.closest("section") ?? document;
  const meter = section.querySelector("[data-widen-meter]");
  const scrub = section.querySelector("[data-widen-scrub]");
  const output = section.querySelector("[data-widen-output]");
  const button = section.querySelector("[data-widen-play]");
  const label = button?.textContent ?? "";
  let data = null;
  let parts = [];
  let viewState = { district: 0, scale: "fixed" };
  let u = 0;
  let animation = null; // { stop() }: a tween, a play or a stepping

  let rendered = null; // what the frame on show was drawn from: a dwell or an idle frame is not drawn again
  const render = (force = false) => {
    if (!data) return;
    const key = `${u}|${viewState.district}|${viewState.scale}|${data.key}`;
    if (key === rendered && !force) return;
    rendered = key;
    const frame = frameAt(data, u, viewState);
    for (const update of parts) update(frame);
    if (meter) meter.textContent = meterText(frame);
    if (scrub) {
      scrub.value = String(Math.round(u * SCRUB));
      scrub.setAttribute("aria-valuetext", meterText(frame));
    }
    if (output) output.textContent = frame.exact ? `${frame.width} lanes` : `${frame.widthA}→${frame.widthB}`;
  };
  let builtAt = null; // the width the figure was last built for
  const relayout = () => {
    if (!data) return;
    builtAt = Math.max(200, element.clientWidth);
    parts = build(root, data, builtAt, element); // at its own width: the canvas lies true
    render(true);
  };
  // Built again when its width changes; the observer's first report, of the width just built for, changes nothing.
  new ResizeObserver(() => {
    if (Math.max(200, element.clientWidth) !== builtAt) relayout();
  }).observe(element);

  // Tell the page which computed width is on show now (it becomes the state's width).
  const commit = () => element.dispatchEvent(new CustomEvent("lanes:width", { bubbles: true,
    detail: { width: data.widths[Math.round(u)].width } }));

  const stop = () => {
    animation?.stop();
    animation = null;
    if (button) {
      button.textContent = label;
      button.setAttribute("aria-pressed", "false");
    }
  };

  // Move to position `to` over `ms` (eased), then call done; at once under reduced motion.
  const tween = (to, ms, done = () => {}) => {
    stop();
    if (reducedMotion.matches || ms <= 0 || Math.abs(to - u) < 1e-6) {
      u = to;
      render();
      done();
      return;
    }
    const from = u;
    let start = null;
    let id = requestAnimationFrame(function step(now) {
      start ??= now;
      const x = Math.min(1, (now - start) / ms);
      u = mix(from, to, ease(x));
      render();
      if (x < 1) id = requestAnimationFrame(step);
      else {
        animation = null;
        done();
      }
    });
    animation = { stop: () => cancelAnimationFrame(id) };
  };

  // From where the road is (from the narrowest if it is at the widest) to the widest: a dwell at each computed width,
  // an eased widening between; one computed width after another under reduced motion.
  const play = () => {
    stop();
    const last = data.widths.length - 1;
    const first = u >= last - 1e-6 ? 0 : Math.round(u);
    button.textContent = "Pause";
    button.setAttribute("aria-pressed", "true");
    const finish = () => {
      stop();
      commit();
    };
    if (reducedMotion.matches) {
      u = first;
      render();
      const timer = setInterval(() => {
        u = Math.min(last, Math.round(u) + 1);
        render();
        if (u >= last) finish();
      }, STEP_MS);
      animation = { stop: () => clearInterval(timer) };
      return;
    }
    u = first;
    let start = null;
    let id = requestAnimationFrame(function step(now) {
      start ??= now;
      const t = now - start;
      const k = Math.floor(t / (DWELL_MS + MOVE_MS));
      const within = t - k * (DWELL_MS + MOVE_MS);
      u = Math.min(last, first + k + (within < DWELL_MS ? 0 : ease((within - DWELL_MS) / MOVE_MS)));
      render();
      if (u >= last) finish();
      else id = requestAnimationFrame(step);
    });
    animation = { stop: () => cancelAnimationFrame(id) };
  };

  // Paused mid-way: the road settles on the nearest computed width.
  const pause = () => {
    stop();
    tween(Math.round(u), SNAP_MS, commit);
  };

  button?.addEventListener("click", () => (animation && button.getAttribute("aria-pressed") === "true" ? pause() : data && play()));
  scrub?.addEventListener("input", () => {
    if (!data) return;
    stop();
    u = Number(scrub.value) / SCRUB;
    render();
  });
  scrub?.addEventListener("change", () => data && tween(Math.round(u), SNAP_MS, commit));
  // The keyboard moves from one computed width to the next (the pointer scrubs continuously in between).
  scrub?.addEventListener("keydown", (event) => {
    if (!data) return;
    const last = data.widths.length - 1;
    const here = Math.round(u);
    const to = { ArrowRight: here + 1, ArrowUp: here + 1, PageUp: here + 1, ArrowLeft: here - 1, ArrowDown: here - 1,
      PageDown: here - 1, Home: 0, End: last }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    tween(Math.max(0, Math.min(last, to)), SNAP_MS * 1.5, commit);
  });

  return {
    draw(doc, state) {
      viewState = { district: state.district, scale: state.change_scale };
      const target = Math.max(0, doc.widths.findIndex((w) => w.width === state.width));
      const next = prepare(doc);
      if (!data || data.key !== next.key || parts.length === 0) {
        stop();
        data = next;
        u = target;
        if (scrub) {
          Object.assign(scrub, { min: "0", step: "1", max: String((data.widths.length - 1) * SCRUB) });
          scrub.disabled = false;
        }
        relayout();
        return;
      }
      data = next;
      if (animation && button?.getAttribute("aria-pressed") === "true") return render(); // playing: it goes on
      if (Math.abs(target - u) > 1e-6 && !animation) tween(target, SNAP_MS * 2);
      else render();
      return undefined;
    },
    image(width) {
      const copy = svgRoot(document.createElement("div"));
      const drawn = build(copy, data, width);
      const frame = frameAt(data, u, viewState);
      for (const update of drawn) update(frame);
      return copy;
    },
  };
}

// --- words and numbers -------------------------------------------------------------------------------------------------

export function summary(doc, state) {
  const data = prepare(doc);
  const [first, last] = [data.widths[0], data.widths[data.widths.length - 1]];
  const here = data.widths.find((w) => w.width === state.width) ?? first;
  const fit = data.fit && data.fit.slope !== null ? `, as ${powerLaw(data.fit)}` : "";
  const diverged = divergence(doc, { missing: "the animation has no drift for them" });
  if (first.measured === null || last.measured === null) return `Drift during the day against width. ${diverged}`.trim();
  const moves = last.measured < first.measured ? "falls" : "rises";
  return `From ${first.width} to ${last.width} lanes the traffic map's change during the day ${moves} from `
    + `${percent(first.measured)} to ${percent(last.measured)} (first seed)${fit}; on show: ${here.width} lanes, `
    + `${here.measured === null ? "diverged" : percent(here.measured)}. ${diverged}`.trimEnd();
}

export function table(doc) {
  const data = prepare(doc);
  const rows = data.widths.map((w) => [w.width, round(lanesFor(w.width), 3), round(w.measured), ...w.finals.slice(1).map((d) => round(d)),
    round(w.changeMax)]);
  const seeds = data.widths[0].finals.length;
  return {
    columns: ["lanes (width)", "lanes drawn", "change of the map, first seed",
      ...Array.from({ length: seeds - 1 }, (_, s) => `change of the map, seed ${s + 2}`),
      "largest |change| on the grid"],
    rows,
  };
}
