"""A figure is its module, its section template and its card, and is listed nowhere else (ARCHITECTURE.md: "How to add
a figure"): the page, the embeds and the Embed dialog find the figures from those files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.web.routes import EMBEDDABLE, SECTIONS_BY_ID

ROOT = Path(__file__).resolve().parents[2]
FIGURE_MODULES = ROOT / "static" / "js" / "figures"
# Where the page is put together: the places a list of figures could creep back into.
PAGE_CODE = sorted([*(ROOT / "app" / "web").rglob("*.py"), *(ROOT / "static" / "js").rglob("*.js"),
                    *(ROOT / "templates").rglob("*.html")])


def declares_a_figure(source: str) -> bool:
    """A module in static/js/figures/ is a figure when it exports `needs` and `mount` (plot.js, shared, does not)."""
    needs = re.search(r"^export const needs\b", source, re.M)
    return bool(needs and re.search(r"^export (const|function) mount\b", source, re.M))


FIGURES = sorted(path.stem for path in FIGURE_MODULES.glob("*.js") if declares_a_figure(path.read_text(encoding="utf-8")))


def drawn(html: str) -> list[str]:
    return re.findall(r'data-figure="([^"]+)"', html)


def test_there_are_figure_modules_to_check() -> None:
    assert {"ring", "maps", "drift", "forecast", "breaks"} <= set(FIGURES)


def test_the_page_draws_exactly_the_figures_that_have_a_module_in_the_order_of_their_templates(client: TestClient) -> None:
    figure_sections = [section.id for section in SECTIONS_BY_ID.values() if section.figure]
    assert sorted(figure_sections) == FIGURES
    assert drawn(client.get("/").text) == figure_sections


def test_every_figure_is_embeddable_alone_and_nothing_else_is(client: TestClient) -> None:
    assert sorted(set(EMBEDDABLE) - {"explainer"}) == FIGURES
    for figure in FIGURES:
        html = client.get(f"/embed/{figure}").text
        assert drawn(html) == [figure]
        assert re.search(rf'<section id="{figure}" [^>]*data-embed-height="[1-9]\d*"', html), f"{figure}: no embed height"
        assert f"<title>{EMBEDDABLE[figure]} — Infinite Lanes</title>" in html.replace("&#39;", "'")


@pytest.mark.parametrize("figure", FIGURES)
def test_a_figure_is_named_only_by_its_own_module_and_template(figure: str) -> None:
    # The id as a token of code: a string ("ring", 'ring', `ring`), a selector (#ring, [data-figure=ring]), a module
    # path (figures/ring.js) or an object key ({ ring: 760 }). Prose that mentions the ring is not a listing.
    token = re.compile(rf"""(?<![\w-])(?:["'`#]|\[data-figure=|figures/){figure}(?:\.js)?(?=["'`\]\s.,:;)])"""
                       rf"""|[{{,]\s*{figure}\s*:(?!:)""")
    own = {FIGURE_MODULES / f"{figure}.js", ROOT / "templates" / SECTIONS_BY_ID[figure].template}
    listed = {str(path.relative_to(ROOT)) for path in PAGE_CODE
              if path not in own and token.search(path.read_text(encoding="utf-8"))}
    assert listed == set(), f"{figure} is listed outside its own files: {sorted(listed)}"
