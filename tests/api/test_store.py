"""The shared result store (issue 14 §3): a SQLite file every worker opens, or a real Redis (Debian's redis-server,
started by the test) shared by replicas; bounded in bytes, keyed by the code's version; claims that make one
experiment compute once however many workers it reaches; kept across a restart."""

from __future__ import annotations

import asyncio
import shutil
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import app.api.store as store_module
import app.api.work as work
from app.api.compute import ComputeService
from app.api.store import CODE_VERSION, RedisStore, ResultStore, SqliteStore, store_key
from app.config import Settings
from app.ntk import DriftConfig
from tests.servers import cpu_seconds, uvicorn_workers, worker_pids

SMALL = DriftConfig(widths=(16, 64), seeds=2, steps=40, snapshots=3, districts=4, grid=16)
StoreFactory = Callable[[int], ResultStore]


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """``make_store(max_bytes)``: an empty store of each kind (a fresh key prefix on the one Redis)."""
    if request.param == "sqlite":
        return lambda max_bytes: SqliteStore(tmp_path / "r.sqlite3", max_bytes)
    url = request.getfixturevalue("redis_url")
    prefix = f"test-{time.monotonic_ns()}:"
    return lambda max_bytes: RedisStore(url, max_bytes, prefix=prefix)


def test_entries_are_kept_by_key_and_the_least_recently_used_go_past_the_bound(make_store: StoreFactory) -> None:
    store = make_store(3000)
    for name in "abc":
        store.put(name, name.encode() * 1000)
        time.sleep(0.01)
    assert store.usage() == (3, 3000)
    assert store.get("a") == b"a" * 1000  # a is now the most recently used: b goes first
    store.put("d", b"d" * 1000)
    assert store.get("b") is None and store.get("a") is not None and store.get("c") is not None
    assert store.usage() == (3, 3000)
    store.put("huge", b"x" * 3001)  # larger than the whole store: not kept, nothing evicted for it
    assert store.get("huge") is None and store.usage() == (3, 3000)
    assert make_store(3000).get("d") == b"d" * 1000  # another opener (another worker) sees it


def test_a_claim_is_held_by_one_owner_until_released_or_expired(make_store: StoreFactory) -> None:
    store = make_store(1000)
    assert store.claim("k", "one", lease_s=60) and not store.claim("k", "two", lease_s=60)
    assert store.claim("k", "one", lease_s=60)  # renewed by its owner
    store.release("k", "one")
    assert store.claim("k", "two", lease_s=0.05) and not store.claim("k", "one", lease_s=60)
    time.sleep(0.1)
    assert store.claim("k", "one", lease_s=60)  # two's lease expired: taken over


def test_keys_change_with_the_code_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_key(repr(SMALL)).startswith(f"{CODE_VERSION}:") and store_key("a") != store_key("b")
    copy = tmp_path / "ntk"
    shutil.copytree(store_module.NTK_SOURCES, copy)
    monkeypatch.setattr(store_module, "NTK_SOURCES", copy)
    assert store_module._code_version() == CODE_VERSION
    (copy / "kernels.py").write_text((copy / "kernels.py").read_text() + "\n# a change\n")
    assert store_module._code_version() != CODE_VERSION


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_two_workers_sharing_the_store_compute_an_experiment_once(kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   request: pytest.FixtureRequest) -> None:
    runs: list[DriftConfig] = []
    real = work.drift_experiment

    def counted(config: DriftConfig, *args: object) -> object:
        runs.append(config)
        return real(config, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(work, "drift_experiment", counted)
    url = f"sqlite:{tmp_path}/r.sqlite3" if kind == "sqlite" else request.getfixturevalue("redis_url")
    settings = Settings(store_url=url)

    async def both() -> list[object]:
        first, second = ComputeService(settings), ComputeService(settings)  # two workers' services, one store file
        try:
            return list(await asyncio.gather(first.drift(SMALL), second.drift(SMALL), second.drift(SMALL)))
        finally:
            first.close()
            second.close()

    with ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this one (Playwright's, say)
        results = thread.submit(asyncio.run, both()).result()
    assert len(runs) == 1
    assert all(r.widths[1].drift.tolist() == results[0].widths[1].drift.tolist() for r in results)  # type: ignore[attr-defined]


def test_a_restarted_server_answers_from_the_store_without_computing(tmp_path: Path) -> None:
    url = "/api/v1/experiments/drift?seed=11&kernel_width=64"  # the default experiment, another seed: ~1.4 s of CPU
    store = f"sqlite:{tmp_path}/results.sqlite3"
    bodies, used = [], []
    for _ in range(2):
        with uvicorn_workers(1, store_url=store) as (base_url, process):
            (worker,) = worker_pids(process.pid) or [process.pid]
            before = cpu_seconds(worker)
            with urllib.request.urlopen(base_url + url, timeout=120) as response:
                bodies.append(response.read())
            used.append(cpu_seconds(worker) - before)
    assert bodies[0] == bodies[1]
    # Computed by the first server; the second only read, decoded and encoded it: a small share of the CPU time.
    assert used[0] > 0.5 and used[1] < 0.3 * used[0], used


def test_a_claim_must_outlive_the_longest_wait_for_it() -> None:
    with pytest.raises(ValueError, match="must be above compute_wall_limit_s"):
        Settings(store_lease_s=60, compute_wall_limit_s=120)
