"""The maths core's checks: how it refuses bad input (``ValueError`` saying what and why, never clamping), and how
long work lets its caller stop it (a :data:`Checkpoint`)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Checkpoint = Callable[[], None]  # called between the steps of long work (training steps, kernel blocks); raises to abandon it


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``: the core's one way to refuse input."""
    if not condition:
        raise ValueError(message)


def as_inputs(x: NDArray[np.float64] | list[list[float]]) -> NDArray[np.float64]:
    """Points as a float64 array shaped ``(N, d)`` with ``N, d ≥ 1`` and every entry finite, or ``ValueError``."""
    points = np.asarray(x, dtype=np.float64)
    require(points.ndim == 2 and points.shape[0] >= 1 and points.shape[1] >= 1,
            f"inputs must be shaped (N, d) with N, d ≥ 1, got {points.shape}")
    require(bool(np.isfinite(points).all()), "inputs must be finite numbers (no NaN or inf)")
    return points
