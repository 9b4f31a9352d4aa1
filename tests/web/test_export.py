"""The static export, served by `python -m http.server` with no app running: the presets work, and say so otherwise."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from app.content.presets import PRESETS_BY_ID
from app.export import export_site
from app.web.routes import ASSETS_VERSION
from tests.servers import free_port
from tests.web.conftest import ALL_DRAWN, PageLog, wait_until


@pytest.fixture(scope="module")
def static_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    outdir = tmp_path_factory.mktemp("site")
    export_site(outdir, (PRESETS_BY_ID["default"], PRESETS_BY_ID["narrow-vs-wide"]))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(outdir)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=1)
            break
        except OSError:
            assert time.monotonic() < deadline, "http.server did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def test_the_export_holds_pages_assets_and_every_presets_results(tmp_path: Path) -> None:
    files = export_site(tmp_path, (PRESETS_BY_ID["narrow-vs-wide"],))
    names = {str(path.relative_to(tmp_path)) for path in files}
    assert {"index.html", "embed/drift/index.html", "embed/explainer/index.html", "data/presets.json",
            "data/narrow-vs-wide/32.json", "data/narrow-vs-wide/4096.json",
            "data/narrow-vs-wide/compare-mean_field.json"} <= names
    assert (tmp_path / "static" / ASSETS_VERSION / "js" / "main.js").exists()
    assert next((tmp_path / "vendor").glob("plotly-*.min.js"))
    html = (tmp_path / "index.html").read_text()
    assert f'src="./static/{ASSETS_VERSION}/js/main.js"' in html and "data-static" in html and 'href="/' not in html


def test_the_exported_page_draws_the_default_experiment_with_no_server(browser: Browser, static_site: str) -> None:
    page = browser.new_page()
    log = PageLog(page)
    page.goto(static_site + "/index.html")
    wait_until(page, ALL_DRAWN)
    assert "width to the power −0.7" in page.locator("#drift-summary").inner_text()
    page.select_option("#control-preset", "narrow-vs-wide")
    wait_until(page, "() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.length === 2")
    assert log.errors == []
    page.close()


def test_settings_outside_the_presets_say_they_need_the_server(browser: Browser, static_site: str) -> None:
    page = browser.new_page()
    page.goto(static_site + "/index.html?depth=2")
    wait_until(page, "() => document.querySelector('[data-status=drift]').dataset.kind === 'error'")
    assert "need the live server" in page.locator("[data-status=drift]").inner_text()
    page.close()


def test_an_exported_embed_draws_its_figure(browser: Browser, static_site: str) -> None:
    page = browser.new_page()
    log = PageLog(page)
    page.goto(static_site + "/embed/drift/?hide=controls")
    wait_until(page, ALL_DRAWN)
    assert log.errors == []
    page.close()


def test_a_preset_link_works_in_the_static_copy(browser: Browser, static_site: str) -> None:
    page = browser.new_page()
    log = PageLog(page)
    page.goto(static_site + "/embed/explainer/?preset=narrow-vs-wide")  # the scenario's settings come from data/
    wait_until(page, ALL_DRAWN)
    assert page.evaluate("() => document.querySelector('[data-figure=drift]').layout.xaxis.tickvals.join()") == "32,4096"
    assert "preset=narrow-vs-wide" in page.url and "widths=32%2C4096" in page.url
    assert log.errors == []
    page.close()
