// The page's controller: URL state → controls → API → figures. Figures are pure spec() functions in figures/*.js.
import {
  ApiError, NEEDS_SERVER, STATIC, driftParams, embedUrl, getDrift, getPresets, getStaticDrift, streamDrift, unreachable,
} from "./api.js";
import { EXPERIMENT_FIELDS as EXPERIMENT_KEYS, FIELDS, defaults, parseState, serializeState, widthList } from "./state.js";
import * as breaks from "./figures/breaks.js";
import * as drift from "./figures/drift.js";
import * as forecast from "./figures/forecast.js";
import * as maps from "./figures/maps.js";
import { announce, draw, status, summarize, tabulate } from "./figures/plot.js";
import * as ring from "./figures/ring.js";

const STEP_MS = 700;
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
const $ = (selector) => document.querySelector(selector);
const embedded = document.body.classList.contains("embed");
const locked = new URLSearchParams(location.search).get("lock") === "1"; // an embed whose state is fixed
const present = (id) => document.querySelector(`[data-figure="${id}"]`) !== null;

let state;
let doc = null;        // the last complete drift document
let controller = null; // aborts the requests of a superseded state
let player = null;     // the running animation, if any
let savedNote = null;  // set while the figures show saved results because the API failed
let shownExperiment = null; // experimentKey() of the live experiment on show

// --- controls ----------------------------------------------------------------------------------

function syncControls() {
  if (!$("#controls")) return; // an embed without its settings
  const widths = widthList(state);
  const widthsSelect = $("#control-widths");
  if (![...widthsSelect.options].some((o) => o.value === state.widths)) {
    widthsSelect.add(new Option(`${widths.join(", ")} lanes`, state.widths));
  }
  for (const name of [...EXPERIMENT_KEYS, "preset", "compare"]) {
    const control = document.getElementById(`control-${name}`);
    if (control) control.value = String(state[name]);
  }
  const range = $("#control-width");
  range.max = String(widths.length - 1);
  range.value = String(widths.indexOf(state.width));
  range.setAttribute("aria-valuetext", `${state.width} lanes`);
  $("#width-output").textContent = `× ${state.width} lanes`;
  $("#control-frequency").disabled = !["sin", "cos"].includes(state.target);
}

