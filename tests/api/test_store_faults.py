"""The result store's faults (issue 14 §6), with real SQLite files and a real redis-server: a corrupt file is moved
aside and replaced, once, however many workers find it; an entry whose bytes changed or do not decode is discarded
and computed again; a Redis that is down, hangs, or is killed and restarted costs misses, never a failed start or
request, and ``/readyz`` says how the store is."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

import app.api.store as store_module
from app.api.codec import decode
from app.api.compute import result_key
from app.api.schemas import DriftQuery
from app.api.store import DIGEST_BYTES, RedisStore, ResultStore, SqliteStore, _file_id, _public
from tests.conftest import ClientFactory
from tests.servers import ROOT, free_port, redis_server

SMALL = {"widths": "16,64", "kernel_width": 64, "seeds": 1, "steps": 20, "snapshots": 2, "districts": 4, "grid": 16}
StoreFactory = Callable[[], ResultStore]


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """``make_store()``: a store of each kind (each call another opener of the same one: another worker)."""
    if request.param == "sqlite":
        return lambda: SqliteStore(tmp_path / "r.sqlite3", 10**6)
    url, prefix = request.getfixturevalue("redis_url"), f"faults-{time.monotonic_ns()}:"
    return lambda: RedisStore(url, 10**6, prefix=prefix)


@pytest.fixture
def quick_recheck(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores re-checked every 0.1 s instead of every few seconds, so recoveries show within a test's patience."""
    monkeypatch.setattr(store_module, "RECHECK_S", 0.1)


def _until(condition: Callable[[], object], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.02)


def _drift(client: TestClient, seed: int) -> None:
    response = client.get("/api/v1/experiments/drift", params={**SMALL, "seed": seed})
    assert response.status_code == 200, response.text


def _key(seed: int) -> str:
    return result_key(DriftQuery(**{**SMALL, "seed": seed}).to_config())  # type: ignore[arg-type]


def _readiness(client: TestClient) -> dict[str, object]:
    response = client.get("/readyz")
    assert response.status_code == 200  # a failing store never makes the worker unready: it computes and answers
    store: dict[str, object] = response.json()["store"]
    return store


def _store_of(client: TestClient) -> ResultStore:
    store: ResultStore = client.app.state.compute.store  # type: ignore[attr-defined]
    return store


def _scribble(path: Path, offset: int, length: int = 4096) -> None:
    with path.open("r+b") as file:
        file.seek(offset)
        file.write(b"\xff" * length)


def _aside(path: Path) -> list[Path]:
    """The corrupt copies moved aside (their main files)."""
    return sorted(path.parent.glob(f"{path.name}.corrupt-*[0-9]"))


def _settled(path: Path) -> bool:
    """No connection has the file open any more: the last one to close folded the write-ahead log into the file, so
    bytes scribbled over the file are what the next reader meets."""
    return not Path(f"{path}-wal").exists()


# --- corrupt SQLite files -----------------------------------------------------------------------------------------

def _header(path: Path) -> None:
    _scribble(path, 0, 100)


def _not_a_database(path: Path) -> None:
    path.write_text("these are not the bytes of a SQLite database\n" * 200)


