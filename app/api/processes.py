"""Computations in worker processes, apart from the process that serves HTTP.

A :class:`ProcessRunner` is a pool of ``processes`` processes, started by a fork server (``forkserver``: each worker is
forked from a clean process that imported only the maths, never from the web worker with its threads and sockets).
Work runs there as ``fn(checkpoint, emit, *args)``, with ``fn`` a module-level function (sent by reference):

- ``emit(payload)`` sends a picklable payload back at once (a finished width, progress), delivered on the event loop
  to the ``on_event`` the task was submitted with, in order, before its result;
- ``checkpoint()`` raises :class:`Cancelled` once the task is cancelled (a flag in shared memory, so asking costs no
  message), and :class:`OverCpuLimit` when the process has used more than the task's CPU time (its own clock: other
  processes' load does not count).

The event loop never shares an interpreter (a GIL) or a niceness trick with the arithmetic: it is one process among
others for the kernel's scheduler, so ``/healthz`` and cached answers stay fast whatever the computations do.

A worker process that dies (killed, out of memory) breaks the pool: its tasks fail with :class:`WorkerDied` and the
next task starts a new pool. Nothing a dying worker held can block the others: each worker writes its events into a
pipe of its own (no lock shared between processes, which a process killed mid-write would hold forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import multiprocessing.connection
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast

import threadpoolctl

SLOTS = 1024  # cancellation flags in shared memory: more than tasks can be admitted at once
PRELOAD = ["app.api.work"]  # imported once by the fork server: every worker starts with numpy and the maths loaded


class Cancelled(Exception):
    """Raised inside a computation whose every requester has gone."""


class OverCpuLimit(Exception):
    """Raised inside a computation that used more than its CPU time: ``args[0]`` is the limit in seconds."""


class WorkerDied(Exception):
    """The process running the computation stopped before it finished (killed, or out of memory)."""


Work = Callable[..., Any]  # fn(checkpoint, emit, *args)

# --- in the worker processes ----------------------------------------------------------------------------------------

_events: Any = None  # this worker's own pipe to the web worker: (task id, payload) messages
_flags: Any = None   # the pool's cancellation flags
DONE = "\0done"      # sent by a worker after a task's last event: the web worker settles the task once it has it


def _initialise(pipes: list[Any], taken: Any, flags: Any) -> None:
    """Claim one of the pool's pipes (one per worker: each has a single writer), limit BLAS, and watch the parent."""
    global _events, _flags
    with taken.get_lock():
        _events, taken.value = pipes[taken.value], taken.value + 1
    _flags = flags
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")  # parallelism comes from processes, not BLAS threads
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """End this worker when the process that started the pool ends, however it ends (a SIGKILLed web worker leaves
    no orphans computing for nobody: the pool's pipes alone would keep them waiting forever)."""
    parent = multiprocessing.parent_process()
    if parent is not None and parent.sentinel is not None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)


def _ready() -> None:
    """Nothing: submitted once per process at start-up, so each is started before the first request needs it."""


def _run_task(task: int, slot: int, cpu_limit_s: float | None, fn: Work, args: tuple[Any, ...]) -> Any:
    start = time.process_time()

    def checkpoint() -> None:
        if _flags[slot]:
            raise Cancelled
        if cpu_limit_s is not None and time.process_time() - start > cpu_limit_s:
            raise OverCpuLimit(cpu_limit_s)

    def emit(payload: Any) -> None:
        _events.send((task, payload))

    try:
        return fn(checkpoint, emit, *args)
    finally:
        _events.send((task, DONE))


# --- in the web worker ----------------------------------------------------------------------------------------------

@dataclass
class _Task:
    on_event: Callable[[Any], None] | None
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[Any]
    slot: int
    done: Any = None      # the pool's concurrent future, once finished
    heard_all: bool = False  # its worker's DONE has arrived: every event was handed on


@dataclass
class _Pool:
    """One generation of worker processes: the executor, and the read ends of the workers' pipes."""

    executor: ProcessPoolExecutor
    readers: list[Any]


