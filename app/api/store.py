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

Faults (issue 14 §6). The store is a cache: losing it costs time, never an answer, so a store that fails never fails a
request or the server's start.

- Each entry is kept with the SHA-256 digest of its bytes, checked on every get: an entry whose bytes changed (bit
  rot, a torn write) is discarded and missed, so it is computed again. An entry whose bytes match but do not decode
  is the reader's to :meth:`~SqliteStore.discard`.
- A corrupt SQLite file (not a database, a malformed page), found at start-up or by any later operation, is moved
  aside (``<name>.corrupt-<UTC time, ms>-<pid>``, with its ``-wal`` and ``-shm``; the newest :data:`KEEP_CORRUPT` are
  kept for a post-mortem) and a fresh, empty store takes its place; the operation that found it is a miss.
- A store that cannot be used (Redis unreachable or refusing, a SQLite file or folder that cannot be written) is
  *unhealthy*: every operation is a miss (get: None, put: nothing, claim: granted, so this worker computes), and while
  it stays unhealthy, operations do not even try, except one every :data:`RECHECK_S` seconds, which finds out
  whether it is back. Redis operations time out after :data:`REDIS_TIMEOUT_S`, so a Redis that hangs costs a request
  half a second once, not every request. Each store remembers its health (:class:`Health`) for ``/readyz``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import numpy as np
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.config import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

NTK_SOURCES = Path(__file__).resolve().parents[1] / "ntk"
CODEC = Path(__file__).with_name("codec.py")
RECHECK_S = 3.0  # an unhealthy store is tried again, and /readyz's view of a store refreshed, at most this often
REDIS_TIMEOUT_S = 0.5  # Redis connect and read timeouts: an unreachable or hung Redis fails an operation this fast
KEEP_CORRUPT = 2  # corrupt SQLite files kept aside for a post-mortem (the newest); older ones are deleted
MEMORY_ONLY = "results are kept in this worker's memory only"


def _code_version() -> str:
    """A digest of the maths core's source files, the codec's and numpy's version: it changes whenever the numbers,
    or the bytes they are kept as, could."""
    digest = hashlib.sha256(np.__version__.encode())
    for path in [*sorted(NTK_SOURCES.glob("*.py")), CODEC]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


CODE_VERSION = _code_version()

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, data BLOB NOT NULL, size INTEGER NOT NULL, used REAL NOT NULL,
                                    digest BLOB);
CREATE INDEX IF NOT EXISTS results_used ON results (used);
CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL);
"""


def store_key(identity: str) -> str:
    """The store's key of an experiment's canonical identity (e.g. its config's ``repr``), for this code version."""
    return f"{CODE_VERSION}:{hashlib.sha256(identity.encode()).hexdigest()}"


def digest(data: bytes) -> bytes:
    """The checksum an entry is kept with (SHA-256, 32 bytes): a get whose bytes no longer match it is a miss."""
    return hashlib.sha256(data).digest()


def _mismatch(key: str, data: bytes) -> None:
    log.warning("the result store's entry %s (%d bytes) does not match its checksum: discarded, it will be computed "
                "again", key, len(data))


# --- health -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoreHealth:
    """What ``/readyz`` says of a worker's result store: its kind ('sqlite', 'redis' or 'none'), whether it works,
    and a sentence for the operator."""

    kind: str
    healthy: bool
    detail: str


class Health:
    """What a store remembers of its own health, shared by its threads: the last problem (None: healthy) and since when.

    Every operation reports how it went (:meth:`succeeded`, :meth:`failed`); while the store is unhealthy,
    :meth:`may_try` lets one operation through every :data:`RECHECK_S` seconds (the others are misses at once), so a
    store that is back is used again without a restart. :meth:`refresh_soon` re-checks in a thread of its own, so a
    reader of the health (``/readyz``, on the event loop) never waits for the network or the disk.
    """

    def __init__(self, where: str) -> None:
        self.where = where  # the store's address for people: no password
        self.problem: str | None = None  # e.g. "cannot be reached (Connection refused)"
        self.since: float | None = None  # wall-clock time the store became unhealthy
        self._checked = -float("inf")  # monotonic time of the last news of the store (an operation or a check)
        self._lock = threading.Lock()
        self._refreshing = False

    @property
    def healthy(self) -> bool:
        return self.problem is None

    def may_try(self) -> bool:
        """Whether an operation should use the store now: always while healthy; while unhealthy, one caller every
        :data:`RECHECK_S` seconds (it finds out whether the store is back)."""
        with self._lock:
            if self.problem is None:
                return True
            now = time.monotonic()
            if now - self._checked < RECHECK_S:
                return False
            self._checked = now
            return True

    def succeeded(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            problem, since, self.problem, self.since = self.problem, self.since, None, None
        if problem is not None:
            log.warning("the result store at %s works again (it %s for %.0f s)", self.where, problem,
                        time.time() - (since or time.time()))

    def failed(self, problem: str) -> None:
        """The store failed: ``problem`` says how (the latest is kept; ``since`` stays the first failure's time)."""
        with self._lock:
            self._checked = time.monotonic()
            was_healthy, self.problem = self.problem is None, problem
            if was_healthy:
                self.since = time.time()
        if was_healthy:
            log.warning("%s", self.detail())
        else:
            log.debug("%s", self.detail())

    def detail(self) -> str:
        """One sentence for the operator: where the store is, and what is wrong with it since when."""
        problem, since = self.problem, self.since
        if problem is None:
            return f"finished experiments are kept in the result store at {self.where}, shared by this server's workers"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(since or time.time()))
        return f"the result store at {self.where} {problem} since {when} UTC: {MEMORY_ONLY}"

    def refresh_soon(self, check: Callable[[], None]) -> None:
        """Run ``check()`` in a thread of its own if nothing was heard of the store for :data:`RECHECK_S` seconds and
        no check runs already; return at once."""
        with self._lock:
            if self._refreshing or time.monotonic() - self._checked < RECHECK_S:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, args=(check,), name="store-health", daemon=True).start()

    def _refresh(self, check: Callable[[], None]) -> None:
        try:
            check()
        finally:
            with self._lock:
                self._refreshing = False