def _a_page(path: Path) -> None:
    _scribble(path, (path.stat().st_size // 2) // 4096 * 4096)  # a page of the entry's overflow chain


@pytest.mark.parametrize("damage", [_header, _not_a_database, _a_page], ids=lambda d: d.__name__.strip("_"))
def test_a_corrupt_file_at_start_is_moved_aside_and_a_fresh_store_serves(make_client: ClientFactory, tmp_path: Path,
                                                                          damage: Callable[[Path], None]) -> None:
    path = tmp_path / "r.sqlite3"
    SqliteStore(path, 10**6).put("old", bytes(range(256)) * 256)  # 64 KiB: sixteen overflow pages
    damage(path)
    client = make_client(store_url=f"sqlite:{path}")
    assert _readiness(client)["healthy"] is True
    (aside,) = _aside(path)
    assert aside.read_bytes()[:16] != b"SQLite format 3\0" or damage is _a_page
    _drift(client, seed=1)
    _until(lambda: _store_of(client).usage()[0] == 1)  # the fresh store keeps what this server computed
    assert _store_of(client).get("old") is None and _store_of(client).get(_key(1)) is not None


def test_corruption_found_while_serving_is_a_miss_and_the_file_is_replaced(make_client: ClientFactory,
                                                                           tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    client = make_client(store_url=f"sqlite:{path}")
    _drift(client, seed=1)
    _until(lambda: _store_of(client).usage()[0] == 1 and _settled(path))
    _header(path)
    _drift(client, seed=2)  # asks the store first: meets the damage, which is a miss, and computes
    assert len(_aside(path)) == 1
    _until(lambda: _store_of(client).usage()[0] == 1)
    assert _store_of(client).get(_key(2)) is not None and _readiness(client)["healthy"] is True


def test_two_workers_meeting_a_damaged_page_replace_the_file_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    first, second = SqliteStore(path, 10**6), SqliteStore(path, 10**6)  # two workers' stores, one file
    first.put("k", bytes(range(256)) * 256)
    _a_page(path)
    assert first.get("k") is None  # malformed: a miss; moved aside, fresh
    assert second.get("k") is None and len(_aside(path)) == 1  # the fresh file, not moved again
    second.put("k", b"new")
    assert first.get("k") == b"new"


def test_a_worker_with_old_news_of_the_damage_leaves_the_fresh_file_alone(tmp_path: Path) -> None:
    """The race the file's identity settles: a worker finds the file it opened corrupt, but by the time it holds the
    exclusive lock another worker has replaced that file and put entries in the fresh one."""
    path = tmp_path / "r.sqlite3"
    slow, quick = SqliteStore(path, 10**6), SqliteStore(path, 10**6)
    damaged = _file_id(path)
    _header(path)
    assert quick.get("k") is None
    quick.put("k", b"new")
    slow._replace_corrupt(damaged, sqlite3.DatabaseError("file is not a database"))
    assert slow.get("k") == b"new" and len(_aside(path)) == 1


WORKER = """
import sys, time
from pathlib import Path
from app.api.store import SqliteStore
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = SqliteStore(Path(sys.argv[1]), 10**6)
store.put(sys.argv[3], b"kept")
print(store.get(sys.argv[3]))
"""


def test_worker_processes_opening_a_corrupt_file_at_once_replace_it_once(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    SqliteStore(path, 10**6).put("old", b"x" * 10_000)
    _not_a_database(path)
    start = time.time() + 1.0  # each process imports first, then all open the file together
    processes = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), str(start), f"k{i}"], cwd=ROOT,
                                  stdout=subprocess.PIPE) for i in range(4)]
    outputs = [process.communicate(timeout=60)[0] for process in processes]
    assert outputs == [b"b'kept'\n"] * 4 and len(_aside(path)) == 1
    assert SqliteStore(path, 10**6).usage()[0] == 4  # every worker's entry is in the one fresh file


