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
next task starts a new pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import threadpoolctl

log = logging.getLogger(__name__)
SLOTS = 1024  # cancellation flags in shared memory: more than tasks can be admitted at once
PRELOAD = ["app.api.work"]  # imported once by the fork server: every worker starts with numpy and the maths loaded


class Cancelled(Exception):
    """Raised inside a computation whose every requester has gone."""


class OverCpuLimit(Exception):
    """Raised inside a computation that used more than its CPU time: ``args[0]`` is the limit in seconds."""


class WorkerDied(Exception):
    """The process running the computation stopped before it finished (killed, or out of memory)."""


Emit = Callable[[Any], None]
Work = Callable[..., Any]  # fn(checkpoint, emit, *args)

# --- in the worker processes ----------------------------------------------------------------------------------------

_events: Any = None  # the pool's queue of (task id, payload), set by _initialise
_flags: Any = None   # the pool's cancellation flags


def _initialise(events: Any, flags: Any) -> None:
    global _events, _flags
    _events, _flags = events, flags
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")  # parallelism comes from processes, not BLAS threads


def _run_task(task: int, slot: int, cpu_limit_s: float | None, fn: Work, args: tuple[Any, ...]) -> Any:
    start = time.process_time()

    def checkpoint() -> None:
        if _flags[slot]:
            raise Cancelled
        if cpu_limit_s is not None and time.process_time() - start > cpu_limit_s:
            raise OverCpuLimit(cpu_limit_s)

    def emit(payload: Any) -> None:
        _events.put((task, payload))

    return fn(checkpoint, emit, *args)


# --- in the web worker ----------------------------------------------------------------------------------------------

SETTLED = "\0settled"  # put on the events queue by this process after a task's outcome arrives: nothing follows it


@dataclass
class _Task:
    on_event: Callable[[Any], None] | None
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[Any]
    slot: int
    done: Any = None  # the pool's concurrent future, once finished


class ProcessRunner:
    """``processes`` worker processes for ``fn(checkpoint, emit, *args)`` (see the module docstring).

    Events and outcomes keep their order: a worker writes each event into one pipe before it returns (a
    ``SimpleQueue``, no feeder thread), and when its outcome arrives this process writes a marker into the same pipe;
    one reader thread delivers them in pipe order, so every event of a task is handed on before its outcome.
    """

    def __init__(self, processes: int, name: str = "compute") -> None:
        self.processes, self.name = processes, name
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._pool: ProcessPoolExecutor | None = None
        self._events: Any = None
        self._flags: Any = None
        self._reader: threading.Thread | None = None
        self._tasks: dict[int, _Task] = {}
        self._free = list(range(SLOTS))
        self._ids = itertools.count()

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            if self._events is None:
                self._events = self._context.SimpleQueue()
                self._flags = self._context.Array("b", SLOTS, lock=False)
                self._reader = threading.Thread(target=self._read_events, args=(self._events,),
                                                name=f"{self.name}-events", daemon=True)
                self._reader.start()
            self._pool = ProcessPoolExecutor(self.processes, mp_context=self._context, initializer=_initialise,
                                             initargs=(self._events, self._flags))
        return self._pool

    def _read_events(self, events: Any) -> None:
        """In a thread: hand each payload to its task's ``on_event``, and each outcome to its future, on the task's
        event loop, in the order they were written."""
        while True:
            try:
                item = events.get()
            except (EOFError, OSError):
                return
            if item is None:
                return
            task_id, payload = item
            task = self._tasks.get(task_id)
            if task is None:
                continue
            with contextlib.suppress(RuntimeError):  # its loop has closed: nobody listens any more
                if isinstance(payload, str) and payload == SETTLED:
                    task.loop.call_soon_threadsafe(self._settle, task_id)
                elif task.on_event is not None:
                    task.loop.call_soon_threadsafe(task.on_event, payload)

    def submit(self, fn: Work, *args: Any, on_event: Callable[[Any], None] | None = None,
               cpu_limit_s: float | None = None) -> tuple[asyncio.Future[Any], Callable[[], None]]:
        """Start ``fn(checkpoint, emit, *args)`` in a worker process: its outcome (an asyncio future, on the running
        loop; :class:`WorkerDied` if its process stops) and a ``cancel()`` that makes its next checkpoint raise."""
        loop = asyncio.get_running_loop()
        task_id, slot = next(self._ids), self._free.pop()
        pool = self._executor()
        flags, events = self._flags, self._events
        flags[slot] = 0
        task = _Task(on_event, loop, loop.create_future(), slot)
        self._tasks[task_id] = task
        try:
            running = pool.submit(_run_task, task_id, slot, cpu_limit_s, fn, args)
        except (BrokenProcessPool, RuntimeError):  # a dead pool: start a new one for this task
            self._pool = None
            running = self._executor().submit(_run_task, task_id, slot, cpu_limit_s, fn, args)

        def landed(done: Any) -> None:  # in the pool's thread: after every event the task wrote
            task.done = done
            try:
                events.put((task_id, SETTLED))
            except (OSError, ValueError):  # closed: settle directly
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._settle, task_id)

        running.add_done_callback(landed)
        return task.outcome, lambda: flags.__setitem__(slot, 1)

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
        return [] if self._pool is None else list(self._pool._processes)

    def close(self) -> None:
        """Cancel every task and stop the processes."""
        if self._flags is not None:
            for slot in range(SLOTS):
                self._flags[slot] = 1
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        for task in list(self._tasks.values()):
            if not task.outcome.done():
                with contextlib.suppress(RuntimeError):
                    task.loop.call_soon_threadsafe(_cancel_outcome, task.outcome)
        self._tasks.clear()
        if self._events is not None:
            with contextlib.suppress(Exception):
                self._events.put(None)
            self._events = None


def _cancel_outcome(outcome: asyncio.Future[Any]) -> None:
    if not outcome.done():
        outcome.set_exception(Cancelled())
