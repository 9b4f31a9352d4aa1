"""'Your own target' in Chromium: a target drawn with the mouse, a finger or the keyboard, or read from a CSV, goes into
the URL, is trained on by the API, and the figure draws the API's numbers for it; a shared link restores the drawing;
a bad CSV or a bad link says what is wrong; the static copy says that drawing needs the server."""

from __future__ import annotations

import itertools
import json
import math
import urllib.parse
import urllib.request
from typing import Any

import numpy as np
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from app.parameters import KNOTS
from tests.web.conftest import PageLog, StaticCopy, draw_figures, wait_until

QUERY = "widths=16,256&steps=60"
FIGURE = "document.querySelector('[data-figure=yours]')"
TRACES = f"() => Object.fromEntries({FIGURE}.data.map((t) => [t.name, t.y]))"
KNOT_ANGLES = np.radians(-180 + 360 * np.arange(KNOTS) / KNOTS)
DRAWING = [round(0.8 * math.sin(a) + (0.9 if abs(a) < 0.6 else 0.0), 2) for a in KNOT_ANGLES]  # a wave with a block


def text(drawing: list[float]) -> str:
    return ",".join(f"{v:g}" for v in drawing)


def state(page: Page) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlparse(page.url).query))


def knots_in_url(page: Page) -> list[float]:
    return [float(v) for v in state(page)["drawing"].split(",")]


def api_document(base_url: str, page: Page) -> dict[str, Any]:
    """The API's document of the experiment the page's URL names (its settings over the page's defaults)."""
    params = {"widths": "16,256", "steps": "60", "snapshots": "6"} | {
        k: v for k, v in state(page).items() if k in ("target", "drawing", "districts", "noise", "frequency")}
    url = f"{base_url}/api/v1/experiments/drift?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=120) as response:
        document: dict[str, Any] = json.load(response)
    return document


def drawn_for(page: Page, drawing: str) -> None:
    """Wait until the figure shows the document of this drawing."""
    wait_until(page, f"() => {FIGURE}.data?.length > 0 && document.querySelector('#yours-summary').textContent"
                     f".startsWith('Your drawing') && new URL(location.href).searchParams.get('drawing') === '{drawing}'"
                     " && !document.querySelector('[data-status=yours]').textContent", seconds=120, near=("yours",))


def check_figure_draws_the_api(page: Page, base_url: str) -> dict[str, Any]:
    """The figure's traces are the API document's numbers for the page's settings."""
    document = api_document(base_url, page)
    traces = page.evaluate(TRACES)
    widest = document["widths"][-1]
    assert traces["your target"] == document["target_grid"]
    assert traces["districts' targets"] == document["y_train"]
    trained = np.mean([seed[-1] for seed in widest["function"]], axis=0)
    np.testing.assert_allclose(traces["trained, 256 lanes"], trained, rtol=1e-12)
    assert traces["infinite-width forecast"] == document["reference"]["forecast"][-1]
    speeds = document["reference"]["speeds"]
    assert traces["still to learn"] == speeds["still_to_learn"]
    assert traces["the forecast still misses"] == speeds["residual"]
    summary = page.locator("#yours-summary").inner_text()
    slow, never, n = sum(speeds["slow"]), sum(speeds["never"]), len(speeds["slow"])
    if slow:
        assert f"in the {slow} of {n} kernel modes learned slowly" in summary, summary
        if speeds["slow_share"] >= 0.01:
            assert f"{100 * speeds['slow_share']:.0f} % in the {slow}" in summary, summary
    if never:
        assert f"in the {never} of {n} kernel modes it never learns" in summary, summary
    if not slow and not never:
        assert f"all {n} kernel modes pass their time constant within the 60 steps" in summary, summary
    return document


# --- drawing ----------------------------------------------------------------------------------------------------------

