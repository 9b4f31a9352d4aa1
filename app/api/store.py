"""Finished experiments kept and shared by every worker process: a SQLite file in a data directory
(:class:`SqliteStore`, the default), or Redis when scaled out across replicas (:class:`RedisStore`).

Every web worker of a server (``--workers N``) opens the same file, so an experiment computed by one is answered by
all of them, and it survives a restart. Entries are keyed by the experiment's canonical identity *and the code's
version* (:data:`CODE_VERSION`, a digest of the maths core's source and numpy's version), so an upgrade never serves
numbers an older core computed. The store is bounded in bytes: past ``max_bytes`` the least recently used entries go.

*Claims* make the same experiment arriving at two workers compute once: the first worker to claim a key computes it;
the others wait for its entry to appear. A claim is a lease (``lease_s``): if its worker dies, the claim expires and
another worker takes it over.

Values are bytes (``app/api/codec.py`` writes experiments without pickle). Every operation opens its own connection
(cheap, and safe across threads and processes); SQLite's write-ahead log lets readers and one writer work at once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import redis

from app.config import Settings

NTK_SOURCES = Path(__file__).resolve().parents[1] / "ntk"
CODEC = Path(__file__).with_name("codec.py")


def _code_version() -> str:
    """A digest of the maths core's source files, the codec's and numpy's version: it changes whenever the numbers,
    or the bytes they are kept as, could."""
    digest = hashlib.sha256(np.__version__.encode())
    for path in [*sorted(NTK_SOURCES.glob("*.py")), CODEC]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL);
CREATE INDEX IF NOT EXISTS results_used ON results (used);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
"""


def store_key(identity: str) -> str:
    """The store's key of an experiment's canonical identity (e.g. its config's ``repr``), for this code version."""
    return f"{CODE_VERSION}:{hashlib.sha256(identity.encode()).hexdigest()}"


class SqliteStore:
    """Bytes by key in one SQLite file, bounded by ``max_bytes`` (least recently used out first), with claims."""

    def __init__(self, path: Path, max_bytes: int, timeout_s: float = 5.0) -> None:
        self.path, self.max_bytes, self.timeout_s = path, max_bytes, timeout_s
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)  # autocommit; BEGIN explicitly
        db.execute("PRAGMA synchronous=NORMAL")  # with the WAL: never corrupt; a power cut may lose the last puts only
        try:
            yield db
        finally:
            db.close()

    def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key`` (and they become the most recently used), or None."""
        with self._connection() as db:
            row = db.execute("SELECT data FROM results WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE results SET used = ? WHERE key = ?", (time.time(), key))
            return bytes(row[0])

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key``, then drop the least recently used entries until the store fits its bound
        (an entry larger than the whole bound is not kept)."""
        if len(data) > self.max_bytes:
            return
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR REPLACE INTO results (key, data, size, used) VALUES (?, ?, ?, ?)",
                       (key, data, len(data), time.time()))
            total = db.execute("SELECT COALESCE(SUM(size), 0) FROM results").fetchone()[0]
            for old, size in db.execute("SELECT key, size FROM results WHERE key != ? ORDER BY used", (key,)).fetchall():
                if total <= self.max_bytes:
                    break
                db.execute("DELETE FROM results WHERE key = ?", (old,))
                total -= size
            db.execute("COMMIT")

    def usage(self) -> tuple[int, int]:
        """(entries, bytes) kept now."""
        with self._connection() as db:
            count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM results").fetchone()
            return int(count), int(size)

    def claim(self, key: str, owner: str, lease_s: float) -> bool:
        """Whether ``owner`` may compute ``key`` now: it holds the claim (new, renewed, or taken over from a claim
        that expired), and no other owner holds a live one."""
        now = time.time()
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM claims WHERE key = ? AND (expires < ? OR owner = ?)", (key, now, owner))
            db.execute("INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + lease_s))
            holder = db.execute("SELECT owner FROM claims WHERE key = ?", (key,)).fetchone()[0]
            db.execute("COMMIT")
            return bool(holder == owner)

    def release(self, key: str, owner: str) -> None:
        """Give up ``owner``'s claim on ``key`` (its result is kept, or it failed: another worker may try)."""
        with self._connection() as db:
            db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))


