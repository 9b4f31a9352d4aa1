// The page's controller: URL → the one state store → the controls, the API and every figure on the page.
// It knows no figure by name: each [data-figure] element is drawn by its own module, figures/<id>.js, whose `needs`
// says which documents it draws; every change of state goes through store.update() and onChange().
import { ApiError, NeedsServer, STATIC, getCost, getDrift, getKeptDrift, getSavedComparison, getSavedDrift,
  savedScenarios, streamDrift, unreachable } from "./api.js";
import { createDrawing } from "./drawing.js";
import { firstExperiment } from "./first.js";
import { applyEmbedOptions, embedSuffix, openEmbedDialog, reportHeight } from "./embed.js";
import { duration, hideCostNote, showEstimate } from "./estimate.js";
import { afterPaint, announce, nearView, plotlyAsked, status } from "./figures/plot.js";
import { createJobs } from "./jobs.js";
import { meterText } from "./meter.js";
import { apiParams, findPreset, linkedScenario, loadPresets, matchingPreset, presetTitle, savedPreset, scenarioSettings } from "./scenarios.js";
import { EXPERIMENT_FIELDS, FIELDS, NTK_SCALING, parseState, serializeState, widthList } from "./state.js";
import { createStore } from "./store.js";

const STEP_MS = 700;
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const $ = (selector) => document.querySelector(selector);
const embedded = document.body.classList.contains("embed");
const locked = new URLSearchParams(location.search).get("lock") === "1"; // an embed whose state is fixed

if (STATIC && embedded) applyEmbedOptions(); // a static copy's embed is one file for every ?hide= and ?card=

// What names the state's experiment on this server: the parameters of its request, whatever width is on show.
const experimentOf = (state) => apiParams(state, { kernel_width: null }).toString();

// The second experiment a figure draws over the state's (needs.overlay), as query parameters (no kernels asked for).
const overlayParams = (figure, state) => apiParams(state, { ...figure.needs.overlay(state), kernel_width: null });

const linked = parseState(location.search);
const store = createStore(linked.state);
// The first experiment, asked for by first.js before the figures were mounted (keptDrift takes it once).
let firstKept = firstExperiment;
const figures = await mountFigures();
const jobs = createJobs({ onDone: () => run({ job: true }) }); // settings too long for one request, run as a job
// The reader's own target (drawn, typed or read from a CSV): each commit changes the state like a control does.
const drawing = createDrawing({ commit: commitDrawing, disabled: locked, staticCopy: STATIC });

let doc = null;        // the last complete drift document
let firstShown = false; // whether a document has been shown yet (show())
let costing = null;    // the estimate of the experiment on show (a promise of it, or of null), once asked for
let controller = null; // aborts the requests of a superseded state
let player = null;     // the running animation, if any
let savedNote = null;  // set while the figures show saved results because the API failed
let shownExperiment = null; // experimentOf() of the live experiment on show
let changedControl = null; // the setting the reader changed last: what its cost means is said there
let shownScenario = null; // a static copy: the saved scenario drawn last, where settings that need the server lead back
const overlays = new Map(); // figure id → { key, document }: the last overlay each figure drew (needs.overlay)

// Every [data-figure] element, mounted by the module named after it (templates/_sections.html preloads it). A mounted
// figure: { id, element, needs, draw(...documents, state), sketch(...) } (figures/plot.js mountFigure). What a module's `needs`
// declares: document "experiment" (drawn from the drift document of the state's experiment) or "comparison" (from the
// NTK scaling's document and needs.scaling(state)'s); view: the view fields (district, time, change_scale) it is
// redrawn for when only they change;
// progress: sketched from the widths done so far while the experiment streams in; overlay(state): the API parameters of
// a second experiment drawn over the state's, so the figure draws (document, overlay document or null, state).
async function mountFigures() {
  const elements = [...document.querySelectorAll("[data-figure]")];
  return Promise.all(elements.map(async (element) => {
    const module = await import(`./figures/${element.dataset.figure}.js`);
    return { element, needs: module.needs, ...module.mount(element) };
  }));
}

