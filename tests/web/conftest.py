"""A real server on a loopback port and Debian's Chromium driven by Playwright (no downloaded browser)."""

from __future__ import annotations

import dataclasses
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Frame, Page, sync_playwright

from app.api.schemas import DriftQuery
from app.config import Settings
from app.content.presets import PRESETS, Preset
from app.export import export_site
from tests.servers import serve, static_files

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    """The app served for the whole session."""
    with serve(Settings(max_queued=16, compute_in="processes")) as url:
        yield url


TEST_STEPS = 50  # the most training steps of a scenario in the tests' static copy (below)


def as_tested(preset: Preset) -> Preset:
    """A scenario as the tests' static copy saves it: one network per width and at most TEST_STEPS training steps, its
    id, widths, scaling and every other setting kept, so the whole copy (every scenario and each of its comparisons) is
    written in seconds, not a minute. The default scenario is kept whole: a page with no settings in its URL is it."""
    if preset.id == "default":
        return preset
    return dataclasses.replace(preset, changes={**preset.changes, "seeds": 1,
                                                "steps": min(DriftQuery(**preset.changes).steps, TEST_STEPS)})


@dataclasses.dataclass(frozen=True)
class StaticCopy:
    """The static export, written once per test session, served by a plain file server (no app, no API)."""

    folder: Path
    url: str
    asked: list[str]  # every path the file server was asked for
    presets: tuple[Preset, ...]


@pytest.fixture(scope="session")
def static_copy(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[StaticCopy]:
    """Written once per test run: pytest-xdist's processes share one folder (their base folders' parent, new for each
    run), the first to come writes it under a lock while the others wait; each serves it with its own file server."""
    presets = tuple(as_tested(preset) for preset in PRESETS)
    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    folder = shared / "static-copy"
    with (shared / "static-copy.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "static-copy.written").exists():
            export_site(folder, presets)
            (shared / "static-copy.written").touch()
    with static_files(folder) as (url, asked):
        yield StaticCopy(folder, url, asked, presets)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageLog:
    """Console errors, page errors and failed requests seen by a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))


def wait_until(page: Page | Frame, predicate: str, seconds: float = 60, near: tuple[str, ...] | None = None) -> None:
    """Poll a JS arrow function (page.wait_for_function would need 'unsafe-eval', which our CSP forbids). near: the
    figures the predicate waits on (() for every one), scrolled past meanwhile: a chart is drawn once it nears the
    viewport. Again each second, in case the page had not mounted its figures yet."""
    deadline = time.monotonic() + seconds
    scrolled = 0.0
    while not page.evaluate(predicate):
        assert time.monotonic() < deadline, f"timed out waiting for {predicate}"
        if near is not None and time.monotonic() - scrolled > 1:
            page.evaluate(SCROLL_PAST, list(near) or None)
            scrolled = time.monotonic()
        time.sleep(0.05)


# Scroll the figures named (a list of ids; null: every one) into view in turn, a frame or two each, and back to the top:
# a chart and its documents wait until it nears the viewport (static/js/figures/plot.js nearView), as for a reader.
SCROLL_PAST = """async (ids) => {
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const top = window.scrollY;
  for (const element of document.querySelectorAll('[data-figure]')) {
    if (ids && !ids.includes(element.dataset.figure)) continue;
    element.scrollIntoView({ block: 'center', behavior: 'instant' });
    await frame();
  }
  window.scrollTo({ top, behavior: 'instant' });
  await frame();
}"""


def drawn(ids: tuple[str, ...] | None) -> str:
    """A JS predicate: the figures named (None: every one) are drawn: a plotly chart has its traces (element.data), a
    figure drawn by our own code (static/js/city.js) says so (data-drawn, set by plot.js mountDrawnFigure)."""
    chosen = "true" if ids is None else f"{list(ids)!r}.includes(e.dataset.figure)"
    return ("() => [...document.querySelectorAll('[data-figure]')].filter(e => " + chosen + ")"
            ".every(e => (e.data && e.data.length > 0) || e.dataset.drawn === 'true')")


def draw_figures(page: Page | Frame, *ids: str, seconds: float = 60) -> None:
    """Bring the figures named (none named: every figure of the page) near the viewport, as a reader scrolling past them
    would, and wait until each is drawn; the page is left scrolled where it was."""
    wait_until(page, drawn(ids or None), seconds, near=ids)


# Every figure of a page or frame drawn (an embed in its frame: tests/web/test_embed.py).
ALL_DRAWN = drawn(None)


def road_label(page: Page, figure: str = "ring") -> str:
    """The label at the centre of a figure's ring road: "64 lanes, step 500" (the ring), "64 lanes" (the widening)."""
    texts = page.evaluate(f"() => [...document.querySelectorAll('[data-figure={figure}] .road-label, "
                          f"[data-figure={figure}] .road-sublabel')].map((e) => e.textContent)")
    return ", ".join(text for text in texts if text)
