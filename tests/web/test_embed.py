"""Embedding: /embed/{figure} in an iframe on another origin (sandboxed or not), its height messages, the framing
policy, and a course page's own script calling the API (CORS)."""

from __future__ import annotations

import functools
import http.server
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Frame, Page, Request

from app.config import Settings
from app.serving.cors import is_public
from app.web.routes import EMBEDDABLE, SECTIONS_BY_ID
from tests.conftest import ClientFactory
from tests.servers import free_port, serve
from tests.web.conftest import ALL_DRAWN, draw_figures, wait_until
from tests.web.test_shared_urls import SETTLED

ROOT = Path(__file__).resolve().parents[2]
FIGURES = [figure for figure in EMBEDDABLE if figure != "explainer"]

SMALL = "widths=16,64&steps=50&width=16"
HOST_PAGE = """<!doctype html><html lang="en"><head><title>A course page</title></head><body>
<h1>Week 3: kernels</h1>
<iframe id="figure" src="{src}" title="Infinite Lanes" width="800" height="300" style="border:0"></iframe>
<script>
  window.heights = [];
  window.addEventListener("message", (event) => {{
    if (event.origin === "{app_origin}" && event.data.type === "infinite-lanes:resize") {{
      window.heights.push(event.data.height);
      document.getElementById("figure").height = event.data.height;
    }}
  }});
</script></body></html>"""


