"""Liveness and readiness."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.api.deps import ServiceDep
from app.api.errors import ERROR_RESPONSES
from app.api.store import store_health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: this worker can take another computation", responses=ERROR_RESPONSES)
async def readyz(service: ServiceDep, request: Request) -> JSONResponse:
    """Also says how many computations are running or queued in the worker that answered, its capacity, how its
    result store is (``store``: its kind, whether it works, and a sentence for the operator), and how far its warm-up
    of the presets has come (``warm_up``: "off", "warming" or "done", experiments kept of how many; app/api/warmup.py).
    A warming worker is ready: the warm-up gives way to every request.

    A store that fails does not make the worker unready: it still computes and answers, keeping results in its own
    memory. The store's health is the one it remembers, refreshed in a thread at most every few seconds: this
    answer waits for no disk and no network.
    """
    if service.saturated:
        return JSONResponse({"detail": "busy: every computation slot and queue place is taken"}, status_code=503,
                            headers={"Retry-After": str(service.retry_after())})
    return JSONResponse({"status": "ready", "computations": service.admitted, "capacity": service.capacity,
                         "store": dataclasses.asdict(store_health(service.store)),
                         "warm_up": dataclasses.asdict(request.app.state.warm_up)})
