"""Page routes: the explainer at ``/``, and plotly.js from its vendored partial bundle (``vendor/``)."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import nodes

from app.content import load_cards
from app.content.presets import PRESETS
from app.parameters import controls_in, page_defaults, page_request, page_table, parameter
from app.serving.cache import CachedBody
from app.serving.deps import SettingsDep
from app.serving.responses import cached_response
from app.web.assets import IMMUTABLE, REVALIDATE, read_tree, tree_version
from app.web.reference import operations
from app.web.security import content_security_policy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Jinja2Templates(directory=ROOT / "templates")
TEMPLATES.env.filters["plain"] = lambda number: f"{number:f}".rstrip("0").rstrip(".")  # 1e-06 → 0.000001
PLOTLY_JS = ROOT / "vendor" / "plotly-cartesian-4.1.1.min.js"  # the official partial bundle (vendor/README.md)
PLOTLY_URL = f"vendor/{PLOTLY_JS.name}"  # under the site root; the name carries the version: cached a year
STATIC_FILES = read_tree(ROOT / "static")  # read once: served from memory (app/web/assets.py)
ASSETS_VERSION = tree_version(STATIC_FILES)  # asset URLs: {root}static/{ASSETS_VERSION}/…
IMPORT = re.compile(rb"""^(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}/[^"']+)["']""", re.MULTILINE)


def imported_modules(files: Mapping[str, bytes], entry: str) -> tuple[str, ...]:
    """Every module ``entry`` imports statically, directly or not (``js/api.js``, …; ``entry`` itself left out), in
    the order they are found: the page preloads them with main.js (``<link rel="modulepreload">``), so a phone on a
    slow line fetches them at once instead of one level of imports per round trip."""
    found: list[str] = []
    waiting = [entry]
    while waiting:
        module = waiting.pop(0)
        for target in IMPORT.findall(files[module]):
            path = posixpath.normpath(posixpath.join(posixpath.dirname(module), target.decode()))
            if path != entry and path not in found:
                found.append(path)
                waiting.append(path)
    return tuple(found)


MAIN_IMPORTS = imported_modules(STATIC_FILES, "js/main.js")
HTML = "text/html"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def plotly_body() -> CachedBody:
    """The script, its gzip form and ETag, made once per process (1.5 MB → 484 KiB, ~0.15 s: done at startup)."""
    return CachedBody.of(PLOTLY_JS.read_bytes(), level=9)


@dataclass(frozen=True)
class Section:
    """A part of the page: ``templates/sections/<order>-<id>.html``, which sets ``title`` and, if it is a figure,
    ``embed_height`` (the Embed dialog's iframe height; a figure is embeddable and drawn by static/js/figures/<id>.js)."""

    id: str
    number: int  # its heading's number: its place on the page, from 1
    template: str
    title: str
    embed_height: int | None

    @property
    def figure(self) -> bool:
        return self.embed_height is not None


def _declared(template: str) -> dict[str, object]:
    """The constants a template sets at its top level (``{% set title = "…" %}``), read without rendering it."""
    body = TEMPLATES.env.parse((ROOT / "templates" / template).read_text(encoding="utf-8")).body
    return {node.target.name: node.node.value for node in body
            if isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name) and isinstance(node.node, nodes.Const)}


def _find_sections() -> dict[str, Section]:
    """Every section template by id, in the order of the numbers their file names start with."""
    paths = sorted((ROOT / "templates" / "sections").glob("*.html"), key=lambda path: int(path.name.split("-")[0]))
    sections = {}
    for number, path in enumerate(paths, start=1):
        template = f"sections/{path.name}"
        declared = _declared(template)
        title, height = declared.get("title"), declared.get("embed_height")
        assert isinstance(title, str) and isinstance(height, int | None), f"{template} sets no title or a bad embed_height"
        section = Section(path.stem.split("-", 1)[1], number, template, title, height)
        sections[section.id] = section
    return sections


SECTIONS_BY_ID = _find_sections()  # the page's parts: adding a section or figure is adding its template
SECTIONS = tuple(SECTIONS_BY_ID)
EMBEDDABLE = {s.id: s.title for s in SECTIONS_BY_ID.values() if s.figure} | {"explainer": "Infinite Lanes"}
HIDEABLE = ("controls", "caption", "cards")
EMBED_QUERY_KEYS = {"hide", "lock", "card"}  # embed-only parameters, left out of the "open in Infinite Lanes" link


# The page's URL-state table (app/parameters.py) as a JSON block that static/js/state.js reads: never executed, so
# the CSP allows it; "<" is escaped so no value can close the script element.
PARAMETERS_JSON = json.dumps(page_table(), ensure_ascii=False).replace("<", "\\u003c")


