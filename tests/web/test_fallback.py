"""The API unreachable from the page: saved scenario results stand in (LANES_FALLBACK_DIR), and the page says so."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from app.config import Settings
from tests.servers import serve
from tests.web.conftest import StaticCopy, draw_figures, road_label, wait_until

FIGURES = ["ring", "maps", "drift", "forecast", "breaks"]


@pytest.fixture(scope="module")
def saved_url(static_copy: StaticCopy) -> Iterator[str]:
    """A server with the session's static export's data/ folder as its fallback."""
    with serve(Settings(fallback_dir=static_copy.folder / "data")) as url:
        yield url


def api_down(page: Page) -> None:
    page.route("**/api/v1/**", lambda route: route.abort("connectionrefused"))


def statuses(page: Page) -> dict[str, tuple[str, str]]:
    """Each figure's status line and its kind."""
    return {figure: (page.locator(f'[data-status="{figure}"]').inner_text(),
                     page.locator(f'[data-status="{figure}"]').get_attribute("data-kind") or "") for figure in FIGURES}


def test_with_the_api_unreachable_a_saved_scenario_is_drawn_and_labelled(browser: Browser, saved_url: str) -> None:
    page = browser.new_page()
    api_down(page)
    page.goto(saved_url + "/")
    draw_figures(page)
    for figure, (text, kind) in statuses(page).items():
        assert kind == "note", figure
        assert text.startswith("The server could not be reached, so this shows the saved results of the scenario "
                               "“Wider roads, steadier traffic”."), text
    assert "width to the power −0.7" in page.locator("#drift-summary").inner_text()  # the saved numbers, really drawn
    page.locator("#control-time").fill("2")  # a view change redraws the figures: the note stays with them
    wait_until(page, "() => document.querySelector('[data-figure=ring] .road-sublabel')?.textContent === 'step 200'")
    assert statuses(page)["ring"][1] == "note"
    # Another saved scenario works from the menu too (its list comes from the saved copy as well).
    page.select_option("#control-preset", "narrow-vs-wide")
    wait_until(page, "() => document.querySelector('[data-figure=drift]').data.length > 0 && "
                     "document.querySelector('[data-status=drift]').textContent.includes('A narrow road and a wide one')")
    page.close()


def test_settings_that_were_not_saved_say_the_server_is_unreachable(browser: Browser, saved_url: str) -> None:
    for query in ("depth=2", "preset=narrow-vs-wide&widths=32,4096&width=32&activation=erf"):  # a scenario changed by hand
        page = browser.new_page()
        api_down(page)
        page.goto(f"{saved_url}/?{query}")
        wait_until(page, "() => document.querySelector('[data-status=drift]').dataset.kind === 'error'")
        assert page.locator('[data-status="drift"]').inner_text().startswith("The server could not be reached"), query
        assert page.evaluate("() => (document.querySelector('[data-figure=drift]').data || []).length") == 0
        page.close()


def test_a_busy_server_is_said_to_be_busy_and_the_saved_results_shown(browser: Browser, saved_url: str) -> None:
    page = browser.new_page()

    def busy(route: Route) -> None:
        route.fulfill(status=503, headers={"Retry-After": "7", "Content-Type": "application/json"},
                      body='{"detail": "the server is busy (5 computations running or queued); try again in 7 s"}')

    page.route("**/api/v1/experiments/**", busy)
    page.goto(saved_url + "/?v=1&width=256")
    draw_figures(page)
    text, kind = statuses(page)["ring"]
    assert kind == "note" and text.startswith("The server is busy, so this shows the saved results")
    assert road_label(page).startswith("256 lanes")
    page.close()


def test_the_saved_results_are_served_and_revalidated(saved_url: str, tmp_path: Path) -> None:
    with urllib.request.urlopen(saved_url + "/data/default/experiment.json") as response:
        assert response.headers["Content-Type"] == "application/json" and response.headers["Cache-Control"] == "no-cache"
    with pytest.raises(ValueError, match="data/ folder of a static export"):
        Settings(fallback_dir=tmp_path)
