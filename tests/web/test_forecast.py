"""The forecast and limits figures in Chromium (issue 12, items 6, 8, 14): each network against the planner's forecast and
its own linearisation, the three distances against width for every seed, and, in the catapult, no diverging forecast
drawn, the reason in words, and each kernel's limit 2N/λ_max(t) climbing above η."""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Any

from playwright.sync_api import Browser, Page

from tests.web.conftest import PageLog, draw_figures

QUERY = "widths=16,64,256&steps=60"  # the page shows the narrowest, the chosen (64) and the widest road: all three
TRACES = """(id) => document.querySelector(`[data-figure=${id}]`).data.map((t) => ({ name: t.name,
  x: t.x ? [...t.x] : [], y: t.y ? [...t.y] : [], axis: t.yaxis ?? "y", legend: t.showlegend !== false }))"""


def document(base_url: str, query: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift?{query}", timeout=120) as response:
        result: dict[str, Any] = json.load(response)
    return result


def traces(page: Page, figure: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in page.evaluate(TRACES, figure)}


def test_each_network_is_drawn_against_both_forecasts_and_every_seeds_distances_against_width(browser: Browser,
                                                                                              base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/forecast?v=1&{QUERY}&width=64")
    draw_figures(page)
    doc, drawn = document(base_url, QUERY), traces(page, "forecast")
    t = len(doc["snapshot_steps"]) - 1  # the page shows the evening (time 5 of 6 snapshots)
    for width in doc["widths"]:
        name = f"{width['width']} lanes: "
        assert drawn[name + "network"]["y"] == width["function"][0][t]
        assert drawn[name + "planner's forecast"]["y"] == width["forecast"][0][t]
        assert drawn[name + "own linearisation"]["y"] == width["linearization"][0][t]
    for key, label in [("forecast_gap", "network to the planner's forecast"),
                       ("linearization_gap", "network to its own linearisation"),
                       ("linearization_forecast_gap", "between the two forecasts")]:
        points = next(t for n, t in drawn.items() if n.startswith(label) and t["legend"])
        assert points["axis"] == "y2" and points["x"] == [w["width"] for w in doc["widths"] for _ in range(3)]
        assert points["y"] == [g for w in doc["widths"] for g in w[key]]  # every seed, not only the first
        slope = doc["slopes"][key]
        assert f"slope {slope['slope']:.2f}".replace("-", "−") in points["name"]  # with a true minus sign
    summary = page.locator("#forecast-summary").inner_text()
    assert "from the planner's forecast and" in summary and "from their own linearisations" in summary
    assert "falls like width to the power −" in summary and "-" not in summary.replace("–", "")
    page.click("#figure-forecast summary")
    assert page.locator("[data-table=forecast] tbody tr").count() == 3 * len(doc["widths"])  # one row per network
    assert log.errors == []
    page.close()


def test_the_catapult_draws_no_diverging_forecast_says_why_and_shows_the_kernels_limit_climb_above_eta(
        browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/forecast?v=1&preset=catapult")
    draw_figures(page, seconds=120)
    forecast = traces(page, "forecast")
    assert not [n for n in forecast if "forecast" in n or "linearisation" in n], "a diverging forecast was drawn"
    assert all(math.isfinite(y) and abs(y) < 10 for t in forecast.values() for y in t["y"] if y is not None)
    summary = page.locator("#forecast-summary").inner_text()
    assert "The planner's forecast diverges: η = 14 is above the analytic kernel's limit 2N/λ_max = 11.9" in summary
    assert "it is not drawn" in summary and "none of these networks diverged" in summary and "%" not in summary
    # The limits figure: below the losses, each width's 2N/λ_max(t) (first seed) against η.
    page.goto(f"{base_url}/embed/limits?v=1&preset=catapult")
    draw_figures(page, seconds=120)
    limits = traces(page, "limits")
    eta = limits["learning rate η = 14"]
    assert eta["axis"] == "y2" and eta["y"] == [14, 14]
    widest = limits["4096 lanes: limit 2N/λ_max(t)"]
    assert widest["axis"] == "y2" and widest["x"] == [0, 10, 20, 30, 40, 50]
    assert widest["y"][0] < 14 < widest["y"][-1]  # the kernel shrank until the step fits
    text = page.locator("#limits-summary").inner_text()
    assert "15 networks started with η above their limit and did not diverge" in text and "(the catapult)" in text
    assert "first rose" in text and "then fell below where it started" in text
    assert log.errors == []
    page.close()
