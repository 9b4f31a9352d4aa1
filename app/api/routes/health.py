"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import ServiceDep
from app.api.errors import ERROR_RESPONSES

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: this worker can take another computation", responses=ERROR_RESPONSES)
async def readyz(service: ServiceDep) -> JSONResponse:
    """Also says how many computations are running or queued in the worker that answered, and its capacity."""
    if service.saturated:
        return JSONResponse({"detail": "busy: every computation slot and queue place is taken"}, status_code=503,
                            headers={"Retry-After": str(service.retry_after())})
    return JSONResponse({"status": "ready", "computations": service.admitted, "capacity": service.capacity})
