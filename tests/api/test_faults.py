"""Faults through real sockets: a client leaving (a stream, a GET, a POST), a worker process killed mid-request."""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import threading
import time
import urllib.request
from typing import cast
from urllib.parse import urlsplit

import pytest

from app.api.routes import kernels as kernel_routes
from app.api.schemas import PredictionRequest
from app.config import Settings
from app.ntk.checks import Checkpoint
from tests.servers import cpu_seconds, serve, uvicorn_workers, worker_pids

SLOW = "widths=16,4096&steps=4000&snapshots=2"  # width 16 in ~10 ms, then width 4096 for ~1.5 s


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=120) as response:  # a bound, not a speed: busy machines are slow
        document: dict[str, object] = json.load(response)
        return document


def _until(condition: object, seconds: float) -> float:
    """Poll ``condition()`` until true; the seconds it took (fails after ``seconds``)."""
    started = time.monotonic()
    while not condition():  # type: ignore[operator]
        assert time.monotonic() - started < seconds, "not reached in time"
        time.sleep(0.01)
    return time.monotonic() - started


def test_a_client_that_leaves_the_event_stream_cancels_its_computation() -> None:
    with serve(Settings()) as base:
        connection = http.client.HTTPConnection(urlsplit(base).netloc, timeout=120)  # a bound: busy machines are slow
        connection.request("GET", f"/api/v1/experiments/drift/stream?{SLOW}")
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("content-type").startswith("text/event-stream")
        assert response.readline() == b"event: width\n"  # the narrow width is done; the wide one is computing
        assert _get_json(f"{base}/readyz")["computations"] == 1
        cpu = time.process_time()  # the server runs in this process: its CPU time, which other processes cannot eat
        connection.close()  # the reader goes away mid-computation
        _until(lambda: _get_json(f"{base}/readyz")["computations"] == 0, seconds=60)
        assert time.process_time() - cpu < 0.75  # cancelled before its next training step: the rest needs ~1.5 s of CPU
        # Nothing of the abandoned flight is reused or left behind: the same experiment runs again, whole.
        document = _get_json(f"{base}/api/v1/experiments/drift?{SLOW}")
        assert [w["width"] for w in document["widths"]] == [16, 4096]  # type: ignore[index]
        assert _get_json(f"{base}/readyz")["computations"] == 0


def test_a_worker_killed_mid_request_fails_that_request_promptly_and_the_others_keep_serving() -> None:
    with uvicorn_workers(2) as (base, process):
        workers = worker_pids(process.pid)
        assert len(workers) == 2
        before = {pid: cpu_seconds(pid) for pid in workers}
        outcome: list[BaseException | int] = []

        def slow_request() -> None:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/experiments/drift?widths=4096&steps=10000&snapshots=2",
                                            timeout=60) as response:
                    outcome.append(response.status)
            except Exception as error:  # the error is the point
                outcome.append(error)

        client = threading.Thread(target=slow_request)
        client.start()
        _until(lambda: max(cpu_seconds(p) - before[p] for p in workers) > 0.3, seconds=10)
        busy = max(workers, key=lambda p: cpu_seconds(p) - before[p])
        os.kill(busy, signal.SIGKILL)
        killed = time.monotonic()
        client.join(timeout=30)
        assert not client.is_alive() and time.monotonic() - killed < 2.0, "the client hung after its worker died"
        assert len(outcome) == 1 and isinstance(outcome[0], (ConnectionError, http.client.HTTPException)), outcome
        # The surviving worker answers at once; uvicorn's supervisor starts a replacement.
        statuses = [urllib.request.urlopen(f"{base}/healthz", timeout=5).status for _ in range(20)]
        assert statuses == [200] * 20
        _until(lambda: len(worker_pids(process.pid)) == 2 and busy not in worker_pids(process.pid), seconds=15)
        assert _get_json(f"{base}/api/v1/experiments/drift?widths=8,16&steps=5&seeds=1&grid=8")["widths"]


LONG = "widths=4096&steps=10000&snapshots=2"  # one wide width: ~4 s of CPU, and no event before it is done


@pytest.mark.parametrize("path", ["/api/v1/experiments/drift", "/api/v1/experiments/drift/stream"])
def test_a_client_that_leaves_before_any_answer_stops_its_computation(path: str) -> None:
    # A plain GET, and an event stream before its first event: nothing has been sent yet, so only the connection
    # tells that nobody waits any more (issue 11, item 3: both computed ~8–11 s more after the client had gone).
    with serve(Settings()) as base:
        parts = urlsplit(base)
        client = socket.create_connection((parts.hostname, parts.port), timeout=120)
        client.sendall(f"GET {path}?{LONG}&seed=5 HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        _until(lambda: _get_json(f"{base}/readyz")["computations"] == 1, seconds=60)
        cpu = time.process_time()  # the server runs in this process: CPU time, which other processes cannot eat
        client.close()
        _until(lambda: _get_json(f"{base}/readyz")["computations"] == 0, seconds=60)
        assert time.process_time() - cpu < 1.0  # stopped within a poll and a training step, not ~4 s of CPU later


RING = [[math.cos(k / 40), math.sin(k / 40)] for k in range(256)]
WIDE_KERNEL = {"x1": RING, "x2": RING[::-1], "kinds": ["empirical"], "width": 4096, "depth": 4}  # ~4 s of CPU, ~0.35 s
# per layer of a pass: over the default budget (a budget-legal one is too short to leave in the middle)


def _slow_prediction(*args: object) -> bytes:
    """A stand-in for ``_predict(checkpoint, body)``, as long as no real prediction is (they take milliseconds):
    ~10 s of CPU, calling the checkpoint every 10 ms. (Before issue 11 it was called as ``_predict(body)``.)"""
    checkpoint = cast(Checkpoint, args[0]) if len(args) == 2 else (lambda: None)
    assert isinstance(args[-1], PredictionRequest)
    end = time.thread_time() + 10
    while time.thread_time() < end:
        checkpoint()
        busy = time.thread_time() + 0.01
        while time.thread_time() < busy:
            pass
    return b"{}"


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/kernels", WIDE_KERNEL),
    ("/api/v1/predictions", {"x_train": [[1.0, 0.0]], "y_train": [1.0], "x_test": [[0.0, 1.0]]}),
])
def test_a_client_that_leaves_a_post_stops_its_computation(monkeypatch: pytest.MonkeyPatch, path: str,
                                                           body: dict[str, object]) -> None:
    # Issue 11, item 3: a POST's computation ran to its end after its client had gone. It now stops at its next
    # checkpoint (a layer of a kernel pass; the prediction is a stand-in, as real ones are too short to leave in the middle).
    monkeypatch.setattr(kernel_routes, "_predict", _slow_prediction)
    with serve(Settings(compute_budget_s=1000, max_parameters=2**26)) as base:
        parts = urlsplit(base)
        payload = json.dumps(body).encode()
        with socket.create_connection((parts.hostname, parts.port), timeout=120) as client:
            client.sendall(f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
            _until(lambda: _get_json(f"{base}/readyz")["computations"] == 1, seconds=60)
            cpu = time.process_time()  # the server runs in this process: CPU time, which other processes cannot eat
        _until(lambda: _get_json(f"{base}/readyz")["computations"] == 0, seconds=60)
        # A poll and the layer under way (0.35 s on the reference machine; 1.0–1.15 s measured on the 2-core VM, which
        # failed a 1 s bound one run in two), not the ~3 s (or 10 s) left.
        assert time.process_time() - cpu < 1.5
