"""Response headers on every kind of response: security headers, caching of versioned assets, gzip negotiation."""

from __future__ import annotations

import gzip

import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect

from app.serving.middleware import GzipMiddleware
from app.web.assets import IMMUTABLE, read_tree, tree_version
from app.web.routes import ASSETS_VERSION, PLOTLY_JS, PLOTLY_URL, ROOT, _embed_page
from tests.conftest import ClientFactory

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP header as {directive: sources}."""
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/", 200),
    ("GET", "/embed/drift", 200),
    ("GET", "/embed/nothing", 404),
    ("GET", "/healthz", 200),
    ("GET", "/api/v1/presets", 200),
    ("GET", "/api/v1/experiments/drift?steps=0", 422),
    ("POST", "/api/v1/kernels", 422),
    ("GET", f"/static/{ASSETS_VERSION}/js/main.js", 200),
    ("GET", "/static/js/../../app/main.py", 404),
    ("GET", "/" + PLOTLY_URL, 200),
    ("GET", "/openapi.json", 200),
    ("GET", "/no/such/page", 404),
])
def test_every_response_carries_the_security_headers(client: TestClient, method: str, path: str, status: int) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, name
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no remote origin
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert all("unsafe-eval" not in s and "http" not in s for sources in policy.values() for s in sources)
    # The one concession, for plotly.js (app/web/security.py says why): inline *styles*, never scripts.
    assert [d for d, sources in policy.items() if "'unsafe-inline'" in sources] == ["style-src"]


def test_the_page_may_be_framed_only_by_itself_and_embeds_by_the_configured_origins(make_client: ClientFactory) -> None:
    client = make_client(frame_ancestors="https://lms.example.edu https://moodle.example.org")
    assert directives(client.get("/").headers["content-security-policy"])["frame-ancestors"] == ["'self'"]
    embed = client.get("/embed/ring").headers["content-security-policy"]
    assert directives(embed)["frame-ancestors"] == ["https://lms.example.edu", "https://moodle.example.org"]
    assert "x-frame-options" not in client.get("/embed/ring").headers  # it would override frame-ancestors


def test_the_page_links_its_assets_under_this_builds_version(client: TestClient) -> None:
    html = client.get("/").text
    assert f'src="/static/{ASSETS_VERSION}/js/main.js"' in html and f'href="/static/{ASSETS_VERSION}/css/site.css"' in html
    assert tree_version(read_tree(ROOT / "static")) == ASSETS_VERSION


def test_versioned_assets_are_cached_for_a_year_and_others_are_revalidated(client: TestClient) -> None:
    current = client.get(f"/static/{ASSETS_VERSION}/css/site.css")
    assert current.status_code == 200 and current.headers["cache-control"] == IMMUTABLE
    assert current.headers["content-type"].startswith("text/css")
    module = client.get(f"/static/{ASSETS_VERSION}/js/figures/plot.js")  # what main.js imports relatively
    assert module.headers["content-type"].startswith("text/javascript") and module.headers["cache-control"] == IMMUTABLE
    for url in ("/static/css/site.css", "/static/0123456789ab/css/site.css"):  # old links, another replica's version
        other = client.get(url)
        assert other.status_code == 200 and other.content == current.content
        assert other.headers["cache-control"] == "no-cache" and other.headers["etag"]
        assert client.get(url, headers={"If-None-Match": other.headers["etag"]}).status_code == 304
    assert client.get(f"/static/{ASSETS_VERSION}/css/missing.css").status_code == 404


def test_api_results_revalidate_by_a_weak_etag_shared_by_both_encodings(client: TestClient) -> None:
    url = "/api/v1/experiments/drift?widths=8,16&steps=5&seeds=1&grid=8&districts=4&snapshots=2"
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert plain.headers["etag"].startswith('W/"') and plain.headers["etag"] == zipped.headers["etag"]
    assert "content-encoding" not in plain.headers and zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == "Accept-Encoding" and "max-age=" in plain.headers["cache-control"]
    assert client.get(url, headers={"If-None-Match": plain.headers["etag"]}).status_code == 304


@pytest.mark.parametrize(("accept", "gzipped"), [
    ("gzip", True), ("br, gzip;q=0.5", True), ("*", True), ("gzip;q=0", False), ("identity", False), ("", False),
    ("*;q=0.2, gzip;q=0", False),
])
def test_gzip_is_sent_only_when_the_client_accepts_it(client: TestClient, accept: str, gzipped: bool) -> None:
    # httpx would undo the encoding; read the raw bytes to see what was sent.
    with client.stream("GET", "/" + PLOTLY_URL, headers={"Accept-Encoding": accept}) as response:
        raw = b"".join(response.iter_raw())
    assert (response.headers.get("content-encoding") == "gzip") is gzipped
    assert (gzip.decompress(raw) if gzipped else raw) == PLOTLY_JS.read_bytes()


def test_page_and_assets_are_compressed_once_with_one_vary_and_one_weak_etag(client: TestClient) -> None:
    css = f"/static/{ASSETS_VERSION}/css/site.css"
    zipped = client.get(css, headers={"Accept-Encoding": "gzip"})
    plain = client.get(css, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert zipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert zipped.content == plain.content == (ROOT / "static" / "css" / "site.css").read_bytes()
    assert zipped.headers["vary"] == plain.headers["vary"] == "Accept-Encoding"
    assert zipped.headers["etag"] == plain.headers["etag"] and plain.headers["etag"].startswith('W/"')  # one weak tag
    assert client.get(css, headers={"If-None-Match": zipped.headers["etag"]}).status_code == 304
    page = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert page.headers["content-encoding"] == "gzip" and page.headers["vary"] == "Accept-Encoding"
    events = "/api/v1/experiments/drift/stream?widths=8&steps=2&seeds=1&grid=8&districts=2&snapshots=2"
    stream = client.get(events, headers={"Accept-Encoding": "gzip"})  # gzipped by the route, each piece flushed
    assert stream.headers["content-type"].startswith("text/event-stream") and stream.headers["content-encoding"] == "gzip"
    assert stream.headers["vary"] == "Accept-Encoding"  # once: the middleware leaves a stream alone


@pytest.mark.parametrize("path", ["/", "/embed/drift?hide=controls&depth=2", "/docs"])
def test_pages_are_revalidated_on_every_visit_and_answered_304_when_unchanged(client: TestClient, path: str) -> None:
    first = client.get(path)
    assert first.headers["cache-control"] == "no-cache" and first.headers["content-type"].startswith("text/html")
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]


def test_a_range_response_is_never_gzipped() -> None:
    # A 206 must keep the bytes its Content-Range counts; compressing them would corrupt the range.
    async def partial(scope: Scope, receive: Receive, send: Send) -> None:
        await Response(b"x" * 4000, status_code=206, media_type="application/json",
                       headers={"Content-Range": "bytes 0-3999/9000"})(scope, receive, send)

    response = TestClient(GzipMiddleware(partial)).get("/", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-3999"})
    assert response.status_code == 206 and "content-encoding" not in response.headers and len(response.content) == 4000


def test_a_websocket_to_the_assets_is_closed_not_crashed(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"/static/{ASSETS_VERSION}/css/site.css") as ws:
        ws.receive_text()


def test_long_embed_queries_are_answered_but_not_kept(client: TestClient) -> None:
    before = _embed_page.cache_info().currsize
    response = client.get("/embed/drift?seed=1&junk=" + "a" * 5000)
    assert response.status_code == 200 and "junk=aaaa" in response.text
    assert _embed_page.cache_info().currsize == before


HEADABLE = ["/", "/healthz", "/readyz", "/embed/drift", "/docs", "/" + PLOTLY_URL, "/api/v1/presets",
            "/api/v1/experiments/drift?widths=16,32&steps=10&snapshots=2", "/openapi.json"]


@pytest.mark.parametrize("path", HEADABLE)
def test_head_answers_as_get_would_without_a_body(client: TestClient, path: str) -> None:
    get = client.get(path, headers={"Accept-Encoding": "gzip"})
    head = client.head(path, headers={"Accept-Encoding": "gzip"})
    assert (head.status_code, head.content) == (get.status_code, b"")
    for name in ("content-type", "content-length", "content-encoding", "etag", "cache-control"):
        assert head.headers.get(name) == get.headers.get(name), name


def test_no_response_writes_the_host_header_back(client: TestClient) -> None:
    evil = {"host": "evil.example"}
    redirect = client.get("/api/v1/presets/", headers=evil, follow_redirects=False)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/api/v1/presets"
    assert "evil.example" not in client.get("/docs", headers=evil).text
    assert "evil.example" not in client.get("/embed/drift/", headers=evil, follow_redirects=False).headers["location"]


def test_the_docs_examples_use_the_configured_public_origin(make_client: ClientFactory) -> None:
    assert "curl 'https://lanes.example.edu/api/v1/" in make_client(public_origin="https://lanes.example.edu").get("/docs").text