def test_a_file_from_before_checksums_is_opened_and_its_entries_computed_again(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE results (key TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL)")
        db.execute("INSERT INTO results VALUES ('k', x'00', 1, 0)")
    db.close()
    store = SqliteStore(path, 10**6)
    assert store.get("k") is None and store.usage() == (0, 0)
    store.put("k", b"new")
    assert store.get("k") == b"new"


# --- entries whose bytes changed, or do not decode ----------------------------------------------------------------

def _rot(store: ResultStore, key: str) -> None:
    """Change one byte of the entry's data behind the store's back, as bit rot would."""
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as db:
            data = bytearray(db.execute("SELECT data FROM results WHERE key = ?", (key,)).fetchone()[0])
            data[10] ^= 1
            db.execute("UPDATE results SET data = ? WHERE key = ?", (bytes(data), key))
        db.close()
    else:
        store.client.setrange(store.prefix + "r:" + key, DIGEST_BYTES + 10, b"!")


def test_an_entry_whose_bytes_changed_is_discarded(make_store: StoreFactory) -> None:
    store = make_store()
    store.put("k", b"x" * 100)
    store.put("other", b"y" * 100)
    _rot(store, "k")
    assert store.get("k") is None and store.usage() == (1, 100)  # deleted: the next request computes it again
    assert make_store().get("other") == b"y" * 100 and store.health.healthy


def test_discard_deletes_one_entry(make_store: StoreFactory) -> None:
    store = make_store()
    store.put("k", b"x" * 100)
    store.put("other", b"y" * 100)
    make_store().discard("k")  # by another worker
    store.discard("never kept")
    assert store.get("k") is None and store.get("other") == b"y" * 100 and store.usage() == (1, 100)
    store.put("k", b"z" * 100)
    assert store.get("k") == b"z" * 100


def test_an_entry_that_does_not_decode_is_computed_again_and_replaced(make_client: ClientFactory, tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    SqliteStore(path, 10**6).put(_key(1), b"PK\x03\x04 not an experiment")  # its checksum matches: decoding fails
    client = make_client(store_url=f"sqlite:{path}")
    _drift(client, seed=1)
    _until(lambda: (data := _store_of(client).get(_key(1))) is not None and len(data) > 1000)
    assert decode(_store_of(client).get(_key(1))).config.seed == 1  # type: ignore[arg-type]


# --- a store that cannot be used ----------------------------------------------------------------------------------

def test_a_redis_that_is_down_at_start_costs_misses_not_the_server(make_client: ClientFactory) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = make_client(store_url=url)  # starts
    store = _readiness(client)
    assert store["kind"] == "redis" and store["healthy"] is False
    assert f"the result store at {url} cannot be reached (" in store["detail"]  # type: ignore[operator]
    assert "Connection refused" in store["detail"] and store["detail"].endswith("memory only")  # type: ignore[operator, union-attr]
    _drift(client, seed=1)  # computed here, kept in memory
    started = time.perf_counter()
    assert _store_of(client).get(_key(1)) is None
    assert _store_of(client).claim("k", "me", 1) is True  # granted: a duplicate computation beats none
    assert time.perf_counter() - started < 0.05  # unhealthy: not even tried until the next re-check


def test_a_redis_that_hangs_fails_an_operation_in_half_a_second(quick_recheck: None) -> None:
    with socket.create_server(("127.0.0.1", 0)) as hung:  # accepts connections (the kernel does), never answers
        started = time.perf_counter()
        store = RedisStore(f"redis://127.0.0.1:{hung.getsockname()[1]}/0", 10**6)  # its start-up PING times out
        assert 0.4 < time.perf_counter() - started < 2 and "Timeout" in (store.health.problem or "")
        started = time.perf_counter()
        assert store.get("k") is None  # unhealthy, re-checked within 0.1 s: no wait
        assert time.perf_counter() - started < 0.05
        time.sleep(0.15)
        started = time.perf_counter()
        assert store.get("k") is None  # due for a re-check: this one tries, and times out
        assert 0.4 < time.perf_counter() - started < 2


def test_redis_killed_while_serving_then_restarted(make_client: ClientFactory, quick_recheck: None) -> None:
    port = free_port()
    with redis_server(port) as url:
        client, entries = make_client(store_url=url), redis.Redis.from_url(url)
        assert _readiness(client) == {"kind": "redis", "healthy": True, "detail": "finished experiments are kept in the "
                                      f"result store at {url}, shared by this server's workers"}
        _drift(client, seed=1)
        _until(lambda: entries.hlen("lanes:size") == 1)
    _until(lambda: _readiness(client)["healthy"] is False)  # killed: found by the readiness probe's re-check
    assert "cannot be reached" in _readiness(client)["detail"]  # type: ignore[operator]
    _drift(client, seed=2)  # computed and answered all the same
    with redis_server(port) as url:  # back, empty
        _until(lambda: _readiness(client)["healthy"] is True)
        _drift(client, seed=3)
        _until(lambda: redis.Redis.from_url(url).hlen("lanes:size") == 1)  # used again, without a restart


def test_a_sqlite_store_that_cannot_be_written_is_reported_and_used_once_it_can(make_client: ClientFactory, tmp_path: Path,
                                                                                 quick_recheck: None) -> None:
    blocker = tmp_path / "var"
    blocker.write_text("a file where the store's folder should be")
    client = make_client(store_url=f"sqlite:{blocker}/r.sqlite3")  # starts
    store = _readiness(client)
    assert store["kind"] == "sqlite" and store["healthy"] is False
    assert "cannot be used ([Errno 17] File exists" in store["detail"]  # type: ignore[operator]  # its folder: a file
    _drift(client, seed=1)
    blocker.unlink()
    _until(lambda: _readiness(client)["healthy"] is True)  # its folder made by the re-check
    _drift(client, seed=2)
    _until(lambda: _store_of(client).usage()[0] == 1)


def test_readiness_names_a_redis_without_its_password() -> None:
    assert _public("redis://:s3cret@cache.internal:6380/2") == "redis://cache.internal:6380/2"
    assert _public("rediss://user:pw@[::1]:6379/0") == "rediss://[::1]:6379/0"
    assert _public("redis://cache:6379/0") == "redis://cache:6379/0"