// --- state: every change goes through store.update(changes, options) and comes here ---------------------------------

// options.history: "push" (the default: Back returns to the state before), "replace" (continuous controls and
// animations) or "none" (the URL already says it). options.refetch: false when only the view (district, time) changed:
// the figures are redrawn from the document on show. options.silent: the caller is drawing the new state (fitView).
function onChange({ previous, changes, options: { history = "push", refetch = true, silent = false } }) {
  if (silent) return;
  if (refetch && Object.keys(changes).some((name) => EXPERIMENT_FIELDS.includes(name))) stopPlayer(previous);
  if (history === "push") window.history.pushState(null, "", stateUrl());
  else if (history === "replace") window.history.replaceState(null, "", stateUrl());
  syncControls();
  if (refetch) run();
  else renderView(Object.keys(changes));
}

function stateUrl() {
  return `${location.pathname}?${serializeState(store.get())}${embedded ? embedSuffix() : ""}`;
}

// A document with fewer districts or snapshots than the state names: the view moves inside it before it is drawn. The
// URL is not rewritten for it (the next change records it).
function fitView() {
  const { district, time } = store.get();
  const fitted = { district: Math.min(district, doc.gamma_train.length - 1), time: Math.min(time, doc.snapshot_steps.length - 1) };
  if (fitted.district !== district || fitted.time !== time) store.update(fitted, { silent: true });
}

// --- controls ----------------------------------------------------------------------------------

function syncControls() {
  drawing.sync(store.get());
  if (!$("#controls")) return; // an embed without its settings
  const state = store.get();
  const widths = widthList(state);
  const widthsSelect = $("#control-widths");
  if (![...widthsSelect.options].some((o) => o.value === state.widths)) {
    widthsSelect.add(new Option(`${widths.join(", ")} lanes`, state.widths));
  }
  for (const name of [...EXPERIMENT_FIELDS, "preset", "compare", "change_scale"]) {
    const control = document.getElementById(`control-${name}`);
    if (control) control.value = String(state[name]);
  }
  const range = $("#control-width");
  range.max = String(widths.length - 1);
  range.value = String(widths.indexOf(state.width));
  range.setAttribute("aria-valuetext", `${state.width} lanes`);
  $("#width-output").textContent = `× ${state.width} lanes`;
  $("#control-frequency").disabled = locked || !["sin", "cos"].includes(state.target); // a locked embed: all stay disabled
  describeScenario(state.preset);
}

// The chosen scenario's description under its menu; nothing for "Your own settings" (or while the list cannot load).
async function describeScenario(id) {
  let text = "";
  if (id) {
    try {
      text = (await findPreset(id))?.description ?? "";
    } catch {
      text = "";
    }
  }
  if (store.get().preset === id) $("#scenario-description").textContent = text;
}

function syncViewControls() {
  if (!$("#control-district")) return;
  const state = store.get();
  const district = $("#control-district");
  if (district.options.length !== doc.gamma_train.length) {
    district.replaceChildren(...doc.gamma_train.map((g, i) =>
      new Option(`district ${i + 1} (γ = ${String(Math.round((g * 180) / Math.PI)).replace("-", "−")}°)`, String(i))));
  }
  district.value = String(state.district);
  const time = $("#control-time");
  const last = doc.snapshot_steps.length - 1;
  time.max = String(last);
  time.value = String(state.time);
  const text = `step ${doc.snapshot_steps[state.time]} of ${doc.snapshot_steps[last]}`;
  time.setAttribute("aria-valuetext", text);
  $("#time-output").textContent = text;
}

// A change made in the drawing's panel (static/js/drawing.js): a new drawing, or the districts.
function commitDrawing(changes) {
  changedControl = Object.keys(changes)[0] === "districts" ? "districts" : "target";
  store.update({ ...changes, preset: matchingPreset({ ...store.get(), ...changes }) ?? "" });
}

