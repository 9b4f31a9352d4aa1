"""The kernels' spectrum on the ring (app/ntk/spectrum.py) against independent oracles: a numerical eigendecomposition
of the whole kernel matrix, the Fourier modes as eigenvectors, the known zeros and exponents, and the fixed-kernel
forecast against gradient descent with that kernel and against wide networks trained step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import MLP, analytic_kernels, forward, gd_mse_prediction, init_params, ring_angles, ring_points, stack_params, train
from app.ntk.spectrum import (
    FIT_FRACTION,
    SpectralBiasConfig,
    circulant_eigenvalues,
    fit_decay,
    forecast_fit_step,
    kernel_rows,
    mode_amplitudes,
    ring_spectrum,
    spectral_bias,
)

ARCHITECTURES = [
    MLP(depth=1, activation="relu", w_std=1.0, b_std=0.0),
    MLP(depth=1, activation="relu", w_std=1.5, b_std=0.3),
    MLP(depth=3, activation="relu", w_std=1.0, b_std=0.1),
    MLP(depth=1, activation="erf", w_std=1.0, b_std=0.0),
    MLP(depth=2, activation="erf", w_std=2.0, b_std=0.5),
]
NAMES = ["relu-1-nobias", "relu-1-bias", "relu-3", "erf-1-nobias", "erf-2"]


def full_kernels(mlp: MLP, points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(nngp, ntk)`` on every pair of ``points`` ring points ``(M, M)``: the matrices the spectrum claims to
    diagonalise, computed without any use of their circulant structure."""
    return analytic_kernels(mlp, ring_points(ring_angles(points)))


