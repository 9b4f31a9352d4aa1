"""Page routes: the explainer at ``/``, and plotly.js served from the installed ``plotly`` package."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.api.presets import PRESETS
from app.content import load_cards

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Jinja2Templates(directory=ROOT / "templates")
PLOTLY_VERSION = version("plotly")
PLOTLY_URL = f"/vendor/plotly-{PLOTLY_VERSION}.min.js"  # versioned: cached for a year, replaced on upgrade
IMMUTABLE = "public, max-age=31536000, immutable"

router = APIRouter(include_in_schema=False)


def _plotly_js() -> Path:
    """plotly.min.js inside the installed ``plotly`` package, found without importing the package."""
    spec = find_spec("plotly")
    assert spec is not None and spec.submodule_search_locations, "the plotly package is not installed"
    return Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"


PLOTLY_JS = _plotly_js()


@lru_cache(maxsize=1)
def plotly_bytes() -> tuple[bytes, bytes]:
    """The script and its gzip form, compressed once per process (4.6 MB → ~1.4 MB, ~0.4 s: done at startup)."""
    body = PLOTLY_JS.read_bytes()
    return body, gzip.compress(body, compresslevel=9, mtime=0)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    """The whole explainer; its state lives in the URL and is applied by ``static/js/main.js``."""
    return TEMPLATES.TemplateResponse(request=request, name="index.html",
                                      context={"cards": load_cards(), "plotly_url": PLOTLY_URL,
                                               "presets_options": [(p.id, p.title) for p in PRESETS]})


@router.get("/vendor/plotly-{requested}.min.js")
async def plotly_js(requested: str, request: Request) -> Response:
    """plotly.js exactly as the pinned ``plotly`` Python package ships it (never a CDN, never a copy in the repo)."""
    if requested != PLOTLY_VERSION:
        raise HTTPException(404, f"this server ships plotly {PLOTLY_VERSION}")
    body, gzipped = plotly_bytes()
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(gzipped, media_type="text/javascript", headers=headers | {"Content-Encoding": "gzip"})
    return Response(body, media_type="text/javascript", headers=headers)
