"""Named scenarios."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.schemas import DriftQuery, PresetModel
from app.content.presets import PRESETS

router = APIRouter(prefix="/presets", tags=["presets"])


@router.get("", summary="Named scenarios: full, valid parameter sets for /experiments/drift")
async def list_presets() -> list[PresetModel]:
    return [PresetModel(id=p.id, title=p.title, description=p.description,
                        query=DriftQuery(**p.changes).model_dump(exclude_none=True)) for p in PRESETS]
