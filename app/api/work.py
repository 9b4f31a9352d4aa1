"""What computations run, as ``fn(checkpoint, emit, *args)``: the same functions in a compute thread, in a process of
a :class:`app.api.processes.ProcessRunner`, or in a job worker. Module-level, so a process pool sends them by name.

``emit`` carries events back as they happen: ``("width", WidthResult)`` when a width finishes, ``("step", width,
step)`` as training goes (at most every :data:`STEP_EVERY_S`, and at each width's first step).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from app.ntk import DriftConfig, DriftResult, WidthResult, drift_experiment
from app.ntk.checks import Checkpoint

Emit = Callable[[Any], None]
STEP_EVERY_S = 0.2


def drift(checkpoint: Checkpoint, emit: Emit, config: DriftConfig) -> DriftResult:
    """The drift experiment ``config``, each width emitted as it finishes, and its training's progress."""
    last = [-STEP_EVERY_S]

    def on_step(width: int, step: int) -> None:
        now = time.monotonic()
        if step == 0 or now - last[0] >= STEP_EVERY_S:
            last[0] = now
            emit(("step", width, step))

    def on_width(width: WidthResult) -> None:
        checkpoint()
        emit(("width", width))

    return drift_experiment(config, on_width, None, checkpoint, on_step)


def call(checkpoint: Checkpoint, emit: Emit, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(checkpoint, *args)``: work that reports nothing but its result (a response body)."""
    return fn(checkpoint, *args)


def call_plain(checkpoint: Checkpoint, emit: Emit, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``: work with no checkpoints."""
    return fn(*args)