def page_context(**extra: object) -> dict[str, object]:
    """What every page template needs; ``root`` prefixes every URL ("/" when served, relative when exported)."""
    context = {"cards": load_cards(), "plotly_url": PLOTLY_URL, "modules": MAIN_IMPORTS,
               "presets_options": [(p.id, p.title) for p in PRESETS],
               "controls_in": controls_in, "parameter": parameter, "parameters_json": PARAMETERS_JSON,
               "sections": SECTIONS, "embed": False, "alone": False, "root": "/", "static": False, "hidden": [], "query": "",
               "first_experiment": None, **extra}
    names = context["sections"]  # ids: the callers choose which sections a page shows
    assert isinstance(names, list | tuple), "sections are given as a list of section ids"
    return context | {"assets": f"{context['root']}static/{ASSETS_VERSION}/", "sections": [SECTIONS_BY_ID[n] for n in names]}


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    """The whole explainer; its state lives in the URL and is applied by ``static/js/main.js``. Opened without a
    query, the page preloads its first experiment (:data:`FIRST_EXPERIMENT`)."""
    return cached_response(request.headers, index_page(bare=not request.url.query), HTML, REVALIDATE)


@router.get("/embed/{figure}", response_class=HTMLResponse)
async def embed(figure: str, request: Request, settings: SettingsDep, hide: str = Query("", max_length=100),
                card: str = "") -> Response:
    """One figure (or ``explainer``: all of them) without the site around it, for an ``<iframe>`` in a course page.

    Same URL state as the page; ``hide=controls,caption,cards`` leaves parts out, ``lock=1`` fixes
    the state. A single figure comes without its card (its explanation) unless ``card=1``; the explainer
    with every card unless ``hide=cards``. Framing is allowed to ``settings.frame_ancestors`` (CSP; no
    X-Frame-Options).
    """
    if figure not in EMBEDDABLE:
        raise HTTPException(404, f"no figure {figure!r}: embeddable are {', '.join(EMBEDDABLE)}")
    asked = set(hide.split(",")) | ({"cards"} if figure != "explainer" and card != "1" else set())
    hidden = tuple(name for name in HIDEABLE if name in asked)
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in EMBED_QUERY_KEYS])
    page = _embed_page(figure, hidden, query) if len(query) <= EMBED_QUERY_CACHED else _render_embed(figure, hidden, query)
    return cached_response(request.headers, page, HTML, REVALIDATE,
                           {"Content-Security-Policy": content_security_policy(settings.frame_ancestors)})


@router.get("/docs", response_class=HTMLResponse)
async def api_reference(request: Request, settings: SettingsDep) -> Response:
    """Every API operation with its parameters, ranges and answers, from the app's OpenAPI document."""
    openapi = request.app.openapi()
    html = TEMPLATES.get_template("api.html").render(page_context(
        operations=operations(openapi), openapi_version=openapi["openapi"], max_body_bytes=settings.max_body_bytes,
        origin=settings.public_origin))  # never the request's Host: a client could write its own into the page
    return cached_response(request.headers, CachedBody.of(html.encode()), HTML, REVALIDATE)


# Pages depend only on their arguments, so each is rendered once (and gzipped once) per process; HTML is
# revalidated by ETag on every visit, so a new deploy's asset URLs are picked up at once.
@lru_cache(maxsize=2)
def index_page(bare: bool = True) -> CachedBody:
    """The page, rendered and gzipped once per process (``create_app``'s lifespan does it before serving); ``bare``:
    for the address without a query, whose state is every default: then its head preloads that state's experiment
    from the kept address (:data:`FIRST_EXPERIMENT`), so the document is on its way while the page is parsed and laid
    out (static/js/first.js takes it). A state from the query is the page's to read: no preload."""
    preload = FIRST_EXPERIMENT if bare else None
    return CachedBody.of(TEMPLATES.get_template("index.html").render(page_context(first_experiment=preload)).encode())


# The address of the bare page's first experiment: what static/js/first.js asks the kept address for (api.js
# getKeptDrift), written as driftParams writes it, relative to the root. tests/web/test_loading.py checks that the
# page takes the preload rather than asking again.
FIRST_EXPERIMENT = f"api/v1/experiments/drift/kept?{page_request(page_defaults())}"


EMBED_QUERY_CACHED = 1024  # longer state queries (never made by the page) are rendered each time, not kept


@lru_cache(maxsize=256)
def _embed_page(figure: str, hidden: tuple[str, ...], query: str) -> CachedBody:
    return _render_embed(figure, hidden, query)


def _render_embed(figure: str, hidden: tuple[str, ...], query: str) -> CachedBody:
    return CachedBody.of(TEMPLATES.get_template("embed.html").render(
        embed_context(figure, hidden=list(hidden), query=query)).encode())


def embed_context(figure: str, **extra: object) -> dict[str, object]:
    """What ``embed.html`` needs for ``/embed/<figure>``: the explainer's every section, or the figure's alone (then
    the embed's title is the figure's heading)."""
    sections = list(SECTIONS) if figure == "explainer" else [figure]
    return page_context(title=EMBEDDABLE[figure], sections=sections, embed=True, alone=figure != "explainer",
                        hideable=HIDEABLE, **extra)


@router.get("/vendor/{requested}")  # PLOTLY_URL
async def plotly_js(requested: str, request: Request) -> Response:
    """plotly.js as its official partial bundle ships it, from ``vendor/`` (never from a CDN)."""
    if requested != PLOTLY_JS.name:
        raise HTTPException(404, f"this server ships plotly.js as /{PLOTLY_URL}")
    return cached_response(request.headers, plotly_body(), "text/javascript", IMMUTABLE)