function readControl(name, raw) {
  const field = FIELDS[name];
  if (field.type.kind === "int" || field.type.kind === "float") {
    const value = Number(raw);
    const { min, max } = field.type;
    if (raw === "" || !Number.isFinite(value) || value < min || value > max || (field.type.kind === "int" && !Number.isInteger(value))) {
      status("controls", `${name.replace("_", " ")} must be a ${field.type.kind === "int" ? "whole " : ""}number from ${min} to ${max}.`, "error");
      syncControls();
      return undefined;
    }
    return value;
  }
  return raw;
}

function wireControls() {
  $("#play-time")?.addEventListener("click", playDay);
  $("#control-district")?.addEventListener("change", (event) => store.update({ district: Number(event.target.value) }, { refetch: false }));
  $("#control-time")?.addEventListener("input", (event) => {
    stopPlayer();
    store.update({ time: Number(event.target.value) }, { history: "replace", refetch: false });
  });
  $("#control-compare")?.addEventListener("change", (event) => store.update({ compare: event.target.value }));
  $("#control-change_scale")?.addEventListener("change", (event) => store.update({ change_scale: event.target.value }, { refetch: false }));
  // The widening animation settles on a computed width: it becomes the road shown everywhere.
  document.addEventListener("lanes:width", (event) => {
    const { width } = event.detail; // a width of the experiment it drew: ignored if the settings changed since
    if (!locked && width !== store.get().width && widthList(store.get()).includes(width)) {
      store.update({ width }, { history: "replace" });
    }
  });
  for (const button of document.querySelectorAll("[data-embed]")) button.addEventListener("click", () => openEmbedDialog(button, store));
  window.addEventListener("popstate", () => {
    changedControl = null;
    store.update(named(parseState(location.search).state), { history: "none" });
  });
  for (const button of document.querySelectorAll("[data-try]")) {
    button.hidden = locked; // a locked embed's scenario stays as it is
    button.addEventListener("click", () => {
      applyPreset(button.dataset.try);
      // The first figure's section, where a scenario shows first.
      $("[data-figure]").closest("section").scrollIntoView({ behavior: reducedMotion.matches ? "auto" : "smooth" });
    });
  }
  if (!$("#controls")) return;
  if (locked) {
    for (const control of $("#controls").elements) control.disabled = true;
    return;
  }
  $("#controls").addEventListener("submit", (event) => event.preventDefault());
  for (const name of EXPERIMENT_FIELDS) {
    document.getElementById(`control-${name}`)?.addEventListener("change", (event) => {
      const value = readControl(name, event.target.value);
      if (value === undefined) return;
      status("controls", "");
      changedControl = name;
      const changes = { [name]: value };
      if (name === "widths") {
        const widths = value.split(",").map(Number);
        if (!widths.includes(store.get().width)) changes.width = widths[Math.min(2, widths.length - 1)];
      }
      // A drawing goes with its target: a reader who picks "your own drawing" starts from the target on show.
      if (name === "target") changes.drawing = value === "drawn" ? store.get().drawing ?? drawing.knotsText() : null;
      changes.preset = matchingPreset({ ...store.get(), ...changes }) ?? ""; // back on a scenario's settings: named again
      store.update(changes);
    });
  }
  $("#control-width").addEventListener("input", (event) => {
    stopPlayer();
    store.update({ width: widthList(store.get())[Number(event.target.value)] }, { history: "replace" });
  });
  // "Your own settings" keeps the settings and drops the scenario's name (from the URL too).
  $("#control-preset").addEventListener("change", (event) => (event.target.value
    ? applyPreset(event.target.value) : store.update({ preset: "" }, { refetch: false })));
}

// A state with no scenario named but exactly a scenario's settings is that scenario (a fresh page is the scenario
// "default"); a state that names one, or whose settings are no scenario's, is left as it is.
function named(state) {
  return state.preset ? state : { ...state, preset: matchingPreset(state) ?? "" };
}

