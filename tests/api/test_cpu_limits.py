"""Computations make progress whatever else runs on the machine (issue 11, item 1): BLAS runs one thread per process
(its helper threads, at the event loop's priority, starved the reniced compute threads), and the time limit counts a
computation's own CPU time, not the wall-clock time other processes take from the cores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import threadpoolctl
from fastapi.testclient import TestClient

from app.api.compute import ComputeService, Overloaded
from tests.conftest import ClientFactory

URL = "/api/v1/experiments/drift"


def _service(client: TestClient) -> ComputeService:
    service: ComputeService = client.app.state.compute  # type: ignore[attr-defined]
    return service


def _run(client: TestClient, fn: object, *args: object) -> object:
    async def ask() -> object:
        return await _service(client).run(fn, *args)  # type: ignore[arg-type]

    return client.portal.call(ask)  # type: ignore[union-attr]


@pytest.fixture
def busy_machine() -> Iterator[int]:
    """One busy loop per usable core, at normal priority, for the length of the test: the machine is fully taken."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in os.sched_getaffinity(0)]
    try:
        yield len(loops)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def test_computations_run_with_one_blas_thread(client: TestClient) -> None:
    info = _run(client, threadpoolctl.threadpool_info)
    blas = [library for library in info if library["user_api"] == "blas"]  # type: ignore[attr-defined]
    assert blas and all(library["num_threads"] == 1 for library in blas), blas


def test_waiting_without_using_the_cpu_does_not_count_against_the_cpu_limit(make_client: ClientFactory) -> None:
    client = make_client(compute_timeout_s=0.2)
    assert _run(client, lambda: time.sleep(0.6) or "done") == "done"  # 0.6 s of wall time, ~0 s of CPU


def test_a_computation_that_uses_more_cpu_than_the_limit_is_refused(make_client: ClientFactory) -> None:
    client = make_client(compute_timeout_s=0.2)

    def spin() -> str:
        end = time.thread_time() + 0.6
        while time.thread_time() < end:
            pass
        return "done"

    with pytest.raises(Overloaded, match=r"needed more than 0\.2 s of CPU time"):
        _run(client, spin)


def test_a_request_waits_no_longer_than_the_wall_clock_limit(make_client: ClientFactory) -> None:
    client = make_client(compute_wall_limit_s=0.2)
    with pytest.raises(Overloaded, match=r"did not finish within 0\.2 s"):
        _run(client, time.sleep, 0.6)


def test_an_experiment_on_a_fully_busy_machine_still_finishes(make_client: ClientFactory, busy_machine: int) -> None:
    # The default experiment needs ~0.6 s of CPU; with every core taken by a loop at a higher priority than the
    # compute thread's, its wall time grows several-fold. The limit counts its own CPU time, so it still answers.
    client = make_client(compute_timeout_s=5)
    response = client.get(URL, params={"seed": 11})
    assert response.status_code == 200, response.text
    assert len(response.json()["widths"]) == 9
