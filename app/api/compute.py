"""Running computations for the API: off the event loop, bounded, shared, cached, cancellable.

- CPU work runs in a small thread pool (``max_concurrent`` threads per worker process), so
  the event loop keeps answering (``/healthz``) while experiments run; scale across cores
  with uvicorn workers or replicas. Compute threads run at a lower priority than the event
  loop, and BLAS uses one thread per process (:func:`limit_blas_threads`).
- Time limits: a computation may use ``compute_timeout_s`` of its *own* CPU time (its thread's
  CPU clock: what other processes take from the cores does not count against it), and a
  request waits at most ``compute_wall_limit_s`` of wall-clock time, queue included.
- Admission control: at most ``max_concurrent + max_queued`` computations are admitted per
  worker; beyond that :class:`Overloaded` (→ 503 with Retry-After) instead of a growing queue.
- Identical concurrent requests share one computation (a :class:`Flight`); finished drift
  experiments stay in a small LRU of arrays, so other views of them (another kernel width)
  cost no recomputation. When nobody waits for a flight any more (timeout, client gone),
  it is cancelled before its next training step, and its slot is freed.
- Serialized responses are cached separately (:class:`app.serving.cache.ResponseCache`, bounded by count and bytes).
- Finished experiments also go to a store shared by every worker process and kept across restarts
  (:class:`app.api.store.SqliteStore`, ``store_url``): a worker asks it before computing, and *claims* an
  experiment before computing it, so the same experiment arriving at two workers computes once: the second waits for
  the first's result to appear in the store (and computes it itself if the claim expires or is given up unresolved).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import threadpoolctl

from app.api import work
from app.api.codec import decode, encode
from app.api.processes import Cancelled, OverCpuLimit, ProcessRunner, WorkerDied
from app.api.store import open_store, store_key
from app.config import Settings
from app.ntk import DriftConfig, DriftResult, WidthResult
from app.serving.cache import CachedBody, ResponseCache

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Overloaded(Exception):
    """Too many computations admitted already; try again after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ClientGone(Exception):
    """The client closed its connection while waiting: nobody will read an answer."""


Gone = Callable[[], Awaitable[bool]]  # whether the client has closed its connection (Starlette: request.is_disconnected)


COMPUTE_NICENESS = 10
BLAS_THREADS = 1
POLL_S = 0.1  # how often a waiting request reads its computation's CPU clock and checks its connection
STORE_POLL_S = 0.25  # how often a worker waiting for another worker's computation looks for its result
ASK_LESS = "ask for less (fewer or narrower widths, fewer steps or seeds)"


def result_key(config: DriftConfig) -> str:
    """The shared store's key of an experiment: its config's repr (every field, canonical), with the code's version."""
    return store_key(repr(config))


def limit_blas_threads() -> None:
    """One BLAS thread per process: OpenBLAS's own helper threads would run at the niceness of the thread that
    started them (the event loop's), spin while waiting for work, and starve the reniced compute threads
    (docs/reliability.md). The matrices here are thin (a few districts × width), so one thread is also faster;
    parallelism comes from worker processes and replicas."""
    threadpoolctl.threadpool_limits(limits=BLAS_THREADS, user_api="blas")


def _prepare_compute_thread() -> None:
    """Run this (compute) thread at a lower CPU priority than the event loop (Linux: niceness is per thread),
    with single-threaded BLAS.

    When computations saturate the cores, the scheduler still gives the event loop its turn, so
    ``/healthz`` and cached answers do not queue behind the arithmetic (``benchmarks/load.py``).
    Raising one's own niceness needs no privilege; where it is not possible, nothing changes.
    """
    limit_blas_threads()
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), COMPUTE_NICENESS)


class CpuClock:
    """The CPU time one computation has used, from its worker thread's own clock, readable from any thread.

    Linux gives every thread a CPU clock (``pthread_getcpuclockid``), which advances only while that thread runs:
    time that other processes take from the cores does not count. Where there is no such clock, wall time does.
    """

    def __init__(self) -> None:
        self._read: Callable[[], float] | None = None
        self._start = 0.0

    def start(self) -> None:
        """Call in the worker thread, as the computation begins."""
        try:
            clock = time.pthread_getcpuclockid(threading.get_ident())
            self._read = lambda: time.clock_gettime(clock)
        except (AttributeError, OSError):
            self._read = time.monotonic
        self._start = self._read()

    def used(self) -> float:
        """Seconds of CPU time since :meth:`start` (0 before it)."""
        return 0.0 if self._read is None else self._read() - self._start


