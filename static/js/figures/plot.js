// What every figure shares: its mount() (a chart, a summary and a data table drawn from the module's pure functions),
// drawing with Plotly.react, resizing, the palette, data tables and CSV, images for slides, status lines and the page's
// announcements.
import { serializeState } from "../state.js";

// Okabe–Ito: distinguishable with every common colour-vision deficiency; series also differ by marker/dash.
export const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
export const MARKERS = ["circle", "diamond", "square", "triangle-up", "x", "star"];
export const DASHES = ["solid", "dot", "dash", "dashdot", "longdash"];
export const ROAD = "#c8c8c8"; // the ring's road, and the road it shows where another figure marks it
// Kernel values and their changes can be negative: blue below zero, white at zero, red above, always on a scale
// symmetric about zero (symmetric()): the city's RdBu (static/js/city.js).
export { DIVERGING } from "../city.js";

// The largest magnitude among values (nulls skipped; a tiny floor so that an all-zero scale still has a range): a
// DIVERGING scale runs from its negative to it.
export const symmetric = (values) => Math.max(...values.filter((v) => v !== null).map(Math.abs), 1e-12);

// Not plotly's own `responsive`: it lays a chart out again on a window resize, ignoring its fit() (the zoo came out squeezed
// when a screenshot resized the window); the ResizeObserver in draw() follows every size change, fit() included.
const CONFIG = { displayModeBar: false, responsive: false };
const observed = new WeakSet();
const fitted = new WeakMap(); // element → () => its figure laid out for its width now (figures with a fit())
const latest = new WeakMap(); // element → the figure it was last asked to draw
const sized = new WeakMap(); // element → its size when it was last drawn or laid out

// plotly.js (484 KiB gzipped, ~0.3 s to parse on a laptop, over a second on a phone) is not in the page's head: it is
// loaded once a figure of our own (static/js/city.js: the city, the page's first figures) has been drawn and painted,
// so on a slow network it does not share the line with the experiment that figure waits for, and its parsing never
// delays that first paint. A chart to draw before that waits at most SKETCH_WAIT_MS (an experiment still computing
// has sketches to show meanwhile); on a page without a figure of our own (an embed of one chart) it loads at once, and
// on a page without a chart never. Its address: <body data-plotly>.
const SKETCH_WAIT_MS = 1500;
let plotly = null; // the promise of window.Plotly, once its script is asked for
let ownFigures = 0; // figures on this page drawn by our own code (mountDrawnFigure)
let charts = 0; // figures on this page drawn by plotly.js (mountFigure): none, and plotly.js is never loaded
let asked; // resolves when plotly.js is first asked for
const askedFor = new Promise((resolve) => { asked = resolve; });

function loadPlotly() {
  plotly ??= new Promise((resolve, reject) => {
    if (window.Plotly) return resolve(window.Plotly);
    const script = document.createElement("script");
    script.src = document.body.dataset.plotly;
    script.dataset.plotly = "";
    script.addEventListener("load", () => resolve(window.Plotly), { once: true });
    script.addEventListener("error", () => {
      plotly = null; // asked again by the next chart to draw
      script.remove();
      reject(new Error("plotly.js could not be loaded"));
    }, { once: true });
    document.head.append(script);
  });
  asked();
  return plotly;
}

// After the frame being drawn now has been painted: a script added then cannot hold up that paint.
export const afterPaint = () => new Promise((resolve) => { requestAnimationFrame(() => setTimeout(resolve, 0)); });

// A figure of our own has drawn for the first time: once that frame is painted, plotly.js (if a chart needs it).
function ownFigureDrawn() {
  if (!plotly && charts) afterPaint().then(loadPlotly);
}

// Resolves once plotly.js has been asked for, or at once on a page without a chart. The page asks for its other
// documents (overlays, comparisons, spectra: a dozen requests) only then, so the browser's six connections to the server
// do not all wait on computations while plotly.js, which every chart needs, waits for a free one.
export function plotlyAsked() {
  if (plotly || !charts) return Promise.resolve();
  return Promise.race([askedFor, new Promise((resolve) => { setTimeout(resolve, SKETCH_WAIT_MS); })]);
}

