"""Experiments too long to answer at once run as *jobs*: queued, followed as they go, cancellable, their results kept.

An experiment whose estimated cost is over the interactive budget (``compute_budget_s``) but within the job budget
(``job_budget_s``) is refused by the drift endpoints unless it was computed already; ``POST /api/v1/jobs`` queues it.

- **One computation per experiment.** A job is keyed by the experiment's store key (its identity and the code's
  version). Whoever asks holds a *ticket* (a random id: the job's URL); the same client asking again gets its ticket
  back, other clients get their own tickets on the same job. Cancelling a ticket stops the computation only when no
  other ticket still wants it.
- **Bounded.** At most ``max_jobs`` jobs wait or run (beyond: :class:`QueueFull`, 503 + Retry-After) and one client
  address holds at most ``max_jobs_per_client`` tickets of unfinished jobs (beyond: :class:`TooManyJobs`, 429).
- **Kept.** The finished experiment goes to the result store (and this worker's memory), where the drift endpoints
  find it: a shared link of the experiment's settings draws it.
- **Never lost silently.** A job whose process dies is run again once, then reported failed with the reason; a job
  whose web worker died (no heartbeat for :data:`STALE_S`) is taken over by another worker, or the restarted one.

Two queues implement :class:`JobQueue`: :class:`LocalJobs` here, the embedded default (the jobs' state in a SQLite
table: the result store's file, so every web worker of a server sees every job and they survive a restart; in memory
without a store; run by ``job_workers`` processes beside each web worker), and ``app/api/rq_jobs.py`` on Redis (RQ),
whose ``python -m app worker`` processes scale apart from the web workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from app.api import work
from app.api.processes import Cancelled, OverCpuLimit, ProcessRunner, WorkerDied
from app.config import Settings
from app.ntk import DriftConfig, DriftResult

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed", "cancelled"]
UNFINISHED = ("queued", "running")
STALE_S = 20.0       # a running job whose worker has not written for this long is taken over
HEARTBEAT_S = 1.0    # how often a running job's progress and heartbeat are written
POLL_S = 0.25        # how often a worker looks for queued jobs, and a stream for news
ATTEMPTS = 2         # runs of a job whose process dies before it is reported failed
KEEP_FINISHED_S = 24 * 3600.0  # finished jobs and their tickets are forgotten after a day (their results stay stored)


class QueueFull(Exception):
    """The queue holds ``max_jobs`` unfinished jobs already: 503 with Retry-After."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyJobs(QueueFull):
    """This client holds ``max_jobs_per_client`` tickets of unfinished jobs already: 429 with Retry-After."""


@dataclass(frozen=True)
class JobRequest:
    """What a job computes: the drift query's parameters (JSON), its core config, its store key, and its estimate.

    ``weights``: each width's share of the estimated cost, in width order (progress is reported in these shares:
    the widest width takes most of the time)."""

    params: dict[str, Any]
    config: DriftConfig
    key: str
    estimate_s: float
    weights: tuple[float, ...]
    client: str


@dataclass(frozen=True)
class Progress:
    """Where a job is: widths finished, the width training now and its step (``None`` before it starts)."""

    widths_done: int = 0
    widths: int = 0
    width: int | None = None
    step: int | None = None
    steps: int = 0


@dataclass(frozen=True)
class JobStatus:
    """A ticket's view of its job (see :class:`app.api.schemas.JobResponse` for the fields' meaning)."""

    id: str
    state: JobState
    position: int | None
    wait_seconds: float | None
    progress: Progress
    fraction: float
    estimate_seconds: float
    elapsed_seconds: float | None
    detail: str | None
    params: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED


def fraction_done(progress: Progress, weights: tuple[float, ...]) -> float:
    """``(Σ_{i<done} w_i + w_done · step/steps) / Σ w``: the share of the estimated work done, 0–1."""
    total = sum(weights) or 1.0
    done = sum(weights[:progress.widths_done])
    if progress.step is not None and progress.widths_done < len(weights) and progress.steps > 0:
        done += weights[progress.widths_done] * min(progress.step / progress.steps, 1.0)
    return min(done / total, 1.0)


async def ticketed(queue: JobQueue, make: Callable[[JobRequest], str], request: JobRequest) -> JobStatus:
    """The status of the ticket ``make(request)`` returns (``make`` runs in a thread: it waits for its database)."""
    ticket = await asyncio.to_thread(make, request)
    status = await queue.status(ticket)
    assert status is not None, "a ticket just made is known"
    return status


