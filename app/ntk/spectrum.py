"""What the kernel learns first: the infinite-width kernels' spectrum on the ring, and training frequency by frequency.

**The spectrum on the ring** (docs/maths.md §8). On ``M`` equispaced points ``γ_j = −π + 2πj/M`` a rotation-invariant
kernel ``K(γ, γ') = k(γ − γ')`` is a circulant matrix: row ``i`` is row 0 shifted by ``i``. Its eigenvectors are the
Fourier modes ``cos kγ``, ``sin kγ`` and its eigenvalues the discrete Fourier coefficients of its first row
``c_j = k(γ_0 − γ_j)``::

    λ_k = Σ_j c_j e^{−2πi jk/M} = Σ_j c_j cos(2πjk/M),    k = 0 … ⌊M/2⌋

(real, because ``k`` is even: ``c_j = c_{M−j}``), each twice for ``0 < k < M/2`` (the cos and the sin mode) and once
for ``k = 0`` and ``k = M/2``. Two normalisations, both used:

- ``λ_k``, the eigenvalue of the ``M × M`` matrix ``K(X, X)``: what enters the training dynamics of ``M`` points,
  ``e^{−ηλ_k t/M}`` (docs/maths.md §4);
- ``μ_k = λ_k / M``, the eigenvalue per point: for ``k`` well below ``M/2`` it is the eigenvalue of the kernel's
  integral operator ``(1/2π)∫ k(γ − γ') g(γ') dγ'`` on ``cos kγ`` (a Riemann sum of it, exact up to aliasing: the
  discrete ``μ_k`` is the sum of the operator's ``μ_{k + mM}`` over all ``m``), so it does not depend on ``M``; the
  fitted decays below are measured on it, over ``k ≤ M/16`` where aliasing adds under 1 % for a ``k⁻²`` decay.

**Zero to rounding.** A mode is reported as zero when ``|λ_k| ≤ ZERO_RTOL · λ_max`` (:data:`ZERO_RTOL`). Its
justification: each ``λ_k`` is a sum of ``M`` entries each computed to a few ulp, so its rounding error is at most
about ``M · ε · c_0`` (``ε = 2.2e-16``), and ``c_0 ≤ λ_max`` (the trace ``M c_0`` is the sum of the eigenvalues); for
``M ≤ 4096`` that is below ``1e-12 · λ_max``. Exact zeros then read as zero (a one-hidden-layer ReLU kernel without
biases has ``λ_k = 0`` for odd ``k ≥ 3``; an erf kernel without biases is odd, so its even modes vanish), but so do the
modes of a smooth kernel whose eigenvalues fall below what float64 can resolve: an erf kernel's decay geometrically
and pass ``1e-12 · λ_max`` near ``k ≈ 20`` (measured). The threshold is a statement about float64, not about the
kernel: a mode below it is one gradient descent would need more than ``10¹²`` times the fastest mode's time to fit.

The kernel row is computed with the first point against all (``O(M)`` entries, not ``O(M²)``), its entry ``c_0``
from the point with itself, where :func:`~app.ntk.kernels.analytic_kernels` sets the variance exactly: computed
between two copies of the same point, ``x·x`` and ``|x|²`` may round apart and put ``θ`` at ~1e-8 (docs/maths.md §2),
which would lift every zero to ~1e-8 (for the ring's first point they happen to agree; the guard costs one entry).
The antipodal entry is exact too: ``x_0 = (−1, −1.2e-16)`` and ``x_{M/2} = (1, 0)`` have ``x·x' = −1`` exactly, so
``θ = π``.

**Measured decay** (:func:`fit_decay`). Over ``k ∈ FIT_RANGE`` the nonzero modes of one parity (even and odd ``k``
apart: where one parity vanishes, or decays at another rate, a joint fit would mix them) are fitted two ways by least
squares, a power law ``log μ_k = a + p log k`` and a geometric law ``log μ_k = a − k log r``, and the law with the
smaller residual is reported: ReLU kernels follow a power law (one hidden layer: ``p ≈ −2`` for the NTK, ``−4`` for the
NNGP, Bietti & Mairal 2019; measured here at every depth), erf kernels a geometric one (their profile is analytic
in ``cos(γ − γ')``), whose slope on log–log axes grows without bound, so no exponent describes it.

**Training frequency by frequency** (:func:`spectral_bias`). Networks trained on ``N`` districts with a target made of
several frequencies: the residual ``r_t = f_t(X) − y`` is projected on each target frequency's pair of Fourier
modes, ``A_k(t) = (2/N)|Σ_i r_t(γ_i) e^{−ikγ_i}|`` (the amplitude of ``cos(kγ + φ)`` in ``r_t``: 1 for ``cos kγ``),
and compared with the fixed analytic kernel's forecast for discrete steps (docs/maths.md §4, §8)::

    A_k(t) = |1 − ηλ_k/N|^t · A_k(0)

exact for the infinite-width network, whose kernel Θ(X, X) is the circulant above with both modes of the pair at
``λ_k``; a finite network's kernel is only close to circulant at init and moves as it trains (§5), and the
comparison shows where that matters: measured, the frequencies fitted within a few dozen steps follow the forecast
within a few hundredths at 4096 lanes, while the slow ones, which train longest, drift from it (ReLU: slower;
erf: faster), less on wider roads. The learning rate is a fraction of the analytic kernel's stable limit,
``η = lr_fraction · 2N/λ_max``, so every architecture trains stably and the time to fit frequency ``k`` is a ratio
of eigenvalues: ``N/(ηλ_k) = λ_max / (2 lr_fraction λ_k)`` steps (gradient flow).

Shapes: ``M`` points on the ring, ``K = ⌊M/2⌋ + 1`` frequencies, ``N`` districts, ``F`` target frequencies, ``S``
seeds, ``T`` steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from app.ntk.checks import Checkpoint, require
from app.ntk.data import ring_angles, ring_points
from app.ntk.kernels import analytic_kernels
from app.ntk.mlp import MAX_DEPTH, MLP, Array, init_params, stack_params
from app.ntk.training import train

SPECTRUM_POINTS = 1024     # M: frequencies up to 512; the fit range stays ≤ M/16
FIT_RANGE = (8, 64)        # k over which the decay is fitted: past the first few modes, below aliasing (M/16)
MIN_FIT_POINTS = 3         # nonzero modes of a parity in FIT_RANGE needed for a fit
ZERO_RTOL = 1e-12          # |λ_k| ≤ ZERO_RTOL · λ_max is zero to rounding (module docstring: M ε c_0 ≤ 1e-12 λ_max)
MAX_SPECTRUM_POINTS = 4096  # where M ε stays below ZERO_RTOL
PROFILE_POINTS = 64        # the kernel's profile k(Δγ) is returned at Δγ = 2πj/64 (the ring heatmaps use it)
FIT_FRACTION = math.exp(-1)  # a frequency counts as fitted once its residual is down to 1/e of its start
BIAS_FREQUENCIES = (1, 2, 4, 8)  # the spectral-bias target: cos γ + cos 2γ + cos 4γ + cos 8γ (each doubling: ~4× slower
                                 # for a k⁻² spectrum; none of them a blind spot of the bias-free one-layer ReLU kernel)
BIAS_WIDTHS = {1: (32, 2048), 2: (32, 512), 3: (32, 256), 4: (32, 256)}  # narrow and wide, by depth: the widest
                                 # whose training fits the interactive budget (app/ntk/cost.py) with the defaults below


@dataclass(frozen=True)
class DecayFit:
    """A straight-line fit of ``log μ_k`` over the nonzero modes of one parity in ``[k_min, k_max]``.

    ``law``: ``power`` (``μ_k ≈ e^a k^slope``) or ``geometric`` (``μ_k ≈ e^a e^{slope·k}``, each frequency
    ``e^{−slope}`` times smaller than the one below), whichever has the smaller ``rms`` (root mean square of the
    residuals of ``log μ_k``); ``other_rms`` is the other law's. ``stderr``: the slope's standard error.
    """

    parity: str
    law: str
    slope: float
    stderr: float
    intercept: float
    rms: float
    other_rms: float
    k_min: int
    k_max: int
    points: int


@dataclass(frozen=True)
class KernelSpectrum:
    """One kernel on ``M`` ring points: ``eigenvalues`` ``(K,)`` ``λ_k`` of the ``M × M`` matrix, ``per_point``
    ``(K,)`` ``μ_k = λ_k/M``, ``zero`` ``(K,)`` ``|λ_k| ≤ ZERO_RTOL · λ_max``, ``fits`` (even and odd ``k``, each when
    it has :data:`MIN_FIT_POINTS` nonzero modes in :data:`FIT_RANGE`), ``profile`` ``(P,)`` ``k(2πj/P)``."""

    eigenvalues: Array
    per_point: Array
    zero: np.ndarray
    fits: tuple[DecayFit, ...]
    profile: Array


@dataclass(frozen=True)
class RingSpectrum:
    """Both infinite-width kernels of ``mlp`` on ``points`` ring points: ``frequencies`` ``(K,)`` ``0 … ⌊M/2⌋``,
    ``multiplicity`` ``(K,)`` (2, or 1 for ``k = 0`` and ``k = M/2``), ``profile_angles`` ``(P,)`` ``2πj/P``."""

    mlp: MLP
    points: int
    frequencies: np.ndarray
    multiplicity: np.ndarray
    profile_angles: Array
    ntk: KernelSpectrum
    nngp: KernelSpectrum


def circulant_eigenvalues(row: Array) -> Array:
    """The eigenvalues ``λ_k`` ``(⌊M/2⌋ + 1,)`` of the symmetric circulant matrix with first row ``row`` ``(M,)``.

    ``λ_k = Re Σ_j c_j e^{−2πi jk/M}``: the DFT of the row's even part (the row of a symmetric circulant is even,
    ``c_j = c_{M−j}``; rounding's odd part, which would make it non-symmetric, is dropped by taking the real part).
    """
    row = np.asarray(row, dtype=np.float64)
    require(row.ndim == 1 and row.shape[0] >= 1, f"row must be shaped (M,), got {row.shape}")
    return np.fft.rfft(row).real


def kernel_rows(mlp: MLP, points: int) -> tuple[Array, Array]:
    """``(nngp, ntk)`` rows ``(M,)``: each kernel between the first ring point and every point, ``c_j = k(γ_0, γ_j)``,
    the entry ``c_0`` computed from the point with itself (module docstring: exact variance, exact zeros)."""
    x = ring_points(ring_angles(points))
    nngp, ntk = analytic_kernels(mlp, x[:1], x)
    nngp_0, ntk_0 = analytic_kernels(mlp, x[:1])
    nngp[0, 0], ntk[0, 0] = nngp_0[0, 0], ntk_0[0, 0]
    return nngp[0], ntk[0]


def fit_decay(frequencies: np.ndarray, per_point: Array, zero: np.ndarray, parity: int,
              fit_range: tuple[int, int] = FIT_RANGE) -> DecayFit | None:
    """The decay of the nonzero modes ``k ≡ parity (mod 2)`` in ``fit_range``: power or geometric, whichever fits
    ``log |μ_k|`` better (:class:`DecayFit`); None with fewer than :data:`MIN_FIT_POINTS` such modes."""
    low, high = fit_range
    chosen = (frequencies >= max(low, 1)) & (frequencies <= high) & (frequencies % 2 == parity) & ~zero
    k, log_mu = frequencies[chosen].astype(np.float64), np.log(np.abs(per_point[chosen]))
    if k.shape[0] < MIN_FIT_POINTS:
        return None
    power, geometric = _line(np.log(k), log_mu), _line(k, log_mu)
    best, other = (power, geometric) if power[3] <= geometric[3] else (geometric, power)
    slope, stderr, intercept, rms = best
    return DecayFit(parity="even" if parity == 0 else "odd", law="power" if best is power else "geometric",
                    slope=slope, stderr=stderr, intercept=intercept, rms=rms, other_rms=other[3],
                    k_min=int(k[0]), k_max=int(k[-1]), points=int(k.shape[0]))


def _line(u: Array, v: Array) -> tuple[float, float, float, float]:
    """Least squares ``v ≈ intercept + slope · u``: ``(slope, stderr of the slope, intercept, rms of the residuals)``."""
    design = np.stack([np.ones_like(u), u], axis=1)
    (intercept, slope), *_ = np.linalg.lstsq(design, v, rcond=None)
    residuals = v - (intercept + slope * u)
    dof = max(u.shape[0] - 2, 1)
    stderr = math.sqrt(float(residuals @ residuals) / dof / float(np.sum((u - u.mean()) ** 2)))
    return float(slope), stderr, float(intercept), math.sqrt(float(np.mean(residuals**2)))


def _kernel_spectrum(row: Array, points: int, frequencies: np.ndarray, profile_points: int) -> KernelSpectrum:
    eigenvalues = circulant_eigenvalues(row)
    per_point = eigenvalues / points
    zero = np.abs(eigenvalues) <= ZERO_RTOL * max(float(np.max(eigenvalues)), 0.0)
    fits = tuple(fit for parity in (0, 1) if (fit := fit_decay(frequencies, per_point, zero, parity)) is not None)
    profile = row[:: points // profile_points] if points % profile_points == 0 else np.array([])
    return KernelSpectrum(eigenvalues=eigenvalues, per_point=per_point, zero=zero, fits=fits, profile=profile)


def ring_spectrum(mlp: MLP, points: int = SPECTRUM_POINTS, profile_points: int = PROFILE_POINTS) -> RingSpectrum:
    """The NTK's and the NNGP's eigenvalues on ``points`` equispaced ring points, which modes are zero, their
    measured decay, and each kernel's profile ``k(Δγ)`` at ``profile_points`` angles (module docstring).

    ``profile_points`` must divide ``points`` (the profile is every ``points/profile_points``-th entry of the row).
    The standard parameterization has no infinite-width kernel (``ValueError``, from ``analytic_kernels``).
    """
    require(isinstance(points, int) and 4 <= points <= MAX_SPECTRUM_POINTS,
            f"points must be a whole number from 4 to {MAX_SPECTRUM_POINTS}, got {points!r}")
    require(isinstance(profile_points, int) and profile_points >= 1 and points % profile_points == 0,
            f"profile_points must divide points = {points}, got {profile_points!r}")
    nngp_row, ntk_row = kernel_rows(mlp, points)
    frequencies = np.arange(points // 2 + 1)
    multiplicity = np.where((frequencies == 0) | (2 * frequencies == points), 1, 2)
    return RingSpectrum(mlp=mlp, points=points, frequencies=frequencies, multiplicity=multiplicity,
                        profile_angles=2 * math.pi * np.arange(profile_points) / profile_points,
                        ntk=_kernel_spectrum(ntk_row, points, frequencies, profile_points),
                        nngp=_kernel_spectrum(nngp_row, points, frequencies, profile_points))


# --- training, frequency by frequency ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpectralBiasConfig:
    """A spectral-bias experiment: networks of each width in ``widths`` (``seeds`` of each, network ``s`` of width
    ``n`` drawn from ``default_rng([seed + s, n])`` as in the drift experiment) trained on ``districts`` points with
    target ``Σ_{k ∈ frequencies} cos kγ``, for ``steps`` steps at ``η = lr_fraction · 2N/λ_max`` (NTK
    parameterization; ``λ_max`` of the analytic NTK on the districts). Every frequency must be below ``N/2``: a pair
    of modes (cos and sin) the districts resolve."""

    depth: int = MLP.depth
    activation: str = MLP.activation
    w_std: float = MLP.w_std
    b_std: float = MLP.b_std
    widths: tuple[int, ...] = BIAS_WIDTHS[MLP.depth]
    seeds: int = 2
    districts: int = 32
    frequencies: tuple[int, ...] = BIAS_FREQUENCIES
    steps: int = 1000
    lr_fraction: float = 0.25
    seed: int = 0

    def __post_init__(self) -> None:
        require(len(self.widths) >= 1 and all(isinstance(n, int) and n >= 1 for n in self.widths)
                and list(self.widths) == sorted(set(self.widths)),
                f"widths must be one or more increasing, distinct positive integers, got {self.widths!r}")
        require(isinstance(self.seeds, int) and self.seeds >= 1, f"seeds must be a positive integer, got {self.seeds!r}")
        require(isinstance(self.districts, int) and self.districts >= 4,
                f"districts must be a whole number ≥ 4, got {self.districts!r}")
        require(len(self.frequencies) >= 1 and list(self.frequencies) == sorted(set(self.frequencies))
                and all(isinstance(k, int) and k >= 1 and 2 * k < self.districts for k in self.frequencies),
                f"frequencies must be increasing, distinct whole numbers from 1 to below districts/2 = "
                f"{self.districts / 2:g} (a frequency the districts resolve as a cos–sin pair), got {self.frequencies!r}")
        require(isinstance(self.steps, int) and self.steps >= 1, f"steps must be a positive integer, got {self.steps!r}")
        require(math.isfinite(self.lr_fraction) and 0 < self.lr_fraction < 1,
                f"lr_fraction must lie strictly between 0 and 1 (1 is the edge of divergence), got {self.lr_fraction!r}")
        require(isinstance(self.seed, int) and self.seed >= 0, f"seed must be a whole number ≥ 0, got {self.seed!r}")
        self.mlp(self.widths[0])  # validates the architecture

    def mlp(self, width: int) -> MLP:
        return MLP(depth=self.depth, width=width, activation=self.activation, w_std=self.w_std, b_std=self.b_std)


@dataclass(frozen=True)
class BiasWidth:
    """One width's networks: ``amplitude`` ``(S, F, T + 1)`` ``A_k(t)`` of each target frequency in the residual at
    every step (NaN after a divergence), ``fit_steps`` ``(S, F)`` the first step with ``A_k(t) ≤ A_k(0)/e`` (−1: not
    within the steps), ``diverged_at`` ``(S,)`` (−1: never) and the reasons in words."""

    width: int
    amplitude: Array
    fit_steps: np.ndarray
    diverged_at: np.ndarray
    reasons: tuple[str | None, ...]


@dataclass(frozen=True)
class SpectralBiasResult:
    """``learning_rate`` η; ``eigenvalues`` ``(N/2 + 1,)`` the analytic NTK's ``λ_k`` on the districts (``k = 0 …
    ⌊N/2⌋``), ``zero`` which are zero to rounding, ``kernel_fit_steps`` ``(N/2 + 1,)`` the forecast's first step
    with ``|1 − ηλ_k/N|^t ≤ 1/e`` (inf for a zero mode: never); ``forecast`` ``(F, T + 1)`` ``|1 − ηλ_k/N|^t`` for the
    target frequencies; ``widths`` per width."""

    config: SpectralBiasConfig
    learning_rate: float
    eigenvalues: Array
    zero: np.ndarray
    kernel_fit_steps: Array
    forecast: Array
    widths: tuple[BiasWidth, ...]


def mode_amplitudes(values: Array, frequencies: tuple[int, ...]) -> Array:
    """``A_k = (2/N)|Σ_i v_i e^{−2πi k i/N}|`` of equispaced values ``(..., N)`` → ``(..., F)``: the amplitude of
    ``cos(kγ + φ)`` in them (``0 < k < N/2``)."""
    n = values.shape[-1]
    amplitudes: Array = (2 / n) * np.abs(np.fft.rfft(values, axis=-1)[..., list(frequencies)])
    return amplitudes


def forecast_fit_step(factor: Array, fraction: float = FIT_FRACTION) -> Array:
    """The first whole step ``t`` with ``|q|^t ≤ fraction`` for per-step factors ``q = 1 − ηλ/N``: ``⌈ln f / ln|q|⌉``
    (0 ≤ |q| < 1; ``q = 0``: 1 step), inf where ``|q| ≥ 1`` (a zero mode never moves)."""
    size = np.abs(np.asarray(factor, dtype=np.float64))
    with np.errstate(divide="ignore"):
        steps = np.ceil(np.log(fraction) / np.log(np.where(size > 0, size, 0.5)) - 1e-9)
    return np.where(size >= 1, np.inf, np.where(size == 0, 1.0, np.maximum(steps, 1.0)))


def spectral_bias(config: SpectralBiasConfig, checkpoint: Checkpoint | None = None) -> SpectralBiasResult:
    """Train ``config``'s networks and measure each target frequency's residual against the kernel's forecast.

    ``checkpoint()`` is called before every training step (it may raise to abandon the work).
    """
    n = config.districts
    x = ring_points(ring_angles(n))
    y = np.sum([np.cos(k * ring_angles(n)) for k in config.frequencies], axis=0)  # (N,)
    _, ntk_row = kernel_rows(config.mlp(1), n)
    eigenvalues = circulant_eigenvalues(ntk_row)  # (N/2 + 1,)
    lam_max = float(np.max(eigenvalues))
    require(lam_max > 0, "the analytic NTK on the districts is zero: there is nothing to learn with")
    zero = np.abs(eigenvalues) <= ZERO_RTOL * lam_max
    learning_rate = config.lr_fraction * 2 * n / lam_max
    factor = np.where(zero, 1.0, 1 - learning_rate * eigenvalues / n)  # a zero mode: exactly 1, never moves
    steps = np.arange(config.steps + 1, dtype=np.float64)
    forecast: Array = np.abs(factor[list(config.frequencies), None]) ** steps  # (F, T + 1)
    widths = tuple(_train_width(config, width, x, y, checkpoint, learning_rate) for width in config.widths)
    return SpectralBiasResult(config=config, learning_rate=learning_rate, eigenvalues=eigenvalues, zero=zero,
                              kernel_fit_steps=forecast_fit_step(factor), forecast=forecast, widths=widths)


def _train_width(config: SpectralBiasConfig, width: int, x: Array, y: Array, checkpoint: Checkpoint | None,
                 learning_rate: float) -> BiasWidth:
    mlp = config.mlp(width)
    params = stack_params([init_params(mlp, x.shape[1], np.random.default_rng([config.seed + s, width]), checkpoint)
                           for s in range(config.seeds)])
    history = train(mlp, params, x, y, learning_rate=learning_rate, steps=config.steps, checkpoint=checkpoint,
                    keep_residuals=True)
    assert history.residuals is not None
    amplitude = np.swapaxes(mode_amplitudes(history.residuals, config.frequencies), 1, 2)  # (S, F, T + 1)
    fitted = amplitude <= FIT_FRACTION * amplitude[..., :1]
    fit_steps = np.where(fitted.any(axis=-1), np.argmax(fitted, axis=-1), -1)
    return BiasWidth(width=width, amplitude=amplitude, fit_steps=fit_steps, diverged_at=history.diverged_at,
                     reasons=history.reasons)


def bias_widths(depth: int) -> tuple[int, ...]:
    """The narrow and the wide width the page trains at ``depth`` hidden layers (:data:`BIAS_WIDTHS`)."""
    require(isinstance(depth, int) and 1 <= depth <= MAX_DEPTH, f"depth must be from 1 to {MAX_DEPTH}, got {depth!r}")
    return BIAS_WIDTHS[depth]
