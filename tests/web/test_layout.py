"""Every figure of the default page laid out right, in Chromium at 360, 390, 768 and 1280 px.

No text of a plot (titles, tick labels, legend entries, annotations, colour-bar labels) overlaps another or leaves the
figure, and no axis title or tick label lies over a plot area (its own or a neighbouring panel's): read from the
bounding boxes of the plots' SVG text.

At 390 and 1280 px each figure is also compared with a stored reference image: a broken layout (a plot squeezed, a
legend moved over the plot, a panel missing) fails the suite.

The comparison forgives what differs between two machines drawing the same figure (anti-aliasing, a font's hinting):
both images are reduced to grey and averaged over 4 × 4 pixel blocks, and the figure fails when more than
``TOLERANCE`` (1 %) of the blocks differ by more than ``BLOCK_DIFFERENCE`` (48 of 255) grey levels, or when its size
changed. A moved label or legend entry, a missing trace or a squeezed panel changes several per cent of the blocks.

To record the references again (when a figure's look changes on purpose; look at the new images before committing):
``make screenshots`` (``python -m tests.web.test_layout``). A failing run leaves the actual images and a
difference map in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageChops
from playwright.sync_api import Browser, Page, sync_playwright

from app.config import Settings
from app.web.routes import SECTIONS_BY_ID
from tests.servers import serve
from tests.web.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, wait_until
from tests.web.test_shared_urls import SETTLED

REFERENCES = Path(__file__).with_name("screenshots")
VIEWPORTS = {390: 960, 1280: 1000}  # the widths with reference images; tall enough for the zoo (889 and 937 px): an
# element taller than the viewport is captured beyond it, which lays the page out again mid-capture
WIDTHS = (360, 390, 768, 1280)
FIGURES = tuple(section.id for section in SECTIONS_BY_ID.values() if section.figure)
BLOCK = 4
BLOCK_DIFFERENCE = 48
TOLERANCE = 0.01


def settled_page(browser: Browser, base_url: str, width: int) -> Page:
    """The default page at ``width`` px, every figure drawn and settled, fonts loaded, motion reduced."""
    page = browser.new_page(viewport={"width": width, "height": VIEWPORTS.get(width, 800)}, reduced_motion="reduce")
    page.goto(f"{base_url}/?v=1")
    wait_until(page, SETTLED, near=())
    page.evaluate("() => document.fonts.ready")
    return page


def capture(page: Page) -> dict[str, bytes]:
    """PNG of every figure's plot on the page."""
    return {figure: page.locator(f'[data-figure="{figure}"]').screenshot(animations="disabled") for figure in FIGURES}


# Per plot: every visible SVG text's box; overlaps between them, boxes outside the plot, and axis titles or tick labels
# over a plot area (plotly's drag rectangle of each subplot). Returns sentences naming the texts.
OVERLAPS = """() => {
  const problems = [];
  const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const visible = (t) => { const style = getComputedStyle(t);
    return t.textContent.trim() && style.display !== "none" && style.visibility !== "hidden" && Number(style.opacity) > 0; };
  for (const plot of document.querySelectorAll("[data-figure]")) {
    const id = plot.dataset.figure;
    const box = plot.getBoundingClientRect();
    const texts = [...plot.querySelectorAll("svg text")].filter(visible)
      .map((t) => ({ text: t.textContent.trim(), kind: t.getAttribute("class") || "", rect: t.getBoundingClientRect() }))
      .filter((t) => t.rect.width > 0 && t.rect.height > 0);
    const areas = [...plot.querySelectorAll(".draglayer .nsewdrag")].map((r) => r.getBoundingClientRect());
    for (const t of texts) {
      const r = t.rect;
      if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1) {
        problems.push(`${id}: "${t.text}" leaves the figure`);
      }
      if (/tick|title/.test(t.kind) && areas.some((a) => overlap(r, a))) problems.push(`${id}: "${t.text}" over a plot area`);
    }
    texts.forEach((a, i) => texts.slice(i + 1).forEach((b) => {
      if (overlap(a.rect, b.rect)) problems.push(`${id}: "${a.text}" over "${b.text}"`);
    }));
  }
  return problems;
}"""


def blocks(png: bytes) -> np.ndarray:
    """The image in grey, averaged over BLOCK × BLOCK pixel blocks: ``(H // BLOCK, W // BLOCK)`` floats in 0…255."""
    grey = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    h, w = (grey.shape[0] // BLOCK) * BLOCK, (grey.shape[1] // BLOCK) * BLOCK
    return grey[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(1, 3))


def differing_share(actual: bytes, reference: bytes) -> float:
    """The share of blocks that differ by more than BLOCK_DIFFERENCE grey levels (1.0 if the sizes differ)."""
    a, r = blocks(actual), blocks(reference)
    return 1.0 if a.shape != r.shape else float(np.mean(np.abs(a - r) > BLOCK_DIFFERENCE))


def name(figure: str, width: int) -> str:
    return f"{figure}-{width}.png"


@pytest.mark.parametrize("width", WIDTHS)
def test_no_plot_text_overlaps_or_leaves_its_figure_and_each_looks_as_recorded(browser: Browser, base_url: str,
                                                                                width: int) -> None:
    page = settled_page(browser, base_url, width)
    problems = page.evaluate(OVERLAPS)
    shots = capture(page) if width in VIEWPORTS else {}
    page.close()
    assert problems == [], "\n".join(problems)
    failures = []
    for figure, png in shots.items():
        reference = (REFERENCES / name(figure, width)).read_bytes()
        share = differing_share(png, reference)
        if share > TOLERANCE:
            out = ARTIFACTS / "screenshots"
            out.mkdir(parents=True, exist_ok=True)
            (out / name(figure, width)).write_bytes(png)
            a, r = (Image.open(io.BytesIO(b)).convert("RGB") for b in (png, reference))
            if a.size == r.size:
                ImageChops.difference(a, r).save(out / name(figure, width).replace(".png", "-difference.png"))
            failures.append(f"{name(figure, width)}: {share:.1%} of blocks differ")
    assert not failures, "; ".join(failures) + " (images in test-artifacts/screenshots/; `make screenshots` to record)"


def test_the_comparison_fails_a_moved_legend_and_forgives_anti_aliasing() -> None:
    reference = (REFERENCES / name("drift", 1280)).read_bytes()
    image = Image.open(io.BytesIO(reference)).convert("RGB")
    softened = io.BytesIO()
    image.resize((image.width * 2, image.height * 2)).resize(image.size).save(softened, "PNG")  # re-sampled edges
    assert differing_share(softened.getvalue(), reference) <= TOLERANCE
    shifted = io.BytesIO()
    moved = image.copy()
    moved.paste(image.crop((0, 0, image.width // 2, image.height // 3)), (image.width // 3, image.height // 3))
    moved.save(shifted, "PNG")
    assert differing_share(shifted.getvalue(), reference) > TOLERANCE


def record() -> None:
    """Write the references (``make screenshots``)."""
    REFERENCES.mkdir(exist_ok=True)
    with serve(Settings(max_queued=16)) as base_url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for width in VIEWPORTS:
            page = settled_page(browser, base_url, width)
            for figure, png in capture(page).items():
                (REFERENCES / name(figure, width)).write_bytes(png)
                print(REFERENCES / name(figure, width), file=sys.stderr)
            page.close()
        browser.close()


if __name__ == "__main__":
    record()