class _Watched:
    """A store that remembers its health (:attr:`health`), which :meth:`check` finds out by trying it."""

    kind: str
    health: Health

    def check(self) -> None:
        raise NotImplementedError

    def readiness(self) -> StoreHealth:
        """The remembered health (no I/O here), re-checked in a thread when it is older than :data:`RECHECK_S`."""
        self.health.refresh_soon(self.check)
        return StoreHealth(self.kind, self.health.healthy, self.health.detail())


# --- SQLite -------------------------------------------------------------------------------------------------------

class Corrupt(sqlite3.DatabaseError):
    """``PRAGMA quick_check`` found the file damaged (SQLite itself raises ``DatabaseError`` with the codes
    ``SQLITE_CORRUPT`` or ``SQLITE_NOTADB`` when an operation meets the damage)."""


def _is_corruption(error: sqlite3.Error) -> bool:
    code = getattr(error, "sqlite_errorcode", None)  # the extended code; its low byte is the primary one
    return isinstance(error, Corrupt) or (code is not None and (code & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB))


FileId = tuple[int, int]  # (device, inode): which file a path named when it was opened


def _file_id(path: Path) -> FileId | None:
    try:
        status = os.stat(path)
    except FileNotFoundError:
        return None
    return status.st_dev, status.st_ino