// window.Plotly, for a chart about to be drawn (see above for when it is loaded).
export function plotlyReady() {
  if (plotly) return plotly;
  if (!ownFigures) return loadPlotly();
  setTimeout(loadPlotly, SKETCH_WAIT_MS);
  return askedFor.then(() => plotly ?? loadPlotly());
}

export const baseLayout = (extra = {}) => ({
  margin: { l: 60, r: 20, t: 30, b: 50 },
  font: { family: "system-ui, sans-serif", size: 13, color: "#1a1a1a" },
  paper_bgcolor: "#ffffff",
  plot_bgcolor: "#ffffff",
  legend: { orientation: "h", y: -0.25 },
  ...extra,
});

// A chart is drawn once it nears the viewport (within NEAR_MARGIN of it), and from then on whenever asked: a reader
// who opens the page draws the charts of the first screen and those scrolled to, not the dozen further down (on a
// phone, seconds of work). The figures' documents wait for it too (static/js/main.js). Printing draws them all first.
const NEAR_MARGIN = "100% 0px"; // a viewport's height above and below the one in view
const near = new WeakMap(); // element → the promise that it has been near the viewport
const waiting = new Set(); // the resolvers of elements not yet near, for printing

// Resolves once the element has been within NEAR_MARGIN of the viewport (a hidden element never is).
export function nearView(element) {
  if (!near.has(element)) {
    near.set(element, new Promise((resolve) => {
      const observer = new IntersectionObserver((entries) => {
        if (!entries.some((entry) => entry.isIntersecting)) return;
        observer.disconnect();
        waiting.delete(resolve);
        resolve();
      }, { rootMargin: NEAR_MARGIN });
      observer.observe(element);
      waiting.add(resolve);
    }));
  }
  return near.get(element);
}

window.addEventListener("beforeprint", () => {
  for (const resolve of waiting) resolve();
  waiting.clear();
});

// Draw or update a figure once it is near the viewport; Plotly.react diffs against the previous call. Every change of
// the chart's size (its container's or the window's) is followed with a ResizeObserver; a figure with a fit() (its
// layout for the width it has) is laid out again for its new width.
// Only the latest figure asked of an element is drawn: sketches made while plotly.js was still arriving are skipped.
async function draw(element, figure, fit) {
  latest.set(element, figure);
  await nearView(element);
  if (latest.get(element) !== figure) return;
  if (!window.Plotly) element.setAttribute("aria-busy", "true"); // its summary is there; the chart is coming
  try {
    await plotlyReady();
  } catch (error) {
    status(element.dataset.figure, `This chart could not be drawn: ${error.message}.`, "error");
    return;
  } finally {
    element.removeAttribute("aria-busy");
  }
  if (latest.get(element) !== figure) return;
  const laidOut = () => (fit ? fit(figure, element.clientWidth) : figure);
  fitted.set(element, fit ? laidOut : null);
  // A fitted chart's key is the width it was laid out for, read before drawing: had the element another width once
  // drawn, the observer's first report differs and lays it out again (a zoo laid out for a passing width stayed so).
  sized.set(element, sizeOf(element));
  const { data, layout } = laidOut();
  const first = !observed.has(element);
  observed.add(element);
  await react(element, data, layout);
  if (!fit) sized.set(element, sizeOf(element));
  if (first) {
    performance.mark(`figure:${element.dataset.figure}`); // first drawing, for benchmarks/page.py
    // An observer reports the size it finds when it starts: the chart just drawn at that size is not drawn again.
    new ResizeObserver(() => {
      if (sized.get(element) === sizeOf(element)) return;
      sized.set(element, sizeOf(element));
      const again = fitted.get(element)?.();
      if (again) react(element, again.data, again.layout);
      else window.Plotly.Plots.resize(element);
    }).observe(element);
  }
}

