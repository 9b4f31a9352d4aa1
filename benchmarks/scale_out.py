"""Scale-out on Redis and RQ, end to end: ``python -m app serve`` with two web workers, one ``python -m app worker``
and a ``redis-server`` (all started here, on loopback). One experiment over the interactive budget is asked for as a
job through both web workers (fresh connections, so the kernel spreads them) and then read through both many times.

Prints the cold time (job queued → done → first answer), the stored answers' times (each web worker's first read
comes from Redis, later ones from its memory), and how many times the experiment was computed: the worker's count in
Redis (``lanes:jobs:computed``), which must be 1. Run with ``python -m benchmarks.scale_out``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from typing import Any

import redis

from app.api.rq_jobs import Keys
from tests.servers import ROOT, redis_server, uvicorn_workers

QUERY = f"widths=256,1024&steps=3000&seeds=2&seed={int(time.time()) % 10**6}"
ASKS = 6     # job submissions, each on a fresh connection
READS = 20   # drift reads afterwards, each on a fresh connection


def _call(url: str, method: str = "GET") -> tuple[float, int, Any]:
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=600) as response:
        body = response.read()
        return time.perf_counter() - start, response.status, body


def main() -> None:
    with redis_server() as url:
        env = {**os.environ, "LANES_QUEUE_URL": url, "LANES_STORE_URL": url, "LANES_LOG_LEVEL": "warning"}
        worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env)
        try:
            with uvicorn_workers(2, store_url=url, queue_url=url, job_workers="0", compute_budget_s="0.05") as (base, _):
                started = time.perf_counter()
                tickets = {json.loads(_call(f"{base}/api/v1/jobs?{QUERY}", "POST")[2])["id"] for _ in range(ASKS)}
                while json.loads(_call(f"{base}/api/v1/jobs/{next(iter(tickets))}")[2])["state"] != "done":
                    time.sleep(0.05)
                first, status, _ = _call(f"{base}/api/v1/experiments/drift?{QUERY}")
                cold = time.perf_counter() - started
                reads = [_call(f"{base}/api/v1/experiments/drift?{QUERY}") for _ in range(READS)]
                assert status == 200 and all(code == 200 for _, code, _ in reads)
                computed = redis.Redis.from_url(url).hvals(Keys.COMPUTED)
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    times = sorted(seconds for seconds, _, _ in reads)
    print(f"| {ASKS} job submissions through 2 web workers | tickets | computations (worker's count in Redis) |")
    print("| --- | --- | --- |")
    print(f"| {QUERY} | {len(tickets)} | {sum(int(n) for n in computed)} |\n")
    print("| answer | ms |")
    print("| --- | --- |")
    print(f"| cold: job queued → done → first drift answer | {cold * 1000:.0f} |")
    print(f"| first stored answer (from Redis) | {first * 1000:.1f} |")
    print(f"| stored answers, {READS} fresh connections: median / max | {statistics.median(times) * 1000:.1f} / "
          f"{times[-1] * 1000:.1f} |")


if __name__ == "__main__":
    main()
