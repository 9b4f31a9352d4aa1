"""Jobs on Redis with RQ (``queue_url = 'redis://…'``): the :class:`app.api.jobs.JobQueue` of a scaled-out server.

The web workers of every replica enqueue; ``python -m app worker`` processes (:func:`work`) run the jobs, each in a
work horse RQ forks for it. The same rules as :class:`app.api.jobs.LocalJobs`:

- **One computation per experiment**: the RQ job's id is derived from the experiment's store key, so an experiment
  waits or runs once; tickets (random ids) are Redis hashes, one per ticket, with a set of live tickets per job and a
  set of tickets per client (all kept a day).
- **Bounded**: ``max_jobs`` jobs waiting or running (:class:`QueueFull`), ``max_jobs_per_client`` unfinished tickets
  per client (:class:`TooManyJobs`); checked and granted under one Redis lock, so web workers never both take the
  last place.
- **Progress through Redis**: the work horse writes (widths done, width, step) to the job's hash at most every
  :data:`PROGRESS_EVERY_S`; :meth:`RqJobs.status` reads it, and the event stream polls that.
- **Cancelled only when nobody wants it**: the last ticket cancelled sets a flag the computation's checkpoint reads
  (at most every :data:`CANCEL_EVERY_S`), or takes a queued job off the queue.
- **Kept in the result store**, which must then be Redis too (the worker is elsewhere): the RQ job returns only a
  word, and the drift endpoints find the experiment in the store.
- **Never lost silently**: a work horse that dies (killed, out of memory) is run again once (RQ's ``Retry``; a worker
  that dies whole leaves its job in the started registry, which RQ's maintenance retries or fails as abandoned); the
  second death is reported failed with RQ's reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import redis
import threadpoolctl
from rq import Queue, Retry, Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RqStatus
from rq.registry import StartedJobRegistry

from app.api import work
from app.api.codec import encode
from app.api.compute import result_key
from app.api.jobs import UNFINISHED, JobRequest, JobState, JobStatus, Progress, QueueFull, TooManyJobs, fraction_done
from app.api.processes import Cancelled, OverCpuLimit
from app.api.store import open_store
from app.config import Settings
from app.ntk.checks import Checkpoint

log = logging.getLogger(__name__)

QUEUE = "lanes-jobs"          # the RQ queue's name
PREFIX = "lanes:jobs:"        # our keys beside RQ's: tickets, job hashes, cancel flags, counts
KEEP_S = 24 * 3600            # tickets, job hashes and RQ's results are kept a day
PROGRESS_EVERY_S = 0.25       # the horse writes progress at most this often (and at each finished width)
CANCEL_EVERY_S = 0.5          # the horse reads its cancel flag at most this often
LOCK_S = 10                   # the submit lock's lifetime, should a web worker die holding it
REDIS_TIMEOUT_S = 5.0
RUNNING = (RqStatus.STARTED,)
WAITING = (RqStatus.QUEUED, RqStatus.SCHEDULED, RqStatus.DEFERRED, RqStatus.CREATED)


def job_id(key: str) -> str:
    """The RQ job id of an experiment's store key (RQ allows only ``[A-Za-z0-9_-]``): one job per experiment."""
    return "drift-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def connect(url: str) -> redis.Redis:
    """A Redis client for RQ (bytes, not decoded: RQ keeps pickled and binary fields)."""
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _hash(client: redis.Redis, name: str) -> dict[str, str]:
    raw: dict[Any, Any] = client.hgetall(name)  # type: ignore[assignment]  # the sync client
    return {_text(k): _text(v) for k, v in raw.items()}


class Keys:
    """Our Redis key names (beside RQ's own ``rq:*``)."""

    @staticmethod
    def ticket(ticket: str) -> str:
        return f"{PREFIX}ticket:{ticket}"

    @staticmethod
    def live(jid: str) -> str:
        """The set of a job's tickets that still want it."""
        return f"{PREFIX}live:{jid}"

    @staticmethod
    def client(client: str) -> str:
        return f"{PREFIX}client:{client}"

    @staticmethod
    def job(jid: str) -> str:
        """A job's hash: params, key, estimate, weights, created, started, finished, progress, outcome, detail."""
        return f"{PREFIX}job:{jid}"

    @staticmethod
    def cancel(jid: str) -> str:
        return f"{PREFIX}cancel:{jid}"

    COMPUTED = f"{PREFIX}computed"  # hash: experiment key → computations finished by workers (the compute-once count)
    LOCK = f"{PREFIX}lock"


