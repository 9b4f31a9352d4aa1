"""'A kernel zoo' in Chromium: its sixteen spectra and sixteen traffic maps are the API's documents of depth 1–4, ReLU
and erf at the page's σw and σb (normalised as the caption says), its summary gives their numbers, and its table,
CSV and embed are there, with no axe violation."""

from __future__ import annotations

from typing import Any

import numpy as np
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from app.config import Settings
from tests.servers import serve
from tests.web.conftest import PageLog, draw_figures
from tests.web.test_spectrum import api, check_table_and_csv

QUERY = "widths=16,256&steps=60"
TRACES = ("() => document.querySelector('[data-figure=zoo]').data"
          ".map((t) => ({ name: t.name, x: t.x, y: t.y, z: t.z ?? null, type: t.type }))")
LAYERS = {1: "1 hidden layer", 2: "2 hidden layers", 3: "3 hidden layers", 4: "4 hidden layers"}


def zoo(base_url: str, w: str, b: str) -> dict[tuple[str, int], dict[str, Any]]:
    return {(activation, depth): api(base_url, f"spectrum?depth={depth}&activation={activation}&w_std={w}&b_std={b}")
            for activation in ("relu", "erf") for depth in range(1, 5)}


def test_the_zoo_draws_every_kernels_spectrum_and_map_from_the_api(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "zoo", seconds=180)
    documents = zoo(base_url, "1", "0.1")
    drawn = page.evaluate(TRACES)
    spectra = [t for t in drawn if t["type"] == "scatter"]
    maps = [t for t in drawn if t["type"] == "heatmap"]
    assert len(spectra) == len(maps) == 16
    panels = [(activation, key, f"{name} {label}") for activation, name in (("relu", "ReLU"), ("erf", "erf"))
              for key, label in (("ntk", "NTK"), ("nngp", "NNGP"))]
    for p, (activation, key, label) in enumerate(panels):
        for depth in range(1, 5):
            document = documents[(activation, depth)]
            part = document[key]
            top = document["max_eigenvalue"][key] / document["points"]
            spectrum = spectra[4 * p + depth - 1]
            assert spectrum["name"] == LAYERS[depth] and spectrum["x"] == list(range(1, 129))
            expected = [None if part["zero"][k] else part["per_point"][k] / top for k in range(1, 129)]
            assert [v is None for v in spectrum["y"]] == [v is None for v in expected]
            np.testing.assert_allclose([v for v in spectrum["y"] if v is not None], [v for v in expected if v is not None],
                                       rtol=1e-12)
            heatmap = maps[4 * p + depth - 1]
            assert heatmap["name"] == f"{label}, {LAYERS[depth]}"
            profile = np.array(part["profile"])
            size = len(profile)
            circulant = [[profile[(j - i) % size] / profile[0] for j in range(size)] for i in range(size)]
            np.testing.assert_allclose(heatmap["z"], circulant, rtol=1e-12)
    summary = page.locator("#zoo-summary").inner_text()
    relu_1 = documents[("relu", 1)]["ntk"]["fits"][0]["slope"]
    assert summary.startswith(f"At σw = 1, σb = 0.1, fitted over k = 8 … 64 (even k unless marked). ReLU: the NTK's "
                              f"spectrum falls k^{relu_1:.2f}".replace("-", "−")), summary
    opposite = documents[("erf", 1)]["ntk"]["profile"][32] / documents[("erf", 1)]["ntk"]["profile"][0]
    assert f"{opposite:.2f} (erf, 1 hidden layer)".replace("-", "−") in summary
    check_table_and_csv(page, "zoo", 129)
    assert log.errors == []
    page.close()


def test_the_zoo_follows_the_pages_biases_and_its_embed_passes_axe(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/zoo?{QUERY}&b_std=0")
    draw_figures(page, seconds=180)
    summary = page.locator("#zoo-summary").inner_text()
    assert "σb = 0" in summary and "ReLU, 1 hidden layer: every odd k from 3" in summary, summary
    erf = zoo(base_url, "1", "0")[("erf", 1)]
    tail = next(k for k in range(129) if all(erf["ntk"]["zero"][k:]))  # below rounding from there on
    assert f"erf, 1 hidden layer: every even k (k = 0 too) and every k from {tail}" in summary, summary
    assert "÷3.90 per frequency (odd k) with 1 hidden layer" in summary  # its even modes vanish: the odd ones are fitted
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert log.errors == []
    page.close()


def test_on_a_server_of_default_limits_the_zoos_burst_of_requests_is_drawn_not_refused(browser: Browser) -> None:
    # The zoo asks for eight spectra at once; a server with the default limits (1 running + 4 queued per worker) and
    # nothing kept refuses three of them with 503 and Retry-After. The page asks those again after the wait the server
    # names (static/js/api.js whenNotBusy): one reader is never shown the refusal of the page's own burst.
    settings = Settings(store_url="", warm_presets="")
    assert settings.max_concurrent + settings.max_queued < 8
    with serve(settings) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        refused: list[str] = []
        page.on("response", lambda r: refused.append(r.url) if r.status == 503 and "/spectrum?" in r.url else None)
        page.goto(f"{url}/?{QUERY}")
        draw_figures(page, "zoo", seconds=120)
        assert len([t for t in page.evaluate(TRACES) if t["type"] == "scatter"]) == 16
        assert page.evaluate("() => document.querySelector('[data-status=zoo]').dataset.kind ?? ''") != "error"
        page.close()
    assert refused, "the server admitted all eight at once: this test no longer shows the retry"
