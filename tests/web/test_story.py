"""The page reads as one story (issue 12): each section's card beside its figure on a desktop, the figure staying in
view while its text scrolls, and the card directly above its figure on a phone; a chosen scenario says what it is."""

from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import Browser

from tests.web.conftest import PageLog, draw_figures, wait_until

BOXES = """() => [...document.querySelectorAll('section.story')].map((section) => {
  const box = (selector) => { const r = section.querySelector(selector)?.getBoundingClientRect();
    return r ? { top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left, right: r.right } : null; };
  return { id: section.id, text: box('.story-text'), card: box('.card'), figure: box('.story-figure') };
})"""


def _boxes(browser: Browser, base_url: str, width: int) -> list[dict[str, object]]:
    page = browser.new_page(viewport={"width": width, "height": 900})
    log = PageLog(page)
    page.goto(base_url)
    draw_figures(page)
    boxes: list[dict[str, object]] = page.evaluate(BOXES)
    assert log.errors == []
    page.close()
    return boxes


def test_on_a_desktop_each_card_sits_beside_its_figure(browser: Browser, base_url: str) -> None:
    boxes = _boxes(browser, base_url, 1280)
    figures = [b for b in boxes if b["figure"]]
    assert len(figures) >= 5 and all(b["card"] for b in boxes)
    for b in figures:
        text, figure = b["text"], b["figure"]
        assert isinstance(text, dict) and isinstance(figure, dict)
        assert text["right"] <= figure["left"], f"{b['id']}: its card is not beside its figure"
        assert text["top"] < figure["bottom"] and figure["top"] < text["bottom"], f"{b['id']}: card and figure apart"


def test_on_a_phone_each_card_comes_directly_before_its_figure(browser: Browser, base_url: str) -> None:
    """But the first: there the city comes first, so that a phone's first screen shows it (its question follows)."""
    boxes = _boxes(browser, base_url, 390)
    first, *rest = (b for b in boxes if b["figure"])
    assert first["id"] == boxes[0]["id"] == "widen" and first["figure"]["bottom"] <= first["text"]["top"]
    for b in rest:
        text, figure = b["text"], b["figure"]
        assert isinstance(text, dict) and isinstance(figure, dict)
        assert text["bottom"] <= figure["top"] < text["bottom"] + 40, f"{b['id']}: its card is not right above its figure"
        assert text["left"] < figure["right"] and figure["left"] < text["right"]


def test_a_figure_stays_in_view_while_its_longer_text_scrolls(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base_url)
    draw_figures(page)
    longer = [b for b in page.evaluate(BOXES)
              if b["figure"] and b["text"]["bottom"] - b["text"]["top"] > b["figure"]["bottom"] - b["figure"]["top"] + 100]
    assert longer, "no section has more text than figure: nothing to check"
    for b in longer:
        middle = b["text"]["top"] + (b["text"]["bottom"] - b["text"]["top"] - (b["figure"]["bottom"] - b["figure"]["top"])) / 2
        page.evaluate(f"() => window.scrollTo(0, {middle})")
        top = page.evaluate(f"() => document.querySelector('#{b['id']} .story-figure').getBoundingClientRect().top")
        assert 0 <= top <= 16, f"{b['id']}: its figure scrolled away ({top:.0f} px from the top) while its text was read"
    page.close()


def test_choosing_a_scenario_shows_what_it_is(browser: Browser, base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/api/v1/presets", timeout=30) as response:
        described = {p["id"]: p["description"] for p in json.load(response)}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(base_url)
    draw_figures(page, "ring")
    # A fresh page is the default scenario, described as such.
    wait_until(page, f"() => document.querySelector('#scenario-description').textContent === {json.dumps(described['default'])}")
    page.select_option("#control-preset", "catapult")
    wait_until(page, f"() => document.querySelector('#scenario-description').textContent === {json.dumps(described['catapult'])}")
    assert page.is_visible("#scenario-description")
    page.select_option("#control-depth", "2")  # own settings: no scenario, no description
    wait_until(page, "() => document.querySelector('#scenario-description').textContent === ''")
    page.close()
