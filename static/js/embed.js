// Embedding: the Embed dialog's <iframe> snippet on the page; inside an iframe, the height messages to the host page
// and the embed's own URL parameters.
import { embedUrl } from "./api.js";
import { status } from "./figures/plot.js";
import { serializeState } from "./state.js";

const $ = (selector) => document.querySelector(selector);
// The snippet's heights are the embed's content height in a frame this wide (a course page's column): a figure's own
// is its section's data-embed-height (templates/sections/*.html, checked against the embed measured in Chromium by
// tests/web/test_embed.py); its card and the settings are measured on this page, laid out as in such a frame.
const FRAME_WIDTH = 800;

// The height a part of this page takes in an embed FRAME_WIDTH wide: laid out at the width it has there (the frame's
// less the embed's padding), as a block of its own (its children's margins inside it), measured and put back.
function heightInFrame(element) {
  const padding = parseFloat(getComputedStyle(document.querySelector(".layout")).paddingLeft);
  const saved = element.style.cssText;
  Object.assign(element.style, { display: "flow-root", boxSizing: "border-box", width: `${FRAME_WIDTH - 2 * padding}px`,
    position: "static", maxHeight: "none" });
  const height = element.getBoundingClientRect().height;
  element.style.cssText = saved;
  return height;
}

// What the figure's card adds above it in an embed: the card, and the gap between it and the figure.
function cardHeight(section) {
  return heightInFrame(section.querySelector(".card")) + parseFloat(getComputedStyle(section).rowGap);
}

// What the settings add above the figure in an embed (open there, whatever they are here): the panel and its gap.
function settingsHeight() {
  const panel = $("#controls-panel");
  const open = panel.open;
  panel.open = true;
  const height = heightInFrame(panel);
  panel.open = open;
  return height + parseFloat(getComputedStyle(panel.parentElement).rowGap);
}

// The snippet for the figure of this Embed button, showing state, with the height of what it shows in a frame
// FRAME_WIDTH wide (rounded up to 10 px).
function embedSnippet(button, state) {
  const figure = button.dataset.embed;
  const hide = [$("#embed-hide-controls").checked && "controls", $("#embed-hide-caption").checked && "caption"].filter(Boolean);
  const params = new URLSearchParams(serializeState(state));
  if (hide.length) params.set("hide", hide.join(","));
  if ($("#embed-lock").checked) params.set("lock", "1");
  if ($("#embed-card").checked) params.set("card", "1");
  const title = document.getElementById(`${figure}-title`)?.textContent.replace(/^\d+\. /, "") ?? figure;
  const src = embedUrl(figure, params);
  const section = button.closest("[data-embed-height]");
  const parts = Number(section.dataset.embedHeight) + ($("#embed-card").checked ? cardHeight(section) : 0)
    + (hide.includes("controls") ? 0 : settingsHeight());
  const height = Math.ceil(parts / 10) * 10;
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

// An embed keeps its own hide=, lock= and card= parameters when its state changes.
const EMBED_OPTIONS = ["hide", "lock", "card"];

export function embedSuffix() {
  const params = new URLSearchParams(location.search);
  const kept = EMBED_OPTIONS.filter((k) => params.has(k)).map((k) => `&${k}=${encodeURIComponent(params.get(k))}`);
  return kept.join("");
}

// A static copy's embed: leave out the parts static/js/embed-options.js marked hidden on <html>, as the server's embed
// leaves them out of its page (templates/embed.html): hidden settings leave their status line, where problems with the
// link's values are said; a text column left without its card goes too. "Open in Infinite Lanes" keeps the link's state.
export function applyEmbedOptions() {
  const hidden = (part) => document.documentElement.classList.contains(`hide-${part}`);
  if (hidden("controls")) $("#controls-panel")?.replaceWith($("#controls-status"));
  if (hidden("cards")) {
    for (const card of document.querySelectorAll(".card")) card.remove();
    for (const text of document.querySelectorAll(".story-text")) if (!text.children.length) text.remove();
  }
  const state = new URLSearchParams(location.search);
  for (const option of EMBED_OPTIONS) state.delete(option);
  const credit = $(".embed-credit a");
  if (credit && state.size) credit.href = `${document.body.dataset.root}?${state}`;
}
