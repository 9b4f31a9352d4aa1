// The page's first experiment, asked for as soon as the three modules that name it have arrived: templates/base.html
// runs this module `async`, ahead of main.js, which waits for some forty modules and for the document to be parsed.
// A kept experiment (api.js getKeptDrift) is then on its way while the rest of the page loads; main.js takes the
// answer if its state is still the one the URL named. A scenario's link waits for the scenarios: it is asked for later.
import { STATIC, getKeptDrift } from "./api.js";
import { apiParams } from "./scenarios.js";
import { parseState } from "./state.js";

function ask() {
  const { state } = parseState(location.search);
  if (STATIC || state.preset) return null;
  const params = apiParams(state);
  return { params: params.toString(), answer: getKeptDrift(params, undefined, "high") }; // before the figures' modules
}

// { params: the API parameters as a query string, answer: a promise of the kept document or null } or null.
export const firstExperiment = ask();
