"""Page benchmark: bytes of a first visit and time to the first and to all figures, in headless Chromium.

Run with ``make bench-page``. A fresh server (cold caches: every experiment is computed) on a
loopback port, one Chromium page per run with its HTTP cache disabled; figures mark their first
drawing with ``performance.mark("figure:<id>")``. Prints Markdown.
"""

from __future__ import annotations

import statistics
import time

from playwright.sync_api import sync_playwright

from tests.servers import uvicorn_workers
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

RUNS = 3


def visit(browser: object, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    received: dict[str, float] = {}
    cdp.on("Network.loadingFinished", lambda e: received.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto(url)
    deadline = time.monotonic() + 120
    drawn = "() => performance.getEntriesByType('mark').filter(m => m.name.startsWith('figure:')).length"
    figures = page.evaluate("() => document.querySelectorAll('[data-figure]').length")  # every figure the page has
    while page.evaluate(drawn) < figures:
        assert time.monotonic() < deadline, "figures did not all draw"
        time.sleep(0.02)
    marks = page.evaluate("() => performance.getEntriesByType('mark').map(m => [m.name, m.startTime])")
    context.close()
    times = sorted(t for name, t in marks if name.startswith("figure:"))
    return {"first": times[0], "all": times[-1], "bytes": sum(received.values())}


def main() -> None:
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for run in range(RUNS):
            with uvicorn_workers(1) as (base_url, _):  # a new server each run: cold result caches
                rows.append(visit(browser, f"{base_url}/"))
            print(f"run {run + 1}: first figure {rows[-1]['first']:.0f} ms, all figures {rows[-1]['all']:.0f} ms, "
                  f"{rows[-1]['bytes'] / 1024:.0f} KiB")
        browser.close()
    print(f"\nmedian of {RUNS} cold visits (1280×800, HTTP cache off, gzip on): first figure "
          f"**{statistics.median(r['first'] for r in rows):.0f} ms**, all figures "
          f"**{statistics.median(r['all'] for r in rows):.0f} ms**, "
          f"**{statistics.median(r['bytes'] for r in rows) / 1024:.0f} KiB** transferred")


if __name__ == "__main__":
    main()
