"""Links already shared keep showing exactly what they showed: v=1 URLs, every scenario's among them, rendered in
Chromium give the same normalized URL, controls, API requests, summaries, tables and plotted data as when they were
recorded (``shared_urls.json``, recorded from the page as it was before the parameters were declared in one place).

To record again (only when a change of what a link shows is intended, and said so in the CHANGELOG):
``python -m tests.web.test_shared_urls http://127.0.0.1:8000 > tests/web/shared_urls.json`` against a running server.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from app.content.presets import PRESETS
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, wait_until

RECORDED = Path(__file__).with_name("shared_urls.json")
# Every scenario's link, and links of settings no scenario has (the default page is the scenario "default"'s; bad values
# and a width or time restored are tests/web/test_hostile_urls.py's and test_page.py's).
URLS = [f"/?v=1&preset={preset.id}" for preset in PRESETS] + [
    "/?v=1&widths=16,64,256,1024&depth=2&width=256&district=2&compare=alpha",
    "/?v=1&widths=64,256,1024,4096&activation=erf&b_std=0&w_std=1.5&width=1024&compare=standard",
    "/?v=1&widths=16,64,256,1024&target=bump&districts=12&learning_rate=0.5&seed=7&time=1",
    "/?v=1&widths=32,4096&target=cos&frequency=2&alpha=0.5&steps=120&width=4096",
    "/embed/drift?v=1&widths=64,256,1024,4096&hide=controls&lock=1",
    "/embed/ring?v=1&preset=narrow-vs-wide&width=4096&district=0",
]

SETTLED = ("() => ![...document.querySelectorAll('[data-status]')].some(e => e.dataset.kind === 'busy')"
           " && [...document.querySelectorAll('[data-figure]')].every(e => e.data || e.dataset.drawn || ['error', 'note']"
           ".includes(e.closest('figure')"
           ".querySelector('[data-status]').dataset.kind ?? ''))")
SNAPSHOT = """() => {
  const withoutUid = (key, value) => (key === "uid" ? undefined : value);
  const text = (selector) => document.querySelector(selector)?.textContent ?? null;
  return {
    controls: Object.fromEntries([...document.querySelectorAll("[id^=control-]")].map((e) => [e.id, e.value])),
    message: text('[data-status="controls"]'),
    figures: Object.fromEntries([...document.querySelectorAll("[data-figure]")].map((e) => {
      const id = e.dataset.figure;
      return [id, { summary: text(`#${id}-summary`), status: text(`[data-status="${id}"]`),
                    table: text(`[data-table="${id}"]`), data: e.data ? JSON.stringify(e.data, withoutUid)
                      // a figure drawn by our own code: every text it draws
                      : e.dataset.drawn ? [...e.querySelectorAll("text")].map((t) => t.textContent).join("|") : null }];
    })),
  };
}"""


EXPERIMENT = "/api/v1/experiments/drift"
EXPERIMENT_PATHS = (EXPERIMENT, f"{EXPERIMENT}/stream", f"{EXPERIMENT}/kept")  # an experiment's every address


def capture(page: Page, base_url: str, url: str) -> dict[str, Any]:
    """What ``url`` shows: its normalized URL, controls, the experiments it asked for, and every figure's content."""
    asked: set[str] = set()

    def note(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.path in EXPERIMENT_PATHS:  # not …/cost: no experiment
            asked.add("&".join(f"{k}={v}" for k, v in sorted(parse_qsl(parts.query))))

    page.on("request", note)
    page.goto(base_url + url)
    wait_until(page, SETTLED, seconds=120, near=())
    shown: dict[str, Any] = page.evaluate(SNAPSHOT)
    for figure in shown["figures"].values():  # the numbers themselves, as digests: the recording stays small
        figure["table"], figure["data"] = (None if figure[k] is None else _digest(figure[k]) for k in ("table", "data"))
    parts = urlsplit(page.url)
    return {"url": f"{parts.path}?{parts.query}", "asked": sorted(asked), **shown}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def recorded() -> dict[str, dict[str, Any]]:
    return dict(json.loads(RECORDED.read_text(encoding="utf-8")))


def test_every_shared_url_is_recorded(recorded: dict[str, dict[str, Any]]) -> None:
    assert sorted(recorded) == sorted(URLS)


@pytest.mark.parametrize("url", URLS)
def test_a_shared_url_shows_what_it_showed(browser: Browser, base_url: str, url: str,
                                           recorded: dict[str, dict[str, Any]]) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    shown = capture(page, base_url, url)
    page.close()
    expected = recorded[url]
    for key in ("url", "asked", "controls", "message"):
        assert shown[key] == expected[key], key
    # Every figure it showed is still there; figures added since it was recorded were not part of what it showed.
    assert shown["figures"].keys() >= expected["figures"].keys()
    for figure, content in expected["figures"].items():
        assert shown["figures"][figure] == content, figure


def record(base_url: str) -> dict[str, dict[str, Any]]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        shots = {}
        for url in URLS:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            shots[url] = capture(page, base_url, url)
            page.close()
        browser.close()
    return shots


if __name__ == "__main__":
    json.dump(record(sys.argv[1]), sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
