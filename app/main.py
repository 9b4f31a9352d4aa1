"""The application: ``create_app()`` builds it; ``app`` is what uvicorn serves (``app.main:app``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api.compute import ComputeService
from app.api.errors import install_error_handlers
from app.api.http import RepeatedUrlMiddleware
from app.api.jobs import jobs_file, open_jobs
from app.api.router import API_PREFIX, api_router, health_router
from app.api.store import SqliteStore
from app.api.warmup import WarmUp, warm_up, warmed_presets
from app.config import Settings, get_settings
from app.serving.cors import CorsMiddleware
from app.serving.middleware import BodyLimitMiddleware, GzipMiddleware, HeadMiddleware, RelativeRedirectMiddleware
from app.web.assets import AssetFiles, SavedFiles
from app.web.routes import ASSETS_VERSION, STATIC_FILES, index_page, plotly_body
from app.web.routes import router as web_router
from app.web.security import SecurityHeadersMiddleware

DESCRIPTION = """Infinite Lanes computes neural tangent kernels on request: analytic (infinite-width) and
empirical kernels for your points, infinite-width predictions, and drift experiments that train
networks of several widths and measure how far their kernels move. Every input is bounded (422
with the allowed range); requests over the compute budget are refused before they start; a busy
server answers 503 with Retry-After."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app with ``settings`` (default: from the environment)."""
    settings = settings or get_settings()

    compute = ComputeService(settings)  # its threads or processes start on first use
    table = jobs_file(compute.store.path) if isinstance(compute.store, SqliteStore) else None
    jobs = open_jobs(settings, table, compute.keep_result)
    warming = WarmUp()  # the presets' experiments, kept in the background (app/api/warmup.py); /readyz says how far
    presets = warmed_presets(settings)  # now: an unknown scenario's name stops the server before it serves

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(plotly_body)  # compress plotly.js once before serving, not in a request
        for bare in (True, False):  # and render the page: a fresh worker's first visit waited 0.1-0.2 s for it
            await asyncio.to_thread(index_page, bare)
        await compute.start()
        await jobs.start()
        warm = asyncio.create_task(warm_up(compute, presets, warming)) if presets else None
        yield
        if warm is not None:
            warm.cancel()
        await jobs.close()
        compute.close()

    # /docs is our own page (app/web/reference.py): FastAPI's Swagger UI and ReDoc load from a CDN.
    app = FastAPI(title="Infinite Lanes", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.compute = compute
    app.state.jobs = jobs
    app.state.warm_up = warming
    app.state.settings = settings

    async def these_settings() -> Settings:  # async: no thread hop per request (see app/api/deps.py)
        return settings

    app.dependency_overrides[get_settings] = these_settings
    app.add_middleware(GzipMiddleware)
    experiments = f"{API_PREFIX}/experiments"
    app.add_middleware(RepeatedUrlMiddleware, json_paths=frozenset({f"{experiments}/drift", f"{experiments}/drift/kept"}),
                       stream_paths=frozenset({f"{experiments}/drift/stream"}))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorsMiddleware, origins=settings.cors_origins)  # outside the 413: refusals are readable too
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(HeadMiddleware)
    app.add_middleware(RelativeRedirectMiddleware)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router)
    app.include_router(web_router)
    app.mount("/static", AssetFiles(STATIC_FILES, ASSETS_VERSION), name="static")
    if settings.fallback_dir is not None:
        app.mount("/data", SavedFiles(settings.fallback_dir), name="saved-results")
    return app


app = create_app()