// The first state, once the scenarios are loaded: named as named() would (its URL is left as it was). Skipped if the
// state changed meanwhile.
async function nameFirstState() {
  const state = store.get();
  try {
    await loadPresets();
  } catch {
    return; // the controls say "Your own settings"; applyPreset says why the scenarios cannot be had
  }
  const { preset } = named(state);
  if (store.get() === state && preset !== state.preset) store.update({ preset }, { history: "none", refetch: false });
}

async function applyPreset(id) {
  let preset;
  try {
    preset = await findPreset(id);
  } catch (error) {
    status("controls", `The scenarios could not be loaded: ${error.message}.`, "error");
    return;
  }
  if (!preset) return;
  changedControl = "preset";
  const changes = { ...scenarioSettings(preset), preset: id };
  changes.width = preset.query.kernel_width ?? widthList(changes)[0];
  changes.compare = store.get().compare;
  store.update(changes);
}

// --- animations: never automatic, always stoppable, instant under reduced motion ----------------

// Stop the running animation and say what it stopped on: state, the view on show (before a change under way).
function stopPlayer(state = store.get()) {
  if (player) {
    clearInterval(player.timer);
    player.button.textContent = player.label;
    player.button.setAttribute("aria-pressed", "false");
    player = null;
    announceView(state);
  }
}

function animate(button, frames, apply) {
  if (player?.button === button) return stopPlayer();
  stopPlayer();
  if (reducedMotion.matches) return apply(frames[frames.length - 1]);
  const label = button.textContent;
  button.textContent = "Pause";
  button.setAttribute("aria-pressed", "true");
  let i = 0;
  player = { button, label, timer: setInterval(() => {
    apply(frames[i]);
    i += 1;
    if (i >= frames.length) stopPlayer();
  }, STEP_MS) };
  return undefined;
}

function playDay() {
  if (!doc) return;
  animate($("#play-time"), doc.snapshot_steps.map((_, t) => t),
    (t) => store.update({ time: t }, { history: "replace", refetch: false }));
}

// --- fetching and drawing ------------------------------------------------------------------------

// The documents a figure of the state's experiment is drawn from: that experiment's, and with needs.overlay the
// overlay's for the state now, or null (not arrived yet, or it could not be had).
function documentsFor(figure, main) {
  if (!figure.needs.overlay) return [main];
  const drawn = overlays.get(figure.id);
  return [main, drawn && drawn.key === overlayParams(figure, store.get()).toString() ? drawn.document : null];
}

// Draw a figure from its documents and the state now, with the note about saved results when one applies. A figure
// that fails to draw says so in its own place; the others are drawn all the same.
function render(figure, ...documents) {
  try {
    figure.draw(...documents, store.get());
  } catch (error) {
    status(figure.id, `This figure could not be drawn: ${error.message}.`, "error");
    return;
  }
  if (savedNote) status(figure.id, savedNote, "note");
  else status(figure.id, "");
}

// The figures that follow the view, redrawn from the document on show: all of them, or (changed: the view fields that
// changed) those whose needs.view names one of them; all but `drawn`, if given (drawn from this document already).
function renderView(changed = null, drawn = null) {
  if (!doc) return;
  fitView();
  syncViewControls();
  const follows = (figure) => figure !== drawn && figure.needs.view
    && (!changed || changed.some((name) => figure.needs.view.includes(name)));
  for (const figure of figures) if (follows(figure)) render(figure, ...documentsFor(figure, doc));
  if (!player) announceView();
}

// One sentence for screen readers after each change (not during an animation: once it stops).
function announceView(state = store.get()) {
  if (doc) announce(savedNote ?? `${state.width} lanes, step ${doc.snapshot_steps[state.time]}: ${meterText(doc, state).toLowerCase()}.`);
}

function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 0) return `The server could not be reached (${error.message}).`;
    if (error.status === 404) return `Not available here: ${error.message}.`;
    if (error.status === 422) return `These settings were refused: ${error.message}.`;
    if (error.status === 503) return `The server is busy: ${error.message}`;
    return `The computation failed: ${error.message}.`;
  }
  return `Something went wrong on this page (${error.message}); reloading may help.`;
}

