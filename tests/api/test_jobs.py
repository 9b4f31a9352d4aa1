"""Jobs on the embedded queue (app/api/jobs.py: LocalJobs) through HTTP: cost first, queued, followed, done, drawn from
the store; one computation per experiment; cancel; bounds (429, 503); a killed process; a job taken over from the
table by another worker."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.jobs import LocalJobs, Progress, QueueFull, TooManyJobs, fraction_done, jobs_file
from app.config import Settings
from app.ntk import DriftConfig, DriftResult
from tests.conftest import ClientFactory, job_for
from tests.servers import run_async

JOBS, DRIFT = "/api/v1/jobs", "/api/v1/experiments/drift"
QUICK = {"widths": "16,64,256", "steps": 300, "seeds": 2}            # ≈ 0.1 s of computing: a job on these servers
LONG = {"widths": "1024,2048", "steps": 10_000, "seeds": 3}          # tens of seconds: cancelled or killed, never done
SMALL_BUDGET = {"compute_budget_s": 0.01, "job_budget_s": 600}      # everything above is a job


def _jobs(client: TestClient) -> LocalJobs:
    jobs: LocalJobs = client.app.state.jobs  # type: ignore[attr-defined]
    return jobs


def _until(client: TestClient, ticket: str, done: Callable[[dict[str, Any]], bool], seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        status = client.get(f"{JOBS}/{ticket}").json()
        if done(status):
            return status
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.05)


def test_a_job_is_estimated_queued_followed_and_then_answered_by_the_drift_endpoint(make_client: ClientFactory) -> None:
    client = make_client(**SMALL_BUDGET)
    cost = client.get(f"{DRIFT}/cost", params=QUICK).json()
    assert cost["runs"] == "job" and cost["fits"] is False and cost["seconds_here"] == pytest.approx(cost["seconds"])
    refused = client.get(DRIFT, params=QUICK)
    assert refused.status_code == 422 and "POST /api/v1/jobs" in refused.json()["detail"][0]["msg"]
    submitted = client.post(JOBS, params=QUICK)
    assert submitted.status_code == 202 and submitted.headers["location"] == f"{JOBS}/{submitted.json()['id']}"
    ticket = submitted.json()
    assert ticket["state"] in ("queued", "running") and ticket["progress"]["widths"] == 3
    assert client.post(JOBS, params=QUICK).json()["id"] == ticket["id"]  # the same client's ticket back
    with client.stream("GET", f"{JOBS}/{ticket['id']}/events") as stream:
        statuses = [json.loads(line[6:]) for line in stream.iter_lines() if line.startswith("data: ")]
    assert statuses[-1]["state"] == "done" and statuses[-1]["progress"]["fraction"] == 1
    fractions = [s["progress"]["fraction"] for s in statuses]
    assert fractions == sorted(fractions)
    answered = client.get(ticket["result"])
    assert answered.status_code == 200 and [w["width"] for w in answered.json()["widths"]] == [16, 64, 256]
    again = client.post(JOBS, params=QUICK)  # a finished job: done at once
    assert again.status_code == 200 and again.json()["state"] == "done"


def test_a_job_over_the_jobs_limit_is_refused_and_an_unknown_one_is_not_found(make_client: ClientFactory) -> None:
    client = make_client(compute_budget_s=0.01, job_budget_s=0.02)
    refused = client.post(JOBS, params=QUICK)
    assert refused.status_code == 422 and "a job's computing" in refused.json()["detail"][0]["msg"]
    assert client.get(f"{DRIFT}/cost", params=QUICK).json()["runs"] == "refused"
    assert client.get(f"{JOBS}/nobody").status_code == 404
    assert client.delete(f"{JOBS}/nobody").status_code == 404


def test_cancel_stops_the_computation_and_a_client_holds_a_bounded_number(make_client: ClientFactory) -> None:
    client = make_client(**SMALL_BUDGET, max_jobs_per_client=1)
    ticket = client.post(JOBS, params=LONG).json()
    _until(client, ticket["id"], lambda s: s["state"] == "running" and s["progress"]["step"] is not None)
    second = client.post(JOBS, params=LONG | {"seed": 1})
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    assert "unfinished jobs" in second.json()["detail"]
    assert client.delete(f"{JOBS}/{ticket['id']}").json()["state"] == "cancelled"
    jobs = _jobs(client)
    deadline = time.monotonic() + 30
    while jobs._running:  # the process stops at its next step, and its job is recorded cancelled
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.get(f"{JOBS}/{ticket['id']}").json()["state"] == "cancelled"
    assert client.post(JOBS, params=QUICK).status_code == 202  # the client's place is free again


def test_the_queue_is_bounded_and_one_experiment_is_one_job_for_every_client(tmp_path: Path) -> None:
    settings = Settings(**SMALL_BUDGET, max_jobs=1, max_jobs_per_client=5, compute_in="threads")

    async def scenario() -> tuple[Any, ...]:
        kept: list[DriftConfig] = []

        async def keep(config: DriftConfig, _: DriftResult) -> None:
            kept.append(config)

        jobs = LocalJobs(settings, tmp_path / "r.jobs.sqlite3", keep, runners=0)  # queues, runs nothing
        request = job_for(QUICK, settings, "10.0.0.1")
        first = await jobs.submit(request)
        other = await jobs.submit(job_for(QUICK, settings, "10.0.0.2"))  # the same experiment: the same job
        with pytest.raises(QueueFull) as full:
            await jobs.submit(job_for(QUICK | {"seed": 3}, settings, "10.0.0.3"))
        assert not isinstance(full.value, TooManyJobs) and full.value.retry_after >= 1
        await jobs.cancel(first.id)  # another ticket still wants it: it stays queued
        still = await jobs.status(other.id)
        await jobs.cancel(other.id)  # nobody wants it now
        gone = await jobs.status(other.id)
        return first, other, still, gone

    first, other, still, gone = run_async(scenario())
    assert first.id != other.id and first.position == 0
    assert still.state == "queued" and gone.state == "cancelled"


def test_a_job_queued_by_one_worker_is_run_by_another_sharing_its_table(tmp_path: Path) -> None:
    """The embedded queue's state is a SQLite file: a web worker (or a restarted server) runs what another queued."""
    settings = Settings(**SMALL_BUDGET, compute_in="threads")
    table = jobs_file(tmp_path / "results.sqlite3")
    kept: list[DriftConfig] = []

    async def keep(config: DriftConfig, _: DriftResult) -> None:
        kept.append(config)

    async def queue_one() -> str:
        return (await LocalJobs(settings, table, keep, runners=0).submit(job_for(QUICK, settings))).id

    async def run_it(ticket: str) -> Any:
        jobs = LocalJobs(settings, table, keep, runners=1)
        await jobs.start()
        try:
            deadline = time.monotonic() + 120
            while (status := await jobs.status(ticket)) is not None and status.state != "done":
                assert time.monotonic() < deadline, status
                await asyncio.sleep(0.05)
            return status
        finally:
            await jobs.close()

    ticket = run_async(queue_one())
    assert table.name == "results.jobs.sqlite3"
    status = run_async(run_it(ticket))
    assert status is not None and status.state == "done" and len(kept) == 1


