"""HTTP details of cached JSON bodies: ETag / If-None-Match, Cache-Control, pre-compressed gzip."""

from __future__ import annotations

from fastapi import Request, Response

from app.api.compute import CachedBody

RESULT_MAX_AGE = 86400  # results are deterministic for a given version; the ETag changes with the content


def cached_json(request: Request, entry: CachedBody, max_age: int = RESULT_MAX_AGE) -> Response:
    """``304`` if the client has this body already, else the body (gzipped when the client accepts it)."""
    headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept-Encoding"}
    if _matches(request.headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(entry.gzipped, media_type="application/json", headers=headers | {"Content-Encoding": "gzip"})
    return Response(entry.body, media_type="application/json", headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
