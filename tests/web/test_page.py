"""The explainer page in headless Chromium: real data drawn, URL state, keyboard, reduced motion, axe, errors."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from app.content.presets import PRESETS_BY_ID
from tests.web.conftest import ARTIFACTS, PageLog, draw_figures, road_label, wait_until

FIGURES = ["widen", "ring", "maps", "drift", "forecast", "breaks"]
DRAWN_FIGURES = {"widen", "ring"}  # drawn by our own code (static/js/city.js), not plotly.js


def open_page(browser: Browser, url: str, width: int = 1280, height: int = 800, **options: object) -> tuple[Page, PageLog]:
    page = browser.new_page(viewport={"width": width, "height": height}, **options)  # type: ignore[arg-type]
    log = PageLog(page)
    page.goto(url)
    return page, log


def ring_label(page: Page) -> str:
    return road_label(page, "ring")


def test_the_page_draws_every_figure_from_real_data_with_no_console_error(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url)
    draw_figures(page)
    for figure in FIGURES:
        if figure in DRAWN_FIGURES:  # drawn by our own code: the road's traffic, one arc per grid point, coloured
            points = page.evaluate(f"() => [...document.querySelectorAll('[data-figure={figure}] .road path')]"
                                   ".filter((p) => p.getAttribute('stroke')?.startsWith('rgb')).length")
        else:
            points = page.evaluate(f"() => document.querySelector('[data-figure={figure}]').data"
                                   ".reduce((n, t) => n + (t.z ? t.z.length : (t.y || []).length), 0)")
        assert points > 0, figure
        assert page.locator(f"#{figure}-summary").inner_text().strip(), f"{figure} has no text summary"
        assert page.locator(f"[data-table={figure}] table tr").count() > 1, f"{figure} has no data table"
    assert "width to the power −0.7" in page.locator("#drift-summary").inner_text()  # the measured slope, not a constant
    assert page.locator("math").count() >= 5  # formulas rendered as MathML on the server
    # Θ can be negative: the ring and the maps colour it on scales centred on zero (white there), as their cards say.
    scales = page.evaluate("() => [...document.querySelectorAll('[data-figure=maps]')].flatMap((e) =>"
                           " e.data.filter((t) => t.marker?.colorscale || t.colorscale).map((t) => t.marker ?? t))"
                           ".map((t) => [t.cmin ?? t.zmin, t.cmax ?? t.zmax, t.colorscale[3]])")
    assert len(scales) == 4 and all(low == -high and mid == [0.5, "#f7f7f7"] for low, high, mid in scales), scales
    bars = page.evaluate("() => [...document.querySelectorAll('[data-figure=ring] .color-bar, [data-figure=widen] .color-bar')]"
                         ".map((bar) => [...bar.querySelectorAll('text.tick')].map((t) => t.textContent))")
    assert len(bars) == 2 and all(low == "−" + high and mid == "0" for low, mid, high in bars), bars
    assert "can also be negative" in page.inner_text("#ring .card")
    for figure in ("drift", "ring"):
        check_images_for_slides(page, figure)
    assert log.errors == []
    page.close()


def check_images_for_slides(page: Page, figure: str) -> None:
    """A figure's PNG is the size its button says; its SVG holds its title and caption; both are named by the settings,
    and making them breaks no rule of the page's Content-Security-Policy (blob: and data: images). A plotly chart
    (drift) and a figure drawn by our own code (ring)."""
    page.evaluate("() => { window.refused = []; document.addEventListener('securitypolicyviolation',"
                  " (e) => window.refused.push(`${e.violatedDirective} ${e.blockedURI}`)); }")
    label = page.inner_text(f"[data-image-of={figure}][data-image=png]")
    size = tuple(int(n) for n in re.search(r"(\d+) × (\d+)", label).groups())  # type: ignore[union-attr]
    files = {}
    for kind in ("png", "svg"):
        with page.expect_download() as download:
            page.click(f"[data-image-of={figure}][data-image={kind}]")
        # Named by the settings that drew it: the defaults, which are the scenario "default" once the page knows it.
        assert download.value.suggested_filename in {f"infinite-lanes_{figure}_{settings}.{kind}"
                                                     for settings in ("preset-default", "defaults")}
        files[kind] = Path(download.value.path()).read_bytes()
    png = files["png"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == size == (1920, 1080)
    svg = files["svg"].decode()
    caption = page.inner_text(f"#{figure}-caption")
    title = page.inner_text(f"#{figure}-title").split(". ", 1)[1]
    assert svg.startswith("<svg") and caption.split(",")[0] in svg and title in svg
    if figure == "ring":  # the drawing itself travels: its road, labelled with its width
        assert ">64 lanes</text>" in svg and svg.count("<path") > 64
    assert re.search(r"Infinite Lanes, http://127\.0\.0\.1:\d+/\?v=1(&amp;preset=default)?<", svg)  # where it was drawn
    assert page.evaluate("() => window.refused") == []


def test_moving_the_width_control_updates_figures_and_url_and_a_reload_restores_it(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url)
    draw_figures(page)
    assert ring_label(page).startswith("64 lanes")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(urlparse(r.url).path) if "/api/" in r.url else None)
    page.focus("#control-width")
    page.keyboard.press("ArrowRight")
    wait_until(page, "() => document.querySelector('[data-figure=ring] .road-label').textContent === '128 lanes'")
    assert parse_qs(urlparse(page.url).query)["width"] == ["128"]
    # The experiment was computed already: cached GETs (this width, and the comparison's), no new event stream.
    assert requests and set(requests) == {"/api/v1/experiments/drift"}
    assert page.get_attribute("#control-width", "aria-valuetext") == "128 lanes"
    page.reload()
    draw_figures(page)
    assert ring_label(page).startswith("128 lanes") and page.input_value("#control-width") == "3"
    page.go_back()  # the width change replaced the entry; back leaves the page's first state, not a blank one
    assert log.errors == []
    page.close()


def test_a_fresh_page_is_the_default_scenario_and_a_try_it_button_applies_its_own(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url)
    draw_figures(page)
    wait_until(page, "() => document.getElementById('control-preset').value === 'default'")  # its settings are that one's
    assert page.inner_text("#scenario-description") == PRESETS_BY_ID["default"].description
    page.click("button[data-try=narrow-vs-wide]")
    wait_until(page, "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.length === 2")
    query = parse_qs(urlparse(page.url).query)
    assert query["preset"] == ["narrow-vs-wide"] and query["widths"] == ["32,4096"]
    assert page.input_value("#control-preset") == "narrow-vs-wide"
    page.select_option("#control-preset", "")  # "Your own settings": the same settings, no longer under the scenario's name
    query = parse_qs(urlparse(page.url).query)
    assert "preset" not in query and query["widths"] == ["32,4096"]
    assert page.input_value("#control-preset") == "" and page.inner_text("#scenario-description") == ""
    page.go_back()
    assert parse_qs(urlparse(page.url).query)["preset"] == ["narrow-vs-wide"]
    page.go_back()
    wait_until(page, "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.length === 9")
    assert page.input_value("#control-preset") == "default"
    assert log.errors == []
    page.close()


def test_every_control_is_reachable_by_keyboard_with_a_visible_focus(browser: Browser, base_url: str) -> None:
    page, _ = open_page(browser, base_url)
    draw_figures(page)
    reached, outlines = set(), set()
    for _ in range(130):  # the settings, then each figure's controls, data table, downloads and Embed button
        page.keyboard.press("Tab")
        focused = page.evaluate("() => [document.activeElement.id, getComputedStyle(document.activeElement).outlineStyle,"
                                " document.activeElement === document.body]")
        if not focused[2]:  # past the last control, focus returns to the document itself
            reached.add(focused[0])
            outlines.add(focused[1])
    wanted = {"control-preset", "control-widths", "control-width", "control-depth", "control-learning_rate",
              "control-seed", "control-district", "control-time", "play-time", "widen-scrub", "control-change_scale",
              "control-compare", "control-noise", "yours-districts"}
    assert wanted <= reached, wanted - reached
    assert "none" not in outlines
    page.close()


def test_under_reduced_motion_playing_jumps_without_animating(browser: Browser, base_url: str) -> None:
    page, _ = open_page(browser, base_url + "/?time=0", reduced_motion="reduce")
    draw_figures(page)
    assert page.input_value("#control-time") == "0"  # nothing plays on its own
    page.click("#play-time")
    assert page.input_value("#control-time") == "5" and page.get_attribute("#play-time", "aria-pressed") != "true"
    page.close()


# Each select's width against the width it takes when nothing constrains it, which fits its longest option and its arrow.
SELECTS_CUT = """() => [...document.querySelectorAll('select')].flatMap((select) => {
  const width = select.getBoundingClientRect().width;
  const saved = select.style.cssText;
  Object.assign(select.style, { width: 'auto', maxWidth: 'none', justifySelf: 'start', alignSelf: 'start' });
  const natural = select.getBoundingClientRect().width;
  select.style.cssText = saved;
  return natural > width + 0.5 ? [`${select.id}: ${width} px shows ${natural} px`] : [];
})"""
# The drift legend's entries that reach past the chart's right edge.
LEGEND_CUT = """() => {
  const chart = document.querySelector('[data-figure=drift] .main-svg').getBoundingClientRect();
  return [...document.querySelectorAll('[data-figure=drift] .legend .traces')]
    .filter((entry) => entry.getBoundingClientRect().right > chart.right + 0.5).map((entry) => entry.textContent);
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_axe_finds_no_accessibility_violation(browser: Browser, base_url: str, width: int, height: int) -> None:
    """And at each size, no select cuts its options short and the drift legend fits (with the road on the ring)."""
    page, _ = open_page(browser, base_url, width, height)
    draw_figures(page)
    folded = not page.evaluate("() => document.getElementById('controls-panel').open")
    if folded:
        page.click("#controls-panel > summary")
    assert page.evaluate(SELECTS_CUT) == []
    if folded:
        page.click("#controls-panel > summary")
    assert page.evaluate(LEGEND_CUT) == []
    road = page.evaluate("() => { const e = document.querySelector('[data-figure=drift]');"
                         " return [e.data.find((t) => t.name.startsWith('road shown on the ring')), e.layout.shapes[0]]; }")
    assert road[0]["name"] == "road shown on the ring (64 lanes)" and road[0]["line"] == road[1]["line"]  # the band's key
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"page-{width}x{height}.png", full_page=False)
    page.screenshot(path=ARTIFACTS / f"page-{width}x{height}-full.png", full_page=True)
    page.close()


