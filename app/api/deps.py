"""Dependencies as Annotated aliases: the settings and the compute service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.api.compute import ComputeService
from app.config import Settings, get_settings


def get_service(request: Request) -> ComputeService:
    service: ComputeService = request.app.state.compute
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[ComputeService, Depends(get_service)]
