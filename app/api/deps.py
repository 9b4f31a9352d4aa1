"""The API's dependencies as Annotated aliases: the compute service (and the settings, from ``app/serving``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.compute import ComputeService
from app.api.jobs import JobQueue
from app.serving.deps import SettingsDep


async def get_service(request: Request) -> ComputeService:
    """``async`` on purpose, like every dependency here: FastAPI runs a plain ``def`` dependency in a thread
    pool, a thread hop per request (and a queue for the pool's 40 threads under load)."""
    service: ComputeService = request.app.state.compute
    return service


async def get_jobs(request: Request) -> JobQueue:
    jobs: JobQueue = request.app.state.jobs
    return jobs


__all__ = ["JobsDep", "ServiceDep", "SettingsDep"]

ServiceDep = Annotated[ComputeService, Depends(get_service)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
