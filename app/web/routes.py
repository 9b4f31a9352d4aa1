"""Page routes: the explainer at ``/``, and plotly.js served from the installed ``plotly`` package."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.presets import PRESETS
from app.content import load_cards

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = Jinja2Templates(directory=ROOT / "templates")

def _plotly_js() -> Path:
    """plotly.min.js inside the installed ``plotly`` package, found without importing the package."""
    spec = find_spec("plotly")
    assert spec is not None and spec.submodule_search_locations, "the plotly package is not installed"
    return Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"


PLOTLY_JS = _plotly_js()
ASSET_MAX_AGE = 3600  # static assets are not fingerprinted yet: an hour, then revalidate

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    """The whole explainer; its state lives in the URL and is applied by ``static/js/main.js``."""
    return TEMPLATES.TemplateResponse(request=request, name="index.html",
                                      context={"cards": load_cards(),
                                               "presets_options": [(p.id, p.title) for p in PRESETS]})


@router.get("/vendor/plotly.min.js")
async def plotly_js() -> FileResponse:
    """plotly.js exactly as the pinned ``plotly`` Python package ships it (never a CDN, never a copy in the repo)."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={"Cache-Control": f"public, max-age={ASSET_MAX_AGE}"})