// Plotly.react, one at a time per element: a call made while the last is still drawing (it returns a promise) waits for
// it. Two at once left the zoo's twenty panels laid out for a width it no longer had, now and then.
const reacting = new WeakMap(); // element → the promise of its last Plotly.react
function react(element, data, layout) {
  const done = (reacting.get(element) ?? Promise.resolve()).catch(() => undefined)
    .then(() => window.Plotly.react(element, data, layout, CONFIG));
  reacting.set(element, done);
  return done;
}

// What a change of size is measured by: a fitted chart's width (its fit() sets the height), another chart's both.
const sizeOf = (element) => (fitted.get(element) ? `${element.clientWidth}` : `${element.clientWidth}×${element.clientHeight}`);

// The mount() of a figure module whose figure is a plotly chart: figure.draw(...documents, state) draws the chart,
// the one-sentence summary and the data table from the module's pure spec(), summary() and table() of the same
// arguments; figure.sketch(...) draws the chart and summary of a document still arriving (the table waits for all).
// fit(figure, width), if given, is the module's pure layout of spec()'s figure for the width the chart has.
export function mountFigure(element, { spec, summary, table, fit = null }) {
  const id = element.dataset.figure;
  charts += 1;
  nearView(element); // watched from now: a reader may scroll past before its documents arrive
  const drawn = { figure: null, state: null }; // the chart on show (spec()'s) and its state, for its images
  for (const button of document.querySelectorAll(`[data-image-of="${id}"]`)) {
    button.addEventListener("click", () => saveImage(id, button, drawn, fit));
  }
  return {
    id,
    draw(...args) {
      const figure = spec(...args);
      draw(element, figure, fit);
      Object.assign(drawn, { figure, state: args[args.length - 1] });
      summarize(id, summary(...args));
      const { columns, rows } = table(...args);
      tabulate(id, columns, rows);
    },
    sketch(...args) {
      const figure = spec(...args);
      draw(element, figure, fit);
      Object.assign(drawn, { figure, state: args[args.length - 1] });
      summarize(id, summary(...args));
    },
  };
}

// The mount() of a figure drawn by our own SVG code (static/js/city.js) rather than plotly.js: view.draw(...args)
// draws it (and may animate it); view.image(width) returns a fresh <svg> of the frame on show laid out for that width,
// with its height set, for the images for slides. The summary and the data table are drawn as for a chart.
export function mountDrawnFigure(element, { view, summary, table }) {
  const id = element.dataset.figure;
  ownFigures += 1;
  const drawn = { state: null };
  for (const button of document.querySelectorAll(`[data-image-of="${id}"]`)) {
    button.addEventListener("click", () => saveDrawnImage(id, button, view, drawn.state));
  }
  const fillTable = (args) => {
    const { columns, rows } = table(...args);
    tabulate(id, columns, rows);
  };
  let first = true;
  let tableDue = null; // the arguments of the first drawing's table, filled once that drawing is painted
  const show = (args, withTable) => {
    view.draw(...args);
    drawn.state = args[args.length - 1];
    summarize(id, summary(...args));
    if (first) {
      first = false;
      performance.mark(`figure:${id}`); // first drawing, for benchmarks/page.py
      ownFigureDrawn();
      if (withTable) { // the city's tables hold up to 500 rows each: the page's first figures are painted first
        tableDue = args;
        afterPaint().then(() => {
          if (tableDue) fillTable(tableDue);
          tableDue = null;
          element.dataset.drawn = "true"; // drawn, and its table filled
        });
        return;
      }
    } else if (withTable) {
      tableDue = null; // a later drawing's own table, at once
      fillTable(args);
    }
    element.dataset.drawn = "true";
  };
  return { id, draw: (...args) => show(args, true), sketch: (...args) => show(args, false) };
}

// --- images for slides ---------------------------------------------------------------------------------------------