class JobQueue(Protocol):
    """What the API needs of a job queue (:class:`LocalJobs`, or ``app/api/rq_jobs.py``'s on Redis)."""

    async def submit(self, request: JobRequest) -> JobStatus:
        """A ticket on the job computing ``request`` (queued now, or already queued, running or done); raises
        :class:`QueueFull` or :class:`TooManyJobs`."""
        ...

    async def done_ticket(self, request: JobRequest) -> JobStatus:
        """A ticket on an experiment whose result is stored already: a job that is done."""
        ...

    async def status(self, ticket: str) -> JobStatus | None:
        """The ticket's job now; None for an unknown ticket."""
        ...

    async def cancel(self, ticket: str) -> JobStatus | None:
        """Give up the ticket: its job stops if no other ticket wants it. None for an unknown ticket."""
        ...

    async def start(self) -> None:
        """Begin running queued jobs in this process (called on the event loop, at start-up)."""
        ...

    async def close(self) -> None:
        """Stop running jobs here (their tickets see them queued again, or taken over, after a restart)."""
        ...

    def health(self) -> dict[str, Any]:
        """For /readyz: what the queue is and whether it works."""
        ...


# --- the embedded queue -------------------------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY, params TEXT NOT NULL, state TEXT NOT NULL, estimate REAL NOT NULL, weights TEXT NOT NULL,
    progress TEXT NOT NULL, detail TEXT, created REAL NOT NULL, started REAL, finished REAL, heartbeat REAL,
    owner TEXT, attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created);
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY, key TEXT NOT NULL, client TEXT NOT NULL, created REAL NOT NULL, cancelled INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_key ON tickets (key);
"""


class JobTable:
    """The jobs and tickets in SQLite: one connection, used from threads under a lock; atomic updates in
    ``BEGIN IMMEDIATE`` transactions, so several worker processes sharing the file never take the same job."""

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        try:
            self._db = self._open(path)
        except (OSError, sqlite3.Error) as error:  # a folder that cannot be written: this worker's jobs only
            log.warning("cannot keep jobs in %s (%s): they are kept in this worker's memory only", path, error)
            path, self._db = None, self._open(None)
        self.path = path

    @staticmethod
    def _open(path: Path | None) -> sqlite3.Connection:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path) if path else ":memory:", timeout=10, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        if path is not None:
            db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        return db

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _row_progress(row: sqlite3.Row) -> Progress:
    return Progress(**json.loads(row["progress"]))


def _new_ticket(db: sqlite3.Connection, request: JobRequest, now: float) -> str:
    """A new ticket of ``request``'s client on its job: a random id, the job's URL."""
    ticket = secrets.token_urlsafe(16)
    db.execute("INSERT INTO tickets (id, key, client, created, cancelled) VALUES (?, ?, ?, ?, 0)",
               (ticket, request.key, request.client, now))
    return ticket


def _wanted(db: sqlite3.Connection, key: str) -> int:
    """How many tickets still want the job ``key`` (not cancelled)."""
    return int(db.execute("SELECT COUNT(*) FROM tickets WHERE key = ? AND cancelled = 0", (key,)).fetchone()[0])


def _left(job: sqlite3.Row, now: float, floor: float) -> float:
    """A job's estimated seconds still to run (all of it if it has not started), at least ``floor``."""
    return max(float(job["estimate"]) - (now - (job["started"] or now)), floor)


@dataclass
class _Running:
    """A job this process runs: its outcome, how to stop it, and its progress as last heard."""

    key: str
    config: DriftConfig
    future: asyncio.Future[Any]
    stop: Callable[[], None]
    progress: Progress
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    written: float = field(default_factory=time.monotonic)


