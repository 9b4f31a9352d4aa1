"""Jobs on RQ (app/api/rq_jobs.py) against a real redis-server and a real ``python -m app worker`` process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.api.jobs import JobStatus, QueueFull, TooManyJobs
from app.api.rq_jobs import Keys, RqJobs
from app.config import Settings
from tests.conftest import job_for
from tests.servers import ROOT, redis_server, run_async, serve, stop

QUICK = {"widths": "16,64", "steps": 200, "seeds": 1}
LONG = {"widths": "1024,2048", "steps": 10000, "seeds": 4}  # tens of seconds: cancelled or killed, never finished


def _settings(url: str, **changes: Any) -> Settings:
    return Settings(queue_url=url, store_url=url, compute_budget_s=0.001, compute_in="threads", job_workers=0,
                    max_jobs_per_client=50, **changes)


@pytest.fixture(scope="module")
def worker(redis_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m app worker``, as the image runs it."""
    env = {**os.environ, "LANES_QUEUE_URL": redis_url, "LANES_STORE_URL": redis_url, "LANES_LOG_LEVEL": "info"}
    process = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env)
    yield process
    stop(process)


def _until(jobs: RqJobs, ticket: str, done: Any, seconds: float = 60) -> JobStatus:
    """Poll the ticket's status until ``done(status)``."""
    deadline = time.monotonic() + seconds
    while True:
        status = run_async(jobs.status(ticket))
        assert status is not None
        if done(status):
            return status
        assert time.monotonic() < deadline, f"still {status}"
        time.sleep(0.1)


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _horse(worker: subprocess.Popen[bytes]) -> int:
    """The work horse RQ forked for the job in hand (the worker's child)."""
    deadline = time.monotonic() + 30
    while True:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == worker.pid:
                        return int(entry.name)
                except (OSError, IndexError):
                    continue
        assert time.monotonic() < deadline, "no work horse"
        time.sleep(0.05)


def test_a_queue_url_needs_a_redis_store(redis_url: str) -> None:
    with pytest.raises(ValueError, match="store_url on Redis"):
        Settings(queue_url=redis_url, store_url="sqlite:var/x.sqlite3")


def test_a_job_streams_progress_then_the_drift_endpoint_answers_from_the_store(redis_url: str, worker: Any) -> None:
    settings = _settings(redis_url)
    with serve(settings) as base:
        query = "widths=16,64&steps=3000&seeds=2&seed=11"
        assert _get(f"{base}/api/v1/experiments/drift?{query}")[0] == 422  # over the interactive budget
        request = urllib.request.Request(f"{base}/api/v1/jobs?{query}", method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            job = json.loads(response.read())
        states = []
        with urllib.request.urlopen(f"{base}/api/v1/jobs/{job['id']}/events", timeout=120) as stream:
            for line in stream:
                if line.startswith(b"data: "):
                    states.append(json.loads(line[6:]))
        assert states[-1]["state"] == "done", states[-1]
        assert states[-1]["progress"]["fraction"] == 1.0 and states[-1]["progress"]["widths_done"] == 2
        status, body = _get(f"{base}/api/v1/experiments/drift?{query}")
        assert status == 200 and [w["width"] for w in body["widths"]] == [16, 64]


def test_one_experiment_asked_by_two_clients_computes_once(redis_url: str, worker: Any) -> None:
    settings = _settings(redis_url)
    jobs = RqJobs(settings)
    params = {**QUICK, "seed": 21}
    first = run_async(jobs.submit(job_for(params, settings, "10.0.0.1")))
    second = run_async(jobs.submit(job_for(params, settings, "10.0.0.2")))
    again = run_async(jobs.submit(job_for(params, settings, "10.0.0.1")))
    assert first.id != second.id and (again.id == first.id or again.state == "done")
    for ticket in (first.id, second.id):
        _until(jobs, ticket, lambda s: s.state == "done")
    key = job_for(params, settings).key
    assert int(jobs.redis.hget(Keys.COMPUTED, key) or 0) == 1


def test_cancel_stops_a_job_only_when_no_ticket_wants_it(redis_url: str, worker: Any) -> None:
    settings = _settings(redis_url)
    jobs = RqJobs(settings)
    params = {**LONG, "seed": 31}
    first = run_async(jobs.submit(job_for(params, settings, "10.0.0.1")))
    second = run_async(jobs.submit(job_for(params, settings, "10.0.0.2")))
    _until(jobs, first.id, lambda s: s.state == "running" and s.progress.step is not None)
    assert run_async(jobs.cancel(first.id)).state == "cancelled"  # type: ignore[union-attr]
    time.sleep(1.0)  # past the checkpoint's reading of the flag: still wanted, so still running
    assert run_async(jobs.status(second.id)).state == "running"  # type: ignore[union-attr]
    run_async(jobs.cancel(second.id))
    _until(jobs, second.id, lambda s: s.state == "cancelled")
    # the worker is free again: a new job runs
    quick = run_async(jobs.submit(job_for({**QUICK, "seed": 32}, settings)))
    _until(jobs, quick.id, lambda s: s.state == "done")
    assert run_async(jobs.cancel("no-such-ticket")) is None


def test_bounds_per_client_and_for_the_queue() -> None:
    """On a Redis of its own: the module's worker (started by the tests before) would take the jobs off the queue
    before it is full."""
    with redis_server() as redis_url:
        settings = Settings(queue_url=redis_url, store_url=redis_url, max_jobs=2, max_jobs_per_client=1)
        jobs = RqJobs(settings)
        jobs.queue.empty()
        run_async(jobs.submit(job_for({**QUICK, "seed": 41}, settings, "10.1.0.1")))
        with pytest.raises(TooManyJobs) as too_many:
            run_async(jobs.submit(job_for({**QUICK, "seed": 42}, settings, "10.1.0.1")))
        assert too_many.value.retry_after >= 1
        run_async(jobs.submit(job_for({**QUICK, "seed": 43}, settings, "10.1.0.2")))
        with pytest.raises(QueueFull) as full:
            run_async(jobs.submit(job_for({**QUICK, "seed": 44}, settings, "10.1.0.3")))
        assert not isinstance(full.value, TooManyJobs) and full.value.retry_after >= 1


def test_a_killed_work_horse_is_retried_once_then_reported_failed(redis_url: str, worker: subprocess.Popen[bytes]) -> None:
    settings = _settings(redis_url)
    jobs = RqJobs(settings)
    ticket = run_async(jobs.submit(job_for({**LONG, "seed": 51}, settings))).id
    _until(jobs, ticket, lambda s: s.state == "running" and s.progress.step is not None)
    os.kill(_horse(worker), signal.SIGKILL)
    retried = _until(jobs, ticket, lambda s: s.detail is not None and "runs again" in s.detail)
    assert retried.state in ("queued", "running")
    _until(jobs, ticket, lambda s: s.state == "running" and s.progress.step is not None)
    os.kill(_horse(worker), signal.SIGKILL)
    failed = _until(jobs, ticket, lambda s: s.state == "failed")
    assert failed.detail is not None and "died twice" in failed.detail and "signal 9" in failed.detail


def test_health_says_the_queue_and_its_workers(redis_url: str, worker: Any) -> None:
    jobs = RqJobs(_settings(redis_url))
    deadline = time.monotonic() + 30
    while (health := jobs.health())["workers"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert health["kind"] == "rq" and health["ok"] is True
    assert RqJobs(_settings("redis://127.0.0.1:1/0")).health()["ok"] is False