// The kept experiment of params (getKeptDrift): the page's first, asked for while the figures were mounted, if these are
// its parameters, else asked for now.
function keptDrift(params, signal) {
  const first = firstKept;
  firstKept = null;
  return first?.params === params.toString() ? first.answer : getKeptDrift(params, signal);
}

// Fetch the state's experiment and draw it. options.job: the job of these settings has just finished (its result is
// now in the server's store), and the estimate on show still holds.
async function run(options = {}) {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const wasSaved = savedNote !== null;
  savedNote = null;
  const count = widthList(store.get()).length;
  const partial = { widths: [], snapshot_steps: [] };
  for (const figure of figures) status(figure.id, "Computing…", "busy");
  try {
    if (STATIC) {
      const preset = await savedPreset(store.get());
      if (!preset) throw new NeedsServer();
      const result = await getSavedDrift(preset, store.get().width);
      if (signal.aborted) return;
      shownScenario = preset;
      show(result);
      await Promise.all([showComparisons(signal, preset), showLoaded(signal)]);
      return;
    }
    // Another kernel width of the experiment on show is already computed: one cached, gzipped GET, no stream.
    const params = apiParams(store.get());
    const computed = doc !== null && !wasSaved && experimentOf(store.get()) === shownExperiment;
    // Kept by the server (a preset's, a job's): its one gzipped document, not the stream, which sends each width twice.
    // Asked for before the estimate, whose requests would otherwise keep the server busy first.
    const keptAnswer = computed ? null : keptDrift(params, signal);
    costing = computed || options.job ? costing : estimate(signal);
    const kept = await keptAnswer;
    const result = computed ? await getDrift(params, signal) : kept ?? await streamDrift(params, {
      signal,
      onWidth: (width) => {
        partial.widths.push(width);
        partial.widths.sort((a, b) => a.width - b.width);
        for (const figure of figures.filter((f) => f.needs.progress)) {
          status(figure.id, `Computing… ${partial.widths.length} of ${count} widths done`, "busy");
          try {
            figure.sketch(...documentsFor(figure, partial), store.get());
          } catch {
            // a sketch that fails is left out: the figure is drawn (or says why not) once the result is complete
          }
        }
      },
    });
    if (signal.aborted) return;
    shownExperiment = experimentOf(store.get());
    show(result);
    if (options.job) showJobResult();
    else {
      costing?.then((cost) => {
        if (!signal.aborted && cost?.runs === "job") showJobResult(); // computed by a job earlier
      });
    }
    await plotlyAsked(); // the charts' library first: then the other documents (figures/plot.js plotlyAsked)
    if (signal.aborted) return;
    await Promise.all([showOverlays(signal), showComparisons(signal, null), showLoaded(signal)]);
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    if (!STATIC && unreachable(error) && await showSaved(error, signal)) return;
    if (signal.aborted) return;
    doc = null; // the figures on show are stale: view changes must not redraw them over the message
    const cost = error.status === 422 ? await costing : null;
    if (signal.aborted) return;
    markStale(true);
    if (error instanceof NeedsServer) {
      await needsServer(error, signal);
      return;
    }
    if (cost?.runs === "job") { // said at the settings already (showEstimate), with the job's panel
      const text = jobOnly(cost);
      for (const figure of figures) status(figure.id, text, "note");
      return;
    }
    for (const figure of figures) status(figure.id, explain(error), "error");
    announce(explain(error));
  }
}

// Why no figure answers settings that run only as a job, said by each figure.
const jobOnly = (cost) => `These settings run as a job (about ${duration(cost.seconds_here)} on this server): the settings `
  + "panel starts it and shows its progress, and the figures are drawn when it is done.";

