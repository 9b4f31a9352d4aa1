"""The HTTP server: uvicorn, bounded against slow and oversized clients, with a drain that refuses new connections.

uvicorn faces clients directly under a bare ``docker run``, and does not bound the time or size of a request's head,
nor the time of its body. ASGI middleware cannot: it sees a request only once its head is complete. So the bounds
live in the connection's protocol (:class:`BoundedHttpProtocol`, from :class:`ConnectionLimits`), which reaches every
worker process inside the uvicorn ``Config`` (:class:`LanesConfig`: pickled into each spawned worker).

On SIGTERM uvicorn finishes the requests in flight (up to 30 s). A single process closes its listening socket at
once; with worker processes the supervisor holds its own copy of the socket, so the kernel kept completing handshakes
that nobody would answer. :class:`DrainingMultiprocess` closes that copy too, so new clients are refused at once
(a proxy or client can retry elsewhere) while the workers drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from asyncio import TimerHandle
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState
from uvicorn.supervisors.multiprocess import Multiprocess

from app.config import Settings


@dataclass(frozen=True)
class ConnectionLimits:
    """What one request may take of a connection: see :class:`BoundedHttpProtocol`."""

    max_header_bytes: int
    header_timeout_s: float
    body_timeout_s: float
    send_timeout_s: float

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.max_header_bytes, settings.header_timeout_s, settings.body_timeout_s, settings.send_timeout_s)


class LanesConfig(uvicorn.Config):
    """uvicorn's ``Config`` with :class:`BoundedHttpProtocol` and the limits it enforces."""

    def __init__(self, app: ASGI3Application | str, limits: ConnectionLimits, **options: Any) -> None:
        super().__init__(app, http=BoundedHttpProtocol, **options)
        self.limits = limits


def server_config(settings: Settings, app: ASGI3Application | str = "app.main:app", **options: Any) -> LanesConfig:
    """The server ``python -m app serve`` runs for ``settings``; ``options`` override uvicorn's (tests: port, app)."""
    return LanesConfig(app, ConnectionLimits.of(settings), **{
        "host": settings.host, "port": settings.port, "workers": settings.workers, "log_level": settings.log_level,
        "proxy_headers": True, "timeout_graceful_shutdown": settings.graceful_shutdown_s,
        "timeout_keep_alive": settings.keep_alive_s,
        **options})


