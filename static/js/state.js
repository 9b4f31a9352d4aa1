// All page state, declared once, and its round trip through the URL (versioned: v=1).
// Unknown keys are ignored; a bad value falls back to its default and is reported, never silently clamped.

export const STATE_VERSION = "1";

const int = (min, max) => ({ kind: "int", min, max });
const float = (min, max) => ({ kind: "float", min, max });
const oneOf = (...values) => ({ kind: "enum", values });

export const WIDTH_SETS = [
  "16,32,64,128,256,512,1024,2048,4096",
  "64,256,1024,4096",
  "16,64,256,1024",
  "32,4096",
];

// name → { type, default }. Names match the API's query parameters where they are the same thing.
export const FIELDS = {
  preset: { type: { kind: "string", pattern: /^[a-z0-9-]{0,40}$/ }, default: "" },
  widths: { type: { kind: "widths" }, default: WIDTH_SETS[0] },
  width: { type: int(1, 8192), default: 64 },
  depth: { type: int(1, 3), default: 1 },
  activation: { type: oneOf("relu", "erf"), default: "relu" },
  w_std: { type: float(0.01, 4), default: 1 },
  b_std: { type: float(0, 4), default: 0.1 },
  parameterization: { type: oneOf("ntk", "mean_field", "standard"), default: "ntk" },
  alpha: { type: float(0.01, 100), default: 1 },
  learning_rate: { type: float(0.000001, 100), default: 1 },
  steps: { type: int(1, 10000), default: 500 },
  districts: { type: int(1, 128), default: 8 },
  target: { type: oneOf("sin", "cos", "xy", "bump", "step"), default: "sin" },
  frequency: { type: int(0, 16), default: 1 },
  seed: { type: int(0, 2147483647), default: 0 },
  district: { type: int(0, 127), default: 4 },
  time: { type: int(0, 40), default: 5 },
  compare: { type: oneOf("mean_field", "alpha", "standard"), default: "mean_field" },
};

// The fields that name an experiment (what the API computes); the others only choose what the page shows.
export const EXPERIMENT_FIELDS = ["widths", "depth", "activation", "w_std", "b_std", "parameterization", "alpha",
  "learning_rate", "steps", "districts", "target", "frequency", "seed"];

export function defaults() {
  return Object.fromEntries(Object.entries(FIELDS).map(([name, field]) => [name, field.default]));
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
    case "enum":
      return type.values.includes(raw) ? raw : undefined;
    case "widths": {
      if (!/^\d{1,4}(,\d{1,4}){0,11}$/.test(raw)) return undefined;
      const list = raw.split(",").map(Number);
      const increasing = list.every((n, i) => n >= 1 && n <= 8192 && (i === 0 || n > list[i - 1]));
      return increasing ? raw : undefined;
    }
    default:
      return type.pattern.test(raw) ? raw : undefined;
  }
}

export function describeRange(type) {
  if (type.kind === "int" || type.kind === "float") return `a number from ${type.min} to ${type.max}`;
  if (type.kind === "enum") return `one of ${type.values.join(", ")}`;
  if (type.kind === "widths") return "up to 12 increasing widths from 1 to 8192, separated by commas";
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
    if (state[name] !== field.default) params.set(name, String(state[name]));
  }
  return params.toString();
}

export function widthList(state) {
  return state.widths.split(",").map(Number);
}