@dataclass(frozen=True)
class _Job:
    """What :meth:`RqJobs.status` needs of a job: its state and our hash of it."""

    state: JobState
    info: dict[str, str]
    detail: str | None


class RqJobs:
    """The job queue on Redis (see the module docstring); ``settings.queue_url`` names the Redis."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = connect(settings.queue_url)
        self.queue = Queue(QUEUE, connection=self.redis)

    # -- the API's side --
    async def submit(self, request: JobRequest) -> JobStatus:
        ticket = await asyncio.to_thread(self._submit, request)
        status = await self.status(ticket)
        assert status is not None
        return status

    def _submit(self, request: JobRequest) -> str:
        jid = job_id(request.key)
        with self.redis.lock(Keys.LOCK, timeout=LOCK_S, blocking_timeout=LOCK_S):
            mine = self._client_ticket(jid, request.client)
            if mine is not None:
                return mine
            held = self._held(request.client)
            if held >= self.settings.max_jobs_per_client:
                raise TooManyJobs(f"this client has {held} unfinished jobs already, the most this server takes from one "
                                  f"client ({self.settings.max_jobs_per_client}); cancel one, or wait for one to finish",
                                  self._retry_after())
            if self._job(jid).state not in UNFINISHED:
                unfinished = self._unfinished()
                if unfinished >= self.settings.max_jobs:
                    raise QueueFull(f"the job queue is full ({unfinished} jobs waiting or running, this server's limit "
                                    f"is {self.settings.max_jobs}); try again later", self._retry_after())
                self._enqueue(jid, request)
            return self._new_ticket(jid, request.client)

    def _client_ticket(self, jid: str, client: str) -> str | None:
        """This client's live ticket on the job, if the job is unfinished."""
        if self._job(jid).state not in UNFINISHED:
            return None
        for ticket in self.redis.smembers(Keys.live(jid)):  # type: ignore[union-attr]  # the sync client
            if _hash(self.redis, Keys.ticket(_text(ticket))).get("client") == client:
                return _text(ticket)
        return None

    def _held(self, client: str) -> int:
        """The client's live tickets of unfinished jobs."""
        held = 0
        for ticket in self.redis.smembers(Keys.client(client)):  # type: ignore[union-attr]
            row = _hash(self.redis, Keys.ticket(_text(ticket)))
            if row and row.get("cancelled") != "1" and self._job(row["job"]).state in UNFINISHED:
                held += 1
        return held

    def _unfinished(self) -> int:
        return self.queue.count + StartedJobRegistry(queue=self.queue).count

    def _enqueue(self, jid: str, request: JobRequest) -> None:
        """The job's hash written afresh, an old RQ job of the same id (finished, failed, cancelled) deleted, and the
        job queued: ``run_job(params JSON, store key)``, retried once if its work horse dies."""
        with self.redis.pipeline() as pipe:
            pipe.delete(Keys.job(jid), Keys.cancel(jid), Keys.live(jid))
            pipe.hset(Keys.job(jid), mapping={
                "params": json.dumps(request.params), "key": request.key, "estimate": request.estimate_s,
                "weights": json.dumps(request.weights), "created": time.time(),
                "progress": json.dumps(asdict(Progress(widths=len(request.config.widths), steps=request.config.steps)))})
            pipe.expire(Keys.job(jid), KEEP_S)
            pipe.execute()
        with contextlib.suppress(NoSuchJobError):
            Job.fetch(jid, connection=self.redis).delete()
        wall_limit = int(4 * self.settings.job_budget_s / self.settings.machine_speed) + 60
        self.queue.enqueue(run_job, json.dumps(request.params), request.key, job_id=jid, result_ttl=KEEP_S,
                           failure_ttl=KEEP_S, job_timeout=wall_limit, retry=Retry(max=1),
                           description=f"drift experiment {request.key}")

    def _new_ticket(self, jid: str, client: str) -> str:
        ticket = secrets.token_urlsafe(16)
        with self.redis.pipeline() as pipe:
            pipe.hset(Keys.ticket(ticket), mapping={"job": jid, "client": client, "created": time.time(), "cancelled": 0})
            pipe.sadd(Keys.live(jid), ticket)
            pipe.delete(Keys.cancel(jid))  # wanted again: a job flagged but not yet stopped runs on
            pipe.sadd(Keys.client(client), ticket)
            for name in (Keys.ticket(ticket), Keys.live(jid), Keys.client(client)):
                pipe.expire(name, KEEP_S)
            pipe.execute()
        return ticket

    async def done_ticket(self, request: JobRequest) -> JobStatus:
        """A ticket on an experiment whose result is stored already: a job that is done (no RQ job is made)."""
        ticket = await asyncio.to_thread(self._done_ticket, request)
        status = await self.status(ticket)
        assert status is not None
        return status

    def _done_ticket(self, request: JobRequest) -> str:
        jid = job_id(request.key)
        with self.redis.lock(Keys.LOCK, timeout=LOCK_S, blocking_timeout=LOCK_S):
            if self._job(jid).state != "done":
                now = time.time()
                widths = len(request.config.widths)
                self.redis.hset(Keys.job(jid), mapping={
                    "params": json.dumps(request.params), "key": request.key, "estimate": request.estimate_s,
                    "weights": json.dumps(request.weights), "created": now, "started": now, "finished": now,
                    "outcome": "done",
                    "progress": json.dumps(asdict(Progress(widths_done=widths, widths=widths, steps=request.config.steps)))})
                self.redis.expire(Keys.job(jid), KEEP_S)
            return self._new_ticket(jid, request.client)

    async def status(self, ticket: str) -> JobStatus | None:
        return await asyncio.to_thread(self._status, ticket)

    def _status(self, ticket: str) -> JobStatus | None:
        row = _hash(self.redis, Keys.ticket(ticket))
        if not row:
            return None
        jid = row["job"]
        job = self._job(jid)
        if not job.info:
            return None  # its job was forgotten
        info = job.info
        state: JobState = "cancelled" if row.get("cancelled") == "1" and job.state in UNFINISHED else job.state
        position = wait = None
        if state == "queued":
            position, wait = self._place(jid)
        progress = Progress(**json.loads(info["progress"]))
        started, finished = _float(info.get("started")), _float(info.get("finished"))
        elapsed = None if started is None or state == "queued" else (finished or time.time()) - started
        return JobStatus(id=ticket, state=state, position=position, wait_seconds=wait, progress=progress,
                         fraction=1.0 if state == "done" else fraction_done(progress, tuple(json.loads(info["weights"]))),
                         estimate_seconds=float(info["estimate"]), elapsed_seconds=elapsed, detail=job.detail,
                         params=json.loads(info["params"]))

    def _job(self, jid: str) -> _Job:
        """A job's state: our hash's outcome (done, cancelled) first, else RQ's status of it."""
        info = _hash(self.redis, Keys.job(jid))
        outcome = info.get("outcome")
        if outcome in ("done", "cancelled", "failed"):
            return _Job(outcome, info, info.get("detail"))  # type: ignore[arg-type]  # one of JobState's
        try:
            rq_job = Job.fetch(jid, connection=self.redis)
            status = rq_job.get_status()
        except NoSuchJobError:
            return _Job("failed" if info else "done", info, "the job was lost" if info else None)
        retried = "its work horse died; it runs again (once)" if rq_job.retries_left == 0 else None
        if status in WAITING:
            return _Job("queued", info, retried)
        if status in RUNNING:
            return _Job("running", info, retried)
        if status == RqStatus.FINISHED:
            return _Job("done", info, None)
        if status in (RqStatus.CANCELED, RqStatus.STOPPED):
            return _Job("cancelled", info, None)
        return _Job("failed", info, _failure(rq_job))

    def _place(self, jid: str) -> tuple[int | None, float | None]:
        """The job's place in the queue and the estimated wait: the estimates of the jobs ahead and what is left of
        the running ones, over the workers that listen."""
        ids = self.queue.get_job_ids()
        if jid not in ids:
            return None, None
        ahead = ids[:ids.index(jid)]
        now = time.time()
        left = 0.0
        for other in StartedJobRegistry(queue=self.queue).get_job_ids():
            info = _hash(self.redis, Keys.job(other))
            if info:
                left += max(float(info["estimate"]) - (now - (_float(info.get("started")) or now)), 0.0)
        left += sum(float(_hash(self.redis, Keys.job(other)).get("estimate", 0.0)) for other in ahead)
        workers = max(1, Worker.count(queue=self.queue))
        return len(ahead), left / workers

    def _retry_after(self) -> int:
        """Seconds until a place is likely free: the shortest remaining estimate of a running job (at least 1)."""
        now, left = time.time(), []
        for jid in StartedJobRegistry(queue=self.queue).get_job_ids():
            info = _hash(self.redis, Keys.job(jid))
            if info:
                left.append(max(float(info["estimate"]) - (now - (_float(info.get("started")) or now)), 1.0))
        return max(1, round(min(left) if left else 1))

    async def cancel(self, ticket: str) -> JobStatus | None:
        if not await asyncio.to_thread(self._cancel, ticket):
            return None
        return await self.status(ticket)

    def _cancel(self, ticket: str) -> bool:
        """Mark the ticket cancelled; if no ticket wants its job any more, a queued job leaves the queue and a running
        one is flagged (its checkpoint stops it)."""
        with self.redis.lock(Keys.LOCK, timeout=LOCK_S, blocking_timeout=LOCK_S):
            jid = self.redis.hget(Keys.ticket(ticket), "job")
            if jid is None:
                return False
            jid = _text(jid)
            self.redis.hset(Keys.ticket(ticket), "cancelled", "1")
            self.redis.srem(Keys.live(jid), ticket)
            if self.redis.scard(Keys.live(jid)) or self._job(jid).state not in UNFINISHED:
                return True
            self.redis.set(Keys.cancel(jid), 1, ex=KEEP_S)
            try:
                rq_job = Job.fetch(jid, connection=self.redis)
                if rq_job.get_status() in WAITING:
                    rq_job.cancel()
                    self.redis.hset(Keys.job(jid), mapping={"outcome": "cancelled", "finished": time.time()})
            except NoSuchJobError:
                pass
            return True

    def health(self) -> dict[str, Any]:
        try:
            self.redis.ping()
            return {"kind": "rq", "ok": True, "queued": self.queue.count,
                    "running": StartedJobRegistry(queue=self.queue).count, "workers": Worker.count(queue=self.queue)}
        except redis.RedisError as error:
            return {"kind": "rq", "ok": False, "detail": f"Redis cannot be reached: {error}"}

    async def start(self) -> None:
        """Nothing runs here: ``python -m app worker`` processes run the jobs."""

    async def close(self) -> None:
        await asyncio.to_thread(self.redis.close)


