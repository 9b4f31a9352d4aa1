"""Page benchmark: bytes of a first visit, time to its first figure and to its first screen, and how soon each figure
further down is drawn once a reader scrolls to it, in headless Chromium.

Run with ``make bench-page`` (``python -m benchmarks.page [RUNS]``). Four rows, each the median of RUNS cold visits
(one Chromium page per visit, its HTTP cache disabled), with the targets of issue 15 beside them:

- **desktop**: 1280 × 800, no throttling;
- **mobile**: Lighthouse's mobile profile: 390 × 844, the CPU slowed 4× (``Emulation.setCPUThrottlingRate``), the
  network at 150 ms round trip, 1.6 Mbit/s down and 750 kbit/s up (``Network.emulateNetworkConditions``);

each on a **warm** server (a fresh server process over a result store that an earlier server's warm-up filled with the
default scenario's experiments, visited once its own warm-up is done: app/api/warmup.py) and on a **cold** one (a
fresh server with no store and no warm-up: every experiment is computed for the visit).

A visit: the page is opened and left at its top until every figure of its first screen (those whose box meets the
viewport once the document is parsed; none there, the first figure below it) is drawn; its bytes are counted then
(``first visit``). Then each further figure in page order is scrolled to (its centre to the viewport's) once the one
before it is drawn, and the time from that scroll to its drawing is taken (``scrolled to → drawn``: the worst of them;
charts and their documents wait until they near the viewport: static/js/figures/plot.js nearView). ``every figure``
is when the last was drawn in that scroll-through, started at once: no reader reads that fast.

Figures mark their first drawing with ``performance.mark("figure:<id>")``; times are from navigation start. ``its
frame``: when the frame that paints the first figure began (the first ``requestAnimationFrame`` callback after its
mark), so work done after the mark in the same task, which holds up the paint, shows. Also printed: when plotly.js had
arrived (its resource entry's end), so the order of the two shows. Prints Markdown.
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
    targets: tuple[float, float]  # first figure, first screen (ms), for a warm server (issue 15: "all figures")


DESKTOP = Profile("desktop 1280 px", {"width": 1280, "height": 800}, 1, None, (600, 1000))
MOBILE = Profile("Lighthouse mobile 390 px", {"width": 390, "height": 844}, 4,
                 {"offline": False, "latency": 150, "downloadThroughput": 1.6e6 / 8, "uploadThroughput": 750e3 / 8},
                 (2500, 6000))
MOST_BYTES = 1024 * KIB  # a first visit transfers at most 1 MiB


# A figure's first drawing is marked by our code; the frame that paints it starts with the requestAnimationFrame
# callbacks after that mark: its time, per figure (what a reader sees, work done after the mark in the same task
# included).
FRAMES = """(() => {
  window.figureFrames = {};
  const mark = performance.mark.bind(performance);
  performance.mark = (name, ...rest) => {
    const made = mark(name, ...rest);
    if (name.startsWith("figure:")) requestAnimationFrame(() => { window.figureFrames[name.slice(7)] ??= performance.now(); });
    return made;
  };
})()"""
MARKS = "() => Object.fromEntries(performance.getEntriesByType('mark').filter(m => m.name.startsWith('figure:'))" \
    ".map(m => [m.name.slice(7), m.startTime]))"
FIRST_SCREEN = ("() => document.readyState === 'loading' ? null : [...document.querySelectorAll('[data-figure]')]"
                ".filter(e => { const box = e.getBoundingClientRect(); return box.bottom > 0 && box.top < innerHeight"
                " && box.width > 0; }).map(e => e.dataset.figure)")
SCROLL_TO = ("(id) => { document.querySelector(`[data-figure=\"${id}\"]`)"
             ".scrollIntoView({ block: 'center', behavior: 'instant' }); return performance.now(); }")


def wait_for_marks(page: Any, ids: list[str], deadline: float) -> dict[str, float]:
    """Poll until every figure in ``ids`` has marked its first drawing; every mark so far (ms from navigation)."""
    while True:
        marks: dict[str, float] = page.evaluate(MARKS)
        if all(i in marks for i in ids):
            return marks
        assert time.monotonic() < deadline, f"figures did not draw: {sorted(set(ids) - set(marks))}"
        time.sleep(POLL_S)


def visit(browser: Any, url: str, profile: Profile) -> dict[str, float]:
    """One cold visit of ``url`` (see the module's docstring): first figure and its frame, first screen, every figure in a
    scroll-through and the worst scroll-to-drawn delay (ms), bytes of the first screen and of the whole visit,
    plotly.js's arrival (ms)."""
    context = browser.new_context(viewport=profile.viewport, device_scale_factor=1)
    context.add_init_script(FRAMES)
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

    def received() -> float:
        return sum(finished.get(r, arriving.get(r, 0)) for r in finished.keys() | arriving.keys())

    page.goto(url, wait_until="commit")
    deadline = time.monotonic() + 180
    while (first_screen := page.evaluate(FIRST_SCREEN)) is None:  # known once the whole document is parsed
        assert time.monotonic() < deadline, "the page did not load"
        time.sleep(POLL_S)
    if not first_screen:  # the page's text and settings fill the first screen: the first figure is the one below it
        first_screen = page.evaluate("() => [document.querySelector('[data-figure]').dataset.figure]")
    marks = wait_for_marks(page, first_screen, deadline)
    first = min(marks, key=marks.__getitem__)
    while (painted := page.evaluate(f"() => window.figureFrames[{json.dumps(first)}] ?? null")) is None:
        assert time.monotonic() < deadline, "the first figure's frame never came"
        time.sleep(POLL_S)
    page.wait_for_timeout(1000)  # requests made just after the first screen's last figure still count (and Playwright
    # hands over the network events it holds: a plain sleep would not)
    first_visit = received()
    plotly = page.evaluate("() => performance.getEntriesByType('resource').filter(r => r.name.includes('plotly'))"
                           ".map(r => r.responseEnd)")
    figures = page.evaluate("() => [...document.querySelectorAll('[data-figure]')].map(e => e.dataset.figure)")
    delays = []
    for figure in (f for f in figures if f not in first_screen):
        scrolled = page.evaluate(SCROLL_TO, figure)
        marks = wait_for_marks(page, [figure], deadline)
        delays.append(max(0.0, marks[figure] - scrolled))  # a figure drawn before it was scrolled to waited for nothing
    context.close()
    return {"first": min(marks.values()), "painted": painted, "screen": max(marks[f] for f in first_screen),
            "every": max(marks.values()),
            "delay": max(delays, default=0.0), "bytes": first_visit, "all_bytes": received(),
            "plotly": plotly[0] if plotly else 0}


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
    lines = ["| profile | server | first figure (target) | its frame | first screen (target) | scrolled to → drawn, worst | "
             "every figure, scrolled through at once | KiB, first visit (≤ 1024) | KiB, every figure | plotly.js arrived |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    keys = ("first", "painted", "screen", "delay", "every", "bytes", "all_bytes", "plotly")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        store = Path(folder) / "results.sqlite3"
        with warm_server(store) as base_url:  # the first one computes the default scenario's experiments into the store
            visit(browser, f"{base_url}/", DESKTOP)  # (and so does a visit, on a server older than the warm-up)
        for profile in (DESKTOP, MOBILE):
            for warm in servers:
                rows = measure(browser, profile, warm, store, runs)
                for row in rows:
                    print(f"{profile.name}, {'warm' if warm else 'cold'}: "
                          + ", ".join(f"{k} {row[k] / KIB:.0f} KiB" if "bytes" in k else f"{k} {row[k]:.0f} ms"
                                      for k in keys), flush=True)
                first, painted, screen, delay, every, size, all_size, plotly = (statistics.median(r[k] for r in rows)
                                                                                for k in keys)
                target = (f" ({profile.targets[0] / 1000:g} s)", f" ({profile.targets[1] / 1000:g} s)") if warm else ("", "")
                lines.append(f"| {profile.name} | {'warm' if warm else 'cold'} | **{first / 1000:.2f} s**{target[0]} | "
                             f"{painted / 1000:.2f} s | "
                             f"**{screen / 1000:.2f} s**{target[1]} | {delay / 1000:.2f} s | {every / 1000:.2f} s | "
                             f"**{size / KIB:.0f}**{'' if size <= MOST_BYTES else ' (over)'} | {all_size / KIB:.0f} | "
                             f"{plotly / 1000:.2f} s |")
        browser.close()
    print(f"\nmedian of {runs} cold visits each (HTTP cache off, gzip on; times from navigation start):\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