function syncViewControls() {
  if (!doc) return;
  state.district = Math.min(state.district, doc.gamma_train.length - 1);
  state.time = Math.min(state.time, doc.snapshot_steps.length - 1);
  if (!$("#control-district")) return;
  const district = $("#control-district");
  if (district.options.length !== doc.gamma_train.length) {
    district.replaceChildren(...doc.gamma_train.map((g, i) =>
      new Option(`district ${i + 1} (γ = ${Math.round((g * 180) / Math.PI)}°)`, String(i))));
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

function setState(changes, { history = "push", refetch = true } = {}) {
  if (refetch && Object.keys(changes).some((k) => EXPERIMENT_KEYS.includes(k))) stopPlayer();
  state = { ...state, ...changes };
  const url = stateUrl();
  if (history === "push") window.history.pushState(null, "", url);
  else window.history.replaceState(null, "", url);
  syncControls();
  if (refetch) run();
  else renderView();
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

function stateUrl() {
  return `${location.pathname}?${serializeState(state)}${embedded ? embedSuffix() : ""}`;
}

// An embed keeps its own hide= and lock= parameters when its state changes.
function embedSuffix() {
  const params = new URLSearchParams(location.search);
  const kept = ["hide", "lock"].filter((k) => params.has(k)).map((k) => `&${k}=${encodeURIComponent(params.get(k))}`);
  return kept.join("");
}

function wireControls() {
  $("#play-time")?.addEventListener("click", playDay);
  $("#play-widths")?.addEventListener("click", playWidths);
  $("#control-district")?.addEventListener("change", (event) => setState({ district: Number(event.target.value) }, { refetch: false }));
  $("#control-time")?.addEventListener("input", (event) => {
    stopPlayer();
    setState({ time: Number(event.target.value) }, { history: "replace", refetch: false });
  });
  $("#control-compare")?.addEventListener("change", (event) => setState({ compare: event.target.value }));
  for (const button of document.querySelectorAll("[data-embed]")) button.addEventListener("click", () => openEmbedDialog(button.dataset.embed));
  window.addEventListener("popstate", () => {
    stopPlayer();
    state = parseState(location.search).state;
    syncControls();
    run();
  });
  if (!$("#controls")) return;
  if (locked) {
    for (const control of $("#controls").elements) control.disabled = true;
    return;
  }
  $("#controls").addEventListener("submit", (event) => event.preventDefault());
  for (const name of EXPERIMENT_KEYS) {
    document.getElementById(`control-${name}`)?.addEventListener("change", (event) => {
      const value = readControl(name, event.target.value);
      if (value === undefined) return;
      status("controls", "");
      const changes = { [name]: value, preset: "" };
      if (name === "widths") {
        const widths = value.split(",").map(Number);
        if (!widths.includes(state.width)) changes.width = widths[Math.min(2, widths.length - 1)];
      }
      setState(changes);
    });
  }
  $("#control-width").addEventListener("input", (event) => {
    stopPlayer();
    setState({ width: widthList(state)[Number(event.target.value)] }, { history: "replace" });
  });
  $("#control-preset").addEventListener("change", (event) => event.target.value && applyPreset(event.target.value));
  for (const button of document.querySelectorAll("[data-try]")) {
    button.addEventListener("click", () => {
      applyPreset(button.dataset.try);
      $("#ring").scrollIntoView({ behavior: reducedMotion.matches ? "auto" : "smooth" });
    });
  }
}

let presets = null;
async function applyPreset(id) {
  let preset;
  try {
    preset = await findPreset(id);
  } catch (error) {
    status("controls", `The scenarios could not be loaded: ${error.message}.`, "error");
    return;
  }
  if (!preset) return;
  const changes = { ...scenarioSettings(preset), preset: id };
  changes.width = preset.query.kernel_width ?? widthList(changes)[0];
  changes.compare = state.compare;
  setState(changes);
}

// The scenario named id, from the API (or the saved copy), or null if there is none by that name; throws if the list
// cannot be loaded.
async function findPreset(id) {
  presets ??= await getPresets();
  return presets.find((p) => p.id === id) ?? null;
}

// Every state field at its default, and the scenario's experiment settings over them.
function scenarioSettings(preset) {
  const settings = defaults();
  for (const name of EXPERIMENT_KEYS) if (preset.query[name] !== undefined) settings[name] = preset.query[name];
  return settings;
}

// --- animations: never automatic, always stoppable, instant under reduced motion ----------------

function stopPlayer() {
  if (player) {
    clearInterval(player.timer);
    player.button.textContent = player.label;
    player.button.setAttribute("aria-pressed", "false");
    player = null;
    announceView();
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
  animate($("#play-time"), doc.snapshot_steps.map((_, t) => t), (t) => setState({ time: t }, { history: "replace", refetch: false }));
}

function playWidths() {
  animate($("#play-widths"), widthList(state), (width) => setState({ width }, { history: "replace" }));
}

// --- fetching and drawing ------------------------------------------------------------------------

function render(id, figure, args) {
  const element = document.querySelector(`[data-figure="${id}"]`);
  if (!element) return; // an embed shows one figure
  draw(element, figure.spec(...args));
  summarize(id, figure.summary(...args));
  const { columns, rows } = figure.table(...args);
  tabulate(id, columns, rows);
  if (savedNote) status(id, savedNote, "note");
  else status(id, "");
}

function renderView() {
  if (!doc) return;
  syncViewControls();
  for (const [id, figure] of [["ring", ring], ["maps", maps], ["forecast", forecast]]) render(id, figure, [doc, state]);
  if ($("#drift-meter")) $("#drift-meter").textContent = meterText();
  if (!player) announceView();
}

function meterText() {
  const moved = ring.driftAt(doc, state);
  return moved === null ? "Drift meter: diverged" : `Drift meter: ${(100 * moved).toFixed(1)} % since morning`;
}

// One sentence for screen readers after each change (not during an animation: once it stops).
function announceView() {
  if (doc) announce(savedNote ?? `${state.width} lanes, step ${doc.snapshot_steps[state.time]}: ${meterText().toLowerCase()}.`);
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

async function run() {
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  const wasSaved = savedNote !== null;
  savedNote = null;
  const count = widthList(state).length;
  const partial = { widths: [], snapshot_steps: [] };
  const shown = ["ring", "maps", "drift", "forecast", "breaks"].filter(present);
  for (const id of shown) status(id, "Computing…", "busy");
  try {
    if (STATIC) {
      const preset = await savedPreset();
      if (!preset) throw new ApiError(404, NEEDS_SERVER);
      const result = await getStaticDrift(preset, String(state.width), signal);
      if (signal.aborted) return;
      show(result);
      if (present("breaks")) await runComparison(signal, preset);
      return;
    }
    // Another kernel width of the experiment on show is already computed: one cached, gzipped GET, no stream.
    const computed = doc !== null && !wasSaved && experimentKey(state) === shownExperiment;
    const result = computed ? await getDrift(driftParams(state), signal) : await streamDrift(driftParams(state), {
      signal,
      onWidth: (width) => {
        partial.widths.push(width);
        partial.widths.sort((a, b) => a.width - b.width);
        if (!present("drift")) return;
        status("drift", `Computing… ${partial.widths.length} of ${count} widths done`, "busy");
        draw(document.querySelector('[data-figure="drift"]'), drift.spec(partial, state));
        summarize("drift", drift.summary(partial));
      },
    });
    if (signal.aborted) return;
    shownExperiment = experimentKey(state);
    show(result);
    if (present("breaks")) await runComparison(signal, null);
  } catch (error) {
    if (signal.aborted || error.name === "AbortError") return;
    if (!STATIC && unreachable(error) && await showSaved(error, signal)) return;
    if (signal.aborted) return;
    doc = null; // the figures on show are stale: view changes must not redraw them over the message
    for (const id of shown) status(id, explain(error), "error");
    announce(explain(error));
  }
}

function experimentKey(values) {
  return EXPERIMENT_KEYS.map((name) => String(values[name])).join("&");
}

function show(result) {
  doc = result;
  render("drift", drift, [doc, state]);
  renderView();
}

// The live API failed: if this state is exactly a scenario whose results were saved (a server started with
// LANES_FALLBACK_DIR), draw those and say so, until the next state change. False when nothing saved fits.
async function showSaved(error, signal) {
  const preset = await savedPreset();
  if (!preset || signal.aborted) return Boolean(preset);
  let result;
  let title;
  try {
    result = await getStaticDrift(preset, String(state.width), signal);
    title = await presetTitle(preset);
  } catch {
    return signal.aborted;
  }
  if (signal.aborted) return true;
  const why = error.status === 503 ? "The server is busy" : "The server could not be reached";
  savedNote = `${why}, so this shows the saved results of the scenario “${title}”. `
    + "Changing the settings needs the server; the other scenarios still work.";
  show(result);
  if (present("breaks")) await runComparison(signal, preset);
  return true;
}

async function presetTitle(id) {
  try {
    return (await findPreset(id))?.title ?? id;
  } catch {
    return id;
  }
}

// The saved scenario this state is exactly (every experiment setting equal to the scenario's), or null. The
// default experiment counts as the scenario "default"; a ?preset= whose settings were changed by hand does not count.
async function savedPreset() {
  let expected = defaults();
  if (state.preset) {
    let preset;
    try {
      preset = await findPreset(state.preset);
    } catch {
      return null;
    }
    if (!preset) return null;
    expected = scenarioSettings(preset);
  }
  return experimentKey(state) === experimentKey(expected) ? state.preset || "default" : null;
}

async function runComparison(signal, savedId) {
  const { overrides } = breaks.COMPARISONS[state.compare];
  if (savedId) {
    try {
      if (state.parameterization !== "ntk" || state.alpha !== 1) throw new ApiError(404, NEEDS_SERVER);
      render("breaks", breaks, [doc, await getStaticDrift(savedId, `compare-${state.compare}`, signal), state]);
    } catch (error) {
      if (!signal.aborted && error.name !== "AbortError") status("breaks", explain(error), "error");
    }
    return;
  }
  try {
    const base = state.parameterization === "ntk" && state.alpha === 1 ? doc
      : await getDrift(driftParams(state, { parameterization: "ntk", alpha: 1, kernel_width: null }), signal);
    const other = await getDrift(driftParams(state, { ...overrides, kernel_width: null }), signal);
    if (!signal.aborted) render("breaks", breaks, [base, other, state]);
  } catch (error) {
    if (!signal.aborted && error.name !== "AbortError") status("breaks", explain(error), "error");
  }
}

// --- embedding ---------------------------------------------------------------------------------

const EMBED_HEIGHTS = { ring: 760, maps: 980, drift: 820, forecast: 760, breaks: 720 };

function embedSnippet(figure) {
  const hide = [$("#embed-hide-controls").checked && "controls", $("#embed-hide-caption").checked && "caption"].filter(Boolean);
  const params = new URLSearchParams(serializeState(state));
  if (hide.length) params.set("hide", hide.join(","));
  if ($("#embed-lock").checked) params.set("lock", "1");
  const title = document.getElementById(`${figure}-title`)?.textContent.replace(/^\d+\. /, "") ?? figure;
  const src = embedUrl(figure, params);
  return `<iframe src="${src}" title="Infinite Lanes: ${title}" width="100%" height="${EMBED_HEIGHTS[figure] ?? 800}" ` +
    `loading="lazy" style="border: 0; max-width: 100%;"></iframe>`;
}

function openEmbedDialog(figure) {
  const dialog = $("#embed-dialog");
  const refresh = () => { $("#embed-snippet").value = embedSnippet(figure); };
  for (const box of dialog.querySelectorAll("input[type=checkbox]")) box.onchange = refresh;
  $("#embed-copy").onclick = async () => {
    try {
      await navigator.clipboard.writeText($("#embed-snippet").value);
      status("embed", "Copied.");
    } catch {
      $("#embed-snippet").select();
      status("embed", "Selected: press Ctrl+C (⌘C) to copy.");
    }
  };
  $("#embed-close").onclick = () => dialog.close();
  refresh();
  status("embed", "");
  dialog.showModal();
}

// Inside an iframe: tell the host page our height whenever it changes, so it can size the frame.
// Message: { type: "infinite-lanes:resize", height: <CSS pixels>, figure: <id> } (README: "Embedding").
function reportHeight() {
  if (window.parent === window) return;
  const figure = location.pathname.split("/").pop();
  const send = () => window.parent.postMessage(
    { type: "infinite-lanes:resize", height: Math.ceil(document.documentElement.scrollHeight), figure }, "*");
  new ResizeObserver(send).observe(document.body);
  send();
}

// A ?preset= link names a scenario: the scenario supplies every experiment setting the link does not give itself.
// A link that also changes one of the scenario's settings keeps the change and loses the scenario's name.
async function applyLinkedPreset(given, problems) {
  let preset;
  try {
    preset = await findPreset(state.preset);
  } catch (error) {
    problems.push(`The scenario “${state.preset}” could not be loaded (${error.message}).`);
    state.preset = "";
    return;
  }
  if (!preset) {
    problems.push(`Ignored preset: there is no scenario “${state.preset}”.`);
    state.preset = "";
    return;
  }
  const scenario = scenarioSettings(preset);
  for (const name of EXPERIMENT_KEYS) if (!given.has(name)) state[name] = scenario[name];
  const widths = widthList(state);
  if (!given.has("width") || !widths.includes(state.width)) {
    state.width = widths.includes(preset.query.kernel_width) ? preset.query.kernel_width : widths[0];
  }
  if (experimentKey(state) !== experimentKey(scenario)) state.preset = "";
  window.history.replaceState(null, "", stateUrl());
}

async function start() {
  // On a phone the figures come first: the settings start folded (one tap opens them).
  if ($("#controls-panel") && window.matchMedia("(max-width: 40rem)").matches) $("#controls-panel").open = false;
  reportHeight();
  const parsed = parseState(location.search);
  state = parsed.state;
  if (state.preset) await applyLinkedPreset(parsed.given, parsed.problems);
  if (parsed.problems.length) status("controls", parsed.problems.join(" "), "error");
  syncControls();
  wireControls();
  run();
}

start();
