"""Answering with a kept body: ``304`` when the client has it already (ETag), else its gzip form when accepted."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response

from app.serving.cache import CachedBody


def cached_response(headers: Mapping[str, str], entry: CachedBody, media_type: str, cache_control: str,
                    extra: Mapping[str, str] | None = None) -> Response:
    """``304`` if ``If-None-Match`` names this body, else the body: its gzip form when accepted and smaller."""
    response_headers = {"ETag": entry.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding", **(extra or {})}
    if _matches(headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=response_headers)
    if entry.gzipped is not None and accepts_gzip(headers.get("accept-encoding")) and len(entry.gzipped) < len(entry.body):
        return Response(entry.gzipped, media_type=media_type, headers=response_headers | {"Content-Encoding": "gzip"})
    return Response(entry.body, media_type=media_type, headers=response_headers)


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip;q=0`` refuses it; ``*`` admits it)."""
    weights: dict[str, float] = {}
    for item in (accept_encoding or "").lower().split(","):
        coding, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=")
        try:
            weights[coding.strip()] = float(quality) if params else 1.0
        except ValueError:
            weights[coding.strip()] = 0.0
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag.removeprefix("W/") in candidates  # weak comparison (RFC 9110 §13.1.2)