// A slide's size in CSS pixels and the scale it is drawn at: a PNG of 1920 × 1080 pixels, a projector's full HD (the
// buttons say so: templates/_macros.html). The SVG has the same layout.
export const SLIDE = { width: 1280, height: 720, scale: 1.5 };
const SLIDE_FONT = 15; // the chart's text, a little larger than on the page, for the back of the room

const escapeText = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

// Plotly does not wrap text: lines of at most `columns` characters, broken between words.
function wrap(text, columns) {
  const lines = [];
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const line = lines.length ? lines[lines.length - 1] : null;
    if (line !== null && line.length + 1 + word.length <= columns) lines[lines.length - 1] = `${line} ${word}`;
    else lines.push(word);
  }
  return lines;
}

// The page's address for a state (an embed's own parameters left out): the settings that drew the figure.
export function stateAddress(state) {
  return `${new URL(document.body.dataset.root ?? "/", location.href).href}?${serializeState(state)}`;
}

// The file name: the figure and the settings that differ from the defaults (the page's URL parameters).
export function imageName(id, state, format) {
  const params = new URLSearchParams(serializeState(state));
  params.delete("v");
  const settings = [...params].map(([name, value]) => `${name}-${value}`).join("_").replace(/[^\w.+-]+/g, "+");
  return `infinite-lanes_${id}_${settings || "defaults"}`.slice(0, 180) + `.${format}`;
}

// The chart on show, laid out for a slide: above it, the section's title, the figure's caption, its one-sentence
// summary and the address of its settings. A figure with a fit() is laid out by it as for the widest chart whose height
// fits under them, centred.
function slideFigure(id, figure, state, fit) {
  const text = (selector) => document.querySelector(selector)?.textContent.trim() ?? "";
  // [the lines, their font size in px, how they look]: plotly neither wraps text nor sizes a margin to it.
  const blocks = [
    [wrap(text(`#${id}-title`).replace(/^\d+\. /, ""), 70), 20, (line) => `<b>${line}</b>`],
    [wrap(text(`#${id}-caption`), 125), 15, (line) => line],
    [wrap(text(`#${id}-summary`), 160), 12, (line) => line],
    [[`Infinite Lanes, ${stateAddress(state)}`], 12, (line) => line],
  ];
  const lines = blocks.flatMap(([texts, size, look]) => texts.map((line) =>
    `<span style="font-size:${size}px">${look(escapeText(line))}</span>`));
  const header = blocks.reduce((height, [texts, size]) => height + texts.length * Math.ceil(1.3 * size), 0) + 24;
  let { data, layout } = structuredClone(figure);
  let width = SLIDE.width; // the chart's, as fit() lays it out
  if (fit) {
    // 32 px more at the foot than on the page: the slide's text is larger.
    while (width > 320 && fit({ data, layout }, width).layout.height > SLIDE.height - header - 32) width -= 10;
    ({ data, layout } = fit({ data, layout }, width));
  }
  const page = { l: 60, r: 20, t: 30, b: 50, ...layout.margin }; // the chart's margins on the page
  const margin = fit
    // Its plot area as fit() laid it out for that width (square panels stay square), centred, the header above.
    ? { ...page, l: page.l + (SLIDE.width - width) / 2, r: page.r + (SLIDE.width - width) / 2,
      t: page.t + header, b: SLIDE.height - page.t - header - (layout.height - page.t - page.b) }
    // The page's margins, a little wider for the larger text, and the header above the top one.
    : { ...page, l: Math.ceil(page.l * 1.2), b: Math.ceil(page.b * 1.2) + 16, t: page.t + header };
  return {
    data,
    layout: {
      ...layout, ...SLIDE, autosize: false, font: { ...layout.font, size: SLIDE_FONT }, margin,
      annotations: [...(layout.annotations ?? []), {
        text: lines.join("<br>"), align: "left", showarrow: false, xref: "paper", yref: "paper", x: 0, y: 1,
        xanchor: "left", yanchor: "bottom", xshift: 16 - margin.l, yshift: page.t, font: { color: "#1a1a1a" },
      }],
    },
  };
}

