// The page's first experiment, asked for as soon as the three modules that name it have arrived: templates/base.html
// runs this module `async`, ahead of main.js, which waits for some forty modules and for the document to be parsed.
// A kept experiment (api.js getKeptDrift) is then on its way while the rest of the page loads; main.js takes the
// answer if its state is still the one the URL named. The bare page's experiment is on its way sooner still: the
// server preloads it from the page's head, and this fetch takes the preload. A scenario's link waits for the
// scenarios: it is asked for later.
import { STATIC, getKeptDrift, keptDriftUrl } from "./api.js";
import { apiParams } from "./scenarios.js";
import { parseState } from "./state.js";

function ask() {
  const { state } = parseState(location.search);
  if (STATIC || state.preset) return null;
  const params = apiParams(state);
  return { params: params.toString(), answer: getKeptDrift(preloaded(params), undefined, "high") }; // before the figures' modules
}

// The parameters of the server's preload (templates/base.html: the bare page's experiment, on its way since the head
// was parsed) when they are params, whatever their order, so the fetch takes what the preload brings; else params.
function preloaded(params) {
  const link = document.getElementById("first-experiment");
  if (link === null) return params;
  const sent = new URL(link.href).searchParams;
  const names = new Set([...sent.keys(), ...params.keys()]);
  const same = [...names].every((name) => sent.get(name) === params.get(name));
  return same && keptDriftUrl(sent) === link.href ? sent : params;
}

// { params: the API parameters as a query string, answer: a promise of the kept document or null } or null.
export const firstExperiment = ask();