// Settings a saved copy holds no results for (error: NeedsServer) in a static copy: every figure says so and offers a
// saved scenario — the one drawn last, or the first saved — in its own message, so the way back is there whatever an
// embed hides or locks. A figure with nothing drawn yet folds its empty plot away; one drawn before stays, faded.
async function needsServer(error, signal) {
  const saved = await savedScenarios().catch(() => []);
  const back = shownScenario ?? saved[0] ?? null;
  const [title, backTitle] = await Promise.all([error.scenario && presetTitle(error.scenario), back && presetTitle(back)]);
  if (signal.aborted) return;
  const text = error.scenario
    ? `The scenario “${title}” runs as a job on the live server, too long to answer at once: this static copy holds no `
      + "results of it."
    : "This static copy holds the saved scenarios only: these settings need the live server.";
  for (const figure of figures) {
    status(figure.id, text, "note");
    if (back) document.querySelector(`[data-status="${figure.id}"]`).append(" ", wayBack(back, backTitle));
    const { element } = figure;
    const drawn = (element.data && element.data.length > 0) || element.dataset.drawn === "true";
    element.closest(".story-figure")?.classList.toggle("unavailable", !drawn);
  }
  announce(back ? `${text} Each figure links back to the scenario “${backTitle}”.` : text);
}

// A link to a saved scenario (id, its title), in an embed with the embed's own options: a click shows it on this page
// (a locked embed too: this is its way out); a click for a new tab or window opens its address there.
function wayBack(id, title) {
  const link = document.createElement("a");
  link.className = "way-back";
  link.href = `${location.pathname}?v=1&preset=${encodeURIComponent(id)}${embedded ? embedSuffix() : ""}`;
  link.textContent = `${id === shownScenario ? "Back to" : "Show"} the scenario “${title}”`;
  link.addEventListener("click", (event) => {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    applyPreset(id);
  });
  return link;
}

// The result of settings that run only as a job is on show: nothing is left to run at their control.
function showJobResult() {
  hideCostNote();
  jobs.computed(apiParams(store.get(), { kernel_width: null }));
}

// The experiment's complete drift document, drawn by every figure that needs it: those that follow the view last, by
// renderView(), which also announces it. The page's first document draws the page's first figure (the city, at the
// top) at once and every other figure once that one is painted: their specs, data tables and layouts would otherwise
// hold up its first paint. A document shown since then draws every figure at once.
function show(result) {
  doc = result;
  markStale(false);
  for (const element of document.querySelectorAll(".story-figure.unavailable")) element.classList.remove("unavailable");
  const drawTheRest = (drawn = null) => {
    if (doc !== result) return; // a later document, drawn by its own show()
    drawing.showDocument(result);
    for (const figure of figures) {
      if (figure.needs.document === "experiment" && !figure.needs.view) render(figure, ...documentsFor(figure, doc));
    }
    renderView(null, drawn);
  };
  const top = figures[0];
  if (firstShown || !top?.needs.view) { // (an embed of one chart has no city to paint first)
    firstShown = true;
    drawTheRest();
    return;
  }
  firstShown = true;
  const painted = afterPaint(); // asked for before the city asks for plotly.js once painted: the figures come first
  fitView();
  render(top, ...documentsFor(top, doc));
  painted.then(() => drawTheRest(top));
}

// Figures that answer other settings than the state's are faded (their status says why), never shown as its answer.
function markStale(stale) {
  for (const element of document.querySelectorAll(".story-figure")) element.classList.toggle("stale", stale);
}

// What the state's experiment would cost here, shown at the settings as soon as it is known (beside the experiment's
// own request, which the server refuses the same way when it does not run now), with the depth menu's verdicts and,
// for settings that run only as a job, the job's panel. Resolves with the estimate, or null when none could be had: then
// nothing is said (the experiment's request reports the failure).
async function estimate(signal) {
  if (!$("#cost-estimate")) return null; // an embed without its settings: nowhere to say it
  const state = store.get();
  const params = apiParams(state, { kernel_width: null });
  let cost = null;
  let depths;
  try {
    cost = await getCost(params, signal);
    depths = await depthVerdicts(state, cost, signal);
  } catch {
    cost = null; // no estimate: none shown
  }
  if (signal.aborted) return null;
  const note = showEstimate(cost, state, widthList(state), changedControl, depths);
  if (cost?.runs === "job") jobs.offer(params, note ?? $("#cost-estimate"));
  else jobs.hide();
  return cost;
}