def test_a_refused_request_is_explained_next_to_each_figure(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url + "/?steps=10000&depth=3&widths=64,256,1024,4096&width=64")
    wait_until(page, "() => document.querySelector('[data-status=drift]').dataset.kind === 'error'")
    for figure in FIGURES:
        text = page.locator(f"[data-status={figure}]").inner_text()
        assert "refused" in text and "limit of" in text, text
    assert [e for e in log.errors if "422" not in e] == []  # the browser logs the refused request itself
    page.close()


def test_hostile_url_values_are_ignored_and_reported(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url + "/?width=<script>alert(1)</script>&depth=99&activation=tanh&v=1")
    draw_figures(page)
    status = page.locator("#controls-status").inner_text()
    assert "Ignored width" in status and "Ignored depth" in status and "Ignored activation" in status
    assert page.input_value("#control-depth") == "1"
    assert log.errors == []
    page.close()


def test_a_phone_sees_the_city_first_and_nothing_overflows_sideways(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url, 360, 740)
    draw_figures(page)
    assert page.evaluate("() => document.getElementById('controls-panel').open") is False
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    page.click("#controls-panel > summary")
    assert page.is_visible("#control-depth")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360  # the open settings fit too
    assert log.errors == []
    page.close()


def test_choosing_a_scenario_sets_every_control_and_the_url(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url)
    draw_figures(page, "drift")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/experiments/drift" in r.url else None)
    page.select_option("#control-preset", "blind-spot")
    wait_until(page, "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.join() === '64,1024'")
    sent = parse_qs(urlparse(requests[0]).query)
    assert sent["b_std"] == ["0"] and sent["frequency"] == ["3"]  # every setting reaches the server, σb included
    page.select_option("#control-preset", "jacot-2018")
    # The drift figure is redrawn as each width streams in; the ring only once the whole experiment is there.
    wait_until(page, "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.join() === '128,512' && "
                     "document.querySelector('[data-figure=ring] .road-label').textContent === '128 lanes'")
    assert page.input_value("#control-depth") == "3" and page.input_value("#control-target") == "xy"
    assert parse_qs(urlparse(page.url).query)["steps"] == ["200"]
    assert log.errors == []
    page.close()