def test_drawing_with_the_mouse_trains_on_the_drawn_curve(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    surface = page.locator("[data-drawing-surface]")
    surface.scroll_into_view_if_needed()

    def stroke(start: tuple[float, float], end: tuple[float, float]) -> None:
        """Press at start and drag to end, each a fraction of the strip's box (measured now: the page may have moved)."""
        box = surface.bounding_box()
        assert box is not None
        at = lambda fx, fy: (box["x"] + 2 + fx * (box["width"] - 4), box["y"] + 2 + fy * (box["height"] - 4))  # noqa: E731
        page.mouse.move(*at(*start))
        page.mouse.down()
        page.mouse.move(*at(*end), steps=25)
        page.mouse.up()

    # Along the top edge (beyond the strip's top value, 2: the curve's top) from −180° to 180°, then along the bottom
    # (−2) from 180° back to the middle: the first half of the ring at 2, the second at −2, and the point at 180° is
    # the one at −180°.
    stroke((0, 0), (1, 0))
    drawn_for(page, ",".join(["2"] * KNOTS))  # trained and drawn: the column beside the card has its height again
    stroke((1, 1), (0.5, 1))
    wait_until(page, "() => new URL(location.href).searchParams.get('drawing')?.includes('-2')")
    assert state(page)["target"] == "drawn"
    knots = knots_in_url(page)
    assert knots[1:14] == [2.0] * 13 and knots[17:] == [-2.0] * 15 and knots[0] == -2.0, knots
    assert all(a >= b for a, b in itertools.pairwise(knots[1:])), knots  # one step down near the middle
    drawn_for(page, state(page)["drawing"])
    check_figure_draws_the_api(page, base_url)
    # The table shows the same values, and the target menu says it is a drawing.
    values = page.evaluate("() => [...document.querySelectorAll('[data-drawing-table] input')].map((i) => Number(i.value))")
    assert values == knots
    assert page.input_value("#control-target") == "drawn"
    assert log.errors == []
    page.close()


def test_drawing_with_the_keyboard_through_the_table(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    page.locator(".drawing-table summary").focus()
    page.keyboard.press("Enter")  # opens the table
    page.keyboard.press("Tab")  # the value at −180°
    assert page.evaluate("() => document.activeElement.getAttribute('aria-labelledby')") == \
        "yours-drawing-value-head yours-drawing-knot-0"
    page.keyboard.press("Control+A")
    page.keyboard.type("1.5")
    page.keyboard.press("Tab")  # the change is committed; the focus moves to the value at −168.75°
    wait_until(page, "() => new URL(location.href).searchParams.get('target') === 'drawn'")
    knots = knots_in_url(page)
    # The rest is the target that was on show, sin γ, read at the knots (two decimals).
    expected = [1.5, *np.round(np.sin(KNOT_ANGLES[1:]), 2)]
    np.testing.assert_allclose(knots, expected, atol=1e-12)
    page.keyboard.press("Control+A")
    page.keyboard.type("-0.25")
    page.keyboard.press("Enter")
    wait_until(page, "() => new URL(location.href).searchParams.get('drawing').startsWith('1.5,-0.25,')")
    drawn_for(page, state(page)["drawing"])
    check_figure_draws_the_api(page, base_url)
    # A value out of range is refused in words, and the drawing is kept.
    before = state(page)["drawing"]
    page.keyboard.press("Control+A")
    page.keyboard.type("7")
    page.keyboard.press("Tab")
    assert "must be a number from −2 to 2" in page.locator("[data-drawing-status]").inner_text()
    assert state(page)["drawing"] == before
    # The buttons work from the keyboard too: Smooth averages each knot with its neighbours, [1, 2, 1]/4.
    page.locator("[data-drawing-action=smooth]").focus()
    page.keyboard.press("Enter")
    wait_until(page, f"() => new URL(location.href).searchParams.get('drawing') !== '{before}'")
    old = np.array([float(v) for v in before.split(",")])
    # to two decimals: a value halfway between two (…5) may round either way in binary, hence one hundredth
    np.testing.assert_allclose(knots_in_url(page), (np.roll(old, 1) + 2 * old + np.roll(old, -1)) / 4, atol=0.0050001)
    assert log.errors == []
    page.close()


def test_a_finger_draws_on_a_phone(browser: Browser, base_url: str) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    surface = page.locator("[data-drawing-surface]")
    surface.scroll_into_view_if_needed()
    box = surface.bounding_box()
    assert box is not None and box["width"] > 300  # the strip spans the phone's width
    assert page.evaluate("() => getComputedStyle(document.querySelector('[data-drawing-surface]')).touchAction") == "none"
    scroll = page.evaluate("() => scrollY")
    cdp = context.new_cdp_session(page)
    y = box["y"] + box["height"] - 2  # the bottom edge: −2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": box["x"] + 2, "y": y}]})
    for k in range(1, 21):
        cdp.send("Input.dispatchTouchEvent",
                 {"type": "touchMove", "touchPoints": [{"x": box["x"] + 2 + k * (box["width"] - 4) / 20, "y": y}]})
    assert page.evaluate("() => [scrollX, scrollY]") == [0, scroll]  # the finger draws; the page does not scroll
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    wait_until(page, "() => new URL(location.href).searchParams.get('target') === 'drawn'")
    assert knots_in_url(page) == [-2.0] * KNOTS
    drawn_for(page, state(page)["drawing"])
    assert log.errors == []
    context.close()


# --- a CSV -------------------------------------------------------------------------------------------------------------

# Every text the drawing panel's status line shows from now on, in window.drawingSaid.
RECORD_STATUS = """() => {
  window.drawingSaid = [];
  const line = document.querySelector('[data-drawing-status]');
  new MutationObserver(() => window.drawingSaid.push(line.textContent))
    .observe(line, { childList: true, characterData: true, subtree: true });
}"""


def upload(page: Page, content: str, name: str = "target.csv") -> None:
    page.set_input_files("[data-drawing-file]", files=[{"name": name, "mimeType": "text/csv", "buffer": content.encode()}])


def test_a_csv_is_read_at_the_knots_by_the_curves_own_rule(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    rows = [(-150.0, 1.0), (-100.0, -0.5), (10.0, 1.75), (95.5, -2.0), (180.0, 0.25)]
    page.locator(".drawing-csv summary").click()
    page.evaluate(RECORD_STATUS)
    upload(page, "angle,value\n" + "\n".join(f"{a},{v}" for a, v in reversed(rows)) + "\n")
    wait_until(page, "() => new URL(location.href).searchParams.get('target') === 'drawn'")
    # The oracle: numpy's periodic linear interpolation of the rows, at the knots; the page keeps two decimals.
    angles, values = np.radians([a for a, _ in rows]), [v for _, v in rows]
    expected = np.interp(KNOT_ANGLES, angles, values, period=2 * math.pi)
    np.testing.assert_allclose(knots_in_url(page), expected, atol=0.0050001)
    # Said once the rows are read; the line is cleared again when the figure is drawn, which may come first here.
    wait_until(page, "() => window.drawingSaid.some((text) => text.includes('read: training on its curve'))")
    drawn_for(page, state(page)["drawing"])
    check_figure_draws_the_api(page, base_url)
    # Pasted rows work the same way.
    page.fill("[data-drawing-paste]", "-180,0\n0,1")
    page.click("[data-drawing-action=paste]")
    wait_until(page, "() => new URL(location.href).searchParams.get('drawing').startsWith('0,0.06,0.13,')")
    np.testing.assert_allclose(knots_in_url(page), 1 - np.abs(KNOT_ANGLES) / math.pi, atol=0.0050001)
    assert log.errors == []
    page.close()


BAD_CSV = {
    "one row": ("0,1\n", "at least 2 rows"),
    "a word": ("angle,value\n0,1\n90,high\n", "Row 3: the value “high” is not a number."),
    "an angle out of range": ("0,1\n270,0\n", "Row 2: the angle 270 is outside −180 to 180 degrees."),
    "a value out of range": ("0,1\n90,3.5\n", "Row 2: the value 3.5 is outside −2 to 2."),
    "an angle twice": ("0,1\n90,0\n0,0.5\n", "Row 3: the angle 0° is given twice (row 1 too"),
    "−180 and 180": ("-180,1\n90,0\n180,0.5\n", "Row 3: the angle 180° is given twice"),
    "not finite": ("0,1\n90,inf\n", "Row 2: the value must be a finite number."),
    "three fields": ("0,1,2\n90,0\n", "Row 1: expected two numbers"),
    "too many rows": ("\n".join(f"{-180 + 0.3 * i:.1f},0" for i in range(1001)), "at most 1000 are read"),
}


def test_a_bad_csv_says_what_is_wrong_and_changes_nothing(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    url = page.url
    message = page.locator("[data-drawing-status]")
    page.locator(".drawing-csv summary").click()
    for name, (content, says) in BAD_CSV.items():
        if name in ("a word", "too many rows"):  # as a file
            upload(page, content, f"{name}.csv")
            wait_until(page, f"() => document.querySelector('[data-drawing-status]').textContent.includes({json.dumps(says)})")
        else:  # pasted
            page.fill("[data-drawing-paste]", content)
            page.click("[data-drawing-action=paste]")
        assert says in message.inner_text(), (name, message.inner_text())
        was = "The file" if name in ("a word", "too many rows") else "The pasted rows were"
        assert f"{was}" in message.inner_text() and "not used" in message.inner_text(), message.inner_text()
        assert message.get_attribute("data-kind") == "error"
        assert page.url == url, name
    assert log.errors == []
    page.close()


# --- links, districts, embeds, the static copy ----------------------------------------------------------------------

def test_a_shared_link_restores_the_drawing(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}&target=drawn&drawing={text(DRAWING)}&noise=0.2&districts=10")
    drawn_for(page, text(DRAWING))
    values = page.evaluate("() => [...document.querySelectorAll('[data-drawing-table] input')].map((i) => Number(i.value))")
    assert values == DRAWING
    assert page.input_value("#control-noise") == "0.2" and page.input_value("[data-drawing-districts]") == "10"
    document = check_figure_draws_the_api(page, base_url)
    assert len(document["y_train"]) == 10
    # The noise is in the districts' targets, not in the curve.
    curve = np.interp(np.radians(-180 + 36 * np.arange(10)), KNOT_ANGLES, DRAWING, period=2 * math.pi)
    assert 0.02 < np.std(np.array(document["y_train"]) - curve) < 0.6
    # The districts are changed from the panel: the drawing stays, sampled at the new districts.
    page.fill("[data-drawing-districts]", "12")
    page.keyboard.press("Enter")
    wait_until(page, "() => new URL(location.href).searchParams.get('districts') === '12'")
    assert state(page)["drawing"] == text(DRAWING)
    drawn_for(page, text(DRAWING))
    wait_until(page, f"() => {FIGURE}.data[1].y.length === 12")
    check_figure_draws_the_api(page, base_url)
    assert log.errors == []
    page.close()


def test_a_link_with_another_count_of_knots_shows_the_same_curve(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}&target=drawn&drawing=1,-1,0.5,2,0,-2,0.25,-0.75")  # 8 knots, every 45°
    drawn_for(page, "1,-1,0.5,2,0,-2,0.25,-0.75")
    values = page.evaluate("() => [...document.querySelectorAll('[data-drawing-table] input')].map((i) => Number(i.value))")
    eight = np.radians(-180 + 45 * np.arange(8))
    np.testing.assert_allclose(values, np.interp(KNOT_ANGLES, eight, [1, -1, 0.5, 2, 0, -2, 0.25, -0.75],
                                                 period=2 * math.pi), atol=0.0050001)  # shown to two decimals
    check_figure_draws_the_api(page, base_url)
    assert log.errors == []
    page.close()


def test_a_bad_drawing_in_a_link_is_reported_and_ignored(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base_url}/?{QUERY}&target=drawn&drawing=9,9,9,9")
    draw_figures(page, "yours", seconds=120)
    problems = page.locator("#controls-status").inner_text()
    assert "Ignored drawing: expected 4 to 64 numbers from -2 to 2 with at most two decimals" in problems, problems
    assert "Ignored target drawn: the link gives no valid drawing." in problems
    assert page.input_value("#control-target") == "sin"  # (the link stays in the address bar until the next change)
    page.goto(f"{base_url}/?{QUERY}&drawing=0,0,0,0")
    draw_figures(page, "yours", seconds=120)
    assert "Ignored drawing: it is used only with target drawn." in page.locator("#controls-status").inner_text()
    page.close()


def test_the_embed_draws_and_passes_axe_on_a_phone(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/yours?{QUERY}&target=drawn&drawing={text(DRAWING)}")
    drawn_for(page, text(DRAWING))
    assert page.locator("[data-figure]").count() == 1 and page.locator("[data-drawing]").count() == 1
    page.locator(".drawing-table summary").click()
    page.locator(".drawing-csv summary").click()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert log.errors == []
    page.close()


def test_the_section_passes_axe_on_the_page(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "yours", seconds=120)
    page.locator(".drawing-table summary").click()
    results = Axe().run(page, context="#yours")
    assert results.violations_count == 0, results.generate_report()
    page.close()


def test_the_static_copy_says_drawing_needs_the_server(browser: Browser, static_copy: StaticCopy) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{static_copy.url}/index.html")
    draw_figures(page, "yours", seconds=120)
    # The saved scenario's target is drawn, with its speeds, from the saved document.
    assert page.evaluate(f"() => {FIGURE}.data.some((t) => t.name === 'still to learn')")
    assert "needs the live server" in page.locator("[data-drawing-status]").inner_text()
    assert page.evaluate("() => [...document.querySelectorAll('[data-drawing] button, [data-drawing] input')]"
                         ".every((e) => e.disabled)")
    # A link to a drawing: every figure says it needs the server, with a way back to a saved scenario.
    page.goto(f"{static_copy.url}/index.html?target=drawn&drawing={text(DRAWING)}")
    wait_until(page, "() => document.querySelector('[data-status=yours] .way-back') !== null")
    assert "need the live server" in page.locator("[data-status=yours]").inner_text()
    page.locator("[data-status=yours] .way-back").click()
    draw_figures(page, "yours", seconds=120)
    assert "drawing" not in state(page)
    assert log.errors == []
    page.close()


def test_choosing_your_own_drawing_in_the_settings_starts_from_the_target_on_show(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}&target=cos&frequency=2")
    draw_figures(page, "yours", seconds=120)
    page.select_option("#control-target", "drawn")
    wait_until(page, "() => new URL(location.href).searchParams.get('target') === 'drawn'")
    np.testing.assert_allclose(knots_in_url(page), np.cos(2 * KNOT_ANGLES), atol=0.0050001)  # two decimals
    drawn_for(page, state(page)["drawing"])
    # Another target drops the drawing from the link (it goes with its target, as in the API).
    page.select_option("#control-target", "xy")
    wait_until(page, "() => new URL(location.href).searchParams.get('target') === 'xy'")
    assert "drawing" not in state(page)
    assert log.errors == []
    page.close()


def test_a_step_too_large_says_the_forecast_diverges(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base_url}/embed/yours?widths=16,64&steps=20&learning_rate=30")
    draw_figures(page, "yours", seconds=120)
    summary = page.locator("#yours-summary").inner_text()
    assert "every network of 64 lanes diverged before step 20" in summary, summary
    assert "at η = 30 the infinite-width forecast diverges (η ≥ 2N/λ_max ≈ " in summary, summary
    assert page.evaluate(f"() => {FIGURE}.data.find((t) => t.name === 'the forecast still misses').y"
                         ".every((v) => v === null)")
    page.close()
