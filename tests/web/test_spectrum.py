"""'What the kernel learns first' and 'Training frequency by frequency' in Chromium: each trace is the number the API
sends, the spectrum is that of the kernel matrix computed here directly, the summaries say what the documents hold,
and the data tables, CSV links and embeds are there, with no axe violation."""

from __future__ import annotations

import json
import math
import urllib.request
from typing import Any

import numpy as np
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from app.ntk import MLP, analytic_kernels, ring_angles, ring_points
from tests.web.conftest import PageLog, draw_figures

QUERY = "widths=16,256&steps=60"
TRACES = "(id) => document.querySelector(`[data-figure=${id}]`).data.map((t) => ({ name: t.name ?? null, x: t.x, y: t.y }))"
AXIS = "(id) => document.querySelector(`[data-figure=${id}]`).layout.yaxis2"


def api(base_url: str, path: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/api/v1/{path}", timeout=300) as response:
        document: dict[str, Any] = json.load(response)
    return document


def traces(page: Page, figure: str) -> dict[str, dict[str, Any]]:
    return {trace["name"]: trace for trace in page.evaluate(TRACES, figure) if trace["name"]}


def law(fit: dict[str, Any], k: int) -> float:
    return math.exp(fit["intercept"] + fit["slope"] * (math.log(k) if fit["law"] == "power" else k))


def check_table_and_csv(page: Page, figure: str, rows: int) -> None:
    page.click(f"#figure-{figure} summary")
    assert page.locator(f"[data-table={figure}] tbody tr").count() == rows
    assert page.get_attribute(f"[data-csv={figure}]", "href").startswith("blob:")  # type: ignore[union-attr]


def test_the_spectrum_draws_the_apis_eigenvalues_which_are_the_kernel_matrixs(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "spectrum", seconds=180)
    document = api(base_url, "spectrum?depth=1&activation=relu&w_std=1&b_std=0.1")
    drawn = traces(page, "spectrum")
    ks = list(range(1, 129))
    for key, label in (("ntk", "NTK"), ("nngp", "NNGP")):
        assert drawn[f"{label} μ_k"]["x"] == ks
        assert drawn[f"{label} μ_k"]["y"] == document[key]["per_point"][1:]  # no zero to rounding here: all drawn
        for fit in document[key]["fits"]:
            line = next(t for name, t in drawn.items() if name.startswith(f"{label} fit, {fit['parity']} k"))
            np.testing.assert_allclose(line["y"], [law(fit, k) for k in line["x"]], rtol=1e-12)
    # Direct computation: the whole 1024 × 1024 NTK on the ring, and each drawn eigenvalue as its Rayleigh quotient on
    # cos kγ (an eigenvector: the quotient is the eigenvalue), and found among its numerical eigenvalues. 1e-9 of λ_max:
    # the matrix's (anti)parallel entries carry ~1e-8 relative rounding (docs/maths.md §2).
    gamma = ring_angles(1024)
    _, ntk = analytic_kernels(MLP(depth=1, b_std=0.1), ring_points(gamma))
    eigenvalues = np.linalg.eigvalsh(ntk)
    drawn_lambda = np.array(drawn["NTK μ_k"]["y"]) * 1024
    quotients = [np.cos(k * gamma) @ ntk @ np.cos(k * gamma) / (np.cos(k * gamma) @ np.cos(k * gamma)) for k in ks]
    np.testing.assert_allclose(drawn_lambda, quotients, rtol=0, atol=1e-9 * eigenvalues[-1])
    assert np.abs(eigenvalues[None, :] - drawn_lambda[:, None]).min(axis=1).max() <= 1e-9 * eigenvalues[-1]
    (even, odd) = document["ntk"]["fits"]
    summary = page.locator("#spectrum-summary").inner_text()
    assert summary.startswith(f"1 hidden ReLU layer, σw = 1, σb = 0.1: over k = 8 … 64 the NTK's eigenvalues fall like "
                              f"k^{even['slope']:.2f} ± {even['stderr']:.2f} (even k) and k^{odd['slope']:.2f}"
                              .replace("-", "−")), summary
    assert "for the NTK none of k = 0 … 128" in summary
    assert page.evaluate(AXIS, "spectrum")["title"]["text"] == "NTK: steps to fit (1/e)"
    check_table_and_csv(page, "spectrum", 129)
    assert log.errors == []
    page.close()


def test_without_biases_the_odd_frequencies_are_marked_zero_not_drawn(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base_url}/embed/spectrum?{QUERY}&b_std=0")
    draw_figures(page, seconds=180)
    drawn = traces(page, "spectrum")
    odd = list(range(3, 129, 2))
    assert drawn["NTK: zero to rounding"]["x"] == odd and drawn["NNGP: zero to rounding"]["x"] == odd
    assert all(drawn["NTK μ_k"]["y"][k - 1] is None for k in odd)  # a gap in the curve, not a number
    summary = page.locator("#spectrum-summary").inner_text()
    assert "for the NTK every odd k from 3, for the NNGP every odd k from 3" in summary, summary
    assert "k^−2.02 ± 0.00 (even k)" in summary  # the known exponent (docs/maths.md §8): −2
    page.close()


def mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def test_training_frequency_by_frequency_draws_the_networks_beside_the_kernels_forecast(browser: Browser,
                                                                                        base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?{QUERY}")
    draw_figures(page, "bias", seconds=180)
    document = api(base_url, "spectral-bias?depth=1&activation=relu&w_std=1&b_std=0.1&seed=0")
    drawn = traces(page, "bias")
    narrow, wide = document["networks"]
    assert (narrow["width"], wide["width"]) == (32, 2048)
    for i, k in enumerate(document["frequencies"]):
        assert drawn[f"k = {k}, kernel's forecast"]["y"] == document["forecast"][i][1:]
        assert drawn[f"k = {k}, kernel's forecast"]["x"] == document["steps"][1:]
        for network in (narrow, wide):
            expected = [mean([seed[i][t] for seed in network["relative"]]) for t in range(1, len(document["steps"]))]
            np.testing.assert_allclose(drawn[f"k = {k}, {network['width']} lanes"]["y"], expected, rtol=1e-12)
    # The wide road follows the forecast on the two fastest frequencies (tests/ntk/test_spectrum.py: within 0.03 at
    # 4096 lanes; 2048 here).
    for i in (0, 1):
        gap = np.abs(np.array(drawn[f"k = {document['frequencies'][i]}, 2048 lanes"]["y"]) - document["forecast"][i][1:])
        assert gap.max() < 0.05
    kernel = [document["kernel"]["fit_steps"][k] for k in document["frequencies"]]
    summary = page.locator("#bias-summary").inner_text()
    assert (f"the kernel's forecast brings frequencies 1, 2, 4 and 8 down to 1/e in {kernel[0]}, {kernel[1]}, {kernel[2]} "
            f"and {kernel[3]} steps; the wide networks (2048 lanes) take") in summary, summary
    check_table_and_csv(page, "bias", len(document["steps"]))
    assert log.errors == []
    page.close()


def test_the_embeds_draw_alone_and_pass_axe(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    log = PageLog(page)
    for figure in ("spectrum", "bias"):
        page.goto(f"{base_url}/embed/{figure}?{QUERY}")
        draw_figures(page, seconds=180)
        assert page.locator("[data-figure]").count() == 1
        assert page.locator(f"#{figure}-summary").inner_text().strip()
        results = Axe().run(page)
        assert results.violations_count == 0, results.generate_report()
    assert log.errors == []
    page.close()
