"""All API routes, versioned under /api/v1, plus the health endpoints at the root."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.routes import experiments, health, jobs, kernels, presets, spectrum

API_PREFIX = "/api/v1"

api_router = APIRouter(prefix=API_PREFIX)
api_router.include_router(presets.router)
api_router.include_router(kernels.router)
api_router.include_router(experiments.router)
api_router.include_router(jobs.router)
api_router.include_router(spectrum.router)

health_router = health.router