def with_multiplicity(eigenvalues: np.ndarray, points: int) -> np.ndarray:
    """``λ_k`` for ``k = 0 … M/2`` as the ``M`` eigenvalues of the matrix, sorted: ``0 < k < M/2`` twice."""
    inner = eigenvalues[1:(points + 1) // 2]
    return np.sort(np.concatenate([eigenvalues, inner]))


# The whole matrix's entries between (anti)parallel points other than the first row's are only reproducible to
# ~1e-8 relative for ReLU (docs/maths.md §2: θ's √-sensitivity near 0 and π), which moves its eigenvalues by up to
# ~1e-8 of an entry, i.e. ~1e-10 of λ_max at M = 128; 1e-9 · λ_max leaves room and is still far below any nonzero
# eigenvalue tested here.
@pytest.mark.parametrize("mlp", ARCHITECTURES, ids=NAMES)
@pytest.mark.parametrize("points", [16, 128, 129])
def test_the_eigenvalues_are_those_of_a_numerical_eigendecomposition(mlp: MLP, points: int) -> None:
    spectrum = ring_spectrum(mlp, points, profile_points=1)
    nngp, ntk = full_kernels(mlp, points)
    for kernel, ours in ((ntk, spectrum.ntk), (nngp, spectrum.nngp)):
        numerical = np.linalg.eigvalsh(kernel)
        np.testing.assert_allclose(with_multiplicity(ours.eigenvalues, points), numerical, rtol=0,
                                   atol=1e-9 * numerical[-1])
    assert spectrum.multiplicity.sum() == points


@pytest.mark.parametrize("mlp", ARCHITECTURES, ids=NAMES)
def test_each_frequency_labels_its_own_fourier_modes(mlp: MLP) -> None:
    # K cos kγ = λ_k cos kγ and K sin kγ = λ_k sin kγ: the eigenvalue at index k belongs to frequency k.
    points = 64
    gamma = ring_angles(points)
    _, ntk = full_kernels(mlp, points)
    eigenvalues = ring_spectrum(mlp, points, profile_points=1).ntk.eigenvalues
    scale = 1e-9 * eigenvalues.max()
    for k, lam in enumerate(eigenvalues):
        for mode in (np.cos(k * gamma), np.sin(k * gamma)):
            np.testing.assert_allclose(ntk @ mode, lam * mode, rtol=0, atol=scale * math.sqrt(points))


def test_the_per_point_eigenvalue_does_not_depend_on_the_number_of_points() -> None:
    # μ_k = λ_k / M is the integral operator's eigenvalue up to aliasing, μ_{k±M} + …: for a k⁻² decay that adds
    # ~(k/(M − k))² ≈ 1e-3 at k = 8, M = 256; 3e-3 allows it.
    mlp = MLP(depth=2, activation="relu", b_std=0.1)
    coarse, fine = ring_spectrum(mlp, 256, 64), ring_spectrum(mlp, 1024, 64)
    np.testing.assert_allclose(coarse.ntk.per_point[:9], fine.ntk.per_point[:9], rtol=3e-3)
    assert not np.allclose(coarse.ntk.eigenvalues[:9], fine.ntk.eigenvalues[:9], rtol=0.5)  # λ_k itself grows with M


def test_one_hidden_relu_layer_without_biases_is_blind_to_every_odd_frequency_from_3() -> None:
    spectrum = ring_spectrum(MLP(depth=1, activation="relu", b_std=0.0))
    k = spectrum.frequencies
    blind = (k % 2 == 1) & (k >= 3)
    for kernel in (spectrum.ntk, spectrum.nngp):
        assert np.array_equal(kernel.zero, blind)
        assert np.all(np.abs(kernel.eigenvalues[blind]) <= 1e-14 * kernel.eigenvalues.max())  # far under ZERO_RTOL
    # A bias, however small, or a second layer sees them again.
    for mlp in (MLP(depth=1, activation="relu", b_std=0.1), MLP(depth=2, activation="relu", b_std=0.0)):
        assert not ring_spectrum(mlp).ntk.zero[:64].any()


def test_an_erf_kernel_without_biases_is_odd_so_its_even_frequencies_vanish() -> None:
    spectrum = ring_spectrum(MLP(depth=2, activation="erf", b_std=0.0))
    k = spectrum.frequencies[:16]
    assert np.array_equal(spectrum.ntk.zero[:16], k % 2 == 0)


def test_the_zeros_match_the_blind_spot_of_training() -> None:
    # The blind-spot scenario's target sin 3γ on 8 districts lies in the kernel's null space: gradient descent with
    # the analytic NTK leaves all of it (docs/maths.md §4), and the spectrum on those 8 points says λ_3 = 0.
    mlp = MLP(depth=1, activation="relu", b_std=0.0)
    x = ring_points(ring_angles(8))
    _, ntk = analytic_kernels(mlp, x)
    prediction = gd_mse_prediction(ntk, ntk, np.sin(3 * ring_angles(8)), math.inf, 1.0)
    assert prediction.unlearnable_fraction == pytest.approx(1.0, abs=1e-9)
    assert ring_spectrum(mlp, 8, 8).ntk.zero[3]


@pytest.mark.parametrize(("kernel", "exponent"), [("ntk", -2.0), ("nngp", -4.0)])
def test_one_relu_layer_decays_like_the_known_power_laws(kernel: str, exponent: float) -> None:
    # Bietti & Mairal 2019 (docs/maths.md §7–8): λ_k ∝ k⁻² for the NTK, k⁻⁴ for the NNGP (arc-cosine of degree 1),
    # asymptotically; over k = 8 … 64 the measured exponent is within 0.05 of it (measured: −2.02, −4.01).
    fit = getattr(ring_spectrum(MLP(depth=1, activation="relu", b_std=0.0)), kernel).fits[0]
    assert (fit.parity, fit.law, fit.k_min, fit.k_max) == ("even", "power", 8, 64)
    assert fit.slope == pytest.approx(exponent, abs=0.05)
    assert fit.rms < 0.1 * fit.other_rms  # a geometric law fits far worse


def test_an_erf_kernel_decays_geometrically() -> None:
    spectrum = ring_spectrum(MLP(depth=1, activation="erf", b_std=0.1))
    for fit in spectrum.ntk.fits:
        assert fit.law == "geometric" and fit.rms < 0.2 * fit.other_rms
        assert -2 < fit.slope < -0.5  # each frequency 1.6 to 7 times smaller than the one before (measured: −1.30)


def test_the_fit_is_least_squares_on_the_nonzero_modes_of_one_parity() -> None:
    k = np.arange(40)
    mu = 3.0 * np.maximum(k, 1) ** -2.5 * np.where(k % 2 == 0, 1.0, 0.1)
    zero = k == 12
    fit = fit_decay(k, mu, zero, parity=0, fit_range=(4, 30))
    assert fit is not None and fit.law == "power" and fit.points == len(range(4, 31, 2)) - 1
    assert (fit.slope, fit.intercept) == (pytest.approx(-2.5, abs=1e-12), pytest.approx(math.log(3.0), abs=1e-12))
    geometric = fit_decay(k, 2.0 * np.exp(-0.7 * k), np.zeros(40, bool), parity=1, fit_range=(4, 30))
    assert geometric is not None and geometric.law == "geometric" and geometric.slope == pytest.approx(-0.7, abs=1e-12)
    assert fit_decay(k, mu, k % 2 == 1, parity=1) is None  # every odd mode zero: nothing to fit


def test_the_profile_is_the_kernel_between_the_first_point_and_every_other() -> None:
    mlp = MLP(depth=2, activation="erf", b_std=0.2)
    spectrum = ring_spectrum(mlp, 256, 64)
    nngp, ntk = full_kernels(mlp, 256)
    np.testing.assert_allclose(spectrum.ntk.profile, ntk[0, ::4], rtol=1e-13)
    np.testing.assert_allclose(spectrum.nngp.profile, nngp[0, ::4], rtol=1e-13)
    np.testing.assert_allclose(spectrum.profile_angles, 2 * np.pi * np.arange(64) / 64)


def test_the_row_is_exact_where_two_copies_of_a_point_would_round() -> None:
    # The first entry, from the point with itself, is the variance: the same as the whole matrix's diagonal.
    mlp = MLP(depth=1, activation="relu", b_std=0.0)
    nngp_row, ntk_row = kernel_rows(mlp, 32)
    nngp, ntk = full_kernels(mlp, 32)
    assert (nngp_row[0], ntk_row[0]) == (nngp[0, 0], ntk[0, 0])
    assert circulant_eigenvalues(np.array([2.0, 1.0, 0.0, 1.0])).tolist() == [4.0, 2.0, 0.0]


@pytest.mark.parametrize(("points", "profile_points"), [(3, 1), (5000, 1), (64, 48), (64, 0)])
def test_bad_sizes_are_refused(points: int, profile_points: int) -> None:
    with pytest.raises(ValueError, match="points"):
        ring_spectrum(MLP(), points, profile_points)


def test_the_standard_parameterization_has_no_spectrum() -> None:
    with pytest.raises(ValueError, match="no infinite-width limit"):
        ring_spectrum(MLP(parameterization="standard"), 16, 16)


# --- training frequency by frequency ------------------------------------------------------------------------------

def test_mode_amplitudes_read_the_amplitude_of_each_frequency() -> None:
    gamma = ring_angles(32)
    values = 0.5 * np.cos(2 * gamma + 0.3) - 2 * np.sin(5 * gamma) + 7.0
    np.testing.assert_allclose(mode_amplitudes(values, (1, 2, 5)), [0.0, 0.5, 2.0], atol=1e-14)


def test_the_fit_step_is_the_first_step_below_one_over_e() -> None:
    factors = np.array([0.0, 0.2, 0.9, 0.999, -0.5, 1.0])
    steps = forecast_fit_step(factors)
    for q, t in zip(factors[:-1], steps[:-1], strict=True):
        brute = next(s for s in range(1, 10_000) if abs(q) ** s <= FIT_FRACTION)
        assert t == brute
    assert steps[-1] == math.inf


def test_the_forecast_per_frequency_is_gradient_descent_with_the_fixed_kernel() -> None:
    # Discrete gradient descent with the analytic NTK (gd_mse_prediction, in its own eigenbasis), from the wide
    # network's own initial outputs: the amplitude of each target frequency in its residual is |1 − ηλ_k/N|^t times
    # its initial amplitude, to rounding.
    config = SpectralBiasConfig(widths=(64,), seeds=1, steps=40)
    result = spectral_bias(config)
    n = config.districts
    gamma, x = ring_angles(n), ring_points(ring_angles(n))
    y = sum(np.cos(k * gamma) for k in config.frequencies)
    _, ntk = analytic_kernels(config.mlp(1), x)
    f0 = forward(config.mlp(64), init_params(config.mlp(64), 2, np.random.default_rng([0, 64])), x)
    times = np.arange(config.steps + 1)
    f_train = gd_mse_prediction(ntk, ntk, y, times, result.learning_rate, f0, discrete=True).f_train  # (T + 1, N)
    amplitude = mode_amplitudes(f_train - y, config.frequencies).T  # (F, T + 1)
    np.testing.assert_allclose(amplitude, result.forecast * amplitude[:, :1], rtol=1e-9, atol=1e-12)
    # and the network starts from the same residual as that forecast
    np.testing.assert_allclose(result.widths[0].amplitude[0, :, 0], amplitude[:, 0], rtol=1e-12)


def test_the_learning_rate_is_the_stated_fraction_of_the_stable_limit() -> None:
    config = SpectralBiasConfig(widths=(16,), seeds=1, steps=1, lr_fraction=0.4)
    result = spectral_bias(config)
    _, ntk = analytic_kernels(config.mlp(1), ring_points(ring_angles(config.districts)))
    assert result.learning_rate == pytest.approx(0.4 * 2 * config.districts / np.linalg.eigvalsh(ntk)[-1], rel=1e-12)


def test_a_wide_network_follows_the_forecast_on_the_frequencies_it_fits_fast() -> None:
    # 4096 lanes, one hidden ReLU layer: the frequencies the kernel fits within a few dozen steps (k = 1, 2) follow its
    # forecast within 0.03 of their start at every step (measured: 0.013, 0.010). The slow ones (k = 4, 8) train
    # for hundreds of steps while the kernel moves, and leave it (measured 0.16 and 0.37 at 4096 lanes): their gap is
    # larger on a narrow road (0.24 at 256 lanes for k = 4), which is what the page shows beside the forecast.
    config = SpectralBiasConfig(widths=(256, 4096), seeds=2, steps=600)
    result = spectral_bias(config)
    narrow, wide = result.widths
    gap = {w.width: np.nanmax(np.abs(w.amplitude / w.amplitude[..., :1] - result.forecast), axis=(0, 2)) for w in result.widths}
    assert np.all(gap[4096][:2] < 0.03), gap
    assert gap[4096][2] < gap[256][2], gap
    assert (wide.diverged_at == -1).all() and (narrow.diverged_at == -1).all()
    assert wide.fit_steps[:, 0].tolist() == [result.kernel_fit_steps[1]] * 2 or abs(
        wide.fit_steps[:, 0] - result.kernel_fit_steps[1]).max() <= 1


def test_train_keeps_the_residual_of_every_step() -> None:
    mlp = MLP(depth=2, width=24, activation="erf")
    x = ring_points(ring_angles(6))
    y = np.sin(ring_angles(6))
    params = stack_params([init_params(mlp, 2, np.random.default_rng([s, 24])) for s in range(2)])
    seen: dict[int, np.ndarray] = {}
    history = train(mlp, params, x, y, learning_rate=0.5, steps=7, snapshot_steps=(0, 3, 7), keep_residuals=True,
                    on_snapshot=lambda step, p: seen.__setitem__(step, forward(mlp, p, x) - y))
    assert history.residuals is not None and history.residuals.shape == (2, 8, 6)
    for step, residual in seen.items():
        np.testing.assert_allclose(history.residuals[:, step], residual, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(history.loss, np.mean(history.residuals**2, axis=-1) / 2, rtol=1e-12)
    assert train(mlp, params, x, y, learning_rate=0.5, steps=2).residuals is None


@pytest.mark.parametrize(("changes", "words"), [
    ({"frequencies": (1, 16)}, "below districts/2"),
    ({"frequencies": (2, 1)}, "increasing"),
    ({"frequencies": (0,)}, "from 1"),
    ({"lr_fraction": 1.0}, "lr_fraction"),
    ({"widths": (64, 32)}, "widths"),
    ({"districts": 3}, "districts"),
    ({"steps": 0}, "steps"),
    ({"activation": "tanh"}, "activation"),
])
def test_bad_spectral_bias_settings_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        SpectralBiasConfig(**changes)  # type: ignore[arg-type]


def test_a_narrow_erf_road_fits_a_slow_frequency_long_before_its_kernel_forecasts() -> None:
    # The bias card's claim, on the page's default erf settings: the 32-lane networks fit cos 4γ to 1/e in a few hundred
    # steps (measured: 480 on average), the kernel forecasts ~8000; we ask for five times sooner.
    result = spectral_bias(SpectralBiasConfig(activation="erf", widths=(32,)))
    kernel = result.kernel_fit_steps[4]
    narrow = result.widths[0].fit_steps[:, 2]
    assert (narrow > 0).all() and narrow.max() < kernel / 5, (narrow, kernel)
