"""HTTP details of cached JSON bodies: ETag / If-None-Match, Cache-Control, pre-compressed gzip,
and a fast path that answers a repeated URL from the cache before routing and validation."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.compute import CachedBody, ComputeService

RESULT_MAX_AGE = 86400  # results are deterministic for a given version; the ETag changes with the content


def cached_json(headers: Mapping[str, str], entry: CachedBody, max_age: int = RESULT_MAX_AGE) -> Response:
    """``304`` if the client has this body already, else the body (gzipped when the client accepts it)."""
    response_headers = {"ETag": entry.etag, "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept-Encoding"}
    if _matches(headers.get("if-none-match"), entry.etag):
        return Response(status_code=304, headers=response_headers)
    if "gzip" in headers.get("accept-encoding", ""):
        return Response(entry.gzipped, media_type="application/json",
                        headers=response_headers | {"Content-Encoding": "gzip"})
    return Response(entry.body, media_type="application/json", headers=response_headers)


def url_key(scope: Scope) -> str:
    """The request line as written: the same bytes name the same result, without parsing them."""
    return f"{scope['path']}?{scope['query_string'].decode('latin-1')}"


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


class RepeatedUrlMiddleware:
    """Answer a GET whose exact URL was answered before straight from the response cache.

    A route registers the URL of every response it caches (``ResponseCache.alias``); this skips
    routing, query parsing and validation for the repeats, which is most of the cost of a cached
    answer. Anything not cached this way goes on to the app unchanged.
    """

    def __init__(self, app: ASGIApp, paths: frozenset[str]) -> None:
        self.app, self.paths = app, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.paths:
            service: ComputeService = scope["app"].state.compute
            entry = service.responses.by_alias(url_key(scope))
            if entry is not None:
                await cached_json(Headers(scope=scope), entry)(scope, receive, send)
                return
        await self.app(scope, receive, send)
