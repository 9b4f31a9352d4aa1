// The reader's own target: a curve drawn on the ring, kept as the values of KNOTS equispaced knots (state.js; declared
// in app/parameters.py as `drawing`), joined by straight lines around the ring — the rule the server samples it by
// (app/ntk/data.py drawn_curve), so the curve drawn here is the target the networks learn, whatever the districts.
//
// Three ways to set it, each ending in one commit (the state's target becomes "drawn" with the new drawing):
// - a pointer (mouse, pen or finger) dragged over the strip [data-drawing-surface] (angle → value): every knot the
//   pointer passes takes its height, and the drawing is committed when the pointer is lifted;
// - the keyboard: the table of the knots' values [data-drawing-table], one labelled number input per knot, each change
//   committed; and the buttons (start from the target on show, flat, smooth);
// - a CSV of (angle in degrees, value) rows, uploaded or pasted: checked row by row (each problem said in words), then
//   resampled at the knots by the same periodic straight-line rule.
// Nothing here knows a figure: the page's controller (main.js) hands it the state (sync) and the documents on show
// (showDocument), and receives its commits. In a static copy, which trains no network, it says so and draws nothing.
import { announce } from "./figures/plot.js";
import { FIELDS, KNOTS } from "./state.js";

const SVG = "http://www.w3.org/2000/svg";
const RANGE = FIELDS.drawing.type.max; // values from −RANGE to RANGE (the API's range)
const ROWS_MAX = 1000; // the most rows of a CSV read
const FILE_BYTES_MAX = 100_000; // the largest CSV file read (1000 rows of two numbers take under 30 kB)
// The strip's drawing units: about its width on a phone (~330 px) and beside the card (~300 px), so its 14-unit labels
// are drawn at 11–14 px.
const VIEW = { width: 400, height: 200, left: 30, right: 8, top: 10, bottom: 24 };
const RING = { size: 180, road: 50, scale: 19 }; // the preview: the road's radius, and pixels per unit of value (≥ 12 px from the centre)

// --- the curve: knots, the periodic straight-line rule, their text -----------------------------------------------------

// The angles of `count` knots in degrees: −180 + 360 j / count (the first at −180°, like the districts).
export const knotAngles = (count = KNOTS) => Array.from({ length: count }, (_, j) => -180 + (360 * j) / count);

// Values at `at` (degrees) of the closed curve through points (angles in degrees, any order, distinct modulo 360) joined
// by straight lines around the ring: the server's rule for knots (app/ntk/data.py drawn_curve) and the page's for a CSV.
export function resample(angles, values, at) {
  const order = angles.map((a, i) => [((a % 360) + 540) % 360 - 180, values[i]]).sort((p, q) => p[0] - q[0]);
  const n = order.length;
  return at.map((raw) => {
    const g = ((raw % 360) + 540) % 360 - 180; // in [−180, 180)
    let k = order.findIndex(([a]) => a > g); // the first point after g (−1: none, so g lies after the last)
    if (k === -1) k = n;
    const [a0, v0] = k === 0 ? [order[n - 1][0] - 360, order[n - 1][1]] : order[k - 1];
    const [a1, v1] = k === n ? [order[0][0] + 360, order[0][1]] : order[k];
    return a1 === a0 ? v0 : v0 + ((g - a0) / (a1 - a0)) * (v1 - v0);
  });
}

// Knots → the URL's text: two decimals, no trailing zeros, no "−0" (the form app/parameters.py declares).
export const knotsText = (knots) => knots.map((v) => String(Number(v.toFixed(2)) || 0)).join(",");
// A drawing's text → the page's KNOTS values: a link may hold another count of knots (4 to 64), whose curve the page's
// knots then sample (exactly the same curve when its count divides KNOTS) until the reader changes it.
function fromText(text) {
  const values = text.split(",").map(Number);
  return values.length === KNOTS ? values : resample(knotAngles(values.length), values, knotAngles());
}
const clampToRange = (v) => Math.max(-RANGE, Math.min(RANGE, v)); // the strip's edges: a pointer above it draws its top

