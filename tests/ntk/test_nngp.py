"""The NNGP side of the reference (docs/maths.md §8): the prior's variance against sampled networks, the posterior
mean against a direct solve, and the initial networks inside the prior's ±2σ band."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import DriftConfig, analytic_kernels, drift_experiment, forward, gp_posterior_mean, init_params
from app.ntk.experiments import MEAN_FIELD_PRIOR_NOTE, reference_kernels
from app.ntk.mlp import MLP, Params, layer_scales


def random_networks(mlp: MLP, count: int, rng: np.random.Generator) -> Params:
    """``count`` networks drawn as ``init_params`` draws one, stacked: ``W`` ``(count, fan_in, fan_out)``."""
    return [(s.w_init * rng.standard_normal((count, s.fan_in, s.fan_out)), s.b_init * rng.standard_normal((count, s.fan_out)))
            for s in layer_scales(mlp, 2)]


def sampled_variance(config: DriftConfig, width: int, networks: int, x: np.ndarray, seed: int) -> np.ndarray:
    """Monte-Carlo ``E[f(x; θ_0)²]`` over ``networks`` random networks of one width, in chunks of 500: ``(G,)``."""
    rng = np.random.default_rng(seed)
    mlp = config.mlp(width)
    total = np.zeros(x.shape[0])
    for _ in range(networks // 500):
        total += np.sum(forward(mlp, random_networks(mlp, 500, rng), x) ** 2, axis=0)
    return total / (networks // 500 * 500)


# Both cases are exact in expectation at any width: one hidden layer makes h_1 exactly Gaussian, and for ReLU
# E[relu(h)²] = q/2 is linear in the random variance q of deeper pre-activations. So only sampling error remains:
# a sample variance of M draws has relative standard deviation √(2/M) (plus O(1/n) excess kurtosis), and we allow
# 5 of them at every grid point. The biases are large (σb = 0.5) so that a missing σb² term (~25 %) fails.
@pytest.mark.parametrize(("config", "width", "networks"), [
    (DriftConfig(depth=2, activation="relu", w_std=1.5, b_std=0.5, grid=16), 64, 8000),
    (DriftConfig(depth=1, activation="erf", w_std=2.0, b_std=0.5, grid=16), 128, 12000),
], ids=["relu-depth-2", "erf-depth-1"])
def test_the_nngp_variance_is_the_variance_of_random_networks(config: DriftConfig, width: int, networks: int) -> None:
    task = config.task()
    reference = reference_kernels(config, task)
    assert reference is not None and reference.nngp_variance is not None
    sampled = sampled_variance(config, width, networks, task.x_grid, seed=12)
    np.testing.assert_allclose(sampled, reference.nngp_variance, rtol=5 * math.sqrt(2 / networks), atol=0)


def test_the_nngp_variance_is_not_the_ntk_diagonal() -> None:
    # Guards the test above: the two kernels' diagonals differ by far more than its tolerance (here Θ = 2K + …).
    config = DriftConfig(depth=2, w_std=1.5, b_std=0.5, grid=16)
    reference = reference_kernels(config, config.task())
    assert reference is not None and reference.nngp_variance is not None
    assert np.all(np.diagonal(reference.kernel_grid) > 1.5 * reference.nngp_variance)


def test_the_posterior_mean_is_the_direct_solve_and_interpolates_the_districts() -> None:
    # Default experiment: K on the 8 districts is invertible (condition number ≈ 1e3), so K(x, X) K⁻¹ y by
    # np.linalg.solve must agree to ~κ·ε ≈ 1e-13; 1e-10 leaves room. The same for Θ(x, X) Θ⁻¹ y.
    config = DriftConfig()
    task = config.task()
    reference = reference_kernels(config, task)
    assert reference is not None and reference.nngp_mean is not None
    nngp_train, ntk_train = analytic_kernels(config.mlp(16), task.x_train)
    nngp_cross, ntk_cross = analytic_kernels(config.mlp(16), task.x_grid, task.x_train)
    np.testing.assert_allclose(reference.nngp_mean, nngp_cross @ np.linalg.solve(nngp_train, task.y_train), rtol=0, atol=1e-10)
    np.testing.assert_allclose(reference.ntk_mean, ntk_cross @ np.linalg.solve(ntk_train, task.y_train), rtol=0, atol=1e-10)
    on_grid = np.searchsorted(task.gamma_grid, task.gamma_train)  # 8 districts divide 64 grid points
    np.testing.assert_allclose(reference.nngp_mean[on_grid], task.y_train, rtol=0, atol=1e-10)
    assert reference.nngp_note is None


def test_the_two_means_are_different_answers() -> None:
    # docs/maths.md §8: K(x, X)K⁻¹y and Θ(x, X)Θ⁻¹y agree at the districts, not between them (a bump target).
    config = DriftConfig(target="bump")
    reference = reference_kernels(config, config.task())
    assert reference is not None and reference.nngp_mean is not None
    assert np.max(np.abs(reference.nngp_mean - reference.ntk_mean)) > 0.01


def test_a_singular_nngp_is_said_and_not_regularized() -> None:
    # Bias-free one-layer ReLU on 8 equispaced districts: K has rank 6, and sin 3γ lies in its null space
    # (docs/maths.md §8), so the posterior mean is the pseudo-inverse's: zero, with a note.
    config = DriftConfig(b_std=0.0, frequency=3)
    task = config.task()
    reference = reference_kernels(config, task)
    assert reference is not None and reference.nngp_mean is not None and reference.nngp_note is not None
    assert "rank 6 of 8" in reference.nngp_note and "100%" in reference.nngp_note
    np.testing.assert_allclose(reference.nngp_mean, 0.0, atol=1e-10)


def test_a_singular_nngp_with_targets_in_its_range_is_the_pseudo_inverse() -> None:
    config = DriftConfig(b_std=0.0)  # sin γ: in the range of the rank-6 K
    task = config.task()
    nngp_train, _ = analytic_kernels(config.mlp(16), task.x_train)
    nngp_cross, _ = analytic_kernels(config.mlp(16), task.x_grid, task.x_train)
    posterior = gp_posterior_mean(nngp_train, nngp_cross, task.y_train)
    expected = nngp_cross @ np.linalg.pinv(nngp_train, rtol=1e-7, hermitian=True) @ task.y_train
    np.testing.assert_allclose(posterior.mean, expected, rtol=0, atol=1e-10)
    assert posterior.rank == 6 and posterior.unexplained_fraction < 1e-12
    assert posterior.note is not None and "in its range" in posterior.note


def test_initial_networks_lie_inside_the_two_sigma_band_about_95_percent_of_the_time() -> None:
    # 100 networks of width 2048 on 32 grid points: a Gaussian lies within ±2σ with probability 0.954 and within
    # ±1σ with 0.683. Neighbouring grid points are correlated, so the fractions wander: over 10 base seeds
    # (60 networks each) we measured 0.936–0.966 and 0.63–0.75. The bounds would fail for the NTK's diagonal as
    # the variance (about twice K: ±1σ would hold ~84 %) or for half of K (±2σ would hold ~84 %).
    config = DriftConfig(widths=(2048,), seeds=100, steps=1, snapshots=2, grid=32)
    result = drift_experiment(config)
    assert result.reference is not None and result.reference.nngp_variance is not None
    initial = result.widths[0].function[:, 0]  # (S, G): f(x; θ_0), the raw network at snapshot 0
    sigma = np.sqrt(result.reference.nngp_variance)
    assert 0.91 < np.mean(np.abs(initial) <= 2 * sigma) < 0.99
    assert 0.58 < np.mean(np.abs(initial) <= sigma) < 0.78


def test_with_alpha_the_initial_function_is_still_the_raw_network() -> None:
    # f_α = f(θ_0) + α(f(θ) − f(θ_0)) (docs/maths.md §6): at snapshot 0 it is f(θ_0) whatever α, so the band applies.
    config = DriftConfig(widths=(64,), seeds=2, steps=2, snapshots=2, grid=8, alpha=0.25)
    result = drift_experiment(config)
    mlp = config.mlp(64)
    raw = [forward(mlp, init_params(mlp, 2, np.random.default_rng([config.seed + k, 64])), result.task.x_grid)
           for k in range(2)]
    np.testing.assert_allclose(result.widths[0].function[:, 0], np.stack(raw), rtol=1e-12, atol=1e-14)


def test_mean_field_networks_are_not_samples_of_the_nngp_so_there_is_no_band() -> None:
    # The mean-field readout is divided by n: Var f(x; θ_0) = σw² E[a²]/n + σb² → σb² = 0.01, far below K(x, x) ≈ 0.27.
    config = DriftConfig(parameterization="mean_field", grid=8)
    reference = reference_kernels(config, config.task())
    assert reference is not None
    assert reference.nngp_variance is None and reference.nngp_mean is None and reference.nngp_note == MEAN_FIELD_PRIOR_NOTE
    sampled = sampled_variance(config, 1024, 2000, config.task().x_grid, seed=3)
    nngp, _ = analytic_kernels(DriftConfig(grid=8).mlp(1024), config.task().x_grid)
    assert np.all(sampled < 0.1 * np.diagonal(nngp))
