"""Every figure a diverged network leaves incomplete says so in its summary, with the server's reason (issue 12 §2.7):
the drift, freezing, ring and maps figures in Chromium, on the scenario where every network diverges."""

from __future__ import annotations

import json
import urllib.request

from playwright.sync_api import Browser

from tests.web.conftest import PageLog, draw_figures


def test_each_figure_a_diverged_network_affects_says_which_and_why(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = PageLog(page)
    page.goto(f"{base_url}/?v=1&preset=too-fast")
    draw_figures(page)
    shown_width = int(page.evaluate("() => new URLSearchParams(location.search).get('width')"))  # the narrowest, 16
    with urllib.request.urlopen(f"{base_url}/api/v1/experiments/drift?widths=16,256,4096&learning_rate=30&steps=100",
                                timeout=120) as response:
        widths = json.load(response)["widths"]
    counts = ", ".join(f"{sum(s >= 0 for s in w['diverged_at'])} of {len(w['diverged_at'])} at {w['width']} lanes"
                       for w in widths)
    assert counts == "3 of 3 at 16 lanes, 3 of 3 at 256 lanes, 3 of 3 at 4096 lanes"
    everywhere = f"Networks diverged ({counts}): at 16 lanes, {widths[0]['divergence'][0]};"
    shown = next(w for w in widths if w["width"] == shown_width)
    here = f"Networks diverged (3 of 3 at {shown_width} lanes): at {shown_width} lanes, {shown['divergence'][0]};"
    assert "learning rate 30 is above 2N/λ_max" in shown["divergence"][0]
    summaries = {figure: page.locator(f"#{figure}-summary").inner_text() for figure in ("drift", "freeze", "ring", "maps")}
    assert everywhere in summaries["drift"] and everywhere in summaries["freeze"], summaries
    assert here in summaries["ring"] and here in summaries["maps"], summaries
    assert log.errors == []
    page.close()