# Where the snippets of the docs point; the test serves them from its own server.
DOCS_ORIGIN = "https://lanes.example.org"
DOCUMENTED = [ROOT / "README.md", ROOT / "docs" / "embedding.md"]
SNIPPET = re.compile(r'<iframe src="([^"]+)"[^>]*?height="(\d+)"', re.S)
FRAME_WIDTH = 800  # static/js/embed.js: the snippets' heights are for a frame this wide
SLACK = 100  # px an advertised height may exceed the content: rounding, and a longer summary in other states


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def host(html: str, tmp: Path) -> Iterator[str]:
    """A static course page on its own loopback port (another origin than the app)."""
    (tmp / "host.html").write_text(html)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(QuietHandler, directory=str(tmp)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/host.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_embeds_have_no_chrome_and_may_be_framed_by_any_origin_by_default(client: TestClient) -> None:
    response = client.get("/embed/drift?" + SMALL + "&hide=controls,caption")
    assert response.status_code == 200
    assert "frame-ancestors *" in response.headers["content-security-policy"]
    assert "x-frame-options" not in response.headers
    html = response.text
    assert 'data-figure="drift"' in html and 'data-figure="ring"' not in html
    assert 'id="controls"' not in html and "hide-caption" in html and "<footer" not in html
    assert "frame-ancestors 'self'" in client.get("/").headers["content-security-policy"]  # the page itself: no framing


def test_the_explainer_embed_keeps_every_figure_and_can_drop_the_cards(client: TestClient) -> None:
    assert client.get("/embed/explainer").text.count('<div class="card">') == len(SECTIONS_BY_ID)
    html = client.get("/embed/explainer?hide=cards").text
    assert all(f'data-figure="{f}"' in html for f in ("ring", "maps", "drift", "forecast", "breaks"))
    assert '<div class="card">' not in html


def test_a_figure_embed_shows_just_the_figure_unless_its_card_is_asked_for(client: TestClient) -> None:
    assert '<div class="card">' not in client.get("/embed/drift").text
    html = client.get("/embed/drift?card=1").text
    assert html.count('<div class="card">') == 1 and "What theory says" in html
    assert 'href="/?"' in html or "card=1" not in html.split("embed-credit")[1]  # not carried into "Open in Infinite Lanes"


def test_a_figure_embed_has_one_title_without_a_number_and_no_embed_button(client: TestClient) -> None:
    for query in ("", "?card=1"):
        html = client.get(f"/embed/drift{query}").text
        headings = re.findall(r"<h([1-6])[^>]*>([^<]*)</h\1>", html)
        assert [h for h in headings if "Wider roads" in h[1]] == [("1", "Wider roads, steadier traffic")]  # once, unnumbered
        assert 'id="drift-title"' in html and "data-embed=" not in html and "Embed this figure" not in html
    explainer = client.get("/embed/explainer").text  # the whole story keeps its numbered sections
    assert '<h2 id="drift-title">5. Wider roads, steadier traffic</h2>' in explainer and "data-embed=" not in explainer


def test_an_unknown_figure_is_a_404_that_lists_the_embeddable_ones(client: TestClient) -> None:
    response = client.get("/embed/weather")
    assert response.status_code == 404 and "embeddable are widen, ring, maps, freeze, drift" in response.json()["detail"]


def test_the_framing_allow_list_comes_from_the_settings(make_client: ClientFactory) -> None:
    client = make_client(frame_ancestors="https://canvas.example.edu https://moodle.example.org")
    policy = client.get("/embed/ring").headers["content-security-policy"]
    assert "frame-ancestors https://canvas.example.edu https://moodle.example.org" in policy
    with pytest.raises(ValueError, match="frame_ancestors must be"):
        Settings(frame_ancestors="javascript:alert(1)")


def _frame(page: Page) -> Frame:
    return next(f for f in page.frames if "/embed/" in f.url)


def _drawn_frame(page: Page) -> Frame:
    """The page's embed, once it is there and every figure in it is drawn."""
    deadline = time.monotonic() + 30
    while not any("/embed/" in f.url for f in page.frames):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    frame = _frame(page)
    wait_until(frame, ALL_DRAWN)
    return frame


def test_a_course_page_on_another_origin_embeds_a_figure_that_sizes_itself(browser: Browser, base_url: str,
                                                                            tmp_path: Path) -> None:
    html = HOST_PAGE.format(src=f"{base_url}/embed/drift?{SMALL}&hide=controls", app_origin=base_url)
    with host(html, tmp_path) as url:
        page = browser.new_page()
        page.goto(url)
        _drawn_frame(page)
        wait_until(page, "() => window.heights.length > 0 && window.heights[window.heights.length - 1] > 400")
        # Read together: the embed may still grow (an overlay, a summary arriving) between two separate reads.
        last_height, frame_height = page.evaluate("() => [window.heights.at(-1), document.getElementById('figure').height]")
        assert frame_height == str(last_height)
        page.close()


SANDBOXED_HOST = """<!doctype html><html lang="en"><head><title>A course page</title><link rel="icon" href="data:,">
</head><body><iframe {sandbox} src="{src}" title="Infinite Lanes" width="1200" height="700" style="border:0"></iframe>
<script>
  window.heights = [];  // docs/embedding.md's listener for sandboxed frames: by event.source (the origin may be "null")
  const frame = document.querySelector("iframe");
  addEventListener("message", (event) => {{
    if (event.source === frame.contentWindow && event.data?.type === "infinite-lanes:resize") {{
      window.heights.push(event.data.height);
    }}
  }});
</script></body></html>"""


@pytest.mark.parametrize(("sandbox", "origin"), [('sandbox="allow-scripts"', "null"),
                                                 ('sandbox="allow-scripts allow-same-origin"', "app"), ("", "app")],
                         ids=["allow-scripts", "allow-scripts allow-same-origin", "no sandbox"])
def test_an_embed_draws_in_a_sandboxed_frame_too(browser: Browser, base_url: str, tmp_path: Path, sandbox: str,
                                                origin: str) -> None:
    """``allow-scripts`` alone gives the embed the opaque origin ``null``: its module scripts and API reads are then
    cross-origin and need ``Access-Control-Allow-Origin`` (app/serving/cors.py); its CSP's ``'self'`` still means
    the app's origin, so nothing else changes."""
    html = SANDBOXED_HOST.format(sandbox=sandbox, src=f"{base_url}/embed/drift?{SMALL}&hide=controls")
    with host(html, tmp_path) as url:
        page = browser.new_page()
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        requests: list[Request] = []
        page.on("request", lambda r: requests.append(r) if r.url.startswith(base_url) else None)
        page.goto(url)
        frame = _drawn_frame(page)
        assert frame.evaluate("() => self.origin") == (base_url if origin == "app" else "null")
        assert frame.evaluate("() => document.querySelectorAll('[data-figure=drift] .main-svg').length") > 0
        assert problems == []  # was: "Access to script ... from origin 'null' has been blocked by CORS policy"
        wait_until(page, "() => window.heights.length > 0")
        fetched = [r for r in requests if not r.is_navigation_request()]
        assert fetched and all(r.method == "GET" and is_public(r.method, r.url.removeprefix(base_url)) for r in fetched)
        page.close()


COURSE_SCRIPT = """async (api) => {
  try {
    const response = await fetch(api + "/api/v1/kernels", {method: "POST", headers: {"Content-Type": "application/json"},
                                                           body: JSON.stringify({x1: [[1, 0], [0, 1]]})});
    return `${response.status} ${Object.keys(await response.json())}`;
  } catch (error) {
    return error.name;
  }
}"""


def test_a_course_pages_own_script_may_post_to_the_api_only_from_a_listed_origin(browser: Browser, base_url: str,
                                                                                 tmp_path: Path) -> None:
    with host("<!doctype html><title>A course page</title>", tmp_path) as url:
        course = url.removesuffix("/host.html")
        page = browser.new_page()
        refused: list[str] = []
        page.on("console", lambda m: refused.append(m.text) if "CORS policy" in m.text else None)
        page.goto(url)
        assert page.evaluate(COURSE_SCRIPT, base_url) == "TypeError"  # the default: the preflight is refused
        assert refused
        with serve(Settings(cors_origins=course)) as listing:
            assert page.evaluate(COURSE_SCRIPT, listing).startswith("200 ")
        page.close()


def test_a_course_page_outside_the_allow_list_is_refused_by_the_browser(browser: Browser, tmp_path: Path) -> None:
    with serve(Settings(frame_ancestors="https://only.example.edu")) as app_url:
        html = HOST_PAGE.format(src=f"{app_url}/embed/drift?{SMALL}", app_origin=app_url)
        with host(html, tmp_path) as url:
            page = browser.new_page()
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
            page.goto(url)
            time.sleep(2)
            frames = [f for f in page.frames if f is not page.main_frame]
            assert all(f.evaluate("() => document.querySelector('[data-figure]') === null") for f in frames
                       if not f.is_detached())
            assert page.evaluate("() => window.heights.length") == 0
            assert refused, "Chromium should report the frame-ancestors refusal"
            page.close()


def test_the_embed_dialog_offers_a_ready_snippet(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{base_url}/?{SMALL}")
    draw_figures(page)
    page.click("button[data-embed=forecast]")
    assert page.is_visible("#embed-dialog")
    snippet = page.input_value("#embed-snippet")
    assert snippet.startswith(f'<iframe src="{base_url}/embed/forecast?') and "hide=controls" in snippet
    assert 'title="Infinite Lanes: The planner' in snippet and 'loading="lazy"' in snippet and "widths=16%2C64" in snippet
    page.check("#embed-lock")
    assert "lock=1" in page.input_value("#embed-snippet")
    height = int(snippet.split('height="')[1].split('"')[0])
    assert height == SECTIONS_BY_ID["forecast"].embed_height  # the figure alone: its template's measured height
    page.check("#embed-card")
    with_card = page.input_value("#embed-snippet")
    assert "card=1" in with_card and int(with_card.split('height="')[1].split('"')[0]) > height
    tops = page.evaluate("() => ['embed-copy', 'embed-close'].map((id) => "
                         "document.getElementById(id).getBoundingClientRect().top)")
    assert tops[0] == tops[1]  # the two buttons side by side on one line
    page.click("#embed-close")
    assert not page.is_visible("#embed-dialog")
    # With its card and the settings, measured on this page as an 800-px frame lays them out: the embed's content fits.
    page.click("button[data-embed=drift]")
    page.uncheck("#embed-hide-controls")
    src, advertised = SNIPPET.search(page.input_value("#embed-snippet")).groups()  # type: ignore[union-attr]
    page.close()
    frame = browser.new_page(viewport={"width": FRAME_WIDTH, "height": 600})
    content = _content_height(frame, src.replace("&amp;", "&"))
    assert "card=1" in src and "hide=" not in src and content <= int(advertised) <= content + SLACK
    frame.close()


def test_a_locked_embed_keeps_its_settings_fixed(browser: Browser, base_url: str) -> None:
    page = browser.new_page()
    page.goto(f"{base_url}/embed/explainer?{SMALL}&lock=1")
    draw_figures(page)
    assert page.evaluate("() => [...document.getElementById('controls').elements].every(e => e.disabled)")
    assert page.locator("[data-try]").count() > 0 and not page.locator("[data-try]").first.is_visible()  # no scenarios
    page.close()


def _content_height(page: Page, src: str) -> int:
    """The height of an embed's content in the page's frame width, once every figure in it has settled."""
    page.goto(src)
    wait_until(page, SETTLED, near=())
    return int(page.evaluate("() => document.documentElement.scrollHeight"))


def test_every_advertised_embed_height_covers_the_embeds_content_at_800_px(browser: Browser, base_url: str) -> None:
    """Each figure's embed alone, as the Embed dialog offers it on a fresh page (its section's embed_height:
    test_the_embed_dialog_offers_a_ready_snippet checks the dialog says so), and the snippets of the README and
    docs/embedding.md: each frame's height is at least the content's height measured in Chromium at 800 px, and not
    much more."""
    advertised = {figure: (f"{base_url}/embed/{figure}?v=1&hide=controls", SECTIONS_BY_ID[figure].embed_height)
                  for figure in FIGURES}
    for path in DOCUMENTED:
        for src, height in SNIPPET.findall(path.read_text(encoding="utf-8")):
            advertised[f"{path.name}: {src}"] = (src.replace(DOCS_ORIGIN, base_url).replace("&amp;", "&"), int(height))
    assert len(advertised) == len(FIGURES) + len(DOCUMENTED)
    page = browser.new_page(viewport={"width": FRAME_WIDTH, "height": 600})  # one after another in one tab: ~2× faster
    wrong = []
    for key, (src, height) in advertised.items():
        content = _content_height(page, src)
        if not content <= height <= content + SLACK:
            wrong.append(f"{key}: advertised {height} px, content {content} px")
    page.close()
    assert wrong == [], wrong