# Keeps ``data`` under ``member`` and drops the least recently used members until the sizes add up to at most
# ``max_bytes``, in one atomic step. KEYS: the LRU sorted set (member → last use), the sizes hash (member → bytes).
# ARGV: member, data, now, max_bytes, the data keys' prefix.
_PUT = """
redis.call('SET', ARGV[5] .. ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], string.len(ARGV[2]))
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
local total = 0
for _, size in ipairs(redis.call('HVALS', KEYS[2])) do total = total + tonumber(size) end
for _, old in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if total <= tonumber(ARGV[4]) then break end
  if old ~= ARGV[1] then
    total = total - tonumber(redis.call('HGET', KEYS[2], old) or '0')
    redis.call('DEL', ARGV[5] .. old)
    redis.call('ZREM', KEYS[1], old)
    redis.call('HDEL', KEYS[2], old)
  end
end
"""
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class RedisStore:
    """The same store on Redis (``redis://host:port/db``): shared by the workers of every replica and pod.

    Data under ``<prefix>r:<key>``, last use in the sorted set ``<prefix>lru``, sizes in the hash ``<prefix>size``
    (put and eviction are one Lua script: atomic); a claim is ``<prefix>c:<key>`` set with NX and a lease (PX),
    released only by its owner (compare and delete, in Lua).
    """

    def __init__(self, url: str, max_bytes: int, prefix: str = "lanes:", timeout_s: float = 5.0) -> None:
        self.max_bytes, self.prefix = max_bytes, prefix
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self.client.ping()  # a wrong address fails at start, not at the first request
        self._put = self.client.register_script(_PUT)
        self._release = self.client.register_script(_RELEASE)

    def get(self, key: str) -> bytes | None:
        data: bytes | None = self.client.get(self.prefix + "r:" + key)  # type: ignore[assignment]  # sync client
        if data is None:
            return None
        self.client.zadd(self.prefix + "lru", {key: time.time()}, xx=True)
        return data

    def put(self, key: str, data: bytes) -> None:
        if len(data) > self.max_bytes:
            return
        self._put(keys=[self.prefix + "lru", self.prefix + "size"],
                  args=[key, data, time.time(), self.max_bytes, self.prefix + "r:"])

    def usage(self) -> tuple[int, int]:
        sizes: list[bytes] = self.client.hvals(self.prefix + "size")  # type: ignore[assignment]  # sync client
        return len(sizes), sum(int(size) for size in sizes)

    def claim(self, key: str, owner: str, lease_s: float) -> bool:
        name, lease_ms = self.prefix + "c:" + key, max(1, int(lease_s * 1000))
        if self.client.set(name, owner, nx=True, px=lease_ms):
            return True
        if self.client.get(name) == owner.encode():
            self.client.pexpire(name, lease_ms)  # renewed by its owner
            return True
        return False

    def release(self, key: str, owner: str) -> None:
        self._release(keys=[self.prefix + "c:" + key], args=[owner])


ResultStore = SqliteStore | RedisStore


def open_store(settings: Settings) -> ResultStore | None:
    """The shared result store ``settings.store_url`` names, or None ('' : none)."""
    if not settings.store_url:
        return None
    if settings.store_url.startswith(("redis://", "rediss://")):
        try:
            return RedisStore(settings.store_url, settings.store_bytes)
        except redis.RedisError as error:
            raise RuntimeError(f"cannot reach the result store at {settings.store_url} ({error}): start Redis there, "
                               "or set LANES_STORE_URL to 'sqlite:<path>' or ''") from error
    path = Path(settings.store_url.removeprefix("sqlite:"))
    try:
        return SqliteStore(path, settings.store_bytes)
    except (OSError, sqlite3.Error) as error:
        raise RuntimeError(f"cannot open the result store {path} ({error}): set LANES_STORE_URL to a file in a "
                           "writable folder, or to '' to keep results in memory only") from error
