"""Result store benchmark: putting, getting and evicting finished experiments, SQLite against Redis, side by side.

Run with ``make bench-store``. The default experiment is computed once and encoded (``app/api/codec.py``); then, for
a SQLite file in a temporary folder and for Debian's ``redis-server`` started on a loopback port (in memory, no
snapshots), the median of 20 puts and 20 gets of its bytes under distinct keys, and a store bounded to hold 5 such
entries after 20 puts: how many it keeps and how many bytes. Prints Markdown, with the computation's own time for
scale (a get replaces it).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.api.codec import decode, encode
from app.api.store import RedisStore, ResultStore, SqliteStore
from app.ntk import DriftConfig, drift_experiment
from tests.servers import redis_server

ROUNDS = 20


def median_ms(action: Callable[[int], object]) -> float:
    times = []
    for i in range(ROUNDS):
        start = time.perf_counter()
        action(i)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(name: str, make: Callable[[int], ResultStore], data: bytes) -> str:
    store = make(10 * ROUNDS * len(data))
    put = median_ms(lambda i: store.put(f"put-{i}", data))
    get = median_ms(lambda i: store.get(f"put-{i}"))
    bounded = make(5 * len(data) + len(data) // 2)
    for i in range(ROUNDS):
        bounded.put(f"bounded-{i}", data)
    entries, size = bounded.usage()
    newest = all(bounded.get(f"bounded-{i}") is not None for i in range(ROUNDS - entries, ROUNDS))
    return (f"| {name} | {put:.1f} ms | {get:.1f} ms | {entries} entries, {size / 2**20:.1f} MiB "
            f"({'the newest' if newest else 'NOT the newest'}) |")


def main() -> None:
    start = time.process_time()
    result = drift_experiment(DriftConfig())
    computed = time.process_time() - start
    start = time.perf_counter()
    data = encode(result)
    encoded = time.perf_counter() - start
    start = time.perf_counter()
    decode(data)
    decoded = time.perf_counter() - start
    lines = ["| store | put (median) | get (median) | bounded to 5.5 entries, after 20 puts |", "| --- | ---: | ---: | --- |"]
    with tempfile.TemporaryDirectory() as folder:
        lines.append(measure("SQLite (a file)", lambda limit: SqliteStore(Path(folder) / f"r{limit}.sqlite3", limit), data))
    with redis_server() as url:
        lines.append(measure("Redis (loopback)", lambda limit: RedisStore(url, limit, prefix=f"bench{limit}:"), data))
    print(f"the default experiment: computed in {computed:.2f} s of CPU, {len(data) / 2**20:.2f} MiB encoded in "
          f"{1000 * encoded:.0f} ms, decoded in {1000 * decoded:.0f} ms\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
