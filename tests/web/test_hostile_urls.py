"""Hostile URL state, in Chromium: injection attempts in every parameter, absurd numbers, unknown keys, truncated and
duplicated parameters, on the page and on the embeds. No script runs, nothing is inserted as markup, a plain message
says what was ignored, and the figures are drawn with the defaults instead."""

from __future__ import annotations

import socket
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page

from app.web.routes import ASSETS_VERSION
from tests.web.conftest import draw_figures

PARAMETERS = ["preset", "widths", "width", "depth", "activation", "w_std", "b_std", "parameterization", "alpha",
              "alpha_scaling", "learning_rate", "lr_scaling", "steps", "districts", "target", "frequency", "seed",
              "district", "time", "compare", "v"]
INJECTIONS = [
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=1">',
    "javascript:window.__pwned=1",
    "{{7*7}}${7*7}",
    "'-window.__pwned=1-'",
]
# The longest fit six times in the server's 32 KiB head limit (LANES_MAX_HEADER_BYTES: beyond it, 431 before any page).
ABSURD = ["1e308", "-1", "NaN", "99999999999999999999", "0x10", " 64", "", "9" * 5000, "Ｗ" * 500]
# Prototype pollution through keys, keys that are not ours, a key with no value, duplicates (last wins), truncation.
ODD_QUERIES = ["__proto__[polluted]=1&constructor[prototype][polluted]=1&toString=1&hasOwnProperty=1&&&=&=1&v=1&",
               "depth&width=64&width", "depth=2&depth=<b>3</b>&widths=16,", "widths=16,16,32&v=999"]

# Set before any page script: record CSP violations and dialogs; __pwned stays undefined unless injected code runs.
TRAP = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""
PAGES = ["/", "/embed/drift", "/embed/explainer?hide=controls", "/embed/ring?hide=controls,caption&lock=1"]


def visit(browser: Browser, url: str) -> tuple[Page, list[str]]:
    page = browser.new_page()
    problems: list[str] = []
    page.add_init_script(TRAP)
    page.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("console", lambda m: problems.append(f"console: {m.text}")
            if m.type == "error" and "Failed to load resource" not in m.text else None)
    page.goto(url)
    return page, problems


def assert_unharmed(page: Page, problems: list[str]) -> None:
    draw_figures(page)  # ignored values fall back to defaults: the figures are drawn
    assert problems == []
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => ({}).polluted") is None
    assert page.evaluate("() => window.__violations") == []  # nothing was even attempted as markup or inline script
    assert page.locator("img[src=x], [onerror]").count() == 0
    # Every script is ours, from our origin, except the one data block (app/parameters.py), which never runs.
    inline = page.evaluate("() => [...document.scripts].filter(s => !s.src).map(s => [s.id, s.type])")
    assert inline == [["parameters", "application/json"]]
    assert page.evaluate("() => [...document.scripts].every(s => !s.src || new URL(s.src).origin === location.origin)")


def controls_message(page: Page) -> str:
    return page.locator('[data-status="controls"]').inner_text()


def parse(page: Page, queries: list[str]) -> list[dict[str, Any]]:
    """The page's own URL parser (static/js/state.js ``parseState``) on each query: ``{state, problems}``."""
    return page.evaluate("""async ([url, queries]) => {
        const { parseState } = await import(url);
        return queries.map((q) => { const { state, problems } = parseState(q); return { state, problems }; });
    }""", [f"/static/{ASSETS_VERSION}/js/state.js", queries])


def rotated(values: list[str], names: list[str], turn: int) -> str:
    """A query giving parameter ``i`` the value ``values[(i + turn) % len(values)]``."""
    return "&".join(f"{name}={quote(values[(i + turn) % len(values)])}" for i, name in enumerate(names))


# Every page, loaded for real, with every parameter injected at once; the parser is then checked on each injection in
# every parameter (the same code turns every URL into the state, so one page load each would repeat it).
@pytest.mark.parametrize("path", PAGES)
def test_injection_in_every_parameter_runs_nothing_and_is_reported(browser: Browser, base_url: str, path: str) -> None:
    for turn in range(2 if path == "/" else 1):  # on the page, each injection in a different parameter each time
        page, problems = visit(browser, f"{base_url}{path}{'&' if '?' in path else '?'}{rotated(INJECTIONS, PARAMETERS, turn)}")
        assert_unharmed(page, problems)
        message = controls_message(page)
        for name in PARAMETERS:
            if name != "v":
                assert f"Ignored {name}: expected" in message, (turn, name)
        content = page.content().replace("&amp;", "&")
        assert not any(injection in content for injection in INJECTIONS)  # shown as text at most, never as markup
        if path == "/":
            queries = ["&".join(f"{name}={quote(injection)}" for name in PARAMETERS) for injection in INJECTIONS]
            for injection, parsed in zip(INJECTIONS, parse(page, queries), strict=True):
                assert parsed["state"] == parse(page, [""])[0]["state"], injection  # every value ignored
                assert len(parsed["problems"]) == len(PARAMETERS) - 1, injection  # and each reported (v is silent)
        page.close()


def test_absurd_numbers_are_refused_with_their_allowed_range(browser: Browser, base_url: str) -> None:
    names = ["width", "depth", "w_std", "learning_rate", "steps", "seed"]
    page, problems = visit(browser, f"{base_url}/?{rotated(ABSURD, names, 0)}")
    assert_unharmed(page, problems)
    message = controls_message(page)
    assert "Ignored depth: expected a number from 1 to 4." in message
    assert "Ignored steps: expected a number from 1 to 10000." in message
    assert page.input_value("#control-depth") == "1" and page.input_value("#control-steps") == "500"
    defaults = parse(page, [""])[0]["state"]
    for value, parsed in zip(ABSURD, parse(page, ["&".join(f"{name}={quote(value)}" for name in names) for value in ABSURD]),
                             strict=True):
        assert parsed["state"] == defaults, value
        assert "Ignored depth: expected a number from 1 to 4." in parsed["problems"], value
        assert "Ignored steps: expected a number from 1 to 10000." in parsed["problems"], value
        assert len(parsed["problems"]) == len(names), value
    page.close()


@pytest.mark.parametrize("query", ODD_QUERIES)
def test_unknown_truncated_and_duplicated_parameters_never_break_the_page(browser: Browser, base_url: str, query: str) -> None:
    page, problems = visit(browser, f"{base_url}/?{query}")
    assert_unharmed(page, problems)
    page.close()


def test_the_embed_credit_link_carries_the_state_without_breaking_out(browser: Browser, base_url: str) -> None:
    hostile = quote('"><script>window.__pwned=1</script>&lock=0#')
    page, problems = visit(browser, f"{base_url}/embed/drift?seed=3&steps={hostile}&hide=controls")
    assert_unharmed(page, problems)
    href = page.locator(".embed-credit a").get_attribute("href") or ""
    assert href.startswith("/?seed=3&steps=%22%3E%3Cscript%3E") and "hide" not in href and "#" not in href
    page.close()


def test_a_request_line_over_64_kib_gets_400_not_a_crash(base_url: str) -> None:
    # uvicorn's HTTP parser refuses it before the app; behind a proxy the proxy's own limit applies first (nginx: 414).
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET /?x=" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.1 400 ")
    with urllib.request.urlopen(base_url + "/healthz", timeout=5) as response:
        assert response.status == 200