# --- shared computations --------------------------------------------------------------------

@dataclass(frozen=True)
class Job(Generic[R]):
    """Work started in the pool: its outcome, and the CPU clock of the thread running it."""

    future: asyncio.Future[R]
    clock: CpuClock


class Stop(threading.Event):
    """A cancellation flag that also calls its hooks when set: work in another process is stopped through them."""

    def __init__(self) -> None:
        super().__init__()
        self._hooks: list[Callable[[], None]] = []

    def on_set(self, hook: Callable[[], None]) -> None:
        self._hooks.append(hook)
        if self.is_set():
            hook()

    def set(self) -> None:
        super().set()
        for hook in self._hooks:
            hook()


@dataclass
class Flight(Generic[T]):
    """One computation in progress, shared by every request that asked for it.

    ``interest`` counts the requests waiting for it; when the last one stops waiting (it timed out, its client
    left), ``cancel`` is set and the work stops at its next checkpoint (before a training step, between kernel
    blocks), freeing its slot.
    """

    done: asyncio.Future[T]
    cancel: Stop = field(default_factory=Stop)
    interest: int = 0

    def settle(self, outcome: T | BaseException) -> None:
        if isinstance(outcome, BaseException):
            self.done.set_exception(outcome)
            self.done.exception()  # retrieved here, so an unawaited failure is not logged as lost
        else:
            self.done.set_result(outcome)


@dataclass
class DriftFlight(Flight[DriftResult]):
    """A drift experiment in progress: its finished widths so far, and the streams listening for the next."""

    widths: list[WidthResult] = field(default_factory=list)
    listeners: set[asyncio.Queue[WidthResult | BaseException | DriftResult]] = field(default_factory=set)

    def hear(self, event: tuple[Any, ...]) -> None:
        """An event of the computation (app/api/work.py): a finished width is published; training's progress is for
        jobs, and a request answered at once has no use for it."""
        if event[0] == "width":
            self.publish(event[1])

    def publish(self, width: WidthResult) -> None:
        self.widths.append(width)
        for queue in self.listeners:
            queue.put_nowait(width)

    def finish(self, outcome: DriftResult | BaseException) -> None:
        for queue in self.listeners:
            queue.put_nowait(outcome)
        self.settle(outcome)


