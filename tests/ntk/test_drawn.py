"""A drawn target (app.ntk.data.drawn_curve) and the learning speeds of a target (app.ntk.training.learning_speeds),
each against an independent computation: numpy's periodic ``np.interp`` for the curve; for the speeds, plain gradient
descent step by step (the residual) and the discrete Fourier transform of a circulant kernel (the slow part)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import DriftConfig, analytic_kernels, ring_angles, ring_task, target_values
from app.ntk.data import drawn_curve
from app.ntk.training import SINGULAR_RTOL, learning_speeds

RNG = np.random.default_rng(16)


def periodic_interp(knots: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """The oracle: numpy's linear interpolation with period 2π through the knots at −π + 2πj/K."""
    return np.interp(gamma, ring_angles(len(knots)), knots, period=2 * math.pi)


@pytest.mark.parametrize("count", [4, 7, 32, 64])
def test_the_drawn_curve_is_the_periodic_straight_line_interpolation_of_its_knots(count: int) -> None:
    knots = np.round(RNG.uniform(-2, 2, count), 2)
    gamma = np.concatenate([RNG.uniform(-math.pi, math.pi, 500), ring_angles(count), [math.pi, -math.pi]])
    # 1e-13: both sum two products of numbers below 2 in O(1) steps
    np.testing.assert_allclose(drawn_curve(knots, gamma), periodic_interp(knots, gamma), rtol=0, atol=1e-13)


def test_the_curve_passes_through_every_knot_and_closes_the_ring() -> None:
    knots = np.array([0.5, -1.0, 2.0, 0.0, 1.25])
    np.testing.assert_array_equal(drawn_curve(knots, ring_angles(5)), knots)
    assert drawn_curve(knots, np.array([math.pi]))[0] == knots[0]  # π is −π: the last segment runs back to the first knot
    last_middle = math.pi - math.pi / 5  # halfway between the last knot and π
    assert drawn_curve(knots, np.array([last_middle]))[0] == pytest.approx((knots[-1] + knots[0]) / 2, abs=1e-15)


def test_any_number_of_districts_samples_the_same_curve() -> None:
    knots = tuple(np.round(RNG.uniform(-2, 2, 32), 2))
    for districts in (5, 8, 13, 128):
        task = ring_task(districts, 64, "drawn", drawing=np.array(knots))
        np.testing.assert_allclose(task.y_train, periodic_interp(np.array(knots), task.gamma_train), atol=1e-13)
        np.testing.assert_allclose(task.target_grid, periodic_interp(np.array(knots), task.gamma_grid), atol=1e-13)


