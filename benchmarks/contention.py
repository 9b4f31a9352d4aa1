"""Contention benchmark: do computations make progress whatever else runs? Against ``uvicorn --workers 2`` on 127.0.0.1.

1. The default experiment and the Jacot scenario, each with a fresh seed (uncached), on a quiet machine and then
   with one busy loop per core beside the server: status and seconds, and the busy/quiet ratio.
2. Four large experiments asked for at once (two per worker), on a quiet machine: each one's status and seconds
   (the server's compute budget is raised to admit them).

Run with ``python -m benchmarks.contention`` (``make bench-contention``). Prints Markdown.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from benchmarks.api import get
from tests.servers import busy_loops, uvicorn_workers

DRIFT = "/api/v1/experiments/drift"
SCENARIOS = {"default experiment": {}, "Jacot scenario": {"widths": "128,512", "depth": 3, "steps": 200, "target": "xy"}}
LARGE = {"widths": "2048,4096", "seeds": 4, "steps": 600, "districts": 128, "grid": 64, "snapshots": 2}
LARGE_BUDGET_S = "20"  # LARGE is estimated at 13 s, over the default budget: this measures contention, not admission


def ask(base_url: str, params: dict[str, object]) -> tuple[int, float]:
    return get(base_url, f"{DRIFT}?{urlencode(params | {'seed': random.randrange(1, 2**31 - 1)})}")


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    print(f"# Contention ({cores} cores, {time.strftime('%Y-%m-%d')})\n")
    with uvicorn_workers(2, max_queued="8", compute_budget_s=LARGE_BUDGET_S) as (base_url, _):
        print(f"| request | quiet | with {cores} busy loops | ratio |\n| --- | --- | --- | --- |")
        for name, params in SCENARIOS.items():
            quiet = ask(base_url, params)
            with busy_loops(cores):
                busy = ask(base_url, params)
            print(f"| {name} | {quiet[0]}, {quiet[1]:.2f} s | {busy[0]}, {busy[1]:.2f} s | {busy[1] / quiet[1]:.1f}× |")
        print(f"\nFour at once: `{urlencode(LARGE)}&seed=<distinct>`\n")
        started = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: ask(base_url, LARGE), range(4)))
        print("| request | status | seconds |\n| --- | --- | --- |")
        for k, (status, seconds) in enumerate(results, start=1):
            print(f"| {k} | {status} | {seconds:.1f} |")
        print(f"\nall four done after {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