def test_closing_as_the_job_loop_wakes_stops_it(tmp_path: Path) -> None:
    """close() in the same turn of the event loop as a wake-up (a job finishing, say): under Python 3.11's
    asyncio.wait_for the loop swallowed the cancellation and close() waited forever (seen once in the suite)."""
    settings = Settings(**SMALL_BUDGET, compute_in="threads")

    async def keep(config: DriftConfig, _: DriftResult) -> None:
        return None

    async def close_as_it_wakes() -> bool:
        jobs = LocalJobs(settings, tmp_path / "r.jobs.sqlite3", keep, runners=1)
        await jobs.start()
        await asyncio.sleep(0.3)  # the loop is waiting for its next wake-up
        loop = jobs._loop_task
        assert loop is not None
        jobs._wake.set()
        closing = asyncio.ensure_future(jobs.close())
        done, _ = await asyncio.wait({closing}, timeout=10)  # (not wait_for, which could swallow this test's own wait)
        if not done:  # the loop survived its cancellation: cancel it again, so the test fails rather than hangs
            loop.cancel()
            await asyncio.wait({closing}, timeout=5)
        return closing in done

    assert run_async(close_as_it_wakes())


def test_a_job_whose_process_is_killed_runs_again(make_client: ClientFactory) -> None:
    client = make_client(**SMALL_BUDGET)
    jobs = _jobs(client)
    assert jobs._processes is not None
    ticket = client.post(JOBS, params=QUICK | {"steps": 4000, "widths": "16,64,256,1024"}).json()
    _until(client, ticket["id"], lambda s: s["state"] == "running" and s["progress"]["step"] is not None)
    (pid,) = jobs._processes.pids()
    os.kill(pid, signal.SIGKILL)
    done = _until(client, ticket["id"], lambda s: s["state"] in ("done", "failed"))
    assert done["state"] == "done", done  # run again once, in a new process


def test_progress_is_counted_in_each_widths_share_of_the_cost() -> None:
    weights = (1.0, 3.0)
    assert fraction_done(Progress(widths=2, steps=100), weights) == 0
    assert fraction_done(Progress(widths_done=1, widths=2, width=64, step=50, steps=100), weights) == pytest.approx(0.625)
    assert fraction_done(Progress(widths_done=2, widths=2, steps=100), weights) == 1