// The slide of a drawn figure: the header slideFigure() writes above a chart, then the figure's SVG laid out for the
// widest width whose height fits under it, centred. An SVG document (text).
function drawnSlide(id, view, state) {
  const header = slideHeader(id, state);
  const room = SLIDE.height - header.height - 24;
  let width = SLIDE.width - 80;
  let figure = view.image(width);
  while (width > 320 && Number(figure.getAttribute("height")) > room) {
    width -= 20;
    figure = view.image(width);
  }
  const height = Number(figure.getAttribute("height"));
  figure.setAttribute("x", String((SLIDE.width - width) / 2));
  figure.setAttribute("y", String(header.height + 8));
  figure.setAttribute("width", String(width));
  figure.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const lines = header.lines.map(({ text, size, bold, y }) => `<text x="40" y="${y}" font-size="${size}"`
    + `${bold ? ' font-weight="700"' : ""} fill="#1a1a1a" font-family="system-ui, sans-serif">${escapeText(text)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${SLIDE.width}" height="${SLIDE.height}" `
    + `viewBox="0 0 ${SLIDE.width} ${SLIDE.height}"><rect width="100%" height="100%" fill="#ffffff"/>${lines.join("")}`
    + `${new XMLSerializer().serializeToString(figure)}</svg>`;
}

// The lines above a slide's figure (title, caption, summary, the settings' address), each with its font size and
// baseline: { lines: [{ text, size, bold, y }], height }.
function slideHeader(id, state) {
  const text = (selector) => document.querySelector(selector)?.textContent.trim() ?? "";
  const blocks = [
    [wrap(text(`#${id}-title`).replace(/^\d+\. /, ""), 70), 24, true],
    [wrap(text(`#${id}-caption`), 125), 16, false],
    [wrap(text(`#${id}-summary`), 150), 14, false],
    [[`Infinite Lanes, ${stateAddress(state)}`], 13, false],
  ];
  const lines = [];
  let y = 24;
  for (const [texts, size, bold] of blocks) {
    for (const line of texts) {
      y += Math.ceil(1.3 * size);
      lines.push({ text: line, size, bold, y });
    }
  }
  return { lines, height: y + 8 };
}

// Save a drawn figure's slide: as the SVG itself, or rasterised by the browser at SLIDE.scale (a PNG).
function saveDrawnImage(id, button, view, state) {
  return saveSlide(id, button, state, async (format) => {
    const text = drawnSlide(id, view, state);
    return format === "svg" ? new Blob([text], { type: "image/svg+xml" }) : rasterise(text);
  });
}

async function rasterise(svgText) {
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText], { type: "image/svg+xml" }));
  try {
    image.src = url;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = SLIDE.width * SLIDE.scale;
    canvas.height = SLIDE.height * SLIDE.scale;
    canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
    return await new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("no PNG"))), "image/png"));
  } finally {
    URL.revokeObjectURL(url);
  }
}

function download(blob, name) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

// Draw the chart on show for a slide and save it as a file: format "png" or "svg".
function saveImage(id, button, { figure, state }, fit) {
  if (!figure) return undefined; // nothing drawn yet
  return saveSlide(id, button, state, async (format) => {
    const image = await (await plotlyReady()).toImage(slideFigure(id, figure, state, fit), { format, ...SLIDE, imageDataOnly: true });
    const bytes = format === "svg" ? [image] : [Uint8Array.from(atob(image), (c) => c.charCodeAt(0))];
    return new Blob(bytes, { type: format === "svg" ? "image/svg+xml" : "image/png" });
  });
}

// Make a figure's slide with make(format) → a Blob, for the button's format ("png" or "svg"), and save it under the
// settings' name; nothing while one is being made (the button keeps its focus meanwhile), a failure said in place.
async function saveSlide(id, button, state, make) {
  if (!state || button.getAttribute("aria-busy") === "true") return;
  const format = button.dataset.image;
  button.setAttribute("aria-busy", "true");
  try {
    download(await make(format), imageName(id, state, format));
  } catch (error) {
    status(id, `The image could not be made: ${error.message}.`, "error");
  } finally {
    button.removeAttribute("aria-busy");
  }
}

