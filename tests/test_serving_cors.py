"""CORS (app/serving/cors.py): public reads for every origin, ``null`` included; the rest only for listed origins."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.serving.cors import MAX_AGE
from app.web.routes import ASSETS_VERSION, PLOTLY_URL
from tests.conftest import ClientFactory

COURSE = "https://course.example.edu"
KERNELS = {"x1": [[1, 0], [0, 1]], "kinds": ["analytic"]}
PUBLIC = [  # every kind of request a sandboxed embed makes (tests/web/test_embed.py checks that list in Chromium)
    ("GET", f"/static/{ASSETS_VERSION}/js/main.js"),
    ("GET", f"/static/{ASSETS_VERSION}/js/figures/drift.js"),
    ("HEAD", f"/static/{ASSETS_VERSION}/css/site.css"),
    ("GET", "/" + PLOTLY_URL),
    ("GET", "/api/v1/presets"),
    ("GET", "/api/v1/experiments/drift?widths=16,32&steps=10&snapshots=2"),
    ("GET", "/api/v1/experiments/drift?steps=0"),  # a refusal is readable too: the embed shows its message
    ("GET", "/data/presets.json"),
]


def preflight(client: TestClient, path: str, origin: str = COURSE, method: str = "POST",
              headers: str = "content-type") -> dict[str, str]:
    response = client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                             "Access-Control-Request-Headers": headers})
    return {"status": str(response.status_code), **response.headers,
            "detail": response.json()["detail"] if response.content else ""}


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A fallback data/ folder with one saved file, so /data/ is mounted."""
    (tmp_path / "presets.json").write_text("[]")
    return tmp_path


@pytest.mark.parametrize(("method", "path"), PUBLIC)
@pytest.mark.parametrize("origin", ["null", COURSE])
def test_public_reads_are_readable_by_every_origin_without_any_setting(make_client: ClientFactory, saved: Path,
                                                                       method: str, path: str, origin: str) -> None:
    response = make_client(fallback_dir=saved).request(method, path, headers={"Origin": origin})
    assert response.status_code in (200, 422)
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "ETag, Retry-After"  # a 503's Retry-After, readable
    assert "access-control-allow-credentials" not in response.headers  # no credentials, ever
    assert "origin" not in response.headers.get("vary", "").lower()  # the same answer for every origin


def test_without_the_setting_nothing_else_is_readable_and_preflights_are_refused(client: TestClient) -> None:
    for method, path in [("POST", "/api/v1/kernels"), ("GET", "/"), ("GET", "/embed/drift"), ("GET", "/healthz")]:
        response = client.request(method, path, headers={"Origin": COURSE}, json=KERNELS if method == "POST" else None)
        assert response.status_code == 200 and "access-control-allow-origin" not in response.headers, path
    refused = preflight(client, "/api/v1/kernels")
    assert refused["status"] == "403" and "access-control-allow-origin" not in refused
    assert "LANES_CORS_ORIGINS" in refused["detail"] and COURSE in refused["detail"]
    assert preflight(client, "/api/v1/presets", origin="null", method="GET", headers="x-custom")["status"] == "403"


def test_a_listed_origin_has_its_preflight_answered_and_is_echoed_back(make_client: ClientFactory) -> None:
    client = make_client(cors_origins="https://Course.example.edu https://lms.example.org")
    answered = preflight(client, "/api/v1/kernels")
    assert answered["status"] == "204" and answered["access-control-allow-origin"] == COURSE
    assert answered["access-control-allow-methods"] == "GET, HEAD, POST"
    assert answered["access-control-allow-headers"] == "Accept, Content-Type"
    assert answered["access-control-max-age"] == str(MAX_AGE) and answered["vary"] == "Origin"
    assert preflight(client, "/api/v1/presets", method="HEAD", headers="accept")["status"] == "204"
    response = client.post("/api/v1/kernels", json=KERNELS, headers={"Origin": COURSE, "Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == COURSE
    assert response.headers["access-control-expose-headers"] == "ETag, Retry-After"
    assert {"origin", "accept-encoding"} <= {v.strip().lower() for v in response.headers["vary"].split(",")}
    # the answer varies by Origin even for a request without one: a shared cache must not hand it to a listed origin
    assert "origin" in client.get("/healthz").headers["vary"].lower()
    public = client.get("/api/v1/presets", headers={"Origin": COURSE})  # public reads stay '*' for everyone
    assert public.headers["access-control-allow-origin"] == "*" and "origin" not in public.headers["vary"].lower()


def test_an_origin_method_or_header_not_allowed_is_refused_saying_which(make_client: ClientFactory) -> None:
    client = make_client(cors_origins=COURSE)
    other = preflight(client, "/api/v1/kernels", origin="https://elsewhere.example")
    assert other["status"] == "403" and "access-control-allow-origin" not in other and other["vary"] == "Origin"
    assert "https://elsewhere.example" in other["detail"]
    unlisted = client.post("/api/v1/kernels", json=KERNELS, headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in unlisted.headers and "origin" in unlisted.headers["vary"].lower()
    assert preflight(client, "/api/v1/kernels", origin="null")["status"] == "403"  # every sandboxed frame is "null"
    method = preflight(client, "/api/v1/kernels", method="DELETE")
    assert method["status"] == "403" and "DELETE is not allowed" in method["detail"]
    header = preflight(client, "/api/v1/kernels", headers="content-type, x-secret")
    assert header["status"] == "403" and "x-secret" in header["detail"]


def test_a_star_allows_every_origin_without_vary(make_client: ClientFactory) -> None:
    client = make_client(cors_origins="*")
    answered = preflight(client, "/api/v1/predictions", origin="https://anyone.example")
    assert answered["status"] == "204" and answered["access-control-allow-origin"] == "*" and "vary" not in answered
    response = client.post("/api/v1/kernels", json=KERNELS, headers={"Origin": "https://anyone.example"})
    assert response.headers["access-control-allow-origin"] == "*" and "origin" not in response.headers.get("vary", "")


def test_an_options_that_is_not_a_preflight_still_gets_405_with_allow(make_client: ClientFactory) -> None:
    client = make_client(cors_origins="*")
    for headers in ({}, {"Origin": COURSE}):  # a preflight needs both Origin and Access-Control-Request-Method
        response = client.options("/api/v1/kernels", headers=headers)
        assert response.status_code == 405 and response.headers["allow"] == "POST"


@pytest.mark.parametrize("value", ["null", "javascript:alert(1)", "https://lms.example.edu/course", "* https://a.example"])
def test_the_origins_setting_takes_only_a_star_or_origins(value: str) -> None:
    with pytest.raises(ValueError, match="cors_origins must be"):
        Settings(cors_origins=value)
    assert Settings().cors_origins == ""  # off by default
    assert Settings(cors_origins="  https://A.example:8443   https://b.example ").cors_origins == \
        "https://a.example:8443 https://b.example"
