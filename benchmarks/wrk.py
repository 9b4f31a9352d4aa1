"""Bounded wrk runs on loopback, read back as numbers: requests/s, latency percentiles, responses by status.

A Lua ``response()`` hook counts every response by status in each wrk thread, and separately
the 503s that came without ``Retry-After``; ``done()`` prints the totals as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

COUNTER = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {}; bare503 = 0 end
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if status == 503 and headers["Retry-After"] == nil and headers["retry-after"] == nil then bare503 = bare503 + 1 end
end
function done(summary, latency, requests)
  local total, bare = {}, 0
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("counts")) do total[tostring(status)] = (total[tostring(status)] or 0) + n end
    bare = bare + t:get("bare503")
  end
  local parts = {}
  for status, n in pairs(total) do table.insert(parts, string.format('"%s": %d', status, n)) end
  local e = summary.errors
  io.write(string.format('WRK {"status": {%s}, "bare503": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"requests": %d, "seconds": %f, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\\n',
    table.concat(parts, ", "), bare, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.timeout))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """One run's figures; latencies in milliseconds."""

    requests_per_s: float
    p50: float
    p95: float
    p99: float
    max: float
    status: dict[int, int]
    retry_after_missing: int  # 503s without Retry-After
    socket_errors: dict[str, int]

    def count(self, low: int, high: int) -> int:
        return sum(n for status, n in self.status.items() if low <= status <= high)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `make bench-api` / `make bench-load` install it (Debian package wrk)")


def wrk(base_url: str, path: str = "/", script: str = "", connections: int = 50, seconds: int = 10,
        threads: int = 2, env: dict[str, str] | None = None) -> WrkRun:
    """One wrk run of ``seconds`` at ``connections`` (``script``: Lua defining ``request()``, optional; ``env``: for it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script + COUNTER)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
               "-H", "Accept-Encoding: gzip", "-s", lua.name, base_url + path]
    try:
        output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True,
                                env={**os.environ, **(env or {})}).stdout
    finally:
        Path(lua.name).unlink()
    figures = json.loads(next(line[4:] for line in output.splitlines() if line.startswith("WRK ")))
    return WrkRun(figures["requests"] / figures["seconds"], figures["p50"] / 1e3, figures["p95"] / 1e3,
                  figures["p99"] / 1e3, figures["max"] / 1e3, {int(k): v for k, v in figures["status"].items()},
                  figures["bare503"], figures["errors"])