class SqliteStore(_Watched):
    """Bytes by key in one SQLite file, bounded by ``max_bytes`` (least recently used out first), with claims.

    Every operation holds a shared ``flock`` on ``<name>.lock`` beside the file while its connection is open; moving a
    corrupt file aside holds it exclusively (see :meth:`_replace_corrupt`), so no worker of any process has the file
    open while it is swapped.
    """

    kind = "sqlite"

    def __init__(self, path: Path, max_bytes: int, timeout_s: float = 5.0) -> None:
        self.path, self.max_bytes, self.timeout_s = path, max_bytes, timeout_s
        self.lock_path = path.with_name(path.name + ".lock")
        self.health = Health(f"sqlite:{path}")
        self._run(self._open, None, probe=True)  # a file that cannot be opened: unhealthy, and tried again later

    # -- the file --
    def _open(self, db: sqlite3.Connection) -> None:
        """At start: the whole file checked (``quick_check`` reads every page: ~0.1 s for 380 MB cached), then made a
        store (write-ahead log, tables)."""
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise Corrupt("; ".join(problems)[:300])
        self._prepare(db)

    @staticmethod
    def _prepare(db: sqlite3.Connection) -> None:
        """Make ``db`` a store: the write-ahead log, the tables, and the digest column that files from before it lack
        (their entries have none, so they are discarded when read: computed once more)."""
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        if "digest" not in {row[1] for row in db.execute("PRAGMA table_info(results)")}:
            db.execute("ALTER TABLE results ADD COLUMN digest BLOB")

    def check(self) -> None:
        """Whether the store can be written now (its folder made, its tables there, and one small write that is
        undone), remembered in :attr:`health`."""
        self._run(self._probe, None, probe=True)

    def _probe(self, db: sqlite3.Connection) -> None:
        self._prepare(db)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO claims (key, owner, expires) VALUES ('health check', '', 0)")
        db.execute("DELETE FROM claims WHERE key = 'health check'")
        db.execute("COMMIT")

    @contextmanager
    def _locked(self, how: int) -> Iterator[None]:
        """``flock(how)`` on the lock file beside the store, for the block (a new open file description each time:
        threads of one process exclude each other as processes do)."""
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)  # autocommit; BEGIN explicitly
        db.execute("PRAGMA synchronous=NORMAL")  # with the WAL: never corrupt; a power cut may lose the last puts only
        return db

    def _run(self, work: Callable[[sqlite3.Connection], T], fallback: T, probe: bool = False) -> T:
        """``work(connection)``, or ``fallback`` when the store fails (and while it stays unhealthy, unless ``probe``).

        A corrupt file is replaced by a fresh store; another failure of SQLite or of the file system (read-only, full,
        locked past ``timeout_s``, a folder that cannot be made) makes the store unhealthy. Other errors (a programming
        error) are raised.
        """
        if not (probe or self.health.may_try()):
            return fallback
        opened: FileId | None = None
        try:
            if probe:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._locked(fcntl.LOCK_SH):
                opened = _file_id(self.path)  # no worker swaps the file while the shared lock is held
                with closing(self._connect()) as db:
                    result = work(db)
        except sqlite3.DatabaseError as error:
            if _is_corruption(error):
                self._replace_corrupt(opened, error)
                return fallback
            if not isinstance(error, sqlite3.OperationalError):
                raise
            self.health.failed(f"cannot be used ({error})")
            return fallback
        except OSError as error:
            self.health.failed(f"cannot be used ({error})")
            return fallback
        self.health.succeeded()
        return result

    def _replace_corrupt(self, opened: FileId | None, error: sqlite3.Error) -> None:
        """Move the corrupt file ``opened`` aside (with its ``-wal`` and ``-shm``) and start a fresh store in its place.

        Several worker processes open the same path, and each may find the damage, so the decision is made under the
        exclusive lock and from the file's identity: the file is moved only if the path still names the very file
        (device, inode) that this worker found corrupt. If another worker has replaced it meanwhile, the path names its
        fresh file, which is left alone (and may already hold new entries); the damaged file is moved once, however
        many workers find it. Identity, not a second ``quick_check``, decides: a damaged page that ``quick_check``
        misses still makes the file go, and a check of a large file under the lock would stall every worker.

        Operations hold the lock shared while their connection is open, so no worker has the file open while it moves
        (a connection open across the swap would write into the moved file, or read the fresh file with the old
        ``-wal``); a fresh file is whole before any worker opens it, since it is made under the lock.
        """
        try:
            with self._locked(fcntl.LOCK_EX):
                if opened is None or _file_id(self.path) != opened:
                    return  # already replaced by another worker (or this one, in another thread)
                aside = self._move_aside()
                with closing(self._connect()) as db:
                    self._prepare(db)
        except (OSError, sqlite3.Error) as failure:
            self.health.failed(f"is corrupt ({error}) and cannot be replaced ({failure})")
            return
        log.warning("the result store %s was corrupt (%s): moved aside to %s; a fresh store replaces it, and its "
                    "experiments will be computed again", self.path, error, aside.name)
        self.health.succeeded()

    def _move_aside(self) -> Path:
        """Rename the store's files to ``<name>.corrupt-<UTC time to the ms>-<pid>`` (the log first: no fresh file may meet
        it), and delete all but the newest :data:`KEEP_CORRUPT` such copies (each may be as large as the store)."""
        now = time.time()
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("-wal", "-shm", ""):
            with contextlib.suppress(FileNotFoundError):
                os.rename(f"{self.path}{suffix}", f"{aside}{suffix}")
        copies = sorted(self.path.parent.glob(f"{self.path.name}.corrupt-*[0-9]"))  # by name: by the time moved
        for old in copies[:-KEEP_CORRUPT]:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(f"{old}{suffix}")
        return aside

    # -- entries --
    def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key`` (and they become the most recently used), or None: none kept, the store
        failing, or bytes that no longer match their checksum (then the entry is deleted)."""
        return self._run(lambda db: self._read(db, key), None)

    @staticmethod
    def _read(db: sqlite3.Connection, key: str) -> bytes | None:
        row = db.execute("SELECT data, digest FROM results WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        data = bytes(row[0])
        if row[1] is None or digest(data) != bytes(row[1]):
            _mismatch(key, data)
            db.execute("DELETE FROM results WHERE key = ?", (key,))
            return None
        db.execute("UPDATE results SET used = ? WHERE key = ?", (time.time(), key))
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` (and its checksum) under ``key``, then drop the least recently used entries until the store
        fits its bound (an entry larger than the whole bound is not kept)."""
        if len(data) <= self.max_bytes:
            self._run(lambda db: self._write(db, key, data), None)

    def _write(self, db: sqlite3.Connection, key: str, data: bytes) -> None:
        check = digest(data)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO results (key, data, size, used, digest) VALUES (?, ?, ?, ?, ?)",
                   (key, data, len(data), time.time(), check))
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM results").fetchone()[0]
        for old, size in db.execute("SELECT key, size FROM results WHERE key != ? ORDER BY used", (key,)).fetchall():
            if total <= self.max_bytes:
                break
            db.execute("DELETE FROM results WHERE key = ?", (old,))
            total -= size
        db.execute("COMMIT")

    def discard(self, key: str) -> None:
        """Delete the entry under ``key``, if any: its bytes cannot be used (they do not decode), so the next request
        computes it again instead of meeting them again."""
        self._run(lambda db: db.execute("DELETE FROM results WHERE key = ?", (key,)), None)

    def usage(self) -> tuple[int, int]:
        """(entries, bytes) kept now; a store that fails raises (this is for tests and benchmarks, not requests)."""
        with self._locked(fcntl.LOCK_SH), closing(self._connect()) as db:
            count, size = db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM results").fetchone()
            return int(count), int(size)

    # -- claims --
    def claim(self, key: str, owner: str, lease_s: float) -> bool:
        """Whether ``owner`` may compute ``key`` now: it holds the claim (new, renewed, or taken over from a claim
        that expired), and no other owner holds a live one. A store that fails grants it: a duplicate computation
        beats none."""
        return self._run(lambda db: self._claim(db, key, owner, lease_s), True)

    @staticmethod
    def _claim(db: sqlite3.Connection, key: str, owner: str, lease_s: float) -> bool:
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        db.execute("DELETE FROM claims WHERE key = ? AND (expires < ? OR owner = ?)", (key, now, owner))
        db.execute("INSERT OR IGNORE INTO claims (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + lease_s))
        holder = db.execute("SELECT owner FROM claims WHERE key = ?", (key,)).fetchone()[0]
        db.execute("COMMIT")
        return bool(holder == owner)

    def release(self, key: str, owner: str) -> None:
        """Give up ``owner``'s claim on ``key`` (its result is kept, or it failed: another worker may try)."""
        self._run(lambda db: db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner)), None)