class ComputeService:
    """The API's one gateway to CPU work (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.responses = ResponseCache(settings.cache_entries, settings.cache_bytes)
        self._pool: ThreadPoolExecutor | None = None  # made on first use, after every close()
        self._processes = ProcessRunner(settings.max_concurrent) if settings.compute_in == "processes" else None
        self._admitted = 0
        self._flights: dict[DriftConfig, DriftFlight] = {}
        self._results: OrderedDict[DriftConfig, DriftResult] = OrderedDict()
        self._typical_seconds = 1.0  # running mean of computation times, for Retry-After
        self._bodies: dict[str, Flight[CachedBody]] = {}  # computations of response bodies, by cache key
        self._encodings: dict[str, asyncio.Future[CachedBody]] = {}  # encodings of kept results, by cache key
        self.store = open_store(settings)
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"  # this service's claims
        self._tasks: set[asyncio.Task[None]] = set()  # store writes and waits for other workers, kept referenced
        self._claimed: set[str] = set()  # the store's keys this service holds a claim on

    # -- status --
    @property
    def admitted(self) -> int:
        """Computations running or waiting for a thread now."""
        return self._admitted

    @property
    def capacity(self) -> int:
        return self.settings.max_concurrent + self.settings.max_queued

    @property
    def saturated(self) -> bool:
        return self._admitted >= self.capacity

    def retry_after(self) -> int:
        """Seconds until a slot is likely free: the admitted work spread over the workers."""
        waiting = self._admitted / self.settings.max_concurrent
        return max(1, math.ceil(self._typical_seconds * max(waiting, 1)))

    def close(self) -> None:
        """Cancel what runs and stop the threads (at shutdown); a later request starts new ones. The store's claims
        this worker holds are given up now, so another worker need not wait for their leases to expire."""
        for flight in self._flights.values():
            flight.cancel.set()
        if self.store is not None:
            for key in list(self._claimed):
                with contextlib.suppress(Exception):  # a store that cannot be reached: the lease expires instead
                    self.store.release(key, self._owner)
            self._claimed.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._processes is not None:
            self._processes.close()

    async def start(self) -> None:
        """Start the compute processes now, in a thread ('processes'; threads start on first use)."""
        if self._processes is not None:
            await asyncio.to_thread(self._processes.start)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.max_concurrent, thread_name_prefix="compute",
                                            initializer=_prepare_compute_thread)
        return self._pool

    # -- generic work --
    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the pool under admission control and the time limits.

        ``fn`` has no checkpoints, so it cannot be stopped: past the CPU limit the request is answered 503 at once,
        and the work finishes in the background (its slot stays taken until then). Work that can be abandoned
        goes through :meth:`body` or :meth:`drift`.
        """
        job = self._start(work.call_plain, (fn, *args))
        deadline = time.monotonic() + self.settings.compute_wall_limit_s
        return await self._patiently(lambda: asyncio.shield(job.future), deadline, clock=job.clock)

    async def body(self, key: str, fn: Callable[..., bytes], *args: Any, gone: Gone | None = None) -> CachedBody:
        """The response body named ``key``: kept, or being computed for an identical request already, or computed
        now by ``fn(checkpoint, *args)`` (which returns the serialized body) in the pool, and kept.

        Identical concurrent requests share one computation, admission slot and time limit; each may leave
        (:class:`ClientGone` once its client is ``gone``) without disturbing the others, and when the last one has
        left, the computation stops at its next ``checkpoint()``.
        """
        entry = self.responses.get(key)
        if entry is not None:
            return entry
        flight = self._bodies.get(key)
        if flight is None or flight.cancel.is_set():
            flight = Flight(asyncio.get_running_loop().create_future())
            job = self._start(work.call, (fn, *args), flight.cancel)
            job.future.add_done_callback(lambda future: self._body_landed(key, flight, future))
            self._bodies[key] = flight
        return await self._wait_for(flight, gone)

    async def encoded(self, key: str, fn: Callable[..., bytes], *args: Any, compress: bool = True) -> CachedBody:
        """The body named ``key``: kept, or made now by ``fn(*args)`` from what is computed already (serializing a
        kept result) and kept (with its gzip form if ``compress``).

        It runs in a plain thread, so the event loop keeps answering while a large result is encoded, with no
        admission or time limit (its work is bounded by the result's size); identical concurrent requests share
        one encoding, so a result is encoded once however many clients ask for it.
        """
        entry = self.responses.get(key)
        if entry is not None:
            return entry
        pending = self._encodings.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._encode(key, fn, args, compress))
            self._encodings[key] = pending
            pending.add_done_callback(lambda done: self._encoding_landed(key, done))
        return await asyncio.shield(pending)

    async def _encode(self, key: str, fn: Callable[..., bytes], args: tuple[Any, ...], compress: bool) -> CachedBody:
        return self.responses.put(key, await asyncio.to_thread(fn, *args), compress)

    def _encoding_landed(self, key: str, done: asyncio.Future[CachedBody]) -> None:
        if self._encodings.get(key) is done:
            del self._encodings[key]
        if not done.cancelled():
            done.exception()  # retrieved: a failure nobody waits for any more is not reported as lost

    def _body_landed(self, key: str, flight: Flight[CachedBody], future: asyncio.Future[bytes]) -> None:
        if self._bodies.get(key) is flight:
            del self._bodies[key]
        error = future.exception() if not future.cancelled() else Cancelled()
        flight.settle(error if error is not None else self.responses.put(key, future.result()))

    # -- drift experiments --
    async def drift(self, config: DriftConfig, gone: Gone | None = None) -> DriftResult:
        """The finished experiment: from the result cache, an ongoing identical flight, or a new one.

        If the client is ``gone`` while it waits, :class:`ClientGone`; a flight nobody waits for any more stops
        before its next training step.
        """
        cached = await self.kept(config)
        if cached is not None:
            return cached
        return await self._wait_for(await self._flight(config), gone)

    def finished(self, config: DriftConfig) -> DriftResult | None:
        """The experiment ``config`` if this worker keeps it in memory already (no computation), else None."""
        result = self._results.get(config)
        if result is not None:
            self._results.move_to_end(config)
        return result

    async def kept(self, config: DriftConfig) -> DriftResult | None:
        """The experiment ``config`` if it is computed already: in this worker's memory, or in the shared store."""
        return self.finished(config) or await self.stored(config)

    async def stored(self, config: DriftConfig) -> DriftResult | None:
        """The experiment ``config`` from the shared store (then kept in memory too), else None. Read and decoded in a
        thread: the event loop keeps answering."""
        if self.store is None:
            return None
        key = result_key(config)
        try:
            data = await asyncio.to_thread(self.store.get, key)
        except Exception as error:  # a store that fails is a miss: the experiment is computed here
            log.warning("the result store failed to give %s: %s", key, error)
            return None
        if data is None:
            return None
        try:
            result: DriftResult = await asyncio.to_thread(decode, data)
        except Exception as error:  # bytes that do not decode: discarded, and the experiment is computed again
            log.warning("the stored bytes of %s do not decode (%s): discarded", key, error)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.discard, key)
            return None
        self._keep(config, result)
        return result

    def _keep(self, config: DriftConfig, result: DriftResult) -> None:
        if self.settings.result_cache_entries > 0:
            self._results[config] = result
            while len(self._results) > self.settings.result_cache_entries:
                self._results.popitem(last=False)

    async def drift_stream(self, config: DriftConfig, gone: Gone | None = None
                           ) -> AsyncGenerator[WidthResult | DriftResult, None]:
        """Each width's result as it finishes (earlier ones replayed), then the whole experiment.

        ``gone`` is asked only until the first item: after it, the streaming response watches the connection
        itself (two readers of one connection would steal each other's messages).
        """
        cached = await self.kept(config)
        if cached is not None:
            for width in cached.widths:
                yield width
            yield cached
            return
        flight = await self._flight(config)
        queue: asyncio.Queue[WidthResult | BaseException | DriftResult] = asyncio.Queue()
        for width in flight.widths:
            queue.put_nowait(width)
        flight.listeners.add(queue)
        flight.interest += 1
        deadline = time.monotonic() + self.settings.compute_wall_limit_s
        try:
            while True:
                item = await self._patiently(queue.get, deadline, gone)
                gone = None
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, DriftResult):
                    return
        finally:
            flight.listeners.discard(queue)
            self._lose_interest(flight)

    # -- internals --
    async def _patiently(self, wait: Callable[[], Awaitable[T]], deadline: float, gone: Gone | None = None,
                         clock: CpuClock | None = None) -> T:
        """Await ``wait()`` in slices of ``POLL_S`` until ``deadline`` (then 503); between slices, give up when the
        client is ``gone`` or the computation's ``clock`` has passed the CPU limit (then 503)."""
        while True:
            try:
                return await asyncio.wait_for(wait(), max(min(POLL_S, deadline - time.monotonic()), 0))
            except TimeoutError:
                if gone is not None and await gone():
                    raise ClientGone from None
                if clock is not None and clock.used() > self.settings.compute_timeout_s:
                    raise self._over_cpu_limit() from None
                if time.monotonic() >= deadline:
                    raise self._timed_out() from None

    def _admit(self) -> None:
        if self.saturated:
            raise Overloaded(f"the server is busy ({self._admitted} computations running or queued); "
                             f"try again in {self.retry_after()} s", self.retry_after())
        self._admitted += 1

    def _release(self, started: float) -> None:
        self._admitted -= 1
        self._typical_seconds = 0.8 * self._typical_seconds + 0.2 * (time.perf_counter() - started)

    def _timed_out(self) -> Overloaded:
        return Overloaded(f"the computation did not finish within {self.settings.compute_wall_limit_s:g} s; "
                          f"the server is busy: try again in {self.retry_after()} s, or {ASK_LESS}", self.retry_after())

    def _over_cpu_limit(self) -> Overloaded:
        return Overloaded(f"the computation needed more than {self.settings.compute_timeout_s:g} s of CPU time, this "
                          f"server's limit for one computation; {ASK_LESS}", self.retry_after())

    def _start(self, fn: Callable[..., R], args: tuple[Any, ...], cancel: Stop | None = None,
               on_event: Callable[[Any], None] | None = None) -> Job[R]:
        """Admit ``fn(checkpoint, emit, *args)`` (app/api/work.py) and start it in a compute process or thread.

        ``checkpoint()`` raises :class:`Cancelled` once ``cancel`` is set and :class:`Overloaded` past the CPU limit;
        ``emit(event)`` hands ``event`` to ``on_event`` on the event loop, in order, before the outcome."""
        self._admit()
        started = time.perf_counter()
        try:
            job = self._in_process(fn, args, cancel, on_event) if self._processes else self._in_thread(fn, args, cancel, on_event)
        except BaseException:
            self._release(started)
            raise
        job.future.add_done_callback(lambda _: self._release(started))
        return job

    def _in_process(self, fn: Callable[..., R], args: tuple[Any, ...], cancel: Stop | None,
                    on_event: Callable[[Any], None] | None) -> Job[R]:
        assert self._processes is not None
        outcome, stop = self._processes.submit(fn, *args, on_event=on_event, cpu_limit_s=self.settings.compute_timeout_s)
        if cancel is not None:
            cancel.on_set(stop)
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()

        def translate(done: asyncio.Future[R]) -> None:  # the pool's exceptions in the API's terms
            if future.done():
                return
            error = done.exception()
            if isinstance(error, OverCpuLimit):
                error = self._over_cpu_limit()
            elif isinstance(error, WorkerDied):
                error = Overloaded(f"the computation stopped before it finished ({error}); try again", self.retry_after())
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(done.result())

        outcome.add_done_callback(translate)
        return Job(future, CpuClock())  # the CPU limit is kept by the process itself, at its checkpoints

    def _in_thread(self, fn: Callable[..., R], args: tuple[Any, ...], cancel: Stop | None,
                   on_event: Callable[[Any], None] | None) -> Job[R]:
        loop = asyncio.get_running_loop()
        clock = CpuClock()
        limit = self.settings.compute_timeout_s
        stop = cancel or Stop()

        def checkpoint() -> None:  # runs in the worker thread
            if stop.is_set():
                raise Cancelled
            if clock.used() > limit:
                raise self._over_cpu_limit()

        def emit(event: Any) -> None:
            if on_event is not None:
                loop.call_soon_threadsafe(on_event, event)

        def job() -> R:
            clock.start()
            return fn(checkpoint, emit, *args)

        return Job(loop.run_in_executor(self._executor(), job), clock)

    async def _wait_for(self, flight: Flight[T], gone: Gone | None) -> T:
        """Wait (within the wall-clock limit) for a shared computation, as one more of those interested in it."""
        flight.interest += 1
        try:
            deadline = time.monotonic() + self.settings.compute_wall_limit_s
            return await self._patiently(lambda: asyncio.shield(flight.done), deadline, gone)
        finally:
            self._lose_interest(flight)

    async def _flight(self, config: DriftConfig) -> DriftFlight:
        """The live flight for ``config``, or a new one: computed here (which needs admission), or, when another
        worker has claimed the experiment in the shared store, waiting for its result there."""
        flight = self._flights.get(config)
        if flight is not None and not flight.cancel.is_set() and not flight.done.done():
            return flight
        flight = DriftFlight(asyncio.get_running_loop().create_future())
        self._flights[config] = flight  # before the claim's await: an identical request meanwhile joins this flight
        if self.store is not None and not await self._claim(config):
            self._spawn(self._await_other_worker(config, flight))
            return flight
        try:
            await self._compute(config, flight)
        except BaseException:
            self._drop(config, flight)
            raise
        return flight

    def _drop(self, config: DriftConfig, flight: DriftFlight) -> None:
        """Forget ``flight`` (ended, or never started): the next request for ``config`` starts a new one."""
        if self._flights.get(config) is flight:
            del self._flights[config]

    async def _claim(self, config: DriftConfig) -> bool:
        """Whether this worker may compute ``config``: it holds the store's claim (in a thread: SQLite may wait for a
        lock, Redis for the network). A store that fails lets it compute: a duplicate computation beats none."""
        assert self.store is not None
        key = result_key(config)
        try:
            held = await asyncio.to_thread(self.store.claim, key, self._owner, self.settings.store_lease_s)
        except Exception as error:  # a store that fails lets this worker compute
            log.warning("the result store failed to claim %s: %s", key, error)
            return True
        if held:
            self._claimed.add(key)
        return held

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _await_other_worker(self, config: DriftConfig, flight: DriftFlight) -> None:
        """Wait for another worker's result of ``config`` in the store; compute it here if its claim lapses first."""
        try:
            while not flight.cancel.is_set():
                await asyncio.sleep(STORE_POLL_S)
                result = await self.stored(config)
                if result is not None:
                    self._drop(config, flight)
                    flight.finish(result)
                    return
                if await self._claim(config):  # the other worker gave up or died: this one computes it, same flight
                    await self._compute(config, flight)
                    return
            self._drop(config, flight)
            flight.finish(Cancelled())
        except Exception as error:  # e.g. Overloaded: the waiting requests hear it, and the next request starts anew
            self._drop(config, flight)
            flight.finish(error)

    async def _compute(self, config: DriftConfig, flight: DriftFlight) -> None:
        """Start computing ``config`` here for ``flight``. Holding the store's claim, it looks in the store once more
        first: another worker may have put the result and released its claim just before this one claimed it (then
        nothing is computed, or put again)."""
        if self.store is not None:
            found = await self.stored(config)
            if found is not None:
                self._drop(config, flight)
                flight.finish(found)
                self._release_claim(config)
                return
        try:
            job = self._start(work.drift, (config,), flight.cancel, flight.hear)
        except Overloaded:
            self._release_claim(config)
            raise
        self._flights[config] = flight
        job.future.add_done_callback(lambda future: self._land(config, flight, future))

    def _land(self, config: DriftConfig, flight: DriftFlight, future: asyncio.Future[DriftResult]) -> None:
        """A flight finished (on the event loop): keep its result, tell its listeners, and put it in the shared store
        (which gives up the claim)."""
        self._drop(config, flight)
        error = future.exception() if not future.cancelled() else Cancelled()
        if error is None:
            result = future.result()
            self._keep(config, result)
            flight.finish(result)
            if self.store is not None:
                self._spawn(self._store_result(config, result))
        else:
            flight.finish(error)
            self._release_claim(config)

    async def keep_result(self, config: DriftConfig, result: DriftResult) -> None:
        """Keep an experiment computed elsewhere (a job): in this worker's memory and in the shared store."""
        self._keep(config, result)
        if self.store is not None:
            await asyncio.to_thread(self._put, result_key(config), result)

    def _put(self, key: str, result: DriftResult) -> None:
        """Encode and put a result in the shared store (in a thread); a failure is logged: it is computed again."""
        assert self.store is not None
        try:
            self.store.put(key, encode(result))
        except Exception as error:  # not kept: the next request computes it again
            log.warning("the result store failed to keep %s: %s", key, error)

    async def _store_result(self, config: DriftConfig, result: DriftResult) -> None:
        """Encode and keep a finished experiment in the shared store, then give up the claim (in a thread)."""
        assert self.store is not None
        store, key = self.store, result_key(config)

        def keep() -> None:
            try:
                self._put(key, result)
            finally:
                self._claimed.discard(key)
                with contextlib.suppress(Exception):  # unreachable: its lease expires instead
                    store.release(key, self._owner)

        await asyncio.to_thread(keep)

    def _release_claim(self, config: DriftConfig) -> None:
        if self.store is None:
            return
        store, key = self.store, result_key(config)
        self._claimed.discard(key)

        def release() -> None:
            with contextlib.suppress(Exception):  # unreachable: its lease expires instead
                store.release(key, self._owner)

        self._spawn(asyncio.to_thread(release))

    def _lose_interest(self, flight: Flight[Any]) -> None:
        flight.interest -= 1
        if flight.interest <= 0 and not flight.done.done():
            flight.cancel.set()
