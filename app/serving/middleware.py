"""ASGI middleware every response passes through: HEAD as GET without a body, relative redirects, the request body
size limit (413), gzip."""

from __future__ import annotations

import asyncio
import gzip

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.serving.responses import accepts_gzip

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyLimitMiddleware:
    """Refuse a request body over ``max_bytes`` with 413 before any handler parses it.

    A declared ``Content-Length`` over the limit is refused without reading; a body without one
    (chunked) is read up to the limit and then replayed to the app, so no handler ever holds more.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"the request body is larger than this server accepts: at most {self.max_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})(scope, receive, send)


COMPRESSIBLE = ("text/", "application/json", "image/svg+xml")


class GzipMiddleware:
    """gzip whole response bodies of text-like types, for clients whose ``Accept-Encoding`` admits it.

    Unlike Starlette's, it honours q-values (``gzip;q=0`` gets plain bytes), adds ``Vary`` once, and
    turns a strong ``ETag`` weak when it changes the bytes. Left alone: bodies under ``minimum_size``,
    bodies already encoded (cached API results, assets, plotly.js, saved results: pre-gzipped),
    streams (SSE), and anything but a whole 200 (a 206 range must keep its bytes).
    """

    THREAD_MINIMUM = 256 * 1024

    def __init__(self, app: ASGIApp, minimum_size: int = 1024, level: int = 6) -> None:
        self.app, self.minimum_size, self.level = app, minimum_size, level

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = accepts_gzip(Headers(scope=scope).get("accept-encoding"))
        held: list[Message] = []  # the response start, until the first body message says what to do

        async def maybe_compressed(message: Message) -> None:
            if message["type"] == "http.response.start":
                held.append(message)
                return
            if held and message["type"] == "http.response.body":
                start = held.pop()
                headers = MutableHeaders(scope=start)
                if headers.get("content-type", "").startswith(COMPRESSIBLE) and "content-encoding" not in headers:
                    if "accept-encoding" not in headers.get("vary", "").lower():
                        headers.add_vary_header("Accept-Encoding")
                    body = message.get("body", b"")
                    whole = start["status"] == 200 and "content-range" not in headers and not message.get("more_body", False)
                    if wanted and whole and len(body) >= self.minimum_size:
                        message = {**message, "body": await self._compress(body)}
                        headers["Content-Encoding"] = "gzip"
                        headers["Content-Length"] = str(len(message["body"]))
                        if headers.get("etag", "W/").startswith('"'):
                            headers["ETag"] = "W/" + headers["etag"]
                await send(start)
            elif held:
                await send(held.pop())
            await send(message)

        await self.app(scope, receive, maybe_compressed)

    async def _compress(self, body: bytes) -> bytes:
        """Small bodies inline; large ones (a 256-point kernel matrix: ~1 MB) off the event loop."""
        if len(body) < self.THREAD_MINIMUM:
            return gzip.compress(body, compresslevel=self.level, mtime=0)
        return await asyncio.to_thread(gzip.compress, body, self.level, mtime=0)


class HeadMiddleware:
    """Answer ``HEAD`` as the same ``GET`` would, without its body (RFC 9110 §9.3.2): the same status and headers,
    ``Content-Length`` included, so link checkers, proxies and monitors can probe any page or result.

    The request travels on as a GET (through caching, gzip and the routes) and each body chunk is dropped on the
    way out.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


class ResponseHeadersMiddleware:
    """Change the headers of every HTTP response as it starts; a subclass says how, in :meth:`edit`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def edited(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.edit(Headers(scope=scope), message["status"], MutableHeaders(scope=message))
            await send(message)

        await self.app(scope, receive, edited)

    def edit(self, request: Headers, status: int, response: MutableHeaders) -> None:
        raise NotImplementedError


REDIRECTS = frozenset({301, 302, 303, 307, 308})


class RelativeRedirectMiddleware(ResponseHeadersMiddleware):
    """Redirects to this site say only the path (``Location: /api/v1/presets``), never an origin built from the
    request's ``Host`` header, which any client can set: a relative reference resolves against the address the client
    actually used (RFC 9110 §10.2.2), behind any proxy."""

    def edit(self, request: Headers, status: int, response: MutableHeaders) -> None:
        if status not in REDIRECTS:
            return
        for scheme in ("http://", "https://"):
            own = f"{scheme}{request.get('host', '')}"
            if response.get("location", "").startswith(own + "/"):
                response["location"] = response["location"].removeprefix(own)
