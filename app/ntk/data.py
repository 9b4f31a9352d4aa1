"""The ring road: districts on the unit circle, what the network must learn there, and a plotting grid.

District i of N sits at angle ``γ_i = −π + 2π i / N``, at ``x_i = (cos γ_i, sin γ_i)``; the
evaluation grid uses the same formula with more points, so when N divides the grid size
every district lies on the grid (``γ = 0``, the point (1, 0), always does for even sizes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.ntk.checks import require
from app.ntk.mlp import Array

TARGETS = ("sin", "cos", "xy", "bump", "step", "values", "drawn")
BUMP_WIDTH = 0.5  # radians: the bump is exp(−(1 − cos γ) / w²), ≈ a Gaussian of std w near γ = 0


def ring_angles(count: int) -> Array:
    """``count`` equispaced angles ``γ_i = −π + 2π i / count`` in ``[−π, π)``: ``(count,)``."""
    require(isinstance(count, int) and count >= 1, f"the number of points on the ring must be a positive integer, got {count!r}")
    return -math.pi + 2 * math.pi * np.arange(count) / count


def ring_points(gamma: Array) -> Array:
    """Points on the unit circle, ``(cos γ, sin γ)``: ``(N,)`` → ``(N, 2)``."""
    return np.stack([np.cos(gamma), np.sin(gamma)], axis=-1)


def drawn_curve(knots: Array, gamma: Array) -> Array:
    """A drawn function on the ring at angles ``γ`` ``(M,)`` → ``(M,)``, from its ``K`` knots ``(K,)``.

    Knot ``j`` is the value at ``κ_j = −π + 2π j / K`` (:func:`ring_angles`: the knots are spaced like districts);
    between two neighbouring knots the curve is the straight line joining them, and the ring closes: after the last
    knot (at ``π − 2π/K``) the line runs back to the first (at ``−π ≡ π``). So with ``u = (γ + π) K / 2π`` and
    ``j = ⌊u⌋ mod K``, ``f(γ) = (1 − s) y_j + s y_{(j+1) mod K}`` with ``s = u − ⌊u⌋``: a continuous, 2π-periodic,
    piecewise-linear curve through every knot, which never leaves the range of the knots (no overshoot). It is what
    the page draws between the knots (a polyline), so the target the networks learn is the drawn curve, whatever the
    number of districts.
    """
    y = np.asarray(knots, dtype=np.float64)
    require(y.ndim == 1 and y.shape[0] >= 1, f"a drawing needs one or more knots, got shape {y.shape}")
    require(bool(np.isfinite(y).all()), "the drawing's knots must be finite numbers")
    angles = np.asarray(gamma, dtype=np.float64)
    require(bool(np.isfinite(angles).all()), "angles must be finite")
    count = y.shape[0]
    u = (angles + math.pi) * count / (2 * math.pi)
    below = np.floor(u)
    s = u - below
    j = below.astype(np.int64) % count
    return np.asarray((1 - s) * y[j] + s * y[(j + 1) % count])


def target_values(kind: str, gamma: Array, *, frequency: int = 1, values: Array | None = None,
                  drawing: Array | None = None) -> Array:
    """The target function at angles ``γ`` ``(N,)`` → ``(N,)``.

    ``sin``/``cos``: ``sin kγ``/``cos kγ`` with ``k = frequency``; ``xy``: ``x₁x₂ = cos γ sin γ``
    (Jacot et al.'s target); ``bump``: ``exp(−(1 − cos γ)/w²)``, one district lit up;
    ``step``: +1 on the half of the ring facing (1, 0), −1 on the other; ``values``: the
    caller's own numbers, one per district (so only at the districts: not a function on the ring);
    ``drawn``: a curve drawn on the ring, given by its knots (:func:`drawn_curve`), a function of the angle
    that any number of districts samples.
    """
    require(kind in TARGETS, f"target must be one of {TARGETS}, got {kind!r}")
    require(isinstance(frequency, int) and frequency >= 0, f"frequency must be a whole number ≥ 0, got {frequency!r}")
    require((kind == "drawn") == (drawing is not None), "a drawing is given exactly with target 'drawn'")
    if kind == "drawn":
        assert drawing is not None
        return drawn_curve(drawing, gamma)
    if kind == "values":
        require(values is not None, "target 'values' needs the values, one per district")
        given = np.asarray(values, dtype=np.float64)
        require(given.shape == gamma.shape,
                 f"target 'values' needs {gamma.shape[0]} values (one per district), got {given.shape}")
        require(bool(np.isfinite(given).all()), "target values must be finite numbers")
        return given.copy()
    require(values is None, f"values are only used with target 'values', not {kind!r}")
    if kind == "sin":
        return np.sin(frequency * gamma)
    if kind == "cos":
        return np.cos(frequency * gamma)
    if kind == "xy":
        return np.cos(gamma) * np.sin(gamma)
    if kind == "bump":
        return np.exp(-(1 - np.cos(gamma)) / BUMP_WIDTH**2)
    return np.where(np.abs(gamma) < math.pi / 2, 1.0, -1.0)


@dataclass(frozen=True)
class RingTask:
    """A training set of districts and a dense grid: ``gamma_*`` ``(N,)``/``(G,)``, ``x_*`` ``(N, 2)``/``(G, 2)``;
    ``target_grid`` ``(G,)``: the target function on the grid, without noise (None for ``values``, which has numbers
    at the districts only)."""

    gamma_train: Array
    x_train: Array
    y_train: Array
    gamma_grid: Array
    x_grid: Array
    target_grid: Array | None = None


def ring_task(
    districts: int,
    grid: int,
    target: str = "sin",
    *,
    frequency: int = 1,
    values: Array | None = None,
    drawing: Array | None = None,
    noise: float = 0.0,
    rng: np.random.Generator | None = None,
) -> RingTask:
    """Districts with (optionally noisy) targets, and a grid of ``grid`` points to draw functions and kernels on.

    ``noise`` is the standard deviation of Gaussian noise added to the targets; it needs ``rng``.
    """
    require(math.isfinite(noise) and noise >= 0, f"noise must be a finite number ≥ 0, got {noise!r}")
    require(noise == 0 or rng is not None, "noisy targets need a random generator (rng)")
    gamma_train = ring_angles(districts)
    y = target_values(target, gamma_train, frequency=frequency, values=values, drawing=drawing)
    if noise > 0 and rng is not None:
        y = y + noise * rng.standard_normal(y.shape)
    gamma_grid = ring_angles(grid)
    target_grid = None if target == "values" else target_values(target, gamma_grid, frequency=frequency,
                                                                  drawing=drawing)
    return RingTask(gamma_train=gamma_train, x_train=ring_points(gamma_train), y_train=y, gamma_grid=gamma_grid,
                    x_grid=ring_points(gamma_grid), target_grid=target_grid)
