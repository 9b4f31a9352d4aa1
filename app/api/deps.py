"""Dependencies as Annotated aliases: the settings and the compute service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.compute import ComputeService
from app.config import Settings, get_settings


async def get_service(request: Request) -> ComputeService:
    """``async`` on purpose, like every dependency here: FastAPI runs a plain ``def`` dependency in a thread
    pool, a thread hop per request (and a queue for the pool's 40 threads under load)."""
    service: ComputeService = request.app.state.compute
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[ComputeService, Depends(get_service)]
