"""API benchmark: cold and cached latency, then bounded load runs with wrk against ``uvicorn --workers 2``.

Run with ``make bench-api`` (installs Debian's ``wrk`` if missing). Everything runs on this
machine, on 127.0.0.1 only: the server on a free port, the load generator beside it (so both
share the same cores — the figures are for that setup). Each wrk run is bounded to
``DURATION`` seconds. Prints Markdown.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import sys
import time
from urllib.parse import urlsplit

from app.ntk import ring_angles, ring_points
from benchmarks.wrk import require_wrk, wrk
from tests.servers import uvicorn_workers

DURATION = 10          # seconds per wrk run
CONNECTIONS = 50
DRIFT = "/api/v1/experiments/drift"
KERNELS_BODY = json.dumps({"x1": ring_points(ring_angles(64)).tolist(), "kinds": ["analytic", "empirical"],
                           "width": 512}).encode()

UNCACHED = """
math.randomseed(os.time())
request = function()
  local seed = math.random(1, 2000000000)
  return wrk.format("GET", "/api/v1/experiments/drift?widths=16,64,256&steps=200&snapshots=3&seed=" .. seed)
end
"""


def get(base_url: str, path: str, body: bytes | None = None, connection: http.client.HTTPConnection | None = None
        ) -> tuple[int, float]:
    """``(status, seconds)`` of one request (POST when ``body`` is given)."""
    conn = connection or http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=120)
    started = time.perf_counter()
    conn.request("POST" if body else "GET", path, body=body,
                 headers={"Accept-Encoding": "gzip", "Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


def latency_rows(base_url: str) -> list[str]:
    """Cold (first) and cached (median and p99 of 50, one keep-alive connection, so one worker) latencies."""
    rows = ["| request | cold (ms) | cached p50 (ms) | cached p99 (ms) |", "|---|---:|---:|---:|"]
    for name, path, body in [("default drift experiment", DRIFT, None), ("POST /kernels, 64 points, width 512",
                                                                          "/api/v1/kernels", KERNELS_BODY)]:
        conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=120)
        status, cold = get(base_url, path, body, conn)
        assert status == 200, status
        cached = sorted(get(base_url, path, body, conn)[1] for _ in range(50))
        rows.append(f"| {name} | {cold * 1e3:.0f} | {statistics.median(cached) * 1e3:.2f} | {cached[49] * 1e3:.2f} |")
    return rows


def load_rows(base_url: str) -> list[str]:
    for _ in range(20):  # every worker computes the default experiment once before the measured runs
        get(base_url, DRIFT)
    runs = [("GET /healthz (the server's ceiling)", wrk(base_url, "/healthz", seconds=DURATION)),
            ("GET default drift, cached (~69 KB gzipped)", wrk(base_url, DRIFT, seconds=DURATION)),
            ("GET small drift, a new seed each time (uncached)", wrk(base_url, "/", UNCACHED, seconds=DURATION))]
    rows = [f"{CONNECTIONS} connections, {DURATION} s each, uvicorn --workers 2, wrk -t2 on the same machine:", "",
            "| run | requests/s | p50 (ms) | p99 (ms) | responses by status |", "|---|---:|---:|---:|---|"]
    for name, run in runs:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(run.status.items()))
        rows.append(f"| {name} | {run.requests_per_s:.0f} | {run.p50:.2f} | {run.p99:.2f} | {statuses} |")
    ratio = runs[1][1].requests_per_s / runs[0][1].requests_per_s
    rows += ["", f"cached default experiment ÷ /healthz request rate: **{ratio:.2f}**"]
    return rows


def main() -> None:
    require_wrk()
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}\n")
    with uvicorn_workers(1) as (base_url, _):
        print("\n".join(latency_rows(base_url)))
    print()
    with uvicorn_workers(2) as (base_url, _):
        print("\n".join(load_rows(base_url)))


if __name__ == "__main__":
    main()
