"""Full-batch gradient descent on the mean squared error, and its infinite-width limit (docs/maths.md §4).

Loss ``L = 1/(2N) Σ_i (f(x_i) − y_i)²``. A finite network is trained step by step with
manual backprop (all seeds of one width at once, as stacked arrays); an infinitely wide
one follows a fixed kernel Θ, and its outputs are known in closed form at any time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from app.ntk.checks import Checkpoint, as_inputs, require
from app.ntk.deferred import DeferredWeights, keeps_factors
from app.ntk.kernels import empirical_ntk
from app.ntk.mlp import MLP, Array, Params, Trace, TrainingParams, forward_trace, gradient_factors, layer_scales, loss_gradient

DIVERGENCE_FACTOR = 1e6       # a loss this many times its initial value counts as diverged
SINGULAR_RTOL = 1e-7          # eigenvalues below this fraction of λ_max count as zero: above the ReLU kernel's
                              # rounding (~1e-8 relative at (anti)parallel inputs, docs/maths.md §2), below real spectra
UNLEARNABLE_NEGLIGIBLE = 1e-9  # a share of the residual in the null space below this is rounding, not signal


# --- the infinite-width prediction ---------------------------------------------------------

@dataclass(frozen=True)
class KernelPrediction:
    """Outputs of gradient descent with a fixed kernel; unpacks as ``f_train, f_test``.

    ``f_train`` is ``(N,)`` or ``(T, N)`` and ``f_test`` ``(M,)`` or ``(T, M)`` (``T`` times
    asked for). ``rank`` counts the kernel's eigenvalues above ``SINGULAR_RTOL · λ_max``;
    ``unlearnable_fraction`` is the share of ``‖y − f0‖²`` lying in its null space, which
    gradient descent never fits. ``note`` says in words what is wrong, or is ``None``.
    """

    f_train: Array
    f_test: Array
    rank: int
    unlearnable_fraction: float
    lr_limit: float
    note: str | None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.f_train, self.f_test))


def gd_mse_prediction(
    ntk_train_train: Array,
    ntk_test_train: Array,
    y_train: Array,
    t: float | Array,
    learning_rate: float,
    f0_train: float | Array = 0.0,
    f0_test: float | Array = 0.0,
    *,
    discrete: bool = False,
    ridge: float = 0.0,
) -> KernelPrediction:
    """Outputs after training time ``t`` with a fixed kernel Θ (neural-tangents' ``gradient_descent_mse``).

    With ``Θ = Θ(X, X) = U diag(λ) Uᵀ`` ``(N, N)``, ``Θ* = Θ(X*, X)`` ``(M, N)`` and τ = η t:

        f_train(t) = y + U e^{−τλ/N} Uᵀ (f0 − y)
        f_test(t)  = f0* + Θ* U diag((1 − e^{−τλ/N}) / λ) Uᵀ (y − f0)

    computed in the eigenbasis with ``expm1``; ``t = inf`` is kernel regression. With
    ``discrete=True``, ``t`` counts gradient-descent steps of size η and ``e^{−ηλt/N}`` becomes
    ``(1 − ηλ/N)^t`` — what a linearized network trained step by step does; it diverges
    above ``η_max = 2N / λ_max``. Zero eigenvalues (a singular kernel) contribute nothing
    (their limit, not ``0/0``) and are reported; ``ridge`` adds ``ridge · I`` to Θ, only
    when asked.
    """
    kernel, cross, y = _checked_kernels(ntk_train_train, ntk_test_train, y_train, "ntk")
    n = y.shape[0]
    require(math.isfinite(learning_rate) and learning_rate > 0, f"learning_rate must be positive, got {learning_rate!r}")
    require(math.isfinite(ridge) and ridge >= 0, f"ridge must be ≥ 0, got {ridge!r}")
    times = np.asarray(t, dtype=np.float64)
    require(times.ndim <= 1 and bool(np.all(times >= 0)) and not np.isnan(times).any(),
             "t must be a time ≥ 0 (or inf), or a 1-D array of them")
    require(not discrete or bool(np.all((times == np.floor(times)) | np.isinf(times))),
             "with discrete=True, t counts steps: whole numbers or inf")

    eigvals, eigvecs = np.linalg.eigh(0.5 * (kernel + kernel.T) + ridge * np.eye(n))
    lam_max = max(float(eigvals[-1]), 0.0)
    learned = eigvals > SINGULAR_RTOL * lam_max
    lam = np.where(learned, eigvals, 0.0)
    residual0 = eigvecs.T @ (y - np.broadcast_to(f0_train, (n,)))  # (N,) in the eigenbasis
    unlearnable = float(np.sum(residual0[~learned] ** 2) / max(np.sum(residual0**2), np.finfo(float).tiny))
    lr_limit = 2 * n / lam_max if lam_max > 0 else math.inf

    remaining, done = _mode_fractions(lam, times[..., None], learning_rate / n, discrete)  # (..., N) per mode
    gain = np.where(learned, done / np.where(learned, lam, 1.0), 0.0)  # (1 − e^{−τλ/N}) / λ; 0 on the null space
    with np.errstate(all="ignore"):  # diverging discrete modes are NaN by now; they must not warn on the way
        f_train = y + (remaining * -residual0) @ eigvecs.T
        f_test = np.broadcast_to(f0_test, (cross.shape[0],)) + (gain * residual0) @ (cross @ eigvecs).T
    f_train, f_test = np.where(np.isfinite(f_train), f_train, np.nan), np.where(np.isfinite(f_test), f_test, np.nan)
    note = _prediction_note(n, int(learned.sum()), unlearnable, learning_rate, lr_limit, discrete)
    return KernelPrediction(f_train=f_train, f_test=f_test, rank=int(learned.sum()), unlearnable_fraction=unlearnable,
                            lr_limit=lr_limit, note=note)


@dataclass(frozen=True)
class LearningSpeeds:
    """Which part of the targets gradient descent with a fixed kernel learns quickly, slowly, or never.

    With ``Θ(X, X) = U diag(λ) Uᵀ`` ``(N, N)`` (λ ascending) and ``c = Uᵀ y`` ``(N,)``, gradient descent on the
    squared loss from ``f0 = 0`` leaves ``e^{−ηλ_k t/N}`` of mode ``k`` after time ``t`` (each discrete step
    multiplies it by ``1 − ηλ_k/N``; :func:`gd_mse_prediction`). A mode is

    - ``never`` learned when ``λ_k ≤ SINGULAR_RTOL · λ_max`` (the kernel's null space: no step moves it);
    - ``slow`` when it is learnable but ``η λ_k T / N < 1``: after the run's ``T`` steps more than ``1/e ≈ 37 %`` of it
      is left (its time constant ``N/(ηλ_k)`` is longer than the run);
    - learned (quickly) otherwise.

    ``still_to_learn`` ``(N,)`` is the targets' projection on the slow and never-learned modes,
    ``U_S U_Sᵀ y`` (S: those modes), on the districts; ``slow_share`` and ``never_share`` are ``Σ c_k²/‖y‖²`` over
    the slow and the never-learned modes (0 for ``y = 0``). ``remaining`` ``(N,)``: the fraction of each mode left
    after ``T`` discrete steps, ``(1 − ηλ_k/N)^T`` (1 on the null space; NaN for a mode that diverges,
    ``ηλ_k/N ≥ 2``, which is neither slow nor learned); ``residual`` ``(N,)``: ``y − f_T(X) = U diag(remaining) c``,
    what the forecast from ``f0 = 0`` still misses at the districts after the run (all NaN when any mode diverges:
    such a forecast is no forecast of anything, as in ``experiments._until_diverging``).
    """

    eigenvalues: Array
    coefficients: Array
    remaining: Array
    slow: np.ndarray
    never: np.ndarray
    still_to_learn: Array
    residual: Array
    slow_share: float
    never_share: float
    steps: int
    learning_rate: float


def learning_speeds(ntk_train_train: Array, y_train: Array, learning_rate: float, steps: int) -> LearningSpeeds:
    """Split ``y`` ``(N,)`` along the eigenvectors of the fixed kernel ``Θ(X, X)`` ``(N, N)`` by how fast gradient
    descent of step ``η = learning_rate`` learns each part in ``steps`` steps (see :class:`LearningSpeeds`)."""
    kernel, _, y = _checked_kernels(ntk_train_train, np.zeros((1, np.shape(y_train)[0])), y_train, "ntk")
    n = y.shape[0]
    require(math.isfinite(learning_rate) and learning_rate > 0, f"learning_rate must be positive, got {learning_rate!r}")
    require(isinstance(steps, int) and steps >= 0, f"steps must be a whole number ≥ 0, got {steps!r}")
    eigvals, eigvecs = np.linalg.eigh(0.5 * (kernel + kernel.T))
    lam_max = max(float(eigvals[-1]), 0.0)
    never = eigvals <= SINGULAR_RTOL * lam_max
    lam = np.where(never, 0.0, eigvals)
    slow = ~never & (learning_rate * lam * steps / n < 1)
    coefficients = eigvecs.T @ y
    remaining, _ = _mode_fractions(lam, np.array([float(steps)])[:, None], learning_rate / n, True)
    diverging = learning_rate * lam / n >= 2  # |1 − ηλ/N| ≥ 1: the mode grows or oscillates, step after step
    remaining = np.where(diverging, np.nan, remaining[0])
    kept = slow | never
    energy = float(y @ y)

    def share(mask: np.ndarray) -> float:
        return float(np.sum(coefficients[mask] ** 2)) / energy if energy > 0 else 0.0

    residual = np.full(n, np.nan) if diverging.any() else eigvecs @ (remaining * coefficients)
    return LearningSpeeds(eigenvalues=eigvals, coefficients=coefficients, remaining=remaining, slow=slow, never=never,
                          still_to_learn=eigvecs[:, kept] @ coefficients[kept],
                          residual=residual,
                          slow_share=share(slow), never_share=share(never), steps=steps, learning_rate=learning_rate)


def _checked_kernels(train_train: Array, test_train: Array, y_train: Array, name: str) -> tuple[Array, Array, Array]:
    """``(K(X, X), K(X*, X), y)`` as float64 arrays shaped ``(N, N)``, ``(M, N)``, ``(N,)``, or a ``ValueError``.

    ``name`` prefixes the arguments' names in the messages (``ntk`` → ``ntk_train_train``).
    """
    kernel = np.asarray(train_train, dtype=np.float64)
    cross = np.asarray(test_train, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64)
    n = y.shape[0] if y.ndim == 1 else -1
    require(y.ndim == 1 and n >= 1, f"y_train must be shaped (N,), got {y.shape}")
    require(kernel.shape == (n, n), f"{name}_train_train must be shaped (N, N) = ({n}, {n}), got {kernel.shape}")
    require(cross.ndim == 2 and cross.shape[1] == n, f"{name}_test_train must be shaped (M, {n}), got {cross.shape}")
    require(bool(np.isfinite(kernel).all() and np.isfinite(cross).all() and np.isfinite(y).all()),
             "kernels and targets must be finite")
    require(np.allclose(kernel, kernel.T, rtol=1e-8, atol=1e-12 * np.abs(kernel).max()), f"{name}_train_train must be symmetric")
    return kernel, cross, y


@dataclass(frozen=True)
class PosteriorMean:
    """The posterior mean of a Gaussian process given exact values at the training points.

    ``mean`` ``(M,)``; ``rank`` counts the kernel's eigenvalues on the training points above
    ``SINGULAR_RTOL · λ_max``; ``unexplained_fraction`` is the share of ``‖y‖²`` in its null space,
    values the prior gives no variance (no function drawn from it takes them), which the mean
    ignores; ``note`` says so in words, or is ``None``.
    """

    mean: Array
    rank: int
    unexplained_fraction: float
    note: str | None


def gp_posterior_mean(nngp_train_train: Array, nngp_test_train: Array, y_train: Array) -> PosteriorMean:
    """Noise-free Gaussian-process regression: the posterior mean ``K(X*, X) K⁻¹ y`` of ``f ~ GP(0, K)`` given ``f(X) = y``.

    With ``K = K(X, X) = U diag(λ) Uᵀ`` ``(N, N)`` and ``K* = K(X*, X)`` ``(M, N)``:

        mean = K* U diag(1/λ) Uᵀ y        (M,)

    computed in the eigenbasis. A singular ``K`` (docs/maths.md §4, §8: bias-free ReLU and erf
    kernels on the ring) is not regularized: eigenvalues below ``SINGULAR_RTOL · λ_max`` are
    taken as zero and their part of ``y`` is left out (the pseudo-inverse: the limit of a ridge
    going to zero), and the result says how much of ``y`` that was. For the NNGP kernel this is
    the Bayesian answer of an infinitely wide network (Lee et al. 2018), docs/maths.md §8.
    """
    kernel, cross, y = _checked_kernels(nngp_train_train, nngp_test_train, y_train, "nngp")
    eigvals, eigvecs = np.linalg.eigh(0.5 * (kernel + kernel.T))
    kept = eigvals > SINGULAR_RTOL * max(float(eigvals[-1]), 0.0)
    y_modes = eigvecs.T @ y  # (N,)
    unexplained = float(np.sum(y_modes[~kept] ** 2) / max(float(np.sum(y_modes**2)), np.finfo(float).tiny))
    weights = np.where(kept, y_modes / np.where(kept, eigvals, 1.0), 0.0)  # K⁺ y in the eigenbasis
    mean = (cross @ eigvecs) @ weights
    rank, n = int(kept.sum()), y.shape[0]
    note = None
    if rank < n and unexplained > UNLEARNABLE_NEGLIGIBLE:
        note = (f"the kernel is singular on the training points (rank {rank} of {n}): {unexplained:.0%} of the targets' squared "
                f"norm lies in directions the prior gives no variance, and the posterior mean leaves that part out "
                f"(a noise term would regularize it)")
    elif rank < n:
        note = f"the kernel is singular on the training points (rank {rank} of {n}), but the targets lie in its range"
    return PosteriorMean(mean=mean, rank=rank, unexplained_fraction=unexplained, note=note)


def _mode_fractions(lam: Array, times: Array, rate: float, discrete: bool) -> tuple[Array, Array]:
    """Per eigen-mode, the fraction of the residual left after ``times`` and the fraction fitted (their sum is 1).

    Gradient flow: ``e^{−rate·λ·t}`` and ``−expm1(−rate·λ·t)`` (exact for small arguments); ``t = inf``
    leaves nothing of a mode with λ > 0, whatever the rate. Discrete steps: the factor
    ``q = 1 − rate·λ`` per step gives ``q^t`` left and ``−expm1(t·log1p(−rate·λ))`` fitted while
    ``q > 0``. A mode with ``|q| ≥ 1`` (λ > 0) grows or oscillates: NaN, at every time where it has
    not stayed finite and at ``t = inf`` (even ``q = −1``, which oscillates forever, has no limit).
    Stability is decided on ``rate·λ`` itself (``0 < rate·λ < 2``), not on ``q``: for ``rate·λ`` below
    ~1e-16, ``q`` rounds to exactly 1, yet the mode still converges, only slowly.
    """
    infinite = np.isinf(times)
    finite_times = np.where(infinite, 0.0, times)
    with np.errstate(all="ignore"):
        if not discrete:
            exponent = np.where(infinite, np.where(lam > 0, -np.inf, 0.0), -rate * lam * finite_times)
            return np.exp(exponent), -np.expm1(exponent)
        factor = 1 - rate * lam
        stable = (rate * lam > 0) & (rate * lam < 2)
        log_factor = np.log1p(-rate * lam)  # defined where factor > 0
        smooth = factor > 0
        remaining = np.where(smooth, np.exp(finite_times * log_factor), factor**finite_times)
        done = np.where(smooth, -np.expm1(finite_times * log_factor), 1 - remaining)
        at_infinity = np.where(lam == 0, 0.0, np.where(stable, 1.0, np.nan))  # fraction fitted as t → ∞
        done = np.where(infinite, at_infinity, done)
        remaining = np.where(infinite, 1 - at_infinity, remaining)
    bad = ~np.isfinite(remaining) | ~np.isfinite(done)
    return np.where(bad, np.nan, remaining), np.where(bad, np.nan, done)


def _prediction_note(n: int, rank: int, unlearnable: float, lr: float, lr_limit: float, discrete: bool) -> str | None:
    notes = []
    if rank < n and unlearnable > UNLEARNABLE_NEGLIGIBLE:
        notes.append(f"the kernel is singular (rank {rank} of {n}): {unlearnable:.0%} of what is left to fit lies in "
                     f"directions gradient descent cannot move, and that part is never fitted (a ridge would regularize it)")
    elif rank < n:
        notes.append(f"the kernel is singular (rank {rank} of {n}), but the target lies in the directions it can fit")
    if discrete and lr >= lr_limit:
        notes.append(f"learning rate {lr:g} is above 2N/λ_max ≈ {lr_limit:.3g}: discrete gradient descent diverges")
    return "; ".join(notes) or None


# --- training a finite network ---------------------------------------------------------------

@dataclass(frozen=True)
class TrainingHistory:
    """What one run of :func:`train` produced, for ``S`` stacked networks.

    ``loss`` ``(S, steps + 1)`` (NaN after a network diverged), ``diverged_at`` ``(S,)``
    (the first step whose loss exploded, −1 if none), ``reasons`` a plain-words cause per
    network (``None`` if it did not diverge), ``lr_limit`` ``(S,)`` ``2N/λ_max`` at init. ``residuals``
    ``(S, steps + 1, N)``: ``f_α(x_i) − y_i`` at every step (NaN from a network's divergence on), only when
    ``train(..., keep_residuals=True)`` (else None): what the spectral-bias experiment projects on the ring's
    Fourier modes (app/ntk/spectrum.py).
    """

    loss: Array
    diverged_at: np.ndarray
    reasons: tuple[str | None, ...]
    lr_limit: Array
    residuals: Array | None = None


SnapshotFn = Callable[[int, Params], None]  # called as on_snapshot(step, stacked params)


def train(
    mlp: MLP,
    params: Params,
    x: Array,
    y: Array,
    *,
    learning_rate: float,
    steps: int,
    snapshot_steps: tuple[int, ...] = (),
    on_snapshot: SnapshotFn | None = None,
    checkpoint: Checkpoint | None = None,
    keep_residuals: bool = False,
) -> TrainingHistory:
    """Full-batch gradient descent on ``L(f_α) / α²`` for stacked networks (params with a leading axis S).

    Each step, for every network at once: ``r = f_α(X) − y`` ``(S, N)``, then
    ``θ ← θ − η_p · (1/(αN)) Σ_i r_i ∂f(x_i)/∂θ`` (``η_p`` the per-layer learning rates).
    ``on_snapshot(step, params)`` is called with (a copy of) the parameters *before* the update of
    each step in ``snapshot_steps`` (step ``steps`` is after the last update). A network whose loss
    becomes non-finite or exceeds ``DIVERGENCE_FACTOR`` × its initial loss is frozen at its
    last good parameters, its later losses are NaN and the reason is recorded.
    ``checkpoint()`` is called before every step; it may raise to abandon the training (the API
    cancels the computations nobody waits for any more this way). ``keep_residuals``: also return the residual
    ``f_α(X) − y`` of every step (``TrainingHistory.residuals``), the one the step is computed from.

    Hidden-to-hidden matrices at least ``DEFERRED_MIN_WIDTH`` wide (``keeps_factors``) keep their steps as low-rank
    factors, folded in every few steps (:mod:`app.ntk.deferred`): the same arithmetic up to rounding, without reading and writing
    each matrix once more per step.
    """
    x = as_inputs(x)
    y = np.asarray(y, dtype=np.float64)
    require(y.shape == (x.shape[0],), f"targets must be shaped (N,) = ({x.shape[0]},), got {y.shape}")
    require(math.isfinite(learning_rate) and learning_rate > 0, f"learning_rate must be positive, got {learning_rate!r}")
    require(isinstance(steps, int) and steps >= 0, f"steps must be a whole number ≥ 0, got {steps!r}")
    require(all(0 <= k <= steps for k in snapshot_steps), f"snapshot steps must lie in 0..{steps}")
    require(all(W.ndim == 3 for W, _ in params),
             "train() takes stacked networks (weights shaped (S, fan_in, fan_out)): use stack_params([params])")
    rates = [(s.w_lr, s.b_lr) for s in layer_scales(mlp, x.shape[1])]  # relative to learning_rate
    lam_max = np.linalg.eigvalsh(empirical_ntk(mlp, params, x))[:, -1]  # (S,)
    lr_limit = np.divide(2 * x.shape[0], lam_max, out=np.full_like(lam_max, np.inf), where=lam_max > 0)
    dtype = params[0][0].dtype  # the products' and the weights'; the residual and the loss stay float64
    x = x.astype(dtype, copy=False)
    f0 = forward_trace(mlp, params, x).output  # (S, N)
    offset = (1 - mlp.alpha) * f0 - y  # so that f_α − y = α f + offset
    step_size = learning_rate / (mlp.alpha * x.shape[0])  # θ ← θ − step_size · rate_p · Σ_i r_i ∂f(x_i)/∂θ
    loss = np.empty((f0.shape[0], steps + 1))
    residuals = np.empty((f0.shape[0], steps + 1, x.shape[0])) if keep_residuals else None
    ceiling = np.full(f0.shape[0], np.inf)  # set after step 0
    diverged_at = np.full(f0.shape[0], -1)
    alive = np.ones(f0.shape[0], dtype=bool)
    all_alive = True
    current = _deferring(params, x.shape[0])
    previous = current
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected from the loss, not warnings
        for step in range(steps + 1):
            if checkpoint is not None:
                checkpoint()
            if all_alive or alive.any():
                trace = forward_trace(mlp, current, x)
                residual = trace.output + offset if mlp.alpha == 1 else mlp.alpha * trace.output + offset  # (S, N)
                loss[:, step] = np.einsum("sn,sn->s", residual, residual) / (2 * x.shape[0])
                if residuals is not None:
                    residuals[:, step] = residual
                if not ((loss[:, step] <= ceiling) & np.isfinite(loss[:, step])).all():  # NaN and inf too
                    exploded = alive & ~((loss[:, step] <= ceiling) & np.isfinite(loss[:, step]))
                    alive &= ~exploded
                    all_alive = False
                    diverged_at[exploded] = step
                    current = _keep(current, previous, exploded)
                if step == 0:
                    ceiling = DIVERGENCE_FACTOR * np.maximum(np.nan_to_num(loss[:, 0]), 1e-300)
            if on_snapshot is not None and step in snapshot_steps:
                on_snapshot(step, _materialized(current))
            if step < steps and (all_alive or alive.any()):
                kept = residual if all_alive else np.where(alive[:, None], residual, 0.0)
                cotangent = (step_size * kept).astype(dtype, copy=False)
                previous = current
                current = _gradient_step(current, trace, cotangent, rates)
                if not all_alive:
                    current = _keep(current, previous, ~alive)  # frozen networks stay as they were
    for k, step in enumerate(diverged_at):
        if step >= 0:
            loss[k, step:] = np.nan
            if residuals is not None:
                residuals[k, step:] = np.nan
    reasons = tuple(None if k < 0 else _divergence_reason(learning_rate, float(limit), int(k))
                    for k, limit in zip(diverged_at, lr_limit, strict=True))
    return TrainingHistory(loss=loss, diverged_at=diverged_at, reasons=reasons, lr_limit=lr_limit, residuals=residuals)


def _deferring(params: Params, points: int) -> TrainingParams:
    """``params`` with the matrices :func:`~app.ntk.deferred.keeps_factors` names as :class:`DeferredWeights` (their
    steps kept as factors; private copies, so the caller's arrays are never written)."""
    return [(DeferredWeights(W) if keeps_factors(W.shape[-2], W.shape[-1], points) else W, b) for W, b in params]


def _gradient_step(params: TrainingParams, trace: Trace, cotangent: Array, rates: list[tuple[float, float]]) -> TrainingParams:
    """``θ − rate · Σ_i g_i ∂f(x_i)/∂θ`` for every layer (``rates`` per layer, for W and b); deferred matrices take the
    step in place, as factors, and the others are new arrays (so parameters handed out before are never changed)."""
    if len(params) == 2:  # one hidden layer: no matrix is wide on both sides, and loss_gradient has a fast path
        plain = cast(Params, params)
        grads = loss_gradient(plain, trace, cotangent)
        return [(W - (gW if w_rate == 1 else w_rate * gW), b - (gb if b_rate == 1 else b_rate * gb))
                for (W, b), (gW, gb), (w_rate, b_rate) in zip(plain, grads, rates, strict=True)]
    stepped: list[tuple[Array | DeferredWeights, Array]] = []
    for (W, b), (scale, a, delta, gb), (w_rate, b_rate) in zip(params, gradient_factors(params, trace, cotangent), rates,
                                                              strict=True):
        if isinstance(W, DeferredWeights):
            W.subtract((w_rate * scale.w_mult) * a, delta)
        else:
            W = W - (w_rate * scale.w_mult) * (np.swapaxes(a, -1, -2) @ delta)
        stepped.append((W, b - b_rate * gb))
    return stepped


def _materialized(params: TrainingParams) -> Params:
    """``params`` as plain arrays that stay as they are while training goes on."""
    return [(W.materialized() if isinstance(W, DeferredWeights) else W, b) for W, b in params]


def _divergence_reason(learning_rate: float, lr_limit: float, step: int) -> str:
    if learning_rate > lr_limit:
        return (f"learning rate {learning_rate:g} is above 2N/λ_max ≈ {lr_limit:.3g} for this width, "
                f"so gradient descent overshoots and the loss exploded at step {step}")
    return (f"the loss exploded at step {step} although learning rate {learning_rate:g} was below "
            f"2N/λ_max ≈ {lr_limit:.3g} at initialization: the kernel grew during training")


def _keep(params: TrainingParams, previous: TrainingParams, which: np.ndarray) -> TrainingParams:
    """``params`` with the networks marked in ``which`` ``(S,)`` taken from ``previous`` instead (a deferred matrix, the
    same object in both, takes its latest step back for them)."""
    kept: list[tuple[Array | DeferredWeights, Array]] = []
    for (W, b), (Wp, bp) in zip(params, previous, strict=True):
        if isinstance(W, DeferredWeights):
            W.undo_last(which)
        else:
            W = np.where(which[:, None, None], cast(Array, Wp), W)
        kept.append((W, np.where(which[:, None], bp, b)))
    return kept
