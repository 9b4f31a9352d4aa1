"""The page's HTTP side: security headers, no inline script, plotly.js from its vendored bundle."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.web.routes import PLOTLY_JS, PLOTLY_URL, SECTIONS_BY_ID


def test_the_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'self'" in policy


def test_the_page_has_no_inline_script_and_no_remote_resource(client: TestClient) -> None:
    html = client.get("/").text
    scripts = re.findall(r"<script\b[^>]*>", html)
    code = [tag for tag in scripts if 'type="application/json"' not in tag]  # data blocks never run (CSP or not)
    assert code and all("src=" in tag for tag in code)
    assert len(scripts) - len(code) == 1  # the parameters' table, app/parameters.py
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert '<html lang="en">' in html and "<title>" in html and "<main" in html and "<h1>" in html


def test_plotly_js_comes_from_the_vendored_bundle_under_a_versioned_url(client: TestClient) -> None:
    assert f'data-plotly="/{PLOTLY_URL}"' in client.get("/").text  # loaded by static/js/figures/plot.js
    response = client.get("/" + PLOTLY_URL)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert response.content == PLOTLY_JS.read_bytes()  # the client undoes the gzip
    assert response.headers["content-encoding"] == "gzip" and "immutable" in response.headers["cache-control"]
    assert client.get("/vendor/plotly-0.0.1.min.js").status_code == 404
    assert client.get("/vendor/SHA256SUMS").status_code == 404  # only the bundle is served from vendor/


def test_every_section_shows_its_card_with_maths_as_mathml(client: TestClient) -> None:
    html = client.get("/").text
    assert html.count('<div class="card">') == len(SECTIONS_BY_ID)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html
    cards = "".join(part.split("</div>")[0] for part in html.split('<div class="card">')[1:])
    assert "$" not in re.sub(r"<[^>]+>", "", cards)  # no unrendered TeX left


def test_embeds_offer_no_embed_button_but_the_page_offers_one_per_figure(client: TestClient) -> None:
    # The embed dialog lives on the page only; a button inside an iframe would open nothing.
    page = client.get("/").text
    assert page.count("data-embed=") == page.count("data-figure=") > 0
    for figure in ("ring", "drift", "explainer"):
        assert "data-embed=" not in client.get(f"/embed/{figure}").text, figure