// [1, 2, 1]/4 around the ring: each knot moves towards its neighbours, once per press.
export const smoothed = (knots) => knots.map((v, j) => (knots[(j + knots.length - 1) % knots.length] + 2 * v
  + knots[(j + 1) % knots.length]) / 4);

// --- a CSV of (angle, value) rows ---------------------------------------------------------------------------------------

// text → { knots } or { problems: [sentences] }. Rows "angle,value": the angle in degrees from −180 to 180 (−180 and 180
// are one point), the value from −RANGE to RANGE; a first row of words (a header) is skipped, blank lines too; at least
// 2 and at most ROWS_MAX rows; no angle twice. The knots are the rows' closed curve sampled at the knots' angles.
export function parseCsv(text) {
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/).map((line, i) => [i + 1, line.trim()]).filter(([, line]) => line);
  if (lines.length && !/\d/.test(lines[0][1])) lines.shift(); // a header such as "angle,value"
  if (lines.length < 2) return { problems: ["The CSV needs at least 2 rows of angle,value (it has " + `${lines.length}).`] };
  if (lines.length > ROWS_MAX) return { problems: [`The CSV has ${lines.length} rows: at most ${ROWS_MAX} are read.`] };
  const problems = [];
  const angles = [];
  const values = [];
  const seen = new Map(); // angle (mod 360, in [−180, 180)) → its row
  for (const [row, line] of lines) {
    const cells = line.split(",").map((cell) => cell.trim());
    if (cells.length !== 2) {
      problems.push(`Row ${row}: expected two numbers, an angle and a value, separated by a comma; found ${cells.length} fields.`);
      continue;
    }
    const [angle, value] = cells.map(readNumber);
    if (angle === undefined) problems.push(`Row ${row}: the angle “${cells[0]}” is not a number.`);
    else if (!Number.isFinite(angle)) problems.push(`Row ${row}: the angle must be a finite number.`);
    else if (angle < -180 || angle > 180) problems.push(`Row ${row}: the angle ${cells[0]} is outside −180 to 180 degrees.`);
    if (value === undefined) problems.push(`Row ${row}: the value “${cells[1]}” is not a number.`);
    else if (!Number.isFinite(value)) problems.push(`Row ${row}: the value must be a finite number.`);
    else if (value < -RANGE || value > RANGE) problems.push(`Row ${row}: the value ${cells[1]} is outside −${RANGE} to ${RANGE}.`);
    if ([angle, value].every((v) => v !== undefined && Number.isFinite(v))) {
      const key = angle === 180 ? -180 : angle;
      if (seen.has(key)) problems.push(`Row ${row}: the angle ${cells[0]}° is given twice (row ${seen.get(key)} too; −180° and 180° are one point).`);
      seen.set(key, row);
      angles.push(angle);
      values.push(value);
    }
  }
  if (problems.length) return { problems };
  return { knots: resample(angles, values, knotAngles()) };
}

// A number as a CSV cell writes it (digits, a sign, a decimal point, an exponent; "inf" and "nan" are read as such, to
// be refused as non-finite), or undefined.
function readNumber(cell) {
  if (/^[-+]?(inf|infinity)$/i.test(cell)) return cell.startsWith("-") ? -Infinity : Infinity;
  if (/^nan$/i.test(cell)) return NaN;
  return /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(cell) ? Number(cell) : undefined;
}

// --- the panel ------------------------------------------------------------------------------------------------------------

const element = (name, attributes = {}) => {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
};
const minus = (text) => String(text).replace("-", "−");

// Every [data-drawing] panel on the page. commit(changes) changes the state (main.js: store.update); disabled: a locked
// embed; staticCopy: a saved copy, which cannot train. Returns { sync(state), showDocument(doc), knotsText() }.
export function createDrawing({ commit, disabled = false, staticCopy = false }) {
  const panels = [...document.querySelectorAll("[data-drawing]")].map((root) => mountPanel(root, { commit, disabled, staticCopy }));
  let shownTarget = null; // the target on show (a drift document's target_grid at the knots), once one arrives
  return {
    sync(state) {
      for (const panel of panels) panel.sync(state);
    },
    // The document on show: its target is where "Start from the target on show" starts, and what the panels show while
    // the state's target is not a drawing.
    showDocument(doc) {
      if (!doc.target_grid) return; // target=values: numbers at the districts only, no curve to start from
      shownTarget = resample(doc.gamma_grid.map((g) => (g * 180) / Math.PI), doc.target_grid, knotAngles())
        .map((v) => clampToRange(v));
      for (const panel of panels) panel.showTarget(shownTarget);
    },
    // The drawing a reader who picks "your own drawing" from the target menu starts from: the target on show, or flat.
    knotsText: () => knotsText(shownTarget ?? knotAngles().map(() => 0)),
  };
}