class ProcessRunner:
    """``processes`` worker processes for ``fn(checkpoint, emit, *args)`` (see the module docstring).

    Events and outcomes keep their order: a worker sends each event, then a DONE marker, into its own pipe before it
    returns; a task settles once both its outcome and its DONE have arrived (or its worker died), so every event is
    handed on before the outcome.
    """

    def __init__(self, processes: int, name: str = "compute") -> None:
        self.processes, self.name = processes, name
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._pool: _Pool | None = None
        self._flags: Any = None
        self._tasks: dict[int, _Task] = {}
        self._free = list(range(SLOTS))
        self._ids = itertools.count()

    def start(self) -> None:
        """Start the fork server and every worker process now (blocking: call it in a thread at start-up), so no
        request waits for a process to start, nor the event loop for the fork server to import the maths."""
        self._executor()

    def _executor(self) -> ProcessPoolExecutor:
        """The live pool, or a new one: all its processes started, each with its pipe, and a thread reading them."""
        if self._pool is None:
            if self._flags is None:
                self._flags = self._context.Array("b", SLOTS, lock=False)
            pipes = [self._context.Pipe(duplex=False) for _ in range(self.processes)]
            taken = self._context.Value("i", 0)
            executor = ProcessPoolExecutor(self.processes, mp_context=self._context, initializer=_initialise,
                                           initargs=([writer for _, writer in pipes], taken, self._flags))
            for ready in [executor.submit(_ready) for _ in range(self.processes)]:
                ready.result()  # every process started: the write ends are theirs alone now
            for _, writer in pipes:
                writer.close()
            self._pool = _Pool(executor, [reader for reader, _ in pipes])
            threading.Thread(target=self._read_events, args=(self._pool.readers,), name=f"{self.name}-events",
                             daemon=True).start()
        return self._pool.executor

    def _read_events(self, readers: list[Any]) -> None:
        """In a thread, for one pool: hand each payload to its task's ``on_event`` on that task's event loop, in the
        order each worker sent them; ends when every worker's pipe has closed (the pool stopped or broke)."""
        open_readers = list(readers)
        while open_readers:
            for reader in multiprocessing.connection.wait(open_readers):
                try:
                    task_id, payload = cast(Connection, reader).recv()
                except (EOFError, OSError):
                    open_readers.remove(reader)
                    continue
                task = self._tasks.get(task_id)
                if task is None:
                    continue
                with contextlib.suppress(RuntimeError):  # its loop has closed: nobody listens any more
                    if isinstance(payload, str) and payload == DONE:
                        task.loop.call_soon_threadsafe(self._heard_all, task_id)
                    elif task.on_event is not None:
                        task.loop.call_soon_threadsafe(task.on_event, payload)

    def submit(self, fn: Work, *args: Any, on_event: Callable[[Any], None] | None = None,
               cpu_limit_s: float | None = None) -> tuple[asyncio.Future[Any], Callable[[], None]]:
        """Start ``fn(checkpoint, emit, *args)`` in a worker process: its outcome (an asyncio future, on the running
        loop; :class:`WorkerDied` if its process stops) and a ``cancel()`` that makes its next checkpoint raise."""
        loop = asyncio.get_running_loop()
        task_id, slot = next(self._ids), self._free.pop()
        pool = self._executor()
        flags = self._flags
        flags[slot] = 0  # before the task can start: a slot's flag stays set from its last cancellation
        task = _Task(on_event, loop, loop.create_future(), slot)
        self._tasks[task_id] = task  # before it can start: the reader drops events of tasks it does not know
        try:
            running = pool.submit(_run_task, task_id, slot, cpu_limit_s, fn, args)
        except (BrokenProcessPool, RuntimeError):  # a dead pool: start a new one for this task
            self._pool = None
            running = self._executor().submit(_run_task, task_id, slot, cpu_limit_s, fn, args)

        def landed(done: Any) -> None:  # in the pool's thread
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._landed, task_id, done)

        running.add_done_callback(landed)
        return task.outcome, lambda: flags.__setitem__(slot, 1)

    def _landed(self, task_id: int, done: Any) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            return
        task.done = done
        broken = not done.cancelled() and isinstance(done.exception(), BrokenProcessPool)
        if task.heard_all or broken or done.cancelled():  # a dead worker sends nothing more
            self._settle(task_id)

    def _heard_all(self, task_id: int) -> None:
        task = self._tasks.get(task_id)
        if task is None:
            return
        task.heard_all = True
        if task.done is not None:
            self._settle(task_id)

    def _settle(self, task_id: int) -> None:
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        self._free.append(task.slot)
        if task.outcome.done():
            return
        done = task.done
        error = done.exception() if not done.cancelled() else Cancelled()
        if isinstance(error, BrokenProcessPool):
            self._pool = None
            error = WorkerDied(f"the process computing it stopped ({error})")
        if error is not None:
            task.outcome.set_exception(error)
        else:
            task.outcome.set_result(done.result())

    def pids(self) -> list[int]:
        """The worker processes' ids now (none before the first task)."""
        return [] if self._pool is None else list(self._pool.executor._processes)

    def close(self) -> None:
        """Cancel every task and stop the processes (their pipes close, and the reading thread ends)."""
        if self._flags is not None:
            for slot in range(SLOTS):
                self._flags[slot] = 1
        if self._pool is not None:
            self._pool.executor.shutdown(wait=True, cancel_futures=True)  # its tasks stop at their next checkpoint
            self._pool = None
        for task in list(self._tasks.values()):
            if not task.outcome.done():
                with contextlib.suppress(RuntimeError):
                    task.loop.call_soon_threadsafe(_cancel_outcome, task.outcome)
        self._tasks.clear()


def _cancel_outcome(outcome: asyncio.Future[Any]) -> None:
    if not outcome.done():
        outcome.set_exception(Cancelled())
