"""Section 5 in Chromium: each scaling compared with the NTK one is drawn from the drift document the API sends for it,
and its summary, table and CSV say what that document measured (slopes, diverged widths and their limits)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from playwright.sync_api import Browser, Page

from tests.web.conftest import PageLog, wait_until

QUERY = "widths=16,64,256,1024"
DRAWN = ("() => { const e = document.querySelector('[data-figure=breaks]');"
         " return !!(e.data && e.data.length > 1 && document.querySelector('#breaks-summary').textContent.includes(%s)); }")
TRACES = "() => document.querySelector('[data-figure=breaks]').data.map((t) => ({ name: t.name, x: t.x, y: t.y }))"


def drift_document(base_url: str, params: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift?{QUERY}&{params}", timeout=120) as response:
        document: dict[str, Any] = json.load(response)
    return document


def final_median(width: dict[str, Any]) -> float | None:
    """The figure's point for one width: the median (upper, for an even count) of its seeds' final drift."""
    values = sorted(d[-1] for d in width["drift"] if d[-1] is not None and d[-1] > 0)
    return values[len(values) // 2] if values else None


def minus(value: float) -> str:
    return f"{value:.2f}".replace("-", "−")


def show(page: Page, compare: str, label: str) -> tuple[str, list[dict[str, Any]]]:
    page.select_option("#control-compare", compare)
    wait_until(page, DRAWN % json.dumps(f"; {label}: "), seconds=120, near=("breaks",))
    traces = page.evaluate(TRACES)
    return page.locator("#breaks-summary").inner_text(), traces


def check_drawn(page: Page, document: dict[str, Any], traces: list[dict[str, Any]], label: str) -> None:
    other = traces[1]
    assert other["x"] == [w["width"] for w in document["widths"]]
    assert other["y"] == [final_median(w) for w in document["widths"]]
    assert other["name"] == f"{label} (slope {minus(document['slopes']['drift']['slope'])})"
    page.click("#figure-breaks summary")
    assert page.locator("[data-table=breaks] tbody tr").count() == len(document["widths"])
    assert page.get_attribute("[data-csv=breaks]", "href").startswith("blob:")  # type: ignore[union-attr]
    page.click("#figure-breaks summary")


def test_the_new_comparisons_say_what_their_documents_measured(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/embed/breaks?{QUERY}")
    wait_until(page, DRAWN % json.dumps("; mean-field scaling: "), seconds=120, near=("breaks",))

    # α = 1/√width: the kernel keeps moving.
    summary, traces = show(page, "alpha_inverse_sqrt_width", "α = 1/√width")
    document = drift_document(base_url, "alpha_scaling=inverse_sqrt_width")
    fit = document["slopes"]["drift"]
    assert f"α = 1/√width: drift ∝ width to the power {minus(fit['slope'])} ± {fit['stderr']:.2f} over 16–1024 lanes: " \
           "it does not fall with width" in summary, summary
    check_drawn(page, document, traces, "α = 1/√width")

    # The standard parameterization at η/width: nothing diverges, the kernel freezes.
    summary, traces = show(page, "standard_lr_inverse_width", "standard, η/width")
    document = drift_document(base_url, "parameterization=standard&lr_scaling=inverse_width")
    fit = document["slopes"]["drift"]
    assert f"standard, η/width: drift ∝ width to the power {minus(fit['slope'])}" in summary, summary
    assert "it falls with width, faster than under the NTK scaling" in summary
    assert summary.endswith("at η = 1/width none of its networks diverged.")
    check_drawn(page, document, traces, "standard, η/width")

    # The standard parameterization at η = 1: the widths that diverged, each with its limit 2N/λ_max.
    summary, traces = show(page, "standard", "standard, η fixed")
    document = drift_document(base_url, "parameterization=standard")
    lost = [(w["width"], sum(step >= 0 for step in w["diverged_at"]), sorted(w["lr_limit"])[1]) for w in document["widths"]]
    assert [(width, count) for width, count, _ in lost if count] == [(256, 2), (1024, 3)]  # measured; the page must list them
    (_, _, at256), (_, _, at1024) = lost[2], lost[3]
    assert (f"networks diverged at 256 lanes (2 of 3, limit ≈ {at256:.2g}), 1024 lanes (all 3, ≈ {at1024:.2g}), "
            "so its curve stops at 256 lanes;") in summary, summary
    assert f"η = 1 is above its stable limit 2N/λ_max at every width ({sorted(document['widths'][0]['lr_limit'])[1]:.2g} at 16 " \
           "lanes" in summary, summary
    # Networks that did not diverge but end as a constant function (every ReLU unit dead): counted, width by width.
    flat = [(w["width"], sum(max(s[-1]) - min(s[-1]) <= 1e-9 for s in w["function"] if None not in s[-1]))
            for w in document["widths"]]
    counted = [(width, count) for width, count in flat if count]
    assert counted, "measured: some networks end constant at η = 1; the page must say so"
    where = ", ".join(f"{count} at {width}{' lanes' if i == 0 else ''}" for i, (width, count) in enumerate(counted))
    assert (f"; {sum(c for _, c in counted)} of its networks that did not diverge ({where}) end as a constant function "
            "on the ring: nothing learned.") in summary, summary
    assert traces[2]["name"] == "standard, η fixed: every network diverged" and traces[2]["x"] == [1024]
    check_drawn(page, document, traces, "standard, η fixed")
    assert log.errors == []
    page.close()
