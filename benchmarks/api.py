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
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.ntk import ring_angles, ring_points

DURATION = 10          # seconds per wrk run
CONNECTIONS = 50
DRIFT = "/api/v1/experiments/drift"
KERNELS_BODY = json.dumps({"x1": ring_points(ring_angles(64)).tolist(), "kinds": ["analytic", "empirical"],
                           "width": 512}).encode()

# wrk Lua: count responses by status in each thread, print them as JSON when done.
STATUS_COUNTER = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do total[tostring(status)] = (total[tostring(status)] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%s": %d', status, n)) end
  io.write("STATUS {" .. table.concat(parts, ", ") .. "}\\n")
end
"""
UNCACHED = """
math.randomseed(os.time())
request = function()
  local seed = math.random(1, 2000000000)
  return wrk.format("GET", "/api/v1/experiments/drift?widths=16,64,256&steps=200&snapshots=3&seed=" .. seed)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(workers: int) -> Iterator[int]:
    """``uvicorn app.main:app`` with ``workers`` processes on a free loopback port; stopped with SIGTERM."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
                                str(port), "--workers", str(workers), "--log-level", "warning"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def get(port: int, path: str, body: bytes | None = None, connection: http.client.HTTPConnection | None = None
        ) -> tuple[int, float]:
    """``(status, seconds)`` of one request (POST when ``body`` is given)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    conn.request("POST" if body else "GET", path, body=body,
                 headers={"Accept-Encoding": "gzip", "Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


def latency_rows(port: int) -> list[str]:
    """Cold (first) and cached (median and p99 of 50, one keep-alive connection, so one worker) latencies."""
    rows = ["| request | cold (ms) | cached p50 (ms) | cached p99 (ms) |", "|---|---:|---:|---:|"]
    for name, path, body in [("default drift experiment", DRIFT, None), ("POST /kernels, 64 points, width 512",
                                                                          "/api/v1/kernels", KERNELS_BODY)]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        status, cold = get(port, path, body, conn)
        assert status == 200, status
        cached = sorted(get(port, path, body, conn)[1] for _ in range(50))
        rows.append(f"| {name} | {cold * 1e3:.0f} | {statistics.median(cached) * 1e3:.2f} | {cached[49] * 1e3:.2f} |")
    return rows


def wrk(port: int, path: str, script: str = "") -> dict[str, float | dict[str, int]]:
    """One bounded wrk run; requests/s, p50 and p99 in ms, and the count of each status."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script + STATUS_COUNTER)
    command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-H", "Accept-Encoding: gzip",
               "-s", lua.name, f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(command, capture_output=True, text=True, timeout=DURATION + 60, check=True).stdout
    Path(lua.name).unlink()
    return {"rps": float(next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec"))),
            "p50": _percentile(output, "50%"), "p99": _percentile(output, "99%"),
            "status": json.loads(next(line[7:] for line in output.splitlines() if line.startswith("STATUS ")))}


def _percentile(output: str, label: str) -> float:
    value = next(line.split()[1] for line in output.splitlines() if line.strip().startswith(label))
    units = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    unit = next(u for u in ("us", "ms", "s") if value.endswith(u))
    return float(value[: -len(unit)]) * units[unit]


def load_rows(port: int) -> list[str]:
    for _ in range(20):  # every worker computes the default experiment once before the measured runs
        get(port, DRIFT)
    runs = [("GET /healthz (the server's ceiling)", wrk(port, "/healthz")),
            ("GET default drift, cached (~69 KB gzipped)", wrk(port, DRIFT)),
            ("GET small drift, a new seed each time (uncached)", wrk(port, "/", UNCACHED))]
    rows = [f"{CONNECTIONS} connections, {DURATION} s each, uvicorn --workers 2, wrk -t2 on the same machine:", "",
            "| run | requests/s | p50 (ms) | p99 (ms) | responses by status |", "|---|---:|---:|---:|---|"]
    for name, run in runs:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(run["status"].items()))  # type: ignore[union-attr]
        rows.append(f"| {name} | {run['rps']:.0f} | {run['p50']:.2f} | {run['p99']:.2f} | {statuses} |")
    ratio = float(runs[1][1]["rps"]) / float(runs[0][1]["rps"])  # type: ignore[arg-type]
    rows += ["", f"cached default experiment ÷ /healthz request rate: **{ratio:.2f}**"]
    return rows


def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench-api` installs it (Debian package wrk)")
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}\n")
    with server(workers=1) as port:
        print("\n".join(latency_rows(port)))
    print()
    with server(workers=2) as port:
        print("\n".join(load_rows(port)))


if __name__ == "__main__":
    main()
