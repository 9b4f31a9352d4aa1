"""The API's HTTP details: computed results as cached JSON bodies or event streams, and a fast path that answers a
repeated URL from the cache before routing. (Caching, ETags, gzip and the body limit shared with the web layer:
``app/serving``.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from fastapi import Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.compute import ComputeService
from app.serving.cache import CachedBody
from app.serving.responses import cached_response

RESULT_MAX_AGE = 86400  # results are deterministic for a given version; the ETag changes with the content
STREAM_CHUNK = 16 * 1024  # bytes per write of an event stream


def cached_json(headers: Mapping[str, str], entry: CachedBody, max_age: int = RESULT_MAX_AGE) -> Response:
    """A cached API result: ``304`` if the client has it already, else the body (gzipped when accepted)."""
    return cached_response(headers, entry, "application/json", f"public, max-age={max_age}")


def event_stream(events: AsyncIterator[bytes]) -> StreamingResponse:
    """Server-Sent Events, neither cached nor buffered by a proxy."""
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def pieces(body: bytes) -> AsyncIterator[bytes]:
    """``body`` in pieces of ``STREAM_CHUNK`` bytes: the server writes the next piece only once the client has taken
    enough of the last (flow control), so a slow reader holds about one piece unsent, not the whole body."""
    for start in range(0, len(body), STREAM_CHUNK):
        yield body[start:start + STREAM_CHUNK]


def url_key(scope: Scope) -> str:
    """The request line as written: the same bytes name the same result, without parsing them."""
    return f"{scope['path']}?{scope['query_string'].decode('latin-1')}"


class RepeatedUrlMiddleware:
    """Answer a GET whose exact URL was answered before straight from the response cache.

    A route registers the URL of every response it caches (``ResponseCache.alias``); this skips
    routing, query parsing and validation for the repeats, which is most of the cost of a cached
    answer. ``json_paths`` are answered as JSON, ``stream_paths`` as event streams (the kept events of
    a finished experiment). Anything not cached this way goes on to the app unchanged.
    """

    def __init__(self, app: ASGIApp, json_paths: frozenset[str], stream_paths: frozenset[str]) -> None:
        self.app, self.json_paths, self.stream_paths = app, json_paths, stream_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] in self.json_paths | self.stream_paths:
            service: ComputeService = scope["app"].state.compute
            entry = service.responses.by_alias(url_key(scope))
            if entry is not None:
                response = (event_stream(pieces(entry.body)) if scope["path"] in self.stream_paths
                            else cached_json(Headers(scope=scope), entry))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
