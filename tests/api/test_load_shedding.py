"""Concurrency contract: CPU work off the event loop, shared identical work, bounded admission, time limits."""

from __future__ import annotations

import importlib
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from app.api import compute, work
from app.api.compute import ComputeService
from tests.conftest import ClientFactory

URL = "/api/v1/experiments/drift"
HEAVY = {"widths": "4096", "steps": 4000, "snapshots": 2}  # ≈ 1.5 s of work on 2 cores


def _service(client: TestClient) -> ComputeService:
    service: ComputeService = client.app.state.compute  # type: ignore[attr-defined]
    return service


def _in_background(client: TestClient, params: dict[str, Any], results: list[httpx.Response]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(client.get(URL, params=params)))
    thread.start()
    return thread


def _wait_until(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_health_answers_while_experiments_run_and_overload_is_shed_with_retry_after(make_client: ClientFactory) -> None:
    client = make_client(max_concurrent=1, max_queued=1)
    service = _service(client)
    results: list[httpx.Response] = []
    threads = [_in_background(client, HEAVY | {"seed": seed}, results) for seed in (0, 1)]
    _wait_until(lambda: service.saturated)
    assert client.get("/healthz").status_code == 200
    assert service.saturated, "health must answer while both computations are still admitted"
    busy = client.get(URL, params=HEAVY | {"seed": 2})
    assert busy.status_code == 503 and int(busy.headers["retry-after"]) >= 1
    assert "busy" in busy.json()["detail"]
    assert client.get("/readyz").status_code == 503
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200, 200]
    assert client.get("/readyz").status_code == 200


def test_identical_concurrent_requests_are_computed_once(make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    original = work.drift_experiment

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        time.sleep(0.3)  # keep the first computation in flight while the others arrive
        return original(*args, **kwargs)

    monkeypatch.setattr(work, "drift_experiment", counting)
    client = make_client(max_concurrent=2)
    params = {"widths": "16,32", "steps": 50, "snapshots": 2}
    results: list[httpx.Response] = []
    threads = [_in_background(client, params, results) for _ in range(4)]
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200] * 4
    assert len({r.headers["etag"] for r in results}) == 1
    assert len(calls) == 1


def test_a_computation_over_the_time_limit_is_refused_and_cancelled(make_client: ClientFactory) -> None:
    client = make_client(compute_timeout_s=0.3)
    service = _service(client)
    response = client.get(URL, params={"widths": "256,512,1024,2048,4096", "steps": 3000, "snapshots": 2})
    assert response.status_code == 503 and int(response.headers["retry-after"]) >= 1
    assert "needed more than 0.3 s of CPU time" in response.json()["detail"]
    _wait_until(lambda: not service.saturated and service._admitted == 0)
    assert not service._results, "a cancelled experiment must not be kept as if finished"


def test_a_single_width_over_the_time_limit_stops_within_a_training_step(make_client: ClientFactory) -> None:
    client = make_client(compute_timeout_s=0.3)
    service = _service(client)
    cpu = time.process_time()  # the service runs in this process; CPU time is what the limit counts, whatever the load
    response = client.get(URL, params={"widths": "4096", "steps": 10000, "snapshots": 2})  # ≈ 4 s of CPU if it ran on
    assert response.status_code == 503
    _wait_until(lambda: service._admitted == 0, seconds=60)
    assert time.process_time() - cpu < 1.5, "the computation ran on after the limit"


def test_computations_run_at_a_lower_cpu_priority_than_the_event_loop(client: TestClient) -> None:
    def niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    async def ask() -> int:
        return await _service(client).run(niceness)

    assert client.portal.call(ask) == compute.COMPUTE_NICENESS + niceness()  # type: ignore[union-attr]


@pytest.mark.parametrize(("path", "body", "worker"), [
    ("/api/v1/kernels", {"x1": [[1.0, 0.0], [0.0, 1.0]], "kinds": ["empirical"], "width": 64}, "_kernels"),
    ("/api/v1/predictions", {"x_train": [[1.0, 0.0], [0.0, 1.0]], "y_train": [1.0, -1.0], "x_test": [[0.6, 0.8]]},
     "_predict"),
])
def test_identical_concurrent_posts_are_computed_once(make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch,
                                                      path: str, body: dict[str, Any], worker: str) -> None:
    routes = importlib.import_module("app.api.routes.kernels")
    calls: list[object] = []
    original = getattr(routes, worker)

    def counting(*args: Any) -> Any:
        calls.append(args)
        time.sleep(0.3)  # keep the first computation in flight while the others arrive
        return original(*args)

    monkeypatch.setattr(routes, worker, counting)
    client = make_client()  # 5 admitted at most: 20 separate computations would be 15 × 503
    results: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: results.append(client.post(path, json=body))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in results] == [200] * 20
    assert len({r.content for r in results}) == 1 and len(calls) == 1
