"""The API reference at /docs: every operation from the OpenAPI document, strict CSP, nothing remote, accessible."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from fastapi.testclient import TestClient
from playwright.sync_api import Browser

from app.web.reference import operations
from tests.web.conftest import PageLog


def test_every_operation_and_its_ranges_are_described(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    openapi = client.get("/openapi.json").json()
    for path, methods in openapi["paths"].items():
        for method in methods:
            assert f"<code>{method.upper()} {path}</code>" in html, (method, path)
    drift = next(op for op in operations(openapi) if op.path == "/api/v1/experiments/drift")
    depth = next(f for f in drift.fields if f.name == "depth")
    assert (depth.kind, depth.allowed, depth.default) == ("integer", "1 to 4", "1")
    kernels = next(op for op in operations(openapi) if op.path == "/api/v1/kernels")
    x1 = next(f for f in kernels.fields if f.name == "x1")
    assert kernels.body and x1.required and x1.allowed.startswith("1 to 256 items; each: 1 to 16 items")
    assert not re.search(r"""(src|href)=["']https?://""", html) and "<script" not in html
    assert client.get("/redoc").status_code == 404  # FastAPI's CDN-loaded pages are off


def test_the_reference_renders_cleanly_links_back_and_passes_axe_in_chromium(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    log = PageLog(page)
    page.goto(base_url + "/")
    page.click("text=The JSON API")  # the page's footer link
    page.wait_for_url("**/docs")
    assert page.locator("h2 code").count() >= 7
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
    page.click("text=← Infinite Lanes: the explainer")  # and back
    page.wait_for_url(base_url + "/")
    assert log.errors == []
    page.close()
