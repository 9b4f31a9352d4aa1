"""Page benchmark: bytes of a first visit and time to the first and to all figures, in headless Chromium.

Run with ``make bench-page`` (``python -m benchmarks.page [RUNS]``). Four rows, each the median of RUNS cold visits
(one Chromium page per visit, its HTTP cache disabled), with the targets of issue 15 beside them:

- **desktop**: 1280 × 800, no throttling;
- **mobile**: Lighthouse's mobile profile: 390 × 844, the CPU slowed 4× (``Emulation.setCPUThrottlingRate``), the
  network at 150 ms round trip, 1.6 Mbit/s down and 750 kbit/s up (``Network.emulateNetworkConditions``);

each on a **warm** server (a fresh server process over a result store that an earlier server's warm-up filled with the
default scenario's experiments, visited once its own warm-up is done: app/api/warmup.py) and on a **cold** one (a
fresh server with no store and no warm-up: every experiment is computed for the visit).

Figures mark their first drawing with ``performance.mark("figure:<id>")``; times are from navigation start. Also
printed: when plotly.js had arrived (its resource entry's end), so the order of the two shows. Prints Markdown.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from tests.servers import uvicorn_workers
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

RUNS = 3
KIB = 1024
POLL_S = 0.25  # polls run on the page's main thread: rarely, so they do not slow a throttled CPU


@dataclass(frozen=True)
class Profile:
    name: str
    viewport: dict[str, int]
    cpu_slowdown: float  # Emulation.setCPUThrottlingRate
    network: dict[str, Any] | None  # Network.emulateNetworkConditions, None: unthrottled loopback
    targets: tuple[float, float]  # first figure, all figures (ms), for a warm server (issue 15)


DESKTOP = Profile("desktop 1280 px", {"width": 1280, "height": 800}, 1, None, (600, 1000))
MOBILE = Profile("Lighthouse mobile 390 px", {"width": 390, "height": 844}, 4,
                 {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
                 (2500, 6000))
MOST_BYTES = 1024 * KIB  # a first visit transfers at most 1 MiB


def visit(browser: Any, url: str, profile: Profile) -> dict[str, float]:
    """One cold visit of ``url``: first and all figures' marks (ms), bytes received, plotly.js's arrival (ms)."""
    context = browser.new_context(viewport=profile.viewport, device_scale_factor=1)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if profile.network is not None:
        cdp.send("Network.emulateNetworkConditions", profile.network)
    if profile.cpu_slowdown != 1:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": profile.cpu_slowdown})
    finished: dict[str, float] = {}  # bytes per request, headers included, once it has finished
    arriving: dict[str, float] = {}  # bytes per request as they arrive (a stream may not report its end in time)
    cdp.on("Network.loadingFinished", lambda e: finished.__setitem__(e["requestId"], e["encodedDataLength"]))
    cdp.on("Network.dataReceived", lambda e: arriving.__setitem__(e["requestId"], arriving.get(e["requestId"], 0)
                                                                   + e["encodedDataLength"]))
    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + 180
    drawn = "() => performance.getEntriesByType('mark').filter(m => m.name.startsWith('figure:')).length"
    count = "() => document.readyState === 'loading' ? null : document.querySelectorAll('[data-figure]').length"
    figures = None  # counted once the whole document is parsed (on a slow line, the first sections come alone)
    while figures is None or page.evaluate(drawn) < figures:
        assert time.monotonic() < deadline, "figures did not all draw"
        time.sleep(POLL_S)
        figures = figures or page.evaluate(count)
    marks = page.evaluate("() => performance.getEntriesByType('mark').map(m => [m.name, m.startTime])")
    plotly = page.evaluate("() => performance.getEntriesByType('resource').filter(r => r.name.includes('plotly'))"
                           ".map(r => r.responseEnd)")
    time.sleep(1)  # requests made after the last figure (none expected) still count
    context.close()
    times = sorted(t for name, t in marks if name.startswith("figure:"))
    size = sum(finished.get(request, arriving.get(request, 0)) for request in finished.keys() | arriving.keys())
    return {"first": times[0], "all": times[-1], "bytes": size, "plotly": plotly[0] if plotly else 0}


@contextmanager
def warm_server(store: Path) -> Iterator[str]:
    """A server over ``store`` once its warm-up of the default scenario is done (app/api/warmup.py): its experiments
    kept in the store (computed now if the store lacked them), their documents encoded in the worker's memory."""
    with uvicorn_workers(1, store_url=f"sqlite:{store}", warm_presets="default") as (base_url, _):
        deadline = time.monotonic() + 300
        # (a server from before the warm-up has no warm_up: then main() fills the store with a visit)
        while json.load(urllib.request.urlopen(f"{base_url}/readyz")).get("warm_up", {}).get("state", "done") != "done":
            assert time.monotonic() < deadline, "the warm-up did not finish"
            time.sleep(0.2)
        yield base_url


def measure(browser: Any, profile: Profile, warm: bool, store: Path, runs: int) -> list[dict[str, float]]:
    rows = []
    for _ in range(runs):
        if warm:
            with warm_server(store) as base_url:  # a fresh process, a filled store
                rows.append(visit(browser, f"{base_url}/", profile))
        else:
            with uvicorn_workers(1, store_url="") as (base_url, _):  # nothing kept, nothing warmed
                rows.append(visit(browser, f"{base_url}/", profile))
    return rows


def main() -> None:
    """``python -m benchmarks.page [RUNS] [warm]``: RUNS visits per row (3); ``warm``: the warm rows only."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    servers = (True,) if "warm" in sys.argv[2:] else (True, False)
    lines = ["| profile | server | first figure (target) | all figures (target) | KiB (≤ 1024) | plotly.js arrived |",
             "| --- | --- | --- | --- | --- | --- |"]
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        store = Path(folder) / "results.sqlite3"
        with warm_server(store) as base_url:  # the first one computes the default scenario's experiments into the store
            visit(browser, f"{base_url}/", DESKTOP)  # (and so does a visit, on a server older than the warm-up)
        for profile in (DESKTOP, MOBILE):
            for warm in servers:
                rows = measure(browser, profile, warm, store, runs)
                for row in rows:
                    print(f"{profile.name}, {'warm' if warm else 'cold'}: first {row['first']:.0f} ms, "
                          f"all {row['all']:.0f} ms, {row['bytes'] / KIB:.0f} KiB, plotly.js {row['plotly']:.0f} ms",
                          flush=True)
                first, every, size, plotly = (statistics.median(r[k] for r in rows)
                                              for k in ("first", "all", "bytes", "plotly"))
                target = (f" ({profile.targets[0] / 1000:g} s)", f" ({profile.targets[1] / 1000:g} s)") if warm else ("", "")
                lines.append(f"| {profile.name} | {'warm' if warm else 'cold'} | **{first / 1000:.2f} s**{target[0]} | "
                             f"**{every / 1000:.2f} s**{target[1]} | **{size / KIB:.0f}**"
                             f"{'' if size <= MOST_BYTES else ' (over)'} | {plotly / 1000:.2f} s |")
        browser.close()
    print(f"\nmedian of {runs} cold visits each (HTTP cache off, gzip on; times from navigation start):\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
