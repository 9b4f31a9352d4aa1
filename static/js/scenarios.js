// The named scenarios (the API's presets): found by id, spread over the defaults, and matched against a state.
import { driftParams, getPresets } from "./api.js";
import { API_DEFAULTS, EXPERIMENT_FIELDS, defaults, widthList } from "./state.js";

let presets = null; // the list, once loaded; a failed load is tried again at the next call

// The scenario named id, from the API (or the saved copy), or null if there is none by that name; throws if the list
// cannot be loaded.
export async function findPreset(id) {
  return (await loadPresets()).find((p) => p.id === id) ?? null;
}

// The list of scenarios, loaded once; throws if it cannot be loaded.
export async function loadPresets() {
  presets ??= await getPresets();
  return presets;
}

// Every state field at its default, and the scenario's experiment settings over them.
export function scenarioSettings(preset) {
  const settings = defaults();
  for (const name of EXPERIMENT_FIELDS) if (preset.query[name] !== undefined) settings[name] = preset.query[name];
  return settings;
}

// The experiment's parameters the state's scenario sets away from their defaults that the page's state does not hold
// (Jacot et al.'s one seed per width, say), sent with its experiment: {} when the state names no scenario, or before
// the list is loaded.
export function offPageSettings(state) {
  const preset = state.preset ? presets?.find((p) => p.id === state.preset) : null;
  const settings = {};
  for (const [name, value] of Object.entries(preset?.query ?? {})) {
    if (name in API_DEFAULTS && value !== API_DEFAULTS[name]) settings[name] = value;
  }
  return settings;
}

// The API parameters of the state's experiment, its scenario's off-page settings included (with overrides: null drops
// one).
export const apiParams = (state, overrides = {}) => driftParams(state, { ...offPageSettings(state), ...overrides });

// What names the experiment of a state: two states with the same key are computed by the same API request.
export function experimentKey(values) {
  return EXPERIMENT_FIELDS.map((name) => String(values[name])).join("&");
}

// The scenario whose experiment settings these are, every one of them (the default experiment is the scenario
// "default"), by id; null when there is none, or while the list is not loaded yet (loadPresets() loads it).
export function matchingPreset(state) {
  const key = experimentKey(state);
  return presets?.find((p) => experimentKey(scenarioSettings(p)) === key)?.id ?? null;
}

export async function presetTitle(id) {
  try {
    return (await findPreset(id))?.title ?? id;
  } catch {
    return id;
  }
}

// The saved scenario this state is exactly (every experiment setting equal to the scenario's), or null. The
// default experiment counts as the scenario "default"; a ?preset= whose settings were changed by hand does not count.
export async function savedPreset(state) {
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

// A ?preset= link names a scenario: the scenario supplies every experiment setting the link does not give itself
// (given: the names the URL set). A link that also changes one of the scenario's settings keeps the change and loses
// the scenario's name. → { changes, problem }: what to change in the linked state (changes.preset "" when the link's
// scenario cannot be used), and a sentence saying why not, or null.
export async function linkedScenario(state, given) {
  let preset;
  try {
    preset = await findPreset(state.preset);
  } catch (error) {
    return { changes: { preset: "" }, problem: `The scenario “${state.preset}” could not be loaded (${error.message}).` };
  }
  if (!preset) return { changes: { preset: "" }, problem: `Ignored preset: there is no scenario “${state.preset}”.` };
  const scenario = scenarioSettings(preset);
  const changes = {};
  for (const name of EXPERIMENT_FIELDS) if (!given.has(name)) changes[name] = scenario[name];
  const linked = { ...state, ...changes };
  const widths = widthList(linked);
  if (!given.has("width") || !widths.includes(linked.width)) {
    changes.width = widths.includes(preset.query.kernel_width) ? preset.query.kernel_width : widths[0];
  }
  if (experimentKey(linked) !== experimentKey(scenario)) changes.preset = "";
  return { changes, problem: null };
}
