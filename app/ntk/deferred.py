"""Wide weight matrices whose recent gradient steps are kept as low-rank factors, folded in every few steps.

One full-batch step on ``N`` points changes a hidden weight matrix by a product of rank ≤ N:
``ΔW = −(rate · w_mult · a)ᵀ δ̃``, with ``a`` ``(S, N, fan_in)`` the layer's inputs and ``δ̃`` ``(S, N, fan_out)``
its back-propagated residuals. Forming ``ΔW`` and subtracting it reads and writes the whole matrix every step,
on top of the two reads the forward and backward products need. :class:`DeferredWeights` keeps the steps as
factors instead,

    W = base − Σ_k P_kᵀ Q_k        (P_k ``(S, N, fan_in)``, Q_k ``(S, N, fan_out)``, the last few steps)

and multiplies through them (``a @ W = a @ base − (a @ Pᵀ) @ Q``: thin products of ``N`` rows). When the
factors fill their capacity they are folded into ``base`` in place by one BLAS ``gemm`` with β = 1, which reads
and writes ``base`` once for many steps. The arithmetic is the same up to rounding (the products are
re-associated); ``benchmarks/training.py`` measures what it saves, ``tests/ntk/test_deferred.py`` that it
changes nothing else.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.blas import get_blas_funcs

from app.ntk.checks import require

Array = NDArray[np.float64]

DEFAULT_CAPACITY = 64  # rows of factors kept before folding: 8 steps on 8 districts (benchmarks/training.py)
DEFERRED_MIN_WIDTH = 512  # matrices this wide on both sides keep their steps as factors (benchmarks/training.py)


def keeps_factors(fan_in: int, fan_out: int, points: int) -> bool:
    """Whether training on ``points`` inputs keeps the steps of a ``(fan_in, fan_out)`` matrix as factors: one at least
    ``DEFERRED_MIN_WIDTH`` wide on both sides (a hidden-to-hidden matrix), when a few steps fit in the capacity. The
    one rule ``train`` and the cost model (``app/ntk/cost.py``) both follow."""
    return min(fan_in, fan_out) >= DEFERRED_MIN_WIDTH and 2 * points <= DEFAULT_CAPACITY


class DeferredWeights:
    """Stacked weights ``W`` ``(S, fan_in, fan_out)`` as ``base − Pᵀ Q`` with the recent steps' factors pending.

    ``base`` is a private copy: the array it starts from is never written. ``shape`` is ``W``'s.
    """

    def __init__(self, weights: Array, capacity: int = DEFAULT_CAPACITY) -> None:
        require(weights.ndim == 3, f"deferred weights are stacked matrices (S, fan_in, fan_out), got {weights.shape}")
        stacks, fan_in, fan_out = weights.shape
        self.base = np.array(weights, order="C")
        self.left = np.zeros((stacks, capacity, fan_in), dtype=weights.dtype)   # P: rows of the steps' inputs
        self.right = np.zeros((stacks, capacity, fan_out), dtype=weights.dtype)  # Q: rows of the steps' δ̃
        self.used = 0        # rows of P and Q in use
        self.last_rows = 0   # how many of them the most recent step added (see undo_last)
        self.shape = weights.shape

    def times(self, a: Array) -> Array:
        """``a @ W``: ``(S, M, fan_in)`` → ``(S, M, fan_out)``."""
        product: Array = a @ self.base
        if self.used:
            pending = slice(0, self.used)
            product -= (a @ np.swapaxes(self.left[:, pending], -1, -2)) @ self.right[:, pending]
        return product

    def times_transposed(self, d: Array) -> Array:
        """``d @ Wᵀ``: ``(S, M, fan_out)`` → ``(S, M, fan_in)``."""
        product: Array = d @ np.swapaxes(self.base, -1, -2)
        if self.used:
            pending = slice(0, self.used)
            product -= (d @ np.swapaxes(self.right[:, pending], -1, -2)) @ self.left[:, pending]
        return product

    def subtract(self, p: Array, q: Array) -> None:
        """``W ← W − pᵀ q`` for ``p`` ``(S, N, fan_in)`` and ``q`` ``(S, N, fan_out)``: one gradient step, kept as factors
        (the pending ones are folded in first if there is no room left)."""
        rows = p.shape[-2]
        require(p.shape[-1] == self.shape[1] and q.shape[-1] == self.shape[2] and q.shape[-2] == rows,
                f"factors must be shaped (S, N, {self.shape[1]}) and (S, N, {self.shape[2]}), got {p.shape} and {q.shape}")
        require(rows <= self.left.shape[1], f"a step of {rows} rows does not fit in {self.left.shape[1]} rows of factors")
        if self.used + rows > self.left.shape[1]:
            self.fold()
        self.left[:, self.used:self.used + rows] = p
        self.right[:, self.used:self.used + rows] = q
        self.used += rows
        self.last_rows = rows

    def undo_last(self, which: Array) -> None:
        """Take the most recent :meth:`subtract` back for the stacked networks marked in ``which`` ``(S,)`` bool.

        Exact: its factors are still pending (a fold happens before a step is added, never after), and zeroing
        them gives those networks their previous weights. After a fold no step is pending, and nothing is taken back."""
        latest = slice(self.used - self.last_rows, self.used)
        self.left[which, latest] = 0.0
        self.right[which, latest] = 0.0  # both: a diverged network's factors may hold inf or NaN, and 0 · NaN is NaN

    def fold(self) -> None:
        """``base ← base − Pᵀ Q`` in place (one ``gemm`` per stacked matrix, β = 1), leaving no factor pending."""
        if self.used:
            gemm = get_blas_funcs("gemm", (self.base,))
            for k in range(self.base.shape[0]):
                # base[k] is C-ordered, so base[k]ᵀ is Fortran-ordered and gemm writes it in place: baseᵀ ← baseᵀ − Qᵀ P.
                target = self.base[k].T
                written = gemm(-1.0, self.right[k, :self.used].T, self.left[k, :self.used].T, beta=1.0, c=target,
                               trans_b=1, overwrite_c=1)
                if not np.shares_memory(written, target):  # BLAS had to copy (an unexpected layout): keep its result
                    target[...] = written
        self.used = 0
        self.last_rows = 0

    def materialized(self) -> Array:
        """``W`` as a new array (the factors folded in first)."""
        self.fold()
        return self.base.copy()