// Each depth's verdict with the other settings kept (depth → "now", "job", "refused", "invalid": the core refuses it, or
// undefined: not known), for the depth menu's marks.
async function depthVerdicts(state, cost, signal) {
  const depths = [...($("#control-depth")?.options ?? [])].map((option) => Number(option.value));
  const verdicts = await Promise.all(depths.map(async (depth) => {
    if (depth === state.depth) return cost.runs;
    try {
      return (await getCost(apiParams({ ...state, depth }, { kernel_width: null }), signal)).runs;
    } catch (error) {
      if (error.name === "AbortError") throw error;
      return error.status === 422 ? "invalid" : undefined;
    }
  }));
  return new Map(depths.map((depth, i) => [depth, verdicts[i]]));
}

// The live API failed: if this state is exactly a scenario whose results were saved (a server started with
// LANES_FALLBACK_DIR), draw those and say so, until the next state change. False when nothing saved fits.
async function showSaved(error, signal) {
  const preset = await savedPreset(store.get());
  if (!preset || signal.aborted) return Boolean(preset);
  let result;
  let title;
  try {
    result = await getSavedDrift(preset, store.get().width);
    title = await presetTitle(preset);
  } catch {
    return signal.aborted;
  }
  if (signal.aborted) return true;
  const why = error.status === 503 ? "The server is busy" : "The server could not be reached";
  savedNote = `${why}, so this shows the saved results of the scenario “${title}”. `
    + "Changing the settings needs the server; the other scenarios still work.";
  show(result);
  await Promise.all([showComparisons(signal, preset), showLoaded(signal)]);
  return true;
}

// A figure's own documents (an overlay, a comparison, needs.load's) are asked for once it nears the viewport, when its
// chart is drawn (figures/plot.js nearView): a reader who stays at the top fetches none of those further down.
async function nearFigure(figure, signal) {
  await nearView(figure.element);
  return !signal.aborted;
}

// The overlays of the live experiment on show (needs.overlay), each fetched once and drawn when it arrives (a saved copy
// has none: those figures are drawn without). An overlay that is the experiment itself is not fetched again.
async function showOverlays(signal) {
  await Promise.all(figures.filter((figure) => figure.needs.overlay).map((figure) => showOverlay(figure, signal)));
}

async function showOverlay(figure, signal) {
  if (!await nearFigure(figure, signal)) return;
  const state = store.get();
  const params = overlayParams(figure, state);
  const key = params.toString();
  if (overlays.get(figure.id)?.key === key) return; // drawn with the document already
  status(figure.id, "Computing the experiment drawn over this one…", "busy");
  try {
    const overlay = key === apiParams(state, { kernel_width: null }).toString() ? doc : await getDrift(params, signal);
    if (signal.aborted) return;
    overlays.set(figure.id, { key, document: overlay });
    render(figure, ...documentsFor(figure, doc));
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    const job = await jobOnlyAlso(error, params, signal);
    if (signal.aborted) return;
    status(figure.id, `Drawn without the experiment that goes over it${job ? `, which ${job}.` : `. ${explain(error)}`}`, "note");
  }
}

// A second experiment a figure needs was refused (error): when it runs only as a job here, says so ("runs only as a
// job …"), else null. Its own job is not offered: the page runs one job, the experiment of the settings.
async function jobOnlyAlso(error, params, signal) {
  if (error.status !== 422) return null;
  const cost = await getCost(params, signal).catch(() => null);
  return cost?.runs === "job" ? `runs only as a job on this server (about ${duration(cost.seconds_here)})` : null;
}

// A figure that could not be drawn for the state is faded (its status says why), so its old drawing is not taken for
// the state's answer.
function fade(figure, faded) {
  figure.element.closest(".story-figure")?.classList.toggle("stale", faded);
}

// The figures that compare two scalings (needs.document "comparison"), once the drift document is on show; savedId:
// the saved scenario to read them from, or null for the live API.
async function showComparisons(signal, savedId) {
  await Promise.all(figures.filter((figure) => figure.needs.document === "comparison")
    .map((figure) => showComparison(figure, signal, savedId)));
}