class LocalJobs:
    """The embedded queue (see the module docstring): ``keep(config, result)`` stores a finished experiment."""

    def __init__(self, settings: Settings, path: Path | None, keep: Callable[[DriftConfig, DriftResult], Awaitable[None]],
                 runners: int | None = None) -> None:
        self.settings = settings
        self.table = JobTable(path)
        self.keep = keep
        self.runners = settings.job_workers if runners is None else runners
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._processes = ProcessRunner(self.runners, "jobs") if self.runners else None
        self._running: dict[str, _Running] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- the API's side --
    async def submit(self, request: JobRequest) -> JobStatus:
        status = await ticketed(self, self._submit, request)
        self._wake.set()
        return status

    def _submit(self, request: JobRequest) -> str:
        now = time.time()
        with self.table.transaction() as db:
            mine = db.execute("SELECT t.id FROM tickets t JOIN jobs j ON j.key = t.key WHERE t.key = ? AND t.client = ? "
                              "AND t.cancelled = 0 AND j.state IN ('queued', 'running')",
                              (request.key, request.client)).fetchone()
            if mine is not None:
                return str(mine["id"])
            held = db.execute("SELECT COUNT(*) FROM tickets t JOIN jobs j ON j.key = t.key WHERE t.client = ? AND "
                              "t.cancelled = 0 AND j.state IN ('queued', 'running')", (request.client,)).fetchone()[0]
            if held >= self.settings.max_jobs_per_client:
                raise TooManyJobs(f"this client has {held} unfinished jobs already, the most this server takes from one "
                                  f"client ({self.settings.max_jobs_per_client}); cancel one, or wait for one to finish",
                                  self._retry_after(db))
            job = db.execute("SELECT state FROM jobs WHERE key = ?", (request.key,)).fetchone()
            if job is None or job["state"] not in UNFINISHED:
                unfinished = db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]
                if unfinished >= self.settings.max_jobs:
                    raise QueueFull(f"the job queue is full ({unfinished} jobs waiting or running, this server's limit "
                                    f"is {self.settings.max_jobs}); try again later", self._retry_after(db))
                progress = Progress(widths=len(request.config.widths), steps=request.config.steps)
                db.execute("INSERT OR REPLACE INTO jobs (key, params, state, estimate, weights, progress, created, "
                           "attempts) VALUES (?, ?, 'queued', ?, ?, ?, ?, 0)",
                           (request.key, json.dumps(request.params), request.estimate_s, json.dumps(request.weights),
                            json.dumps(asdict(progress)), now))
            return _new_ticket(db, request, now)

    async def done_ticket(self, request: JobRequest) -> JobStatus:
        """A ticket on an experiment that is computed already (its result is stored): a job that is done."""
        return await ticketed(self, self._done_ticket, request)

    def _done_ticket(self, request: JobRequest) -> str:
        now = time.time()
        progress = Progress(widths_done=len(request.config.widths), widths=len(request.config.widths),
                            steps=request.config.steps)
        with self.table.transaction() as db:
            job = db.execute("SELECT state FROM jobs WHERE key = ?", (request.key,)).fetchone()
            if job is None or job["state"] != "done":
                db.execute("INSERT OR REPLACE INTO jobs (key, params, state, estimate, weights, progress, created, "
                           "started, finished, attempts) VALUES (?, ?, 'done', ?, ?, ?, ?, ?, ?, 0)",
                           (request.key, json.dumps(request.params), request.estimate_s, json.dumps(request.weights),
                            json.dumps(asdict(progress)), now, now, now))
            return _new_ticket(db, request, now)

    async def status(self, ticket: str) -> JobStatus | None:
        return await asyncio.to_thread(self._status, ticket)

    def _status(self, ticket: str) -> JobStatus | None:
        with self.table.transaction() as db:
            row = db.execute("SELECT t.id, t.cancelled, j.* FROM tickets t JOIN jobs j ON j.key = t.key WHERE t.id = ?",
                             (ticket,)).fetchone()
            if row is None:
                return None
            position = wait = None
            if row["state"] == "queued" and not row["cancelled"]:
                ahead = db.execute("SELECT estimate FROM jobs WHERE state = 'queued' AND created < ?",
                                   (row["created"],)).fetchall()
                running = db.execute("SELECT estimate, started FROM jobs WHERE state = 'running'").fetchall()
                position = len(ahead)
                now = time.time()
                left = sum(_left(r, now, 0.0) for r in running)
                wait = (left + sum(r["estimate"] for r in ahead)) / max(1, self.runners * self.settings.workers)
        local = self._running.get(row["key"])
        progress = local.progress if local is not None else _row_progress(row)
        state: JobState = "cancelled" if row["cancelled"] and row["state"] in UNFINISHED else row["state"]
        started, finished = row["started"], row["finished"]
        elapsed = None if started is None else (finished or time.time()) - started
        return JobStatus(id=row["id"], state=state, position=position, wait_seconds=wait, progress=progress,
                         fraction=1.0 if state == "done" else fraction_done(progress, tuple(json.loads(row["weights"]))),
                         estimate_seconds=row["estimate"], elapsed_seconds=elapsed, detail=row["detail"],
                         params=json.loads(row["params"]))

    async def cancel(self, ticket: str) -> JobStatus | None:
        key = await asyncio.to_thread(self._cancel, ticket)
        if key is None:
            return None
        running = self._running.get(key)
        if running is not None and await asyncio.to_thread(self._abandoned, key):
            running.stopping = True
            running.stop()
        return await self.status(ticket)

    def _cancel(self, ticket: str) -> str | None:
        with self.table.transaction() as db:
            row = db.execute("SELECT key FROM tickets WHERE id = ?", (ticket,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE tickets SET cancelled = 1 WHERE id = ?", (ticket,))
            if not _wanted(db, row["key"]):  # a queued job nobody wants is cancelled at once; a running one by its worker, below
                db.execute("UPDATE jobs SET state = 'cancelled', finished = ? WHERE key = ? AND state = 'queued'",
                           (time.time(), row["key"]))
            return str(row["key"])

    def _abandoned(self, key: str) -> bool:
        with self.table.transaction() as db:
            return not _wanted(db, key)

    def _retry_after(self, db: sqlite3.Connection) -> int:
        """Seconds until a place is likely free: the shortest remaining estimate of a running job (at least 1)."""
        now = time.time()
        left = [_left(r, now, 1.0) for r in db.execute("SELECT estimate, started FROM jobs WHERE state = 'running'").fetchall()]
        return max(1, round(min(left) if left else POLL_S * 4))

    def health(self) -> dict[str, Any]:
        return {"kind": "local", "runners": self.runners, "running": len(self._running),
                "shared": self.table.path is not None}

    # -- the worker's side --
    async def start(self) -> None:
        if self._processes is not None and self._loop_task is None:
            await asyncio.to_thread(self._processes.start)
            self._wake = asyncio.Event()  # on this loop
            self._loop_task = asyncio.ensure_future(self._serve())

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
            self._loop_task = None
        for running in list(self._running.values()):
            running.stop()
        if self._running:  # give them back: queued again for whoever runs jobs next
            keys = list(self._running)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._requeue, keys)
        if self._processes is not None:
            self._processes.close()
        # the table stays open: an app may be started again (its lifespan), and an in-memory table is its only copy

    def _requeue(self, keys: list[str]) -> None:
        with self.table.transaction() as db:
            for key in keys:
                db.execute("UPDATE jobs SET state = 'queued', owner = NULL, started = NULL WHERE key = ? AND owner = ? "
                           "AND state = 'running'", (key, self.owner))

    async def _serve(self) -> None:
        """Take queued jobs while a runner is free; write progress; take over jobs of workers that died."""
        swept = 0.0
        while True:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for swallows a cancellation that arrives as the wait
            # ends (the wake-up and close() in one turn of the loop), and close() then waited for this loop forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POLL_S):
                    await self._wake.wait()
            self._wake.clear()
            try:
                if time.monotonic() - swept > STALE_S / 2:
                    swept = time.monotonic()
                    await asyncio.to_thread(self._sweep)
                while len(self._running) < self.runners:
                    taken = await asyncio.to_thread(self._take)
                    if taken is None:
                        break
                    self._run(*taken)
                await self._write_progress()
            except sqlite3.Error as error:  # the table is busy or unwell: try again at the next poll
                log.warning("the job table failed: %s", error)

    def _take(self) -> tuple[str, dict[str, Any], int] | None:
        """The oldest queued job, now running here (atomically: no other worker takes it)."""
        now = time.time()
        with self.table.transaction() as db:
            row = db.execute("SELECT key, params, attempts FROM jobs WHERE state = 'queued' ORDER BY created LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', owner = ?, started = ?, heartbeat = ?, attempts = attempts + 1 "
                       "WHERE key = ?", (self.owner, now, now, row["key"]))
            return str(row["key"]), json.loads(row["params"]), int(row["attempts"]) + 1

    def _sweep(self) -> None:
        """Jobs whose worker stopped writing: queued again (or failed after :data:`ATTEMPTS`); old ones forgotten."""
        now = time.time()
        with self.table.transaction() as db:
            db.execute("UPDATE jobs SET state = 'failed', finished = ?, detail = 'the worker running it stopped "
                       "responding, twice' WHERE state = 'running' AND heartbeat < ? AND attempts >= ?",
                       (now, now - STALE_S, ATTEMPTS))
            db.execute("UPDATE jobs SET state = 'queued', owner = NULL, started = NULL WHERE state = 'running' "
                       "AND heartbeat < ?", (now - STALE_S,))
            db.execute("DELETE FROM tickets WHERE key IN (SELECT key FROM jobs WHERE finished < ?)",
                       (now - KEEP_FINISHED_S,))
            db.execute("DELETE FROM jobs WHERE finished < ?", (now - KEEP_FINISHED_S,))

    def _run(self, key: str, params: dict[str, Any], attempt: int) -> None:
        from app.api.schemas import DriftQuery  # here, not at the top: schemas imports nothing of the jobs

        assert self._processes is not None
        config = DriftQuery(**params).to_config()
        cpu_limit = 2 * self.settings.job_budget_s / self.settings.machine_speed
        outcome, stop = self._processes.submit(work.drift, config, cpu_limit_s=cpu_limit,
                                               on_event=lambda event: self._heard(key, event))
        running = _Running(key, config, outcome, stop, Progress(widths=len(config.widths), steps=config.steps))
        self._running[key] = running
        running.task = asyncio.ensure_future(self._finish(running, attempt))

    def _heard(self, key: str, event: tuple[Any, ...]) -> None:
        running = self._running.get(key)
        if running is None:
            return
        progress = running.progress
        if event[0] == "width":
            running.progress = replace(progress, widths_done=progress.widths_done + 1, width=None, step=None)
        elif event[0] == "step":
            running.progress = replace(progress, width=event[1], step=event[2])

    async def _write_progress(self) -> None:
        due = [r for r in self._running.values() if time.monotonic() - r.written >= HEARTBEAT_S]
        if not due:
            return
        for running in due:
            running.written = time.monotonic()
        abandoned = await asyncio.to_thread(self._beat, [(r.key, r.progress) for r in due])
        for running in due:
            if running.key in abandoned and not running.stopping:
                running.stopping = True
                running.stop()

    def _beat(self, items: list[tuple[str, Progress]]) -> set[str]:
        """Write progress and heartbeats; the keys nobody wants any more (every ticket cancelled)."""
        now, abandoned = time.time(), set()
        with self.table.transaction() as db:
            for key, progress in items:
                db.execute("UPDATE jobs SET progress = ?, heartbeat = ? WHERE key = ? AND owner = ?",
                           (json.dumps(asdict(progress)), now, key, self.owner))
                if not _wanted(db, key):
                    abandoned.add(key)
        return abandoned

    async def _finish(self, running: _Running, attempt: int) -> None:
        """Wait for a job's outcome and record it: done (its result kept first), cancelled, queued again, or failed."""
        state, detail = "failed", None
        try:
            result = await running.future
            await self.keep(running.config, result)
            state = "done"
            running.progress = replace(running.progress, widths_done=running.progress.widths, width=None, step=None)
        except Cancelled:
            state = "cancelled" if running.stopping else "queued"
        except WorkerDied as error:
            state = "queued" if attempt < ATTEMPTS else "failed"
            detail = f"{error}, {attempt} times"
            log.warning("job %s: %s (attempt %d of %d)", running.key, error, attempt, ATTEMPTS)
        except OverCpuLimit as error:
            detail = f"it needed more than {error.args[0]:g} s of CPU time, this server's limit for a job"
        except Exception as error:  # reported, never lost: the job's tickets read why
            detail = f"the computation failed: {error}"
            log.exception("job %s failed", running.key)
        finally:
            self._running.pop(running.key, None)
        with contextlib.suppress(sqlite3.Error):
            await asyncio.to_thread(self._record, running, state, detail)
        self._wake.set()

    def _record(self, running: _Running, state: str, detail: str | None) -> None:
        with self.table.transaction() as db:
            if state == "queued":
                db.execute("UPDATE jobs SET state = 'queued', owner = NULL, started = NULL, detail = ? WHERE key = ? "
                           "AND owner = ?", (detail, running.key, self.owner))
            else:
                db.execute("UPDATE jobs SET state = ?, finished = ?, detail = ?, progress = ? WHERE key = ? AND owner = ?",
                           (state, time.time(), detail, json.dumps(asdict(running.progress)), running.key, self.owner))


def jobs_file(results: Path) -> Path:
    """The embedded queue's SQLite file beside the result store's (``results.sqlite3`` → ``results.jobs.sqlite3``):
    a file of its own, so the store may replace a corrupt file of results without touching the jobs."""
    return results.with_name(f"{results.stem}.jobs{results.suffix}")


def open_jobs(settings: Settings, table: Path | None,
              keep: Callable[[DriftConfig, DriftResult], Awaitable[None]]) -> JobQueue:
    """The job queue ``settings.queue_url`` names: '' the embedded one (its table in the SQLite file ``table``, or in
    memory), 'redis://…' RQ's (app/api/rq_jobs.py)."""
    if settings.queue_url:
        from app.api.rq_jobs import RqJobs  # only when asked for

        queue: JobQueue = RqJobs(settings)
        return queue
    return LocalJobs(settings, table, keep)


def client_of(host: str | None) -> str:
    """The client address jobs are counted by (the connection's peer; behind a proxy, configure uvicorn's
    ``--forwarded-allow-ips`` so it is the real client)."""
    return host or "unknown"
