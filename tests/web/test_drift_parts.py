"""The drift figure draws the two parts of the ReLU drift and the erf overlay from real data (docs/maths.md §5)."""

from __future__ import annotations

import math
from pathlib import Path

from playwright.sync_api import Browser

from tests.web.conftest import PageLog, wait_until

# A small experiment, so that the ReLU one and its erf overlay compute in seconds.
URL = "/embed/drift?v=1&widths=32,128,512,2048&width=128&steps=200"
SERIES = ("switching part", "smooth part", "erf units")
TRACES = """() => (document.querySelector('[data-figure=drift]').data || [])
  .map((t) => ({ name: t.name, x: [...t.x], y: [...t.y], showlegend: t.showlegend !== false }))"""


def test_the_drift_figure_draws_the_switching_and_smooth_parts_and_the_erf_overlay(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(base_url + URL)
    wait_until(page, f"() => ({TRACES})().some((t) => t.name.startsWith('{SERIES[-1]}'))", seconds=120, near=("drift",))
    traces = page.evaluate(TRACES)
    for series in SERIES:
        drawn = [t for t in traces if t["name"].startswith(series)]
        points = next(t for t in drawn if t["showlegend"])  # the measured points, with the slope in their legend entry
        assert points["x"] and all(isinstance(y, (int, float)) and math.isfinite(y) and y > 0 for y in points["y"]), series
        assert "(slope −" in points["name"], points["name"]  # a fitted, falling slope (a true minus), from the document
        fit = next(t for t in drawn if not t["showlegend"])  # and its fitted line
        assert fit["x"] == [32, 2048] and all(math.isfinite(y) and y > 0 for y in fit["y"]), series
    summary = page.locator("#drift-summary").inner_text()
    assert "switching on or off scales like width to the power −" in summary and "with erf units" in summary
    header = page.evaluate("() => [...document.querySelectorAll('[data-table=drift] th')].map((th) => th.textContent)")
    assert header[-3:] == ["switching part", "smooth part", "erf kernel drift"]
    with page.expect_download() as download:  # an embed offers the images for slides too
        page.click("[data-image-of=drift][data-image=svg]")
    assert download.value.suggested_filename == "infinite-lanes_drift_widths-32+128+512+2048_width-128_steps-200.svg"
    assert "erf units, each seed" in Path(download.value.path()).read_text()
    assert log.errors == []
    page.close()
