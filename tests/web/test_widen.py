"""The widening (issue 13 §2) in Chromium: the first figure, drawn by our own code, against the API's own numbers.

The road's lanes, the change map's colours on one scale for every width (or rescaled), the meter, interpolation
between computed widths, and the controls: scrubbing with the pointer, the keyboard, Play and Pause, reduced motion.
"""

from __future__ import annotations

import json
import math
import time
import urllib.request
from typing import Any

from playwright.sync_api import Browser, Page

from tests.web.conftest import PageLog, draw_figures, road_label, wait_until

# ColorBrewer's RdBu, written out here independently of static/js/city.js.
RDBU = [(33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247), (253, 219, 199), (239, 138, 98), (178, 24, 43)]
DEFAULT_DOC = "/api/v1/experiments/drift?kernel_width=64"  # the page's default experiment, as the page asks for it


def rdbu(t: float) -> tuple[int, ...]:
    x = (max(-1.0, min(1.0, t)) + 1) * 3
    i = min(5, math.floor(x))
    f = x - i
    return tuple(math.floor(a + f * (b - a) + 0.5) for a, b in zip(RDBU[i], RDBU[i + 1], strict=True))


def document(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(base_url + DEFAULT_DOC, timeout=120) as response:
        return json.load(response)  # type: ignore[no-any-return]


def three_digits(value: float) -> str:
    return f"{float(f'{value:.3g}'):g}"


def percent(value: float) -> str:
    """A change as the page writes it: one decimal, two significant digits under 1 %."""
    return f"{100 * value:.1f} %" if value >= 0.01 else f"{float(f'{100 * value:.2g}'):g} %"


def open_widen(browser: Browser, base_url: str, query: str = "", **options: Any) -> tuple[Page, PageLog]:
    """The figure embedded alone, with its own controls (the page's other figures would only slow the test down)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, **options)
    log = PageLog(page)
    page.goto(f"{base_url}/embed/widen?v=1{query}")
    draw_figures(page, seconds=180)
    return page, log


def scrub(page: Page, value: int, event: str) -> None:
    page.evaluate(f"() => {{ const s = document.getElementById('widen-scrub'); s.value = '{value}';"
                  f" s.dispatchEvent(new Event('{event}', {{ bubbles: true }})); }}")


def meter(page: Page) -> str:
    return page.inner_text("[data-widen-meter]")


def test_one_scale_for_every_widths_change_the_roads_lanes_and_a_blend_between_widths(browser: Browser, base_url: str) -> None:
    page, log = open_widen(browser, base_url)
    doc = document(base_url)
    at64 = next(w for w in doc["widths"] if w["width"] == 64)
    # One scale for every width: the largest change any width makes on the grid.
    fixed = max(w["change_max"] for w in doc["widths"])
    bar = page.evaluate("() => [...document.querySelectorAll('[data-figure=widen] .change-map .color-bar text.tick')]"
                        ".map((t) => t.textContent)")
    assert bar == ["−" + three_digits(fixed), "0", three_digits(fixed)]
    # The map is the API's change (evening − morning) on the coarse grid, γ′ upwards: its largest cell and one near zero.
    change = at64["kernel_change"]
    n = len(doc["coarse_grid"])
    # Drawn as a canvas of n × n pixels (row j of the matrix is pixel row n − 1 − j: γ′ upwards).
    size, pixels = page.evaluate("() => { const c = document.querySelector('[data-figure=widen] canvas.heatmap');"
                                 " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                 " return [c.width, Array.from(d)]; }")
    assert size == n == 32
    biggest = max(((j, k) for j in range(n) for k in range(n)), key=lambda c: abs(change[c[0]][c[1]]))
    calmest = min(((j, k) for j in range(n) for k in range(n)), key=lambda c: abs(change[c[0]][c[1]]))
    for j, k in (biggest, calmest, (3, 17)):
        at = 4 * ((n - 1 - j) * n + k)
        drawn = tuple(pixels[at:at + 3])
        assert all(abs(a - b) <= 1 for a, b in zip(drawn, rdbu(change[j][k] / fixed), strict=True)), (j, k, drawn)
    # 64 lanes: 3 lanes drawn (one per doubling from 8), so 2 markings between them; the meter reads the first seed.
    assert road_label(page, "widen") == "64 lanes"
    markings = page.evaluate("() => [...document.querySelectorAll('[data-figure=widen] circle[stroke-dasharray]')]"
                             ".map((c) => Number(c.getAttribute('opacity')))")
    assert sorted(markings, reverse=True)[:3] == [1, 1, 0]
    assert meter(page) == f"At 64 lanes the traffic map changed {percent(at64['drift'][0][-1])} during the day"
    # Rescaled for each width, on request: the scale is this width's own largest change, in the maps figure too.
    page.select_option("#control-change_scale", "per_width")
    wait_until(page, "() => new URLSearchParams(location.search).get('change_scale') === 'per_width'")
    bar = page.evaluate("() => [...document.querySelectorAll('[data-figure=widen] .change-map .color-bar text.tick')]"
                        ".map((t) => t.textContent)")
    assert bar[2] == three_digits(at64["change_max"])
    page.select_option("#control-change_scale", "fixed")
    # Between widths the picture is interpolated; let go, it settles on a computed width.
    drifts = {w["width"]: w["drift"][0][-1] for w in doc["widths"]}
    scrub(page, 150, "input")  # half-way from 32 to 64 lanes
    between = math.exp((math.log(drifts[32]) + math.log(drifts[64])) / 2)
    assert meter(page) == f"At 32 → 64 lanes the traffic map changed {percent(between)} during the day (interpolated)"
    markings = page.evaluate("() => [...document.querySelectorAll('[data-figure=widen] circle[stroke-dasharray]')]"
                             ".map((c) => Number(c.getAttribute('opacity')))")
    assert sorted(markings, reverse=True)[:3] == [1, 0.5, 0]  # 2.5 lanes: the second marking half faded in
    scrub(page, 260, "input")
    scrub(page, 260, "change")  # let go: the nearest computed width, 128 lanes, becomes the road shown everywhere
    wait_until(page, "() => new URLSearchParams(location.search).get('width') === '128'")
    assert page.input_value("#widen-scrub") == "300"
    assert meter(page).startswith("At 128 lanes")
    assert log.errors == []
    page.close()


def test_the_keyboard_steps_between_widths_and_play_pauses_on_one(browser: Browser, base_url: str) -> None:
    page, log = open_widen(browser, base_url)
    page.focus("#widen-scrub")
    page.keyboard.press("End")
    wait_until(page, "() => new URLSearchParams(location.search).get('width') === '4096'")
    assert meter(page).startswith("At 4096 lanes") and road_label(page, "widen") == "4096 lanes"
    page.keyboard.press("ArrowLeft")
    wait_until(page, "() => new URLSearchParams(location.search).get('width') === '2048'")
    page.keyboard.press("Home")
    wait_until(page, "() => new URLSearchParams(location.search).get('width') === '16'")
    # Play: the road widens through values between computed widths; Pause settles on the nearest computed one.
    page.click("[data-widen-play]")
    assert page.get_attribute("[data-widen-play]", "aria-pressed") == "true"
    wait_until(page, "() => { const v = Number(document.getElementById('widen-scrub').value); return v > 160 && v % 100 !== 0; }",
               seconds=30)
    assert "(interpolated)" in meter(page)
    page.click("[data-widen-play]")
    assert page.get_attribute("[data-widen-play]", "aria-pressed") == "false"
    wait_until(page, "() => Number(document.getElementById('widen-scrub').value) % 100 === 0")
    settled = int(page.input_value("#widen-scrub")) // 100
    widths = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    wait_until(page, f"() => (new URLSearchParams(location.search).get('width') ?? '64') === '{widths[settled]}'")  # 64: default
    assert settled >= 2 and log.errors == []
    page.close()


def test_under_reduced_motion_the_widening_steps_from_width_to_width(browser: Browser, base_url: str) -> None:
    page, log = open_widen(browser, base_url, "&width=16", reduced_motion="reduce")
    page.click("[data-widen-play]")
    seen = []
    deadline = time.monotonic() + 1.8  # one step every 1.2 s
    while time.monotonic() < deadline:
        seen.append(int(page.input_value("#widen-scrub")))
        time.sleep(0.05)
    page.click("[data-widen-play]")
    assert all(value % 100 == 0 for value in seen) and max(seen) >= 100, seen  # whole widths only, and it moved on
    assert log.errors == []
    page.close()


def test_a_phones_first_screen_shows_the_city_and_its_width_control_moves_it_there(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, reduced_motion="reduce")  # a common phone's viewport
    log = PageLog(page)
    page.goto(f"{base_url}/?v=1")
    draw_figures(page, "widen", "ring", seconds=180)  # its experiment may be cold, the machine busy
    road = "[data-figure=widen] .road > circle"  # the asphalt
    for selector in (road, "#widen-scrub", "[data-widen-play]", "[data-widen-meter]"):
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844, (selector, box)
    before = float(page.get_attribute(road, "stroke-width") or 0)
    page.focus("#widen-scrub")
    page.keyboard.press("ArrowRight")
    wait_until(page, "() => document.querySelector('[data-figure=widen] .road-label').textContent === '128 lanes'")
    assert page.evaluate("() => window.scrollY") == 0  # seen where it was moved, without scrolling
    assert float(page.get_attribute(road, "stroke-width") or 0) > before
    assert meter(page).startswith("At 128 lanes") and log.errors == []
    page.close()
