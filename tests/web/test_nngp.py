"""The NNGP figure in Chromium: the prior's band, the widest networks at initialisation and the two means are drawn from
the drift document the API sends, on the page and alone in its embed."""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Any

import numpy as np
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from tests.web.conftest import PageLog, draw_figures

QUERY = "widths=16,256&steps=60"
TRACES = "() => document.querySelector('[data-figure=nngp]').data.map((t) => ({ name: t.name ?? null, y: t.y }))"


def drift_document(base_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift?{QUERY}", timeout=120) as response:
        document: dict[str, Any] = json.load(response)
    return document


def drawn(page: Page) -> dict[str, list[float | None]]:
    """The figure's traces by legend name (the band's lower edge has none: it is listed as "lower band")."""
    traces = page.evaluate(TRACES)
    return {trace["name"] or "lower band": trace["y"] for trace in traces}


def test_the_figure_draws_the_documents_band_initial_networks_and_both_means(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "nngp")
    document, traces = drift_document(base_url), drawn(page)
    reference, widest = document["reference"], document["widths"][-1]
    band = [2 * math.sqrt(v) for v in reference["nngp_variance"]]
    np.testing.assert_allclose(traces["NNGP prior ±2σ"], band, rtol=1e-12)
    np.testing.assert_allclose(traces["lower band"], [-b for b in band], rtol=1e-12)
    for k, seed in enumerate(widest["function"]):
        assert traces[f"initial, seed {k}"] == seed[0]  # f(γ; θ₀): snapshot 0 of the widest width
    assert traces["NNGP posterior mean"] == reference["nngp_mean"]
    assert traces["NTK forecast, t = ∞"] == reference["ntk_mean"]
    np.testing.assert_allclose(traces["trained, step 60 (mean of 3)"], np.mean([s[-1] for s in widest["function"]], axis=0),
                               rtol=1e-12)
    assert traces["districts"] == document["y_train"]
    inside = sum(abs(seed[0][j]) <= band[j] for seed in widest["function"] for j in range(len(band)))
    summary = page.locator("#nngp-summary").inner_text()
    assert summary.startswith(f"{inside} of {3 * len(band)} grid values of the 3 initial networks of 256 lanes"), summary
    page.click("#figure-nngp summary")
    assert page.locator("[data-table=nngp] tbody tr").count() == len(document["gamma_grid"])
    assert page.get_attribute("[data-csv=nngp]", "href").startswith("blob:")  # type: ignore[union-attr]
    assert log.errors == []
    page.close()


def test_the_embed_draws_the_figure_alone_and_passes_axe(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/nngp?{QUERY}")
    draw_figures(page)
    assert page.locator("[data-figure]").count() == 1 and len(drawn(page)) == 9  # band ×2, 3 seeds, 2 means, trained, districts
    assert page.locator("#nngp-summary").inner_text().strip()
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    assert log.errors == []
    page.close()


def test_the_standard_parameterization_draws_the_networks_and_says_why_there_is_no_band(browser: Browser,
                                                                                         base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base_url}/embed/nngp?{QUERY}&parameterization=standard&learning_rate=0.01")
    draw_figures(page)
    names = set(drawn(page))
    assert "NNGP prior ±2σ" not in names and "NTK forecast, t = ∞" not in names and "initial, seed 0" in names
    assert "no infinite-width kernel limit" in page.locator("#nngp-summary").inner_text()
    page.close()