// A number with a true minus sign (U+2212), as the page's text and legends write it: −0.75, not -0.75.
export const signed = (value, digits = 2) => value.toFixed(digits).replace("-", "−");

// A fitted power law in words, for summaries and legends: "width to the power −0.75 ± 0.02".
export const powerLaw = (fit, variable = "width") => `${variable} to the power ${signed(fit.slope)} ± ${fit.stderr.toFixed(2)}`;

// In words, which networks of a drift document diverged and why (the server's reason, e.g. "learning rate 30 is above
// 2N/λ_max ≈ 12.3 for this width, so …"): "" when none did. widths: the widths the figure shows (default: all);
// missing: what the figure lacks for them ("their points stop there").
export function divergence(doc, { widths = null, missing = "their values after that step are missing" } = {}) {
  const hit = doc.widths.filter((w) => widths === null || widths.includes(w.width))
    .map((w) => ({ width: w.width, seeds: w.diverged_at.filter((step) => step >= 0).length, of: w.diverged_at.length,
      reason: w.divergence.find((reason) => reason) }))
    .filter((w) => w.seeds > 0);
  if (!hit.length) return "";
  const counts = hit.map((w) => `${w.seeds} of ${w.of} at ${w.width} lanes`).join(", ");
  return `Networks diverged (${counts}): at ${hit[0].width} lanes, ${hit[0].reason}; ${missing}.`;
}

// Positions on the ring in degrees, as every figure shows them (the documents give radians), to 0.001°.
export const degreesOf = (gamma) => Number(((gamma * 180) / Math.PI).toFixed(3));
export const degrees = (gammas) => gammas.map(degreesOf);

// The largest change of the traffic map during the day that any width of a document makes on the grid (its
// change_max), or null: the change's colour scale when one serves every width.
export function largestChange(doc) {
  const maxima = doc.widths.map((w) => w.change_max).filter((v) => v !== null && v !== undefined && v > 0);
  return maxima.length ? Math.max(...maxima) : null;
}

// The median of the positive values (drift and gaps: a zero or a diverged null is no measurement), or null.
export const median = (values) => {
  const sorted = values.filter((v) => v !== null && v > 0).sort((a, b) => a - b);
  return sorted.length ? sorted[Math.floor(sorted.length / 2)] : null;
};

// The last training step of a document's snapshots.
export const lastStep = (doc) => doc.snapshot_steps.at(-1);

// The learning rate of the document's experiment (a document still streaming in has no query yet: the state's).
export const rateOf = (doc, state) => doc.query?.learning_rate ?? state.learning_rate;

export const round = (value, digits = 4) => (value === null || value === undefined ? "" : Number(value.toPrecision(digits)));

// Fill the figure's data table and its CSV link from columns and rows.
function tabulate(id, columns, rows) {
  const wrap = document.querySelector(`[data-table="${id}"]`);
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const column of columns) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = column;
    head.append(th);
  }
  const body = table.createTBody();
  for (const row of rows.slice(0, 500)) {
    const tr = body.insertRow();
    for (const cell of row) tr.insertCell().textContent = String(cell);
  }
  wrap.replaceChildren(table);
  const csv = [columns, ...rows].map((row) => row.map((cell) => JSON.stringify(cell ?? "")).join(",")).join("\n");
  const link = document.querySelector(`[data-csv="${id}"]`);
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
}

function summarize(id, text) {
  document.getElementById(`${id}-summary`).textContent = text;
}

// Screen readers hear one sentence per change, from the page's single live region, not one per figure:
// summaries and status lines are read on demand (aria-describedby), never pushed.
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region && region.textContent !== text) region.textContent = text;
}

export function status(id, text, kind = "info") {
  const element = document.querySelector(`[data-status="${id}"]`);
  element.textContent = text;
  element.dataset.kind = kind;
}
