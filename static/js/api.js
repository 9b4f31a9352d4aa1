// The only module that knows the API's URLs and its error shapes — and, in a static export, the data files.
import { API_DEFAULTS, EXPERIMENT_FIELDS } from "./state.js";

const ROOT = document.body.dataset.root ?? "/";
export const STATIC = document.body.hasAttribute("data-static");
const DRIFT = `${ROOT}api/v1/experiments/drift`;
const JOBS = `${ROOT}api/v1/jobs`;
const SPECTRUM = `${ROOT}api/v1/spectrum`;
const SPECTRAL_BIAS = `${ROOT}api/v1/spectral-bias`;

export class ApiError extends Error {
  constructor(status, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

// Page state (plus overrides) → the drift endpoint's query parameters.
export function driftParams(state, overrides = {}) {
  const params = new URLSearchParams();
  for (const name of EXPERIMENT_FIELDS) params.set(name, String(state[name]));
  if (state.target !== "sin" && state.target !== "cos") params.delete("frequency");
  if (state.target !== "drawn" || state.drawing === null) params.delete("drawing"); // sent only with its target
  params.set("snapshots", String(Math.min(API_DEFAULTS.snapshots, state.steps + 1)));
  params.set("kernel_width", String(state.width));
  for (const [name, value] of Object.entries(overrides)) {
    if (value === null) params.delete(name);
    else params.set(name, String(value));
  }
  return params;
}

// fetch() that reports a network failure as ApiError(0) (aborts stay AbortError), so callers tell "the server could not
// be reached" apart from a bug on the page.
async function request(url, options = {}) {
  try {
    return await fetch(url, options);
  } catch (error) {
    throw asNetworkError(error, error.message);
  }
}

// A failure of the connection as ApiError(0, message); an abort stays what it is.
function asNetworkError(error, message) {
  return error.name === "AbortError" ? error : new ApiError(0, message);
}

async function errorFrom(response) {
  let message = `the server answered ${response.status}`;
  try {
    const body = await response.json();
    if (Array.isArray(body.detail)) message = body.detail.map((d) => d.msg.replace(/^Value error, /, "")).join("; ");
    else if (typeof body.detail === "string") message = body.detail;
  } catch {
    // keep the status line
  }
  return new ApiError(response.status, message, response.headers.get("Retry-After"));
}

// What the experiment of these parameters would cost on this server, and the nearest settings that fit (no training).
// A request's JSON answer, or the ApiError its status and message make.
async function requestJson(url, options = {}) {
  const response = await request(url, options);
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

export const getCost = (params, signal) => requestJson(`${DRIFT}/cost?${params}`, { signal });

export const getDrift = (params, signal) => requestJson(`${DRIFT}?${params}`, { signal });

// The experiment if the server has computed it already (it computes its presets' at start-up), else null, and nothing is
// computed for it (the kept address answers 204). A refusal or failure is null too: the stream asked next says why.
// Asked only from the API's own origin: elsewhere (an embed in a sandboxed frame, origin "null") its answer is
// readable only where LANES_CORS_ORIGINS allows, and the stream asked next is what such a page needs anyway.
export async function getKeptDrift(params, signal, priority = "auto") {
  if (self.origin !== new URL(DRIFT, location.href).origin) return null;
  try {
    const response = await request(keptDriftUrl(params), { signal, priority });
    return response.status === 200 ? await response.json() : null;
  } catch (error) {
    if (error.name === "AbortError") throw error;
    return null;
  }
}

// The kept address of params: the one the bare page preloads (templates/base.html, static/js/first.js).
export const keptDriftUrl = (params) => new URL(`${DRIFT}/kept?${params}`, location.href).href;

// Server-Sent Events over fetch (so errors keep their status and message): onWidth(width) per finished
// width, then resolves with the whole document.
export async function streamDrift(params, { onWidth, signal }) {
  const response = await request(`${DRIFT}/stream?${params}`, { signal, headers: { Accept: "text/event-stream" } });
  if (!response.ok) throw await errorFrom(response);
  let result = null;
  await readEvents(response, (event, data) => {
    if (event === "width") onWidth(data);
    else if (event === "error") throw new ApiError(503, data.detail, data.retry_after);
    else if (event === "result") result = data;
    return result !== null;
  });
  if (result === null) throw new ApiError(0, "the stream ended before the result arrived");
  return result;
}

// --- jobs: an experiment too long for one request, queued and run by the server (its result kept for GET …/drift) ---

// A JobStatus: { id, state: "queued" | "running" | "done" | "failed" | "cancelled", position, wait_seconds, progress:
// { widths_done, widths, width, step, steps, fraction }, estimate_seconds, elapsed_seconds, detail, query, result }.
export const FINISHED = ["done", "failed", "cancelled"];


// Queue the experiment of these parameters as a job (or join it: the same client asking again gets the same job, and
// clients asking for the same experiment share one). ApiError 422 (over the job budget), 429 (this client has too many
// jobs) and 503 (the queue is full) carry the server's words, the last two a Retry-After.
export const startJob = (params, signal) => requestJson(`${JOBS}?${params}`, { method: "POST", signal });

export const getJob = (id, signal) => requestJson(`${JOBS}/${encodeURIComponent(id)}`, { signal });

export const cancelJob = (id) => requestJson(`${JOBS}/${encodeURIComponent(id)}`, { method: "DELETE" });

// The job's changes as Server-Sent Events over fetch: onStatus(status) per change; resolves with the last status when
// the server ends the stream (after a finished state), ApiError(0) if the connection breaks.
export async function followJob(id, { onStatus, signal }) {
  const url = `${JOBS}/${encodeURIComponent(id)}/events`;
  const response = await request(url, { signal, headers: { Accept: "text/event-stream" } });
  if (!response.ok) throw await errorFrom(response);
  let last = null;
  await readEvents(response, (event, data) => {
    if (event !== "status") return false;
    last = data;
    onStatus(data);
    return FINISHED.includes(data.state);
  });
  return last;
}

// Read a response's Server-Sent Events, calling onEvent(name, data) for each until it returns true (then the stream
// is left) or the stream ends; a broken connection is ApiError(0).
async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (error) {
      throw asNetworkError(error, `the connection broke: ${error.message}`);
    }
    if (chunk.done) return;
    buffer += chunk.value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      if (event && onEvent(event, JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null"))) {
        reader.cancel().catch(() => {});
        return;
      }
    }
  }
}

// The scenarios: from the API, or from the saved copy beside the page (a static export, or a server whose
// API cannot be reached but which serves an export's data/ folder: setting LANES_FALLBACK_DIR).
export async function getPresets() {
  let failure = null;
  if (!STATIC) {
    try {
      const response = await request(`${ROOT}api/v1/presets`);
      if (response.ok) return await response.json();
      failure = await errorFrom(response);
    } catch (error) {
      failure = error; // unreachable, or not JSON: try the saved copy
    }
  }
  const response = await request(`${ROOT}data/presets.json`);
  if (!response.ok) throw failure ?? await errorFrom(response);
  return response.json();
}

// Whether an error means the API is down or too busy (then saved results may stand in), not that the request was wrong.
export function unreachable(error) {
  return error instanceof ApiError && [0, 502, 503, 504].includes(error.status);
}

// --- saved results: a static export's data/ folder, or a server's fallback copy of one (LANES_FALLBACK_DIR) ---------

// Settings this copy holds no results for: scenario, a scenario of the live server that runs there as a job (its id),
// or null (settings that are no saved scenario).
export class NeedsServer extends ApiError {
  constructor(scenario = null) {
    super(404, "these settings need the live server");
    this.scenario = scenario;
  }
}

const DATA = `${ROOT}data/`;
const savedFiles = new Map(); // file under data/ → a promise of its JSON: each is read once per page (a failed read, again)

function readSaved(name) {
  if (!savedFiles.has(name)) {
    const reading = requestJson(`${DATA}${name}`);
    reading.catch(() => savedFiles.delete(name));
    savedFiles.set(name, reading);
  }
  return savedFiles.get(name);
}

// data/index.json (app/export.py writes it): { scenarios: { id: its files }, live_only: { id: why (job) } }.
const savedIndex = () => readSaved("index.json");

// The saved files of a scenario; throws NeedsServer if it has none.
async function savedScenario(preset) {
  const index = await savedIndex();
  const files = index.scenarios[preset];
  if (!files) throw new NeedsServer(preset in index.live_only ? preset : null);
  return files;
}

// The ids of the scenarios whose results are saved, in the order of data/index.json.
export async function savedScenarios() {
  return Object.keys((await savedIndex()).scenarios);
}

// A saved scenario's drift document with the kernel of this width: its experiment, written once, and the width's
// kernel, each in its own file. NeedsServer for a width it has no kernel of.
export async function getSavedDrift(preset, width) {
  const files = await savedScenario(preset);
  if (!files.kernels[width]) throw new NeedsServer();
  const [experiment, kernel] = await Promise.all([readSaved(files.experiment), readSaved(files.kernels[width])]);
  return { ...experiment, query: { ...experiment.query, kernel_width: kernel.width }, kernel };
}

// The two documents of a saved scenario's comparison in 'When the analogy breaks': the scenario under the NTK scaling,
// and under the scaling compare names (app/parameters.py COMPARISONS).
export async function getSavedComparison(preset, compare) {
  const files = await savedScenario(preset);
  return Promise.all([readSaved(files.ntk_scaling), readSaved(files.comparisons[compare])]);
}

// --- the kernels' spectrum on the ring: documents of the architecture alone, not of an experiment ----------------

// The network's fields of a state (plus overrides), in the order app/export.py names the saved copies of these
// documents: the infinite-width kernels depend on nothing else.
export function architectureParams(state, overrides = {}) {
  const params = new URLSearchParams();
  for (const name of ["depth", "activation", "w_std", "b_std"]) params.set(name, String(overrides[name] ?? state[name]));
  return params;
}

// The spectrum of the NTK and the NNGP on the ring (GET /api/v1/spectrum) for these architecture parameters.
export const getSpectrum = (params, signal) => getDocument(SPECTRUM, params, signal);

// Networks trained on several frequencies against the kernel's forecast (GET /api/v1/spectral-bias): the
// architecture's parameters and the state's seed, every other setting the endpoint's default.
export const getSpectralBias = (params, signal) => getDocument(SPECTRAL_BIAS, params, signal);

// A GET of the API, or in a static copy the file data/index.json names for that path and query (its "documents"):
// NeedsServer when it holds none. A live API that cannot be reached or is too busy is answered from the saved copy
// beside the page when there is one (a server started with LANES_FALLBACK_DIR), as the scenarios are.
async function getDocument(url, params, signal) {
  const key = `${url.slice(ROOT.length)}?${params}`;
  if (STATIC) return savedDocument(key);
  try {
    return await whenNotBusy(() => requestJson(`${url}?${params}`, { signal }), signal);
  } catch (error) {
    if (!unreachable(error)) throw error;
    return savedDocument(key).catch(() => { throw error; });
  }
}

// ask(), asked again after the wait the server names while it answers that its queue is full (503 with Retry-After, at
// most BUSY_TRIES times, each wait at most BUSY_WAIT_S). A figure's documents come in bursts — the zoo asks for eight
// at once, more than an idle server admits (max_concurrent + max_queued: 5 by default) — so a single reader must not
// be shown the server's refusal of the page's own burst.
const BUSY_TRIES = 4;
const BUSY_WAIT_S = 15;

async function whenNotBusy(ask, signal) {
  for (let tries = 1; ; tries += 1) {
    try {
      return await ask();
    } catch (error) {
      if (tries >= BUSY_TRIES || !(error instanceof ApiError) || error.status !== 503 || !error.retryAfter) throw error;
      await pause(Math.min(Number(error.retryAfter), BUSY_WAIT_S) * 1000, signal);
    }
  }
}

// A promise kept after ms milliseconds, or broken with the signal's reason when it aborts first.
function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

async function savedDocument(key) {
  const file = (await savedIndex()).documents?.[key];
  if (!file) throw new NeedsServer();
  return readSaved(file);
}

// Where the embeds live: /embed/<figure> on the server, embed/<figure>/ in a static export.
export function embedUrl(figure, query) {
  return new URL(`${ROOT}embed/${figure}${STATIC ? "/" : ""}?${query}`, location.href).href;
}
