// A static copy's embed: one file per figure, whatever its URL asks (app/export.py), so the parts its ?hide= and ?card=
// leave out are marked here, as hide-<part> classes on <html>, before the page is first drawn: nothing shows and then
// vanishes. static/js/embed.js applyEmbedOptions() then removes them, as the server leaves them out of its embeds
// (app/web/routes.py embed(): a figure alone comes without its card unless card=1). A classic script, run in <head>.
(() => {
  const { hideable, alone } = document.currentScript.dataset;
  const params = new URLSearchParams(location.search);
  const hidden = new Set((params.get("hide") ?? "").split(","));
  if (alone === "true" && params.get("card") !== "1") hidden.add("cards");
  for (const part of hideable.split(",")) if (hidden.has(part)) document.documentElement.classList.add(`hide-${part}`);
})();
