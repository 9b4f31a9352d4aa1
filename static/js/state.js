// All page state and its round trip through the URL (versioned: v=1). The parameters — names, kinds, ranges,
// choices, defaults — are declared once on the server (app/parameters.py) and arrive as the page's JSON block
// #parameters; nothing here repeats them. Unknown keys are ignored; a bad value falls back to its default and is
// reported, never silently clamped.

const STATE_VERSION = "1";

const TABLE = JSON.parse(document.getElementById("parameters").textContent);

// name → { type: { kind, min, max, values, maxCount, pattern }, default, label, unit }, in URL order.
export const FIELDS = Object.fromEntries(Object.entries(TABLE.fields).map(([name, entry]) => {
  const { default: fallback, label, unit, pattern, ...type } = entry;
  return [name, { type: { ...type, pattern: pattern && new RegExp(pattern) }, default: fallback, label, unit }];
}));

// The fields that name an experiment (what the API computes); the others only choose what the page shows.
export const EXPERIMENT_FIELDS = TABLE.experiment;

// Defaults of API parameters the page does not keep in its state.
export const API_DEFAULTS = TABLE.defaults;

// How many knots the page's drawings have (a drawing in a link may have any count the API takes).
export const KNOTS = TABLE.knots;

// 'When the analogy breaks': the settings of the NTK scaling every comparison is drawn against, and each comparison
// (compare's values) → { legend, overrides }: the experiment settings it changes.
export const NTK_SCALING = TABLE.ntk_scaling;
export const COMPARISONS = TABLE.comparisons;

export function defaults() {
  return Object.fromEntries(Object.entries(FIELDS).map(([name, field]) => [name, field.default]));
}

function parseWidths(type, raw) {
  if (!type.pattern.test(raw)) return undefined;
  const list = raw.split(",").map(Number);
  const increasing = list.every((n, i) => n >= type.min && n <= type.max && (i === 0 || n > list[i - 1]));
  return increasing ? raw : undefined;
}

// A list of numbers (a drawing's knots): the declared form, count and range, or undefined.
function parseNumbers(type, raw) {
  if (!type.pattern.test(raw)) return undefined;
  const list = raw.split(",").map(Number);
  const counted = list.length >= (type.minCount ?? 1) && list.length <= (type.maxCount ?? Infinity);
  return counted && list.every((v) => Number.isFinite(v) && v >= type.min && v <= type.max) ? raw : undefined;
}

function parseValue(type, raw) {
  switch (type.kind) {
    case "int": {
      if (!/^-?\d{1,10}$/.test(raw)) return undefined;
      const value = Number(raw);
      return value >= type.min && value <= type.max ? value : undefined;
    }
    case "float": {
      if (!/^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(raw)) return undefined;
      const value = Number(raw);
      return Number.isFinite(value) && value >= type.min && value <= type.max ? value : undefined;
    }
    case "choice":
      return type.values.includes(raw) ? raw : undefined;
    case "widths":
      return parseWidths(type, raw);
    case "numbers":
      return parseNumbers(type, raw);
    default:
      return type.pattern.test(raw) ? raw : undefined;
  }
}

function describeRange(type) {
  if (type.kind === "int" || type.kind === "float") return `a number from ${type.min} to ${type.max}`;
  if (type.kind === "choice") return `one of ${type.values.join(", ")}`;
  if (type.kind === "widths") return `up to ${type.maxCount} increasing widths from ${type.min} to ${type.max}, separated by commas`;
  if (type.kind === "numbers") {
    return `${type.minCount} to ${type.maxCount} numbers from ${type.min} to ${type.max} with at most two decimals, separated by commas`;
  }
  return "letters, digits and dashes";
}

// URLSearchParams → { state, problems, given }: problems are plain sentences about ignored values; given holds
// the names whose values were taken from the URL.
export function parseState(search) {
  const params = new URLSearchParams(search);
  const state = defaults();
  const problems = [];
  const given = new Set();
  for (const [name, field] of Object.entries(FIELDS)) {
    const all = params.getAll(name);
    if (all.length === 0) continue;
    const raw = all[all.length - 1];
    const value = parseValue(field.type, raw);
    if (value === undefined) {
      problems.push(`Ignored ${name}: expected ${describeRange(field.type)}.`);
    } else {
      state[name] = value;
      given.add(name);
    }
  }
  // A drawn target needs its drawing, and a drawing is only used with it (as the API says).
  if (state.target === "drawn" && state.drawing === FIELDS.drawing.default) {
    if (given.has("target")) problems.push("Ignored target drawn: the link gives no valid drawing.");
    state.target = FIELDS.target.default;
    given.delete("target");
  } else if (state.target !== "drawn" && state.drawing !== FIELDS.drawing.default) {
    problems.push("Ignored drawing: it is used only with target drawn.");
    state.drawing = FIELDS.drawing.default;
    given.delete("drawing");
  }
  const widths = state.widths.split(",").map(Number);
  if (!widths.includes(state.width)) {
    if (params.has("width")) problems.push(`Ignored width ${state.width}: it is not one of the widths compared.`);
    state.width = widths.includes(FIELDS.width.default) ? FIELDS.width.default : widths[0];
    given.delete("width");
  }
  return { state, problems, given };
}

// State → query string holding only what differs from the defaults, plus the version.
export function serializeState(state) {
  const params = new URLSearchParams({ v: STATE_VERSION });
  for (const [name, field] of Object.entries(FIELDS)) {
    if (state[name] !== field.default && state[name] !== null) params.set(name, String(state[name]));
  }
  return params.toString();
}

export function widthList(state) {
  return state.widths.split(",").map(Number);
}