# --- Redis --------------------------------------------------------------------------------------------------------

# Keeps ``value`` (the checksum, then the data) under ``member`` and drops the least recently used members until the
# sizes add up to at most ``max_bytes``, in one atomic step. KEYS: the LRU sorted set (member → last use), the sizes
# hash (member → bytes of data). ARGV: member, value, now, max_bytes, the data keys' prefix, the data's size.
_PUT = """
redis.call('SET', ARGV[5] .. ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[6])
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
DIGEST_BYTES = 32


def _public(url: str) -> str:
    """``url`` without its user name and password, for logs and ``/readyz``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname or ""
    return parts._replace(netloc=host + (f":{parts.port}" if parts.port else "")).geturl()


class RedisStore(_Watched):
    """The same store on Redis (``redis://host:port/db``): shared by the workers of every replica and pod.

    Data under ``<prefix>r:<key>`` (its 32-byte checksum, then its bytes), last use in the sorted set ``<prefix>lru``,
    sizes in the hash ``<prefix>size`` (put and eviction are one Lua script: atomic); a claim is ``<prefix>c:<key>``
    set with NX and a lease (PX), released only by its owner (compare and delete, in Lua).

    Connect and read time out after ``timeout_s``; a connection lost mid-command (a restarted Redis: the pool's old
    sockets) is retried once at once, a timeout is not (it would double the wait). A Redis that cannot be reached at
    start does not stop the server: the store starts unhealthy, and is used once Redis answers.
    """

    kind = "redis"

    def __init__(self, url: str, max_bytes: int, prefix: str = "lanes:", timeout_s: float = REDIS_TIMEOUT_S) -> None:
        self.max_bytes, self.prefix = max_bytes, prefix
        self.client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                           retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))
        self.health = Health(_public(url))
        self._put = self.client.register_script(_PUT)
        self._release = self.client.register_script(_RELEASE)
        self.check()  # unreachable: a warning now, and /readyz says so

    def check(self) -> None:
        """One PING, its outcome remembered in :attr:`health`."""
        self._run(self.client.ping, None, probe=True)

    def _run(self, work: Callable[[], T], fallback: T, probe: bool = False) -> T:
        """``work()``, or ``fallback`` when Redis fails (and while it stays unhealthy, unless ``probe``)."""
        if not (probe or self.health.may_try()):
            return fallback
        try:
            result = work()
        except redis.RedisError as error:
            unreachable = isinstance(error, redis.ConnectionError | redis.TimeoutError)
            self.health.failed(f"{'cannot be reached' if unreachable else 'fails'} ({error})")
            return fallback
        self.health.succeeded()
        return result

    def get(self, key: str) -> bytes | None:
        """The bytes kept under ``key`` (and they become the most recently used), or None: none kept, Redis failing,
        or bytes that no longer match their checksum (then the entry is deleted)."""
        return self._run(lambda: self._read(key), None)

    def _read(self, key: str) -> bytes | None:
        value: bytes | None = self.client.get(self.prefix + "r:" + key)  # type: ignore[assignment]  # sync client
        if value is None:
            return None
        check, data = value[:DIGEST_BYTES], value[DIGEST_BYTES:]
        if digest(data) != check:
            _mismatch(key, data)
            self._delete(key)
            return None
        self.client.zadd(self.prefix + "lru", {key: time.time()}, xx=True)
        return data

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` (after its checksum) under ``key``, evicting the least recently used past ``max_bytes``."""
        if len(data) > self.max_bytes:
            return
        self._run(lambda: self._put(keys=[self.prefix + "lru", self.prefix + "size"],
                                    args=[key, digest(data) + data, time.time(), self.max_bytes, self.prefix + "r:",
                                          len(data)]), None)

    def discard(self, key: str) -> None:
        """Delete the entry under ``key``, if any (its bytes do not decode: the next request computes it again)."""
        self._run(lambda: self._delete(key), None)

    def _delete(self, key: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self.prefix + "r:" + key)
            pipe.zrem(self.prefix + "lru", key)
            pipe.hdel(self.prefix + "size", key)
            pipe.execute()

    def usage(self) -> tuple[int, int]:
        """(entries, bytes) kept now; a Redis that fails raises (this is for tests and benchmarks, not requests)."""
        sizes: list[bytes] = self.client.hvals(self.prefix + "size")  # type: ignore[assignment]  # sync client
        return len(sizes), sum(int(size) for size in sizes)

    def claim(self, key: str, owner: str, lease_s: float) -> bool:
        """As :meth:`SqliteStore.claim`; a Redis that fails grants it."""
        return self._run(lambda: self._claim(key, owner, lease_s), True)

    def _claim(self, key: str, owner: str, lease_s: float) -> bool:
        name, lease_ms = self.prefix + "c:" + key, max(1, int(lease_s * 1000))
        if self.client.set(name, owner, nx=True, px=lease_ms):
            return True
        if self.client.get(name) == owner.encode():
            self.client.pexpire(name, lease_ms)  # renewed by its owner
            return True
        return False

    def release(self, key: str, owner: str) -> None:
        self._run(lambda: self._release(keys=[self.prefix + "c:" + key], args=[owner]), None)


ResultStore = SqliteStore | RedisStore


def open_store(settings: Settings) -> ResultStore | None:
    """The shared result store ``settings.store_url`` names, or None ('' : none).

    A store that cannot be reached or opened now does not stop the server: it starts unhealthy (a warning in the log,
    and ``/readyz`` says so), this worker keeps its results in memory, and the store is used once it works.
    """
    if not settings.store_url:
        return None
    if settings.store_url.startswith(("redis://", "rediss://")):
        return RedisStore(settings.store_url, settings.store_bytes)
    return SqliteStore(Path(settings.store_url.removeprefix("sqlite:")), settings.store_bytes)


def store_health(store: ResultStore | None) -> StoreHealth:
    """What ``/readyz`` says of ``store`` (no I/O: the remembered health, refreshed in a thread when it is old)."""
    if store is None:
        return StoreHealth("none", True, f"no result store is set (LANES_STORE_URL is empty): {MEMORY_ONLY}")
    return store.readiness()