def run(config: LanesConfig) -> None:
    """Serve until SIGINT or SIGTERM, then drain: as ``uvicorn.run`` does, with :class:`DrainingMultiprocess`."""
    if config.workers > 1:
        DrainingMultiprocess(config, sockets=[config.bind_socket()]).run()
        return
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor of worker processes, which also closes its own copy of the listening socket on SIGTERM.

    Each worker closes its copy when it starts draining, but the supervisor's kept the socket listening: the kernel
    went on accepting connections into its backlog, never answered, for as long as the drain lasted (up to 30 s).
    Once every copy is closed, a new connection is refused at once.
    """

    def terminate_all(self) -> None:  # called once, when the supervisor stops
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def _json_error(status: int, detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    body = json.dumps({"detail": detail}).encode()
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")], body


def _refusal(status: int, detail: str) -> ASGI3Application:
    """An ASGI app that answers every request with ``status`` and closes the connection."""
    headers, body = _json_error(status, detail)

    async def refuse(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return refuse


BUFFERED_BYTES = 16 * 2**10  # per connection: the most an answer may wait unsent in the process (the transport) ...
UNSENT_BYTES = 64 * 2**10    # ... and in the kernel (TCP_NOTSENT_LOWAT), beyond what is in flight to the client


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with four bounds on what a client may take (a :class:`ConnectionLimits`).

    - **Head size**: a request's head (its URL and header lines) may hold ``max_header_bytes``; more gets 431 and the
      connection closes. A complete head is measured as parsed; a head still arriving, by the bytes read for it, so
      the parser never buffers more than the limit and one read (at most 256 KiB) of a head: a 300 MiB header value
      is refused after its first reads instead of being parsed (quadratically) to the end.
    - **Head time**: ``header_timeout_s`` from connecting to the end of the first head, and from the first byte of
      each later head to its end, else 408 and close (a connection that never sent a byte is closed without an
      answer). Idle time between requests is not counted: that is ``timeout_keep_alive``'s.
    - **Body time**: ``body_timeout_s`` from the start of a request's processing to the last byte of its body, else
      408 and close; if the app has already begun its answer (it did not need the body), the connection is closed.
    - **Unsent answer**: at most ``BUFFERED_BYTES`` wait in the transport's buffer (then the app's next write waits:
      uvicorn's flow control) and at most ``UNSENT_BYTES`` unsent in the kernel (``TCP_NOTSENT_LOWAT``; without it the kernel
      grew each socket's buffer to ~4 MB and held whole answers for clients that did not read: 1000 such streams
      put the machine's TCP memory under pressure, and new connections waited seconds). A client that takes nothing
      for ``send_timeout_s`` while the server waits to write is dropped (``abort``: its unsent bytes go with it).

    A refusal is never written into another request's answer: while a pipelined earlier response is still being
    sent, the connection is closed without one. Refusals through a timer or a head still arriving are written here,
    past the ASGI middleware (like uvicorn's own 400s), with a JSON ``{"detail": …}`` body.
    """

    def __init__(self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, LanesConfig):
            raise TypeError("BoundedHttpProtocol takes its limits from a LanesConfig")
        self.limits = config.limits
        self.head_timer: TimerHandle | None = None
        self.body_timer: TimerHandle | None = None
        self.send_timer: TimerHandle | None = None
        self.in_head = False      # a head has begun and is not complete
        self.head_parsed = 0      # its URL and header lines parsed so far, in bytes
        self.head_read = 0        # the bytes read for it (reads that held nothing else)
        self.message_ended = False  # a message ended during the current read: what follows shares that read

    # -- the connection ----------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's own signature
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=BUFFERED_BYTES)
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(socket, "TCP_NOTSENT_LOWAT"):
            with contextlib.suppress(OSError):  # not TCP (a Unix socket): nothing to bound there
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT, UNSENT_BYTES)
        self.head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_expired)

    def pause_writing(self) -> None:  # the transport holds UNSENT_BYTES: the client must take some within the time
        super().pause_writing()
        if self.send_timer is None:
            self.send_timer = self.loop.call_later(self.limits.send_timeout_s, self._send_expired)

    def resume_writing(self) -> None:
        self._cancel(self.send_timer)
        self.send_timer = None
        super().resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.message_ended = False
        super().data_received(data)
        if self.in_head and not self.message_ended:  # the whole read belongs to the head still arriving
            self.head_read += len(data)
            if self.head_read > self.limits.max_header_bytes:
                self._close(self._head_refusable(431), self._too_large())

    # -- parser callbacks --------------------------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head, self.head_parsed, self.head_read = True, 0, 0
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.limits.header_timeout_s, self._head_expired)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self.head_parsed += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self.head_parsed += len(name) + len(value) + 4  # "name: value\r\n"

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._cancel(self.head_timer)
        self.head_timer = None
        if self.head_parsed <= self.limits.max_header_bytes:
            super().on_headers_complete()
            return
        # uvicorn runs self.app for the request it has parsed: this one gets the refusal (queued behind a pipelined
        # response like any other answer), then the connection closes.
        app, self.app = self.app, _refusal(431, self._too_large())
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        super()._start_asgi_task(cycle, app)  # the request starts being processed: its body's time starts too
        if cycle.more_body:
            self.body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_expired)

    def on_message_complete(self) -> None:
        self._cancel(self.body_timer)
        self.body_timer = None
        self.message_ended = True
        super().on_message_complete()

    # -- refusals ----------------------------------------------------------------------------------------------------

    def _too_large(self) -> str:
        return f"the request's headers are larger than this server accepts: at most {self.limits.max_header_bytes} bytes"

    def _head_refusable(self, status: int) -> int | None:
        """``status``, unless an earlier response on this connection is still being sent (pipelining)."""
        return status if self.cycle is None or self.cycle.response_complete else None

    def _head_expired(self) -> None:
        self.head_timer = None
        if not self.in_head:  # connected, and not a byte since: nothing to answer, nothing worth a log line
            self._cancel_timers()
            self.transport.close()
            return
        self._close(self._head_refusable(408),
                    f"the request's headers did not arrive within {self.limits.header_timeout_s:g} s")

    def _body_expired(self) -> None:
        self.body_timer = None
        self._close(None if self.cycle.response_started else 408,
                    f"the request's body did not arrive within {self.limits.body_timeout_s:g} s")

    def _send_expired(self) -> None:
        self.send_timer = None
        self._cancel_timers()
        self.logger.info("%s - dropped: took none of the answer for %g s", ":".join(map(str, self.client or ("a client",))),
                         self.limits.send_timeout_s)
        self.transport.abort()  # connection_lost follows: the request in progress sees a disconnected client

    def _close(self, status: int | None, detail: str) -> None:
        """Answer ``status`` (None: no answer) and close; the request in progress, if any, can send nothing more."""
        self._cancel_timers()
        if self.transport.is_closing():
            return
        if status is not None:
            headers, body = _json_error(status, detail)
            lines = [STATUS_LINE[status], *(b"%s: %s\r\n" % h for h in [*self.server_state.default_headers, *headers])]
            self.transport.write(b"".join([*lines, b"\r\n", body]))
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.logger.info("%s - closed: %s", ":".join(map(str, self.client or ("a client",))), detail)
        self.transport.close()

    def _cancel_timers(self) -> None:
        self._cancel(self.head_timer)
        self._cancel(self.body_timer)
        self._cancel(self.send_timer)
        self.head_timer = self.body_timer = self.send_timer = None

    @staticmethod
    def _cancel(timer: TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()
