"""Event streams of finished experiments (issue 11, item 2): every replay was serialized again on the event loop (~60 ms
for 4.9 MB) and pinned its own copy in a client that did not read: 1000 such clients took a worker to 4.7 GiB. Now a
replay is encoded once, sent in pieces as the client reads, with at most 16 KiB unsent in the process and 64 KiB in the
kernel per connection, and a client that reads nothing for ``send_timeout_s`` is dropped."""

from __future__ import annotations

import gzip
import importlib
import json
import resource
import select
import socket
import threading
import time
import urllib.request
import zlib
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.servers import peak_rss_mib, run_async, serve, uvicorn_workers, worker_pids

BIG = "widths=16,32,64&seeds=2&steps=50&grid=128&snapshots=16&kernel_width=16"  # a 2.3 MB document in ~1 s
STREAM = "/api/v1/experiments/drift/stream"


def _events(body: bytes) -> list[tuple[str, Any]]:
    blocks = [block for block in body.decode().split("\n\n") if block]
    return [(block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
            for block in blocks]


def test_a_replay_is_encoded_once_and_says_what_the_live_stream_said(client: TestClient,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    query = "widths=16,32&steps=20&grid=16&seed=7"
    live = client.get(f"{STREAM}?{query}")
    assert live.status_code == 200
    routes = importlib.import_module("app.api.routes.experiments")
    encodings: list[object] = []
    original = routes.drift_document

    def counting(*args: Any) -> Any:
        encodings.append(args)
        return original(*args)

    monkeypatch.setattr(routes, "drift_document", counting)
    replays = [client.get(f"{STREAM}?{query}") for _ in range(5)]
    assert all(replay.status_code == 200 for replay in replays)
    assert len({replay.content for replay in replays}) == 1 and len(encodings) <= 1
    assert _events(replays[0].content) == _events(live.content)
    assert [name for name, _ in _events(live.content)] == ["width", "width", "result"]
    assert client.get(f"/api/v1/experiments/drift?{query}").json() == _events(live.content)[-1][1]


def test_streams_are_gzipped_for_clients_that_accept_it_live_and_replayed(client: TestClient) -> None:
    """The default page's stream is 893 KiB of JSON numbers, 261 KiB gzipped: most of a first visit's bytes."""
    query = "widths=16,32&steps=20&grid=16&seed=8"
    live = client.get(f"{STREAM}?{query}", headers={"Accept-Encoding": "gzip"})
    replay = client.get(f"{STREAM}?{query}", headers={"Accept-Encoding": "gzip"})
    plain = client.get(f"{STREAM}?{query}", headers={"Accept-Encoding": "identity"})
    for response in (live, replay):
        assert response.headers["content-encoding"] == "gzip" and "Accept-Encoding" in response.headers["vary"]
        assert int(response.headers.get("content-length", 0)) == 0  # streamed: no length, the client decodes as it goes
    assert "content-encoding" not in plain.headers
    assert _events(live.content) == _events(replay.content) == _events(plain.content)  # httpx undid the gzip
    with client.stream("GET", f"{STREAM}?{query}", headers={"Accept-Encoding": "gzip"}) as sent:
        wire = b"".join(sent.iter_raw())
    assert gzip.decompress(wire) == plain.content and len(wire) < len(plain.content) / 2


def test_a_gzipped_stream_gives_each_piece_back_as_soon_as_it_is_sent() -> None:
    """Events must arrive as they are written: each compressed piece, decoded as it comes, is the piece it was made
    of (a sync flush), not a part of it that waits in the compressor for the next."""
    from app.api.http import gzip_pieces

    events = [b"event: width\ndata: " + json.dumps({"width": 2**k, "drift": [0.1] * 50}).encode() + b"\n\n"
              for k in range(4)]

    async def produce() -> Any:
        for event in events:
            yield event

    async def collect() -> list[bytes]:
        return [piece async for piece in gzip_pieces(produce())]

    sent = run_async(collect())  # not asyncio.run: Playwright's loop may be running in this process
    reader = zlib.decompressobj(31)
    assert [reader.decompress(piece) for piece in sent[:-1]] == events  # the last piece: gzip's trailer alone
    assert reader.decompress(sent[-1]) == b"" and reader.eof


def _probe_health(base: str, latencies: list[float], stop: threading.Event) -> None:
    """GET /healthz on a fresh connection every 100 ms until ``stop``, noting each answer's seconds (inf: none)."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=30) as response:
                response.read()
            latencies.append(time.monotonic() - started)
        except OSError:
            latencies.append(float("inf"))
        stop.wait(0.1)


def test_a_thousand_streams_that_never_read_hold_little_memory_and_health_still_answers() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    with uvicorn_workers(1) as (base, process):
        server = (worker_pids(process.pid) or [process.pid])[0]
        with urllib.request.urlopen(f"{base}{STREAM}?{BIG}", timeout=120) as response:  # computed, kept, replayed once
            assert len(response.read()) > 2_000_000
        before = peak_rss_mib(server)
        latencies: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=_probe_health, args=(base, latencies, stop))
        prober.start()
        parts = urlsplit(base)
        clients: list[socket.socket] = []
        try:
            for _ in range(1000):
                client = socket.socket()
                client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # a small window that nobody reads
                client.connect((parts.hostname, parts.port))
                client.sendall(f"GET {STREAM}?{BIG} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
                clients.append(client)
            _until_all_answered(clients, seconds=120)
            grown = peak_rss_mib(server) - before
        finally:
            stop.set()
            prober.join()
            for client in clients:
                client.close()
        assert grown < 200, f"the worker grew by {grown:.0f} MiB for 1000 replays of a 2.3 MB result"  # measured: ~60
        assert latencies and max(latencies) < 3, f"/healthz took up to {max(latencies):.1f} s"  # measured: 0.8 s


def _until_all_answered(clients: list[socket.socket], seconds: float) -> None:
    """Wait until the server has started answering every client (each has bytes waiting, unread)."""
    poller = select.poll()
    for client in clients:
        poller.register(client, select.POLLIN)
    waiting = {client.fileno() for client in clients}
    deadline = time.monotonic() + seconds
    while waiting:
        assert time.monotonic() < deadline, f"{len(waiting)} of {len(clients)} streams never answered"
        for fd, _ in poller.poll(100):
            waiting.discard(fd)
            poller.unregister(fd)


def test_a_client_that_takes_none_of_its_answer_is_dropped_after_the_send_timeout() -> None:
    with serve(Settings(send_timeout_s=1)) as base:
        with urllib.request.urlopen(f"{base}{STREAM}?{BIG}", timeout=120) as response:
            whole = len(response.read())
        parts = urlsplit(base)
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            client.connect((parts.hostname, parts.port))
            client.sendall(f"GET {STREAM}?{BIG} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
            time.sleep(4)  # reads nothing for longer than the send timeout
            client.settimeout(30)  # a bound: the server keeps a connection it has not dropped open (keep-alive)
            received, ended = 0, False
            try:
                while chunk := client.recv(1 << 16):
                    received += len(chunk)
                ended = True
            except ConnectionResetError:
                ended = True
            except TimeoutError:
                pass
        assert ended and received < whole, f"not dropped: {received} of {whole} bytes, then {'EOF' if ended else 'silence'}"