def test_a_drawing_goes_with_the_target_drawn_and_must_be_finite() -> None:
    gamma = ring_angles(8)
    with pytest.raises(ValueError, match="exactly with target 'drawn'"):
        target_values("drawn", gamma)
    with pytest.raises(ValueError, match="exactly with target 'drawn'"):
        target_values("sin", gamma, drawing=np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        drawn_curve(np.array([0.0, math.nan, 1.0, 0.0]), gamma)
    with pytest.raises(ValueError, match="one or more knots"):
        drawn_curve(np.array([]), gamma)


def test_noise_is_added_to_the_districts_but_not_to_the_target_on_the_grid() -> None:
    knots = np.round(RNG.uniform(-1, 1, 32), 2)
    task = ring_task(16, 64, "drawn", drawing=knots, noise=0.3, rng=np.random.default_rng(0))
    clean = periodic_interp(knots, task.gamma_train)
    assert 0.05 < np.std(task.y_train - clean) < 1.0
    np.testing.assert_allclose(task.target_grid, periodic_interp(knots, task.gamma_grid), atol=1e-13)


# --- the learning speeds -------------------------------------------------------------------------------------------

def kernel_on_districts(districts: int, b_std: float = 0.0, depth: int = 1) -> np.ndarray:
    config = DriftConfig(districts=districts, b_std=b_std, depth=depth)
    return analytic_kernels(config.mlp(64), config.task().x_train)[1]


def gradient_descent_residual(kernel: np.ndarray, y: np.ndarray, learning_rate: float, steps: int) -> np.ndarray:
    """The oracle for the residual: f ← f − (η/N) Θ (f − y), ``steps`` times from f = 0, with no eigenvectors."""
    f = np.zeros_like(y)
    for _ in range(steps):
        f = f - learning_rate / len(y) * kernel @ (f - y)
    return y - f


def fourier_slow_part(kernel: np.ndarray, y: np.ndarray, learning_rate: float, steps: int) -> tuple[np.ndarray, float]:
    """The oracle for the slow part: Θ on equispaced districts is circulant (MATH §8), so its eigenvalues are the DFT of
    its first row and its eigenvectors the Fourier modes; keep the frequencies with η λ T / N < 1 (the null space's
    too), and return that part of y and its share of ‖y‖²."""
    n = len(y)
    eigenvalues = np.fft.fft(kernel[0]).real  # symmetric first row: a real spectrum
    slow = learning_rate * np.where(eigenvalues <= SINGULAR_RTOL * eigenvalues.max(), 0, eigenvalues) * steps / n < 1
    spectrum = np.fft.fft(y)
    part = np.fft.ifft(np.where(slow, spectrum, 0)).real
    return part, float(np.sum(np.abs(spectrum[slow]) ** 2) / np.sum(np.abs(spectrum) ** 2))


@pytest.mark.parametrize(("districts", "b_std", "steps"), [(16, 0.0, 500), (12, 0.1, 200), (32, 0.1, 2000)])
def test_the_slow_part_is_the_targets_fourier_modes_the_run_leaves_mostly_undone(districts: int, b_std: float,
                                                                                   steps: int) -> None:
    kernel = kernel_on_districts(districts, b_std)
    # circulant up to the ReLU kernel's rounding at (anti)parallel inputs, ~1e-9 (docs/maths.md §2)
    np.testing.assert_allclose(kernel, np.array([np.roll(kernel[0], i) for i in range(districts)]), atol=1e-8)
    y = RNG.uniform(-2, 2, districts)
    speeds = learning_speeds(kernel, y, 1.0, steps)
    part, share = fourier_slow_part(kernel, y, 1.0, steps)
    # 1e-7: the kernel is circulant only to ~1e-9, which moves eigenvectors within a pair of near-equal eigenvalues by
    # at most that over their gap; the projection on the whole pair does not depend on it
    np.testing.assert_allclose(speeds.still_to_learn, part, atol=1e-7)
    assert speeds.slow_share + speeds.never_share == pytest.approx(share, abs=1e-7)
    assert 0 < (speeds.slow | speeds.never).sum() < districts  # the case splits: some modes left, some learned


def test_the_slow_part_is_the_projection_on_the_kernels_slow_eigenvectors() -> None:
    kernel = kernel_on_districts(10, 0.1, depth=2)
    y = RNG.uniform(-1, 1, 10)
    speeds = learning_speeds(kernel, y, 1.0, 100)
    eigenvalues, vectors = np.linalg.eigh(kernel)
    slow = 1.0 * eigenvalues * 100 / 10 < 1
    assert 0 < slow.sum() < 10
    projector = vectors[:, slow] @ vectors[:, slow].T
    np.testing.assert_allclose(speeds.still_to_learn, projector @ y, atol=1e-12)
    np.testing.assert_allclose(speeds.eigenvalues, eigenvalues, rtol=1e-12)
    assert speeds.slow_share == pytest.approx(float(y @ projector @ y / (y @ y)), abs=1e-12)
    # The slow part is what the kernel barely moves: Θ applied to it is small next to Θ applied to y's fast part.
    fast = y - speeds.still_to_learn
    assert np.linalg.norm(kernel @ speeds.still_to_learn) < 10 / 100 * np.linalg.norm(speeds.still_to_learn)
    assert np.linalg.norm(kernel @ fast) >= 10 / 100 * np.linalg.norm(fast)


@pytest.mark.parametrize("steps", [0, 1, 50, 500])
def test_the_residual_is_what_plain_gradient_descent_leaves(steps: int) -> None:
    kernel = kernel_on_districts(16, 0.1)
    y = RNG.uniform(-2, 2, 16)
    speeds = learning_speeds(kernel, y, 1.0, steps)
    np.testing.assert_allclose(speeds.residual, gradient_descent_residual(kernel, y, 1.0, steps), atol=1e-11)


def test_a_bias_free_relu_kernel_never_learns_its_blind_frequencies() -> None:
    """MATH §4: a bias-free one-hidden-layer ReLU NTK on equispaced points has zero eigenvalues at odd frequencies ≥ 3,
    so sin 3γ lies wholly in modes never learned."""
    kernel = kernel_on_districts(16, 0.0)
    y = target_values("sin", ring_angles(16), frequency=3)
    speeds = learning_speeds(kernel, y, 1.0, 500)
    assert speeds.never.sum() > 0
    assert speeds.never_share == pytest.approx(1.0, abs=1e-9) and speeds.slow_share == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose(speeds.still_to_learn, y, atol=1e-9)
    np.testing.assert_allclose(speeds.residual, y, atol=1e-9)  # no step moves it


def test_no_targets_have_no_share_and_bad_input_is_refused() -> None:
    kernel = kernel_on_districts(8)
    speeds = learning_speeds(kernel, np.zeros(8), 1.0, 10)
    assert speeds.slow_share == 0 and speeds.never_share == 0
    with pytest.raises(ValueError, match="steps"):
        learning_speeds(kernel, np.zeros(8), 1.0, -1)
    with pytest.raises(ValueError, match="learning_rate"):
        learning_speeds(kernel, np.zeros(8), 0.0, 10)
    with pytest.raises(ValueError, match="shaped"):
        learning_speeds(kernel, np.zeros(7), 1.0, 10)


def test_the_experiments_reference_holds_the_speeds_of_its_own_targets() -> None:
    config = DriftConfig(widths=(16,), seeds=1, steps=20, snapshots=2, districts=12, target="drawn",
                         drawing=tuple(np.round(RNG.uniform(-2, 2, 32), 2)), noise=0.2)
    from app.ntk.experiments import reference_kernels  # the reference alone: no network is trained
    task = config.task()
    reference = reference_kernels(config, task)
    assert reference is not None and reference.speeds is not None
    expected = learning_speeds(reference.kernel_train, task.y_train, config.learning_rate, config.steps)
    np.testing.assert_array_equal(reference.speeds.still_to_learn, expected.still_to_learn)
    assert reference.speeds.steps == 20


def test_the_cards_numbers_on_the_default_network_with_16_districts() -> None:
    """app/content/cards/yours.md and docs/maths.md §8: on the page's default network with 16 districts (η = 1, 500
    steps), the waves of frequency 0, 1, 2 and 4 are learned within the run (time constants N/(ηλ_k) of 6 to 258 steps)
    and frequency 3 and every frequency from 5 to 8 are slow (613 to 1168 steps)."""
    config = DriftConfig(districts=16)
    kernel = kernel_on_districts(16, config.b_std, config.depth)
    speeds = learning_speeds(kernel, np.zeros(16), config.learning_rate, config.steps)
    eigenvalues = np.fft.fft(kernel[0]).real  # the circulant kernel's spectrum by frequency (MATH §8)
    frequency = np.minimum(np.arange(16), 16 - np.arange(16))
    constants = {int(k): 16 / (config.learning_rate * lam) for k, lam in zip(frequency, eigenvalues, strict=True)}
    assert [round(constants[k]) for k in (0, 1, 2, 4)] == [6, 8, 26, 258]
    assert round(constants[3]) == 668 and round(min(constants[k] for k in range(5, 9))) == 613
    assert round(max(constants[k] for k in range(5, 9))) == 1168
    assert speeds.slow.sum() == 9 and not speeds.never.any()  # 3 and 5…8: two modes each but 8 (one)


def test_a_forecast_that_diverges_leaves_no_residual_and_its_modes_are_not_slow() -> None:
    kernel = kernel_on_districts(8, 0.1)
    lam_max = np.linalg.eigvalsh(kernel)[-1]
    rate = 2.5 * 8 / lam_max  # above 2N/λ_max: the top mode grows by |1 − ηλ/N| = 1.5 per step
    speeds = learning_speeds(kernel, RNG.uniform(-1, 1, 8), rate, 100)
    assert np.isnan(speeds.residual).all() and np.isnan(speeds.remaining[-1]) and not speeds.slow[-1]
    assert np.isfinite(speeds.remaining[:-1]).all()