def _float(value: str | None) -> float | None:
    return None if value is None or value == "" else float(value)


def _failure(job: Job) -> str:
    """Why RQ says a job failed: the last line of its exception (the work horse's death, a computation's error)."""
    result = job.latest_result()
    text = (result.exc_string if result is not None else None) or "the job failed"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else text
    if "Work-horse terminated unexpectedly" in text:
        return f"the process running it died twice ({reason.strip()})"
    return reason.strip()


# --- in the worker ------------------------------------------------------------------------------------------------

def run_job(params_json: str, key: str) -> str:
    """Run one job in RQ's work horse: the drift experiment of the query ``params_json``, its progress written to the
    job's hash, stopped by the cancel flag or the CPU limit, its result put in the Redis result store. Returns a word
    ('done', 'cancelled'); a failure raises (RQ records it, the job's tickets read why)."""
    from app.api.schemas import DriftQuery  # here: schemas imports nothing of the jobs

    settings = Settings()
    client = connect(settings.queue_url)
    jid = job_id(key)
    config = DriftQuery(**json.loads(params_json)).to_config()
    client.hset(Keys.job(jid), mapping={"started": time.time()})
    client.hdel(Keys.job(jid), "finished", "outcome", "detail")
    cpu_limit = 2 * settings.job_budget_s / settings.machine_speed
    progress = Progress(widths=len(config.widths), steps=config.steps)
    emit = _Reporter(client, jid, progress)
    try:
        result = work.drift(_checkpoint(client, jid, cpu_limit), emit, config)
    except Cancelled:
        client.hset(Keys.job(jid), mapping={"outcome": "cancelled", "finished": time.time()})
        log.info("job %s cancelled: nobody wants it", jid)
        return "cancelled"
    except OverCpuLimit as error:
        detail = f"it needed more than {error.args[0]:g} s of CPU time, this server's limit for a job"
        client.hset(Keys.job(jid), mapping={"outcome": "failed", "finished": time.time(), "detail": detail})
        return "failed"
    store = open_store(settings)
    if store is None:
        raise RuntimeError("no result store to keep the result in (store_url is '')")
    store.put(result_key(config), encode(result))
    emit.finish()
    with client.pipeline() as pipe:
        pipe.hincrby(Keys.COMPUTED, key, 1)
        pipe.hset(Keys.job(jid), mapping={"outcome": "done", "finished": time.time()})
        pipe.execute()
    log.info("job %s done: %s kept in the result store", jid, key)
    return "done"


