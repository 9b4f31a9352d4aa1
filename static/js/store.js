// The page's one state (the fields of state.js) and the one path by which it changes.
// The state is frozen: a direct write throws, so no change can skip the URL, the controls or the figures.

// get() → the state now; update(changes, options) → a new state with changes over it, then every listener is called
// with { state, previous, changes, options }; subscribe(listener) adds one. options mean what the listeners make of
// them (main.js: history, refetch, silent).
export function createStore(initial) {
  let state = Object.freeze({ ...initial });
  const listeners = [];
  return {
    get: () => state,
    update(changes, options = {}) {
      const previous = state;
      state = Object.freeze({ ...state, ...changes });
      for (const listener of listeners) listener({ state, previous, changes, options });
    },
    subscribe(listener) {
      listeners.push(listener);
    },
  };
}