async function showComparison(figure, signal, savedId) {
  if (!await nearFigure(figure, signal)) return;
  const state = store.get();
  let asking = null; // the parameters of the experiment asked for last
  const ntk = Object.entries(NTK_SCALING).every(([name, value]) => state[name] === value);
  try {
    if (savedId) { // every comparison of every saved scenario is saved, with the scenario under the NTK scaling
      const [base, other] = await getSavedComparison(savedId, state.compare);
      if (signal.aborted) return;
      fade(figure, false);
      render(figure, base, other);
      return;
    }
    asking = apiParams(state, { ...NTK_SCALING, kernel_width: null });
    const base = ntk ? doc : await getDrift(asking, signal);
    asking = apiParams(state, { ...figure.needs.scaling(state), kernel_width: null });
    const other = await getDrift(asking, signal);
    if (signal.aborted) return;
    fade(figure, false);
    render(figure, base, other);
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    fade(figure, true);
    const job = asking && await jobOnlyAlso(error, asking, signal);
    if (signal.aborted) return;
    if (job) status(figure.id, `Not drawn for these settings: it compares them with the same experiment under another scaling, which ${job}.`, "note");
    else status(figure.id, explain(error), "error");
  }
}

// Figures that fetch documents of their own (needs.load(state, signal): a promise of the documents they draw, asked of
// api.js), drawn once the experiment is on show, and asked for again only when needs.key(state) changes: the spectrum
// figures depend on the network's architecture alone, not on the experiment.
const loaded = new Map(); // figure id → the key of the documents it drew last

async function showLoaded(signal) {
  await Promise.all(figures.filter((figure) => figure.needs.load).map((figure) => showLoad(figure, signal)));
}

async function showLoad(figure, signal) {
  if (!await nearFigure(figure, signal)) return;
  const state = store.get();
  const key = figure.needs.key(state);
  if (loaded.get(figure.id) === key) { // drawn for these settings already
    status(figure.id, savedNote ?? "", savedNote ? "note" : "info");
    return;
  }
  try {
    const documents = await figure.needs.load(state, signal);
    if (signal.aborted) return;
    loaded.set(figure.id, key);
    fade(figure, false);
    render(figure, ...documents);
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    loaded.delete(figure.id);
    fade(figure, true);
    status(figure.id, error instanceof NeedsServer ? "This static copy holds this figure for the saved scenarios only: "
      + "these settings need the live server." : explain(error), error instanceof NeedsServer ? "note" : "error");
  }
}

// A displayed formula wider than its column scrolls sideways: let the keyboard reach it too (only those that overflow,
// so the others add no tab stop).
function reachOverflowingFormulas() {
  for (const formula of document.querySelectorAll(".formula")) {
    const overflows = formula.scrollWidth > formula.clientWidth;
    formula.toggleAttribute("tabindex", overflows);
    if (overflows) formula.setAttribute("tabindex", "0");
  }
}

async function start() {
  reachOverflowingFormulas();
  window.addEventListener("resize", reachOverflowingFormulas);
  // On a phone the figures come first: the settings start folded (one tap opens them).
  if ($("#controls-panel") && window.matchMedia("(max-width: 40rem)").matches) $("#controls-panel").open = false;
  reportHeight();
  const { state, given, problems } = linked;
  const scenario = state.preset ? await linkedScenario(state, given) : { changes: {}, problem: null };
  if (scenario.problem) problems.push(scenario.problem);
  if (problems.length) status("controls", problems.join(" "), "error");
  store.subscribe(onChange);
  // The first state: the controls show it and its experiment runs. A linked scenario's settings replace the URL's
  // entry; a link whose scenario could not be used keeps its URL until the next change.
  store.update(scenario.changes, { history: state.preset && !scenario.problem ? "replace" : "none" });
  wireControls(); // after the controls show the state: a locked embed's are then disabled, all of them
  nameFirstState();
}

start();