def test_screen_readers_hear_one_sentence_per_change_not_one_per_figure(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url)
    draw_figures(page)
    live = page.evaluate("() => [...document.querySelectorAll('[aria-live], [role=status]')].map(e => e.id)")
    assert sorted(live) == ["announcer", "controls-status", "embed-status"]
    wait_until(page, "() => document.getElementById('announcer').textContent.startsWith('64 lanes, step 500: drift meter')")
    page.evaluate("() => { window.heard = []; const region = document.getElementById('announcer');"
                  " new MutationObserver(() => window.heard.push(region.textContent))"
                  ".observe(region, { childList: true, characterData: true, subtree: true }); }")
    page.focus("#control-width")
    page.keyboard.press("ArrowRight")  # a new experiment view: five figures redrawn
    wait_until(page, "() => document.getElementById('announcer').textContent.startsWith('128 lanes')")
    draw_figures(page)
    page.wait_for_timeout(500)
    heard = page.evaluate("() => window.heard")
    assert len(heard) == 1 and re.fullmatch(r"128 lanes, step 500: drift meter: [\d.]+ % since morning\.", heard[0]), heard
    assert log.errors == []
    page.close()


def test_a_preset_link_applies_its_scenario_and_a_changed_one_keeps_the_change(browser: Browser, base_url: str) -> None:
    page, log = open_page(browser, base_url + "/?preset=jacot-2018")
    draw_figures(page, "ring")
    assert page.input_value("#control-depth") == "3" and page.input_value("#control-target") == "xy"
    assert page.input_value("#control-steps") == "200" and page.input_value("#control-preset") == "jacot-2018"
    assert ring_label(page).startswith("128 lanes")
    query = parse_qs(urlparse(page.url).query)
    assert query["preset"] == ["jacot-2018"] and query["depth"] == ["3"] and query["widths"] == ["128,512"]
    page.close()
    page, _ = open_page(browser, base_url + "/?preset=jacot-2018&steps=50")
    draw_figures(page, "ring")
    assert page.input_value("#control-steps") == "50" and page.input_value("#control-depth") == "3"
    assert "preset" not in parse_qs(urlparse(page.url).query)  # no longer the scenario as published
    page.close()
    page, _ = open_page(browser, base_url + "/?preset=no-such-scenario")
    draw_figures(page, "ring")
    assert "Ignored preset: there is no scenario “no-such-scenario”." in page.locator("#controls-status").inner_text()
    assert log.errors == []
    page.close()
