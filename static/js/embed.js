// Embedding: the Embed dialog's <iframe> snippet on the page; inside an iframe, the height messages to the host page
// and the embed's own URL parameters.
import { embedUrl } from "./api.js";
import { status } from "./figures/plot.js";
import { serializeState } from "./state.js";

const $ = (selector) => document.querySelector(selector);
const CARD_HEIGHT = 700; // pixels a card adds above its figure in a typical frame

// The snippet for the figure of this Embed button, showing state; its height is its section's data-embed-height
// (templates/sections/*.html).
function embedSnippet(button, state) {
  const figure = button.dataset.embed;
  const hide = [$("#embed-hide-controls").checked && "controls", $("#embed-hide-caption").checked && "caption"].filter(Boolean);
  const params = new URLSearchParams(serializeState(state));
  if (hide.length) params.set("hide", hide.join(","));
  if ($("#embed-lock").checked) params.set("lock", "1");
  if ($("#embed-card").checked) params.set("card", "1");
  const title = document.getElementById(`${figure}-title`)?.textContent.replace(/^\d+\. /, "") ?? figure;
  const src = embedUrl(figure, params);
  // With its card the figure sits lower: a first guess at the height, which the embed's height messages correct.
  const height = Number(button.closest("[data-embed-height]").dataset.embedHeight) + ($("#embed-card").checked ? CARD_HEIGHT : 0);
  return `<iframe src="${src}" title="Infinite Lanes: ${title}" width="100%" height="${height}" ` +
    `loading="lazy" style="border: 0; max-width: 100%;"></iframe>`;
}

// Open the dialog for an Embed button; store.get() is the state the snippet shows when it is written.
export function openEmbedDialog(button, store) {
  const dialog = $("#embed-dialog");
  const refresh = () => { $("#embed-snippet").value = embedSnippet(button, store.get()); };
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
// Message: { type: "infinite-lanes:resize", height: <CSS pixels>, figure: <id> } (docs/embedding.md).
export function reportHeight() {
  if (window.parent === window) return;
  const figure = location.pathname.split("/").pop();
  const send = () => window.parent.postMessage(
    { type: "infinite-lanes:resize", height: Math.ceil(document.documentElement.scrollHeight), figure }, "*");
  new ResizeObserver(send).observe(document.body);
  send();
}

// An embed keeps its own hide= and lock= parameters when its state changes.
export function embedSuffix() {
  const params = new URLSearchParams(location.search);
  const kept = ["hide", "lock"].filter((k) => params.has(k)).map((k) => `&${k}=${encodeURIComponent(params.get(k))}`);
  return kept.join("");
}