def _checkpoint(client: redis.Redis, jid: str, cpu_limit_s: float) -> Checkpoint:
    """Raises :class:`Cancelled` once the job's cancel flag is set (read at most every :data:`CANCEL_EVERY_S`), and
    :class:`OverCpuLimit` past the job's CPU time."""
    start, read = time.process_time(), [0.0]

    def checkpoint() -> None:
        if time.process_time() - start > cpu_limit_s:
            raise OverCpuLimit(cpu_limit_s)
        now = time.monotonic()
        if now - read[0] >= CANCEL_EVERY_S:
            read[0] = now
            if client.exists(Keys.cancel(jid)):
                raise Cancelled

    return checkpoint


class _Reporter:
    """``emit`` for :func:`app.api.work.drift`: keeps the job's progress and writes it at most every
    :data:`PROGRESS_EVERY_S` (a finished width at once)."""

    def __init__(self, client: redis.Redis, jid: str, progress: Progress) -> None:
        self.client, self.jid, self.progress, self.written = client, jid, progress, 0.0

    def __call__(self, event: Any) -> None:
        if event[0] == "width":
            self.progress = replace(self.progress, widths_done=self.progress.widths_done + 1, width=None, step=None)
            self._write()
        elif event[0] == "step":
            self.progress = replace(self.progress, width=event[1], step=event[2])
            if time.monotonic() - self.written >= PROGRESS_EVERY_S:
                self._write()

    def finish(self) -> None:
        self.progress = replace(self.progress, widths_done=self.progress.widths, width=None, step=None)
        self._write()

    def _write(self) -> None:
        self.written = time.monotonic()
        self.client.hset(Keys.job(self.jid), "progress", json.dumps(asdict(self.progress)))


def work_forever(settings: Settings) -> None:
    """``python -m app worker``: an RQ worker on ``queue_url``'s queue, one BLAS thread (parallelism is more workers),
    logging at ``log_level``. SIGTERM is RQ's warm shutdown: the job in hand finishes, then the worker exits (a second
    SIGTERM kills the work horse, and the job is retried once by whoever works next)."""
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not settings.queue_url:
        raise SystemExit("python -m app worker needs LANES_QUEUE_URL (redis://host:port/db)")
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    connection = connect(settings.queue_url)
    worker = Worker([Queue(QUEUE, connection=connection)], connection=connection)
    log.info("RQ worker %s on %s, queue %s", worker.name, settings.queue_url.split("@")[-1], QUEUE)
    worker.work(with_scheduler=False, logging_level=settings.log_level.upper())