function mountPanel(root, { commit, disabled, staticCopy }) {
  const surface = root.querySelector("[data-drawing-surface]");
  const ring = root.querySelector("[data-drawing-ring]");
  const table = root.querySelector("[data-drawing-table]");
  const message = root.querySelector("[data-drawing-status]");
  const districtsInput = root.querySelector("[data-drawing-districts]");
  const angles = knotAngles();
  let knots = angles.map(() => 0);
  let drawnState = false; // the state's target is a drawing (else the panel shows the target on show)
  let districts = FIELDS.districts.default;
  let target = null; // the target on show at the knots, for "Start from the target on show"

  // A line under the panel; a problem is also said to screen readers, from the page's one live region (the rest is
  // followed by the figures' own announcement when they are drawn).
  const say = (text, kind = "info") => {
    message.textContent = text;
    message.dataset.kind = kind;
    if (kind === "error") announce(text);
  };
  const send = (changes, text) => {
    say(text);
    commit(changes);
  };
  const sendKnots = (text) => send({ target: "drawn", drawing: knotsText(knots) }, text);

  // The strip: x is the angle (−180° to 180°), y the value (−RANGE to RANGE).
  const x = (deg) => VIEW.left + ((deg + 180) / 360) * (VIEW.width - VIEW.left - VIEW.right);
  const y = (v) => VIEW.top + ((RANGE - v) / (2 * RANGE)) * (VIEW.height - VIEW.top - VIEW.bottom);
  surface.setAttribute("viewBox", `0 0 ${VIEW.width} ${VIEW.height}`);
  const axes = element("g", { class: "drawing-axes" });
  for (const v of [-RANGE, -RANGE / 2, 0, RANGE / 2, RANGE]) {
    axes.append(element("line", { x1: VIEW.left, x2: VIEW.width - VIEW.right, y1: y(v), y2: y(v), class: v === 0 ? "zero" : "" }));
    const label = element("text", { x: VIEW.left - 5, y: y(v) + 5, "text-anchor": "end" });
    label.textContent = minus(v);
    axes.append(label);
  }
  for (const deg of [-180, -90, 0, 90, 180]) {
    axes.append(element("line", { x1: x(deg), x2: x(deg), y1: VIEW.top, y2: VIEW.height - VIEW.bottom }));
    const label = element("text", { x: x(deg), y: VIEW.height - 6, "text-anchor": deg === -180 ? "start" : deg === 180 ? "end" : "middle" });
    label.textContent = `${minus(deg)}°`;
    axes.append(label);
  }
  const districtMarks = element("g", { class: "drawing-districts" });
  const curve = element("polyline", { class: "drawing-curve" });
  const dots = element("g", { class: "drawing-knots" });
  surface.append(axes, districtMarks, curve, dots);
  const knotDots = angles.map((a) => dots.appendChild(element("circle", { cx: x(a), r: 2.5 })));

  // The ring preview: the road, and the curve as a distance from it (outward for positive values), with the districts.
  ring.setAttribute("viewBox", `0 0 ${RING.size} ${RING.size}`);
  const centre = RING.size / 2;
  ring.append(element("circle", { cx: centre, cy: centre, r: RING.road, class: "ring-road" }));
  const ringCurve = ring.appendChild(element("polygon", { class: "ring-curve" }));
  const ringDistricts = ring.appendChild(element("g", { class: "ring-districts" }));
  const polar = (deg, r) => [centre + r * Math.cos((deg * Math.PI) / 180), centre - r * Math.sin((deg * Math.PI) / 180)];

  // The table: one labelled input per knot (the keyboard's way to draw).
  const body = table.createTBody();
  const inputs = angles.map((a, j) => {
    const row = body.insertRow();
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = `${minus(a)}°`;
    head.id = `${root.id}-knot-${j}`;
    row.append(head);
    const input = document.createElement("input");
    Object.assign(input, { type: "number", step: "0.01", min: String(-RANGE), max: String(RANGE), inputMode: "decimal" });
    input.setAttribute("aria-labelledby", `${root.id}-value-head ${head.id}`);
    input.addEventListener("change", () => {
      const value = Number(input.value);
      if (input.value === "" || !Number.isFinite(value) || value < -RANGE || value > RANGE) {
        say(`The value at ${minus(a)}° must be a number from −${RANGE} to ${RANGE}.`, "error");
        input.value = String(knots[j]);
        return;
      }
      knots[j] = Number(value.toFixed(2));
      redraw();
      sendKnots(`Training on your drawing (the value at ${minus(a)}° is now ${minus(knots[j])}).`);
    });
    row.insertCell().append(input);
    return input;
  });

  function redraw() {
    const closed = [...angles, 180];
    const values = [...knots, knots[0]];
    curve.setAttribute("points", closed.map((a, i) => `${x(a)},${y(values[i])}`).join(" "));
    knotDots.forEach((dot, j) => dot.setAttribute("cy", String(y(knots[j]))));
    ringCurve.setAttribute("points", resample(angles, knots, Array.from({ length: 180 }, (_, i) => -180 + 2 * i))
      .map((v, i) => polar(-180 + 2 * i, RING.road + RING.scale * v).join(",")).join(" "));
    const marks = Array.from({ length: districts }, (_, i) => -180 + (360 * i) / districts);
    districtMarks.replaceChildren(...marks.map((a) => element("line", { x1: x(a), x2: x(a), y1: VIEW.top, y2: VIEW.height - VIEW.bottom })));
    ringDistricts.replaceChildren(...marks.map((a) => {
      const [cx, cy] = polar(a, RING.road);
      return element("circle", { cx, cy, r: 3 });
    }));
    inputs.forEach((input, j) => {
      if (document.activeElement !== input) input.value = String(Number(knots[j].toFixed(2)));
    });
    surface.setAttribute("aria-label", `Your target along the ring: ${describe(knots)}`);
    ring.setAttribute("aria-label", `The same target drawn around the ring road, with its ${districts} training districts.`);
  }

  // --- the pointer: every knot the pointer passes between two events takes the height of the line between them --------
  let last = null; // the pointer's last point in (degrees, value), while drawing
  const toCurve = (event) => {
    const box = surface.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * VIEW.width;
    const py = ((event.clientY - box.top) / box.height) * VIEW.height;
    const deg = Math.max(-180, Math.min(180, ((px - VIEW.left) / (VIEW.width - VIEW.left - VIEW.right)) * 360 - 180));
    return [deg, clampToRange(RANGE - ((py - VIEW.top) / (VIEW.height - VIEW.top - VIEW.bottom)) * 2 * RANGE)];
  };
  const nearest = (deg) => ((Math.round(((deg + 180) / 360) * KNOTS) % KNOTS) + KNOTS) % KNOTS;
  function paint([deg, v]) {
    const [d0, v0] = last ?? [deg, v];
    const [lo, hi] = d0 <= deg ? [d0, deg] : [deg, d0];
    angles.forEach((a, j) => {
      for (const at of [a, a + 360]) { // the knot at −180° is also the point at 180°
        if (at >= lo && at <= hi && hi > lo) knots[j] = v0 + ((at - d0) / (deg - d0)) * (v - v0);
      }
    });
    knots[nearest(deg)] = v;
    knots = knots.map((k) => Number(k.toFixed(2)));
    last = [deg, v];
    redraw();
  }
  surface.addEventListener("pointerdown", (event) => {
    if (disabled || staticCopy || event.button !== 0) return;
    event.preventDefault();
    surface.setPointerCapture(event.pointerId);
    last = null;
    paint(toCurve(event));
  });
  surface.addEventListener("pointermove", (event) => {
    if (last !== null && surface.hasPointerCapture(event.pointerId)) paint(toCurve(event));
  });
  const lift = (event) => {
    if (last === null) return;
    last = null;
    if (surface.hasPointerCapture(event.pointerId)) surface.releasePointerCapture(event.pointerId);
    sendKnots("Training on your drawing…");
  };
  surface.addEventListener("pointerup", lift);
  surface.addEventListener("pointercancel", lift);

  // --- the buttons, the districts and the CSV ------------------------------------------------------------------------
  const button = (name, action) => root.querySelector(`[data-drawing-action="${name}"]`).addEventListener("click", action);
  button("target", () => {
    if (!target) return say("No target is on show yet to start from.", "error");
    knots = [...target];
    redraw();
    return sendKnots("Training on the target on show, now your drawing.");
  });
  button("clear", () => {
    knots = knots.map(() => 0);
    redraw();
    sendKnots("Training on a flat drawing (every value 0).");
  });
  button("smooth", () => {
    knots = smoothed(knots).map((v) => Number(v.toFixed(2)));
    redraw();
    sendKnots("Training on your drawing, smoothed.");
  });
  districtsInput.addEventListener("change", () => {
    const { min, max } = FIELDS.districts.type;
    const value = Number(districtsInput.value);
    if (!Number.isInteger(value) || value < min || value > max || districtsInput.value === "") {
      say(`The districts must be a whole number from ${min} to ${max}.`, "error");
      districtsInput.value = String(districts);
      return;
    }
    send({ districts: value }, `Training on ${value} districts.`);
  });
  const useCsv = (text, source) => {
    const { knots: read, problems } = parseCsv(text);
    if (problems) {
      const shown = problems.slice(0, 5).join(" ") + (problems.length > 5 ? ` (and ${problems.length - 5} more problems)` : "");
      return say(`${source} ${source.startsWith("The file") ? "was" : "were"} not used. ${shown}`, "error");
    }
    knots = read.map((v) => Number(v.toFixed(2)));
    redraw();
    return sendKnots(`${source} read: training on its curve, sampled at the ${KNOTS} knots.`);
  };
  root.querySelector("[data-drawing-file]").addEventListener("change", async (event) => {
    const [file] = event.target.files;
    if (!file) return;
    if (file.size > FILE_BYTES_MAX) {
      say(`The file ${file.name} was not used: it is ${file.size.toLocaleString("en")} bytes, and at most `
        + `${FILE_BYTES_MAX.toLocaleString("en")} are read.`, "error");
    } else {
      useCsv(await file.text(), `The file ${file.name}`);
    }
    event.target.value = ""; // the same file chosen again is read again
  });
  button("paste", () => useCsv(root.querySelector("[data-drawing-paste]").value, "The pasted rows"));

  if (staticCopy) say("This saved copy cannot train networks: drawing your own target needs the live server. "
    + "The figure below shows the target of the scenario on show.", "note");
  if (disabled || staticCopy) {
    for (const control of root.querySelectorAll("input, button, textarea")) control.disabled = true;
    surface.classList.add("disabled");
  }
  redraw();

  return {
    sync(state) {
      districts = state.districts;
      districtsInput.value = String(state.districts);
      for (const control of root.querySelectorAll("[id^='control-']")) { // its settings' controls (label noise)
        const name = control.id.slice("control-".length);
        if (name in state && document.activeElement !== control) control.value = String(state[name]);
      }
      drawnState = state.target === "drawn" && state.drawing !== null;
      if (drawnState && last === null) knots = fromText(state.drawing);
      else if (!drawnState && target) knots = [...target];
      redraw();
    },
    // A document arrived: the "Training …" line has been answered (the figure says the rest); a problem stays.
    showTarget(values) {
      if (message.dataset.kind === "info") say("");
      target = values;
      if (!drawnState && last === null) {
        knots = [...values];
        redraw();
      }
    },
  };
}

// The drawing in words, for a screen reader: its range and where it peaks.
function describe(knots) {
  const angles = knotAngles(knots.length);
  const top = knots.indexOf(Math.max(...knots));
  const bottom = knots.indexOf(Math.min(...knots));
  return `${knots.length} values from ${minus(knots[bottom])} (at ${minus(angles[bottom])}°) to ${minus(knots[top])} `
    + `(at ${minus(angles[top])}°).`;
}
