"""The API's HTTP details: computed results as cached JSON bodies or event streams, and a fast path that answers a
repeated URL from the cache before routing. (Caching, ETags, gzip and the body limit shared with the web layer:
``app/serving``.)"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Mapping

from fastapi import Response
from fastapi.responses import StreamingResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.compute import ComputeService
from app.serving.cache import CachedBody
from app.serving.responses import accepts_gzip, cached_response

RESULT_MAX_AGE = 86400  # results are deterministic for a given version; the ETag changes with the content
STREAM_CHUNK = 16 * 1024  # bytes per write of an event stream
STREAM_GZIP_LEVEL = 6  # a live stream is compressed on the event loop, piece by piece: zlib's default effort


def cached_json(headers: Mapping[str, str], entry: CachedBody, max_age: int = RESULT_MAX_AGE) -> Response:
    """A cached API result: ``304`` if the client has it already, else the body (gzipped when accepted)."""
    return cached_response(headers, entry, "application/json", f"public, max-age={max_age}")


def event_stream(events: AsyncIterator[bytes], gzipped: bool = False) -> StreamingResponse:
    """Server-Sent Events, neither cached nor buffered by a proxy; ``gzipped``: ``events`` are pieces of one gzip
    stream (:func:`gzip_pieces`, or a kept body's gzip form), sent with ``Content-Encoding: gzip``."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Vary": "Accept-Encoding"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def stream_of(headers: Mapping[str, str], events: AsyncIterator[bytes]) -> StreamingResponse:
    """An event stream of ``events``, gzipped piece by piece for a client that accepts gzip.

    An experiment's events are JSON numbers: gzip takes them to about 30 % (the default page's stream: 893 KiB →
    261 KiB). Each piece is flushed (``Z_SYNC_FLUSH``), so every event still reaches the client as soon as it is
    written: the browser decodes a gzip stream as it arrives."""
    wanted = accepts_gzip(headers.get("accept-encoding"))
    return event_stream(gzip_pieces(events) if wanted else events, gzipped=wanted)


def kept_stream(headers: Mapping[str, str], entry: CachedBody) -> StreamingResponse:
    """The kept events of a finished experiment (``entry``: their body, and its gzip form if it was kept with one),
    in pieces; gzipped for a client that accepts it."""
    wanted = accepts_gzip(headers.get("accept-encoding")) and entry.gzipped is not None
    return event_stream(pieces(entry.gzipped if wanted and entry.gzipped else entry.body), gzipped=wanted)


async def gzip_pieces(events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``events`` as one gzip stream, flushed after each piece so that none waits in the compressor."""
    packer = zlib.compressobj(STREAM_GZIP_LEVEL, zlib.DEFLATED, 31)  # wbits 16 + 15: a gzip header and trailer
    async for piece in events:
        yield packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH)
    yield packer.flush()


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
                headers = Headers(scope=scope)
                response = (kept_stream(headers, entry) if scope["path"] in self.stream_paths
                            else cached_json(headers, entry))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
