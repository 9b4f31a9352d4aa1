"""Gradient descent: the closed-form infinite-width prediction and the training of finite networks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm

from app.ntk import (
    MLP,
    analytic_kernels,
    forward,
    gd_mse_prediction,
    init_params,
    ring_angles,
    ring_points,
    stack_params,
    train,
)
from app.ntk.mlp import Params
from tests.ntk.oracles import central_differences, flatten, learning_rate_factors


def _kernel_problem(rng: np.random.Generator, n: int = 6, m: int = 9) -> tuple[np.ndarray, ...]:
    """A well-conditioned random kernel problem: Θ (n, n), Θ* (m, n), y, f0, f0*."""
    features = rng.standard_normal((n + m, 3 * n))
    gram = features @ features.T / (3 * n)
    return gram[:n, :n], gram[n:, :n], rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)


def test_prediction_at_time_zero_is_the_initial_output(rng: np.random.Generator) -> None:
    kernel, cross, y, f0, f0_test = _kernel_problem(rng)
    f_train, f_test = gd_mse_prediction(kernel, cross, y, 0.0, 0.5, f0, f0_test)
    np.testing.assert_allclose(f_train, f0, rtol=1e-12)
    np.testing.assert_allclose(f_test, f0_test, rtol=1e-12)


def test_prediction_at_infinite_time_is_kernel_regression(rng: np.random.Generator) -> None:
    # Oracle: a direct linear solve, f* = f0* + Θ* Θ⁻¹ (y − f0). Θ's condition number is ~10², so 1e-10 is safe.
    kernel, cross, y, f0, f0_test = _kernel_problem(rng)
    f_train, f_test = gd_mse_prediction(kernel, cross, y, math.inf, 0.5, f0, f0_test)
    np.testing.assert_allclose(f_train, y, rtol=1e-10)
    np.testing.assert_allclose(f_test, f0_test + cross @ np.linalg.solve(kernel, y - f0), rtol=1e-10)


def test_prediction_at_finite_time_equals_the_matrix_exponential(rng: np.random.Generator) -> None:
    # Oracle: scipy's expm (Padé), f(t) = y + e^{−ηtΘ/N}(f0 − y) and f*(t) = f0* + Θ*Θ⁻¹(I − e^{−ηtΘ/N})(y − f0).
    kernel, cross, y, f0, f0_test = _kernel_problem(rng)
    n, eta, t = y.size, 0.7, 13.0
    decay = expm(-eta * t * kernel / n)
    f_train, f_test = gd_mse_prediction(kernel, cross, y, t, eta, f0, f0_test)
    np.testing.assert_allclose(f_train, y + decay @ (f0 - y), rtol=1e-10)
    np.testing.assert_allclose(f_test, f0_test + cross @ np.linalg.solve(kernel, (np.eye(n) - decay) @ (y - f0)), rtol=1e-9)


def test_discrete_prediction_equals_iterating_the_linearized_update(rng: np.random.Generator) -> None:
    # Oracle: 25 explicit steps f ← f − (η/N) Θ (f − y), f* ← f* − (η/N) Θ* (f − y).
    kernel, cross, y, f0, f0_test = _kernel_problem(rng)
    eta, n = 1.3, y.size
    f, f_star = f0.copy(), f0_test.copy()
    for _ in range(25):
        f, f_star = f - eta / n * kernel @ (f - y), f_star - eta / n * cross @ (f - y)
    f_train, f_test = gd_mse_prediction(kernel, cross, y, 25, eta, f0, f0_test, discrete=True)
    np.testing.assert_allclose(f_train, f, rtol=1e-10)
    np.testing.assert_allclose(f_test, f_star, rtol=1e-10)


def test_a_vector_of_times_gives_one_row_per_time(rng: np.random.Generator) -> None:
    kernel, cross, y, f0, f0_test = _kernel_problem(rng)
    times = np.array([0.0, 3.0, 40.0, math.inf])
    together = gd_mse_prediction(kernel, cross, y, times, 0.9, f0, f0_test)
    assert together.f_train.shape == (4, y.size) and together.f_test.shape == (4, cross.shape[0])
    for row, t in enumerate(times):
        np.testing.assert_allclose(together.f_test[row], gd_mse_prediction(kernel, cross, y, t, 0.9, f0, f0_test).f_test,
                                   rtol=1e-12)


@pytest.mark.parametrize("districts", [8, 24, 32, 48, 64])
def test_a_singular_kernel_is_reported_and_gives_no_garbage(districts: int) -> None:
    # docs/maths.md §4: the bias-free one-layer ReLU NTK on equispaced circle points cannot see odd frequencies ≥ 3.
    # With many districts, antiparallel pairs make rounding-level eigenvalues (~1e-10 λ_max) that must count as 0.
    gamma = ring_angles(districts)
    x = ring_points(gamma)
    _, kernel = analytic_kernels(MLP(depth=1, b_std=0.0), x)
    prediction = gd_mse_prediction(kernel, kernel, np.sin(3 * gamma), math.inf, 1.0)
    assert prediction.rank < districts
    assert prediction.unlearnable_fraction == pytest.approx(1.0, abs=1e-9)
    assert prediction.note is not None and "singular" in prediction.note and "100%" in prediction.note
    assert np.abs(prediction.f_test).max() < 1e-8  # nothing of sin 3γ is learned, and nothing explodes


def test_a_ridge_regularizes_a_singular_kernel_on_request() -> None:
    gamma = ring_angles(8)
    _, kernel = analytic_kernels(MLP(depth=1, b_std=0.0), ring_points(gamma))
    prediction = gd_mse_prediction(kernel, kernel, np.sin(3 * gamma), math.inf, 1.0, ridge=1e-3)
    assert prediction.rank == 8 and prediction.note is None


def test_discrete_prediction_above_the_stable_learning_rate_says_it_diverges(rng: np.random.Generator) -> None:
    kernel, cross, y, *_ = _kernel_problem(rng)
    limit = 2 * y.size / np.linalg.eigvalsh(kernel)[-1]
    prediction = gd_mse_prediction(kernel, cross, y, np.array([10.0, 5000.0, math.inf]), 1.5 * limit, discrete=True)
    assert prediction.lr_limit == pytest.approx(limit)
    assert prediction.note is not None and "diverges" in prediction.note
    assert np.isfinite(prediction.f_test[0]).all()  # after 10 steps the linear model is large but finite
    assert np.isnan(prediction.f_test[1:]).all()  # then it overflows, and at t = ∞ it has no limit: NaN, not inf


def test_discrete_prediction_exactly_at_the_limit_oscillates_and_has_no_limit(rng: np.random.Generator) -> None:
    kernel, cross, y, *_ = _kernel_problem(rng)
    limit = 2 * y.size / np.linalg.eigvalsh(kernel)[-1]
    prediction = gd_mse_prediction(kernel, cross, y, np.array([7.0, math.inf]), limit, discrete=True)
    assert np.isfinite(prediction.f_train[0]).all() and np.isnan(prediction.f_train[1]).all()


def test_tiny_times_keep_full_relative_precision(rng: np.random.Generator) -> None:
    # f*(t) − f0* ≈ t·(η/N)·Θ*(y − f0) for small t: expm1 keeps ~1e-15 relative where 1 − exp would lose ~1e-7.
    kernel, cross, y, f0, _ = _kernel_problem(rng)
    t, eta = 1e-9, 1.0
    moved = gd_mse_prediction(kernel, cross, y, t, eta, f0, 0.0).f_test  # f0* = 0: no cancellation in the test itself
    first_order = t * eta / y.size * cross @ (y - f0)
    np.testing.assert_allclose(moved, first_order, rtol=1e-7)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"t": -1.0}, "t must be a time ≥ 0"),
    ({"t": 2.5, "discrete": True}, "whole numbers"),
    ({"learning_rate": 0.0}, "learning_rate must be positive"),
    ({"ridge": -1.0}, "ridge must be ≥ 0"),
    ({"y_train": np.ones(5)}, r"ntk_train_train must be shaped \(N, N\)"),
])
def test_bad_prediction_arguments_are_refused(rng: np.random.Generator, kwargs: dict[str, object], message: str) -> None:
    kernel, cross, y, *_ = _kernel_problem(rng)
    arguments: dict[str, object] = {"ntk_train_train": kernel, "ntk_test_train": cross, "y_train": y,
                                    "t": 1.0, "learning_rate": 1.0}
    with pytest.raises(ValueError, match=message):
        gd_mse_prediction(**(arguments | kwargs))  # type: ignore[arg-type]


def test_nonsymmetric_kernels_are_refused(rng: np.random.Generator) -> None:
    kernel, cross, y, *_ = _kernel_problem(rng)
    kernel[0, 1] += 1.0
    with pytest.raises(ValueError, match="symmetric"):
        gd_mse_prediction(kernel, cross, y, 1.0, 1.0)


# --- training finite networks -----------------------------------------------------------------

def _stack(mlp: MLP, seeds: range) -> Params:
    return stack_params([init_params(mlp, 2, np.random.default_rng(seed)) for seed in seeds])


def _loss(mlp: MLP, params: Params, f0: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """The training objective L(f_α)/α² for one network, written out."""
    f_alpha = f0 + mlp.alpha * (forward(mlp, params, x) - f0)
    return float(np.mean((f_alpha - y) ** 2) / 2 / mlp.alpha**2)


@pytest.mark.parametrize("mlp", [MLP(depth=2, width=5, alpha=0.3, activation="erf"),
                                 MLP(depth=1, width=6, parameterization="mean_field"),
                                 MLP(depth=1, width=6, parameterization="standard", b_std=0.4)], ids=repr)
def test_one_training_step_moves_each_parameter_by_its_learning_rate_times_the_loss_gradient(mlp: MLP) -> None:
    # Oracle: central differences of the objective itself; each parameter moves by −η · η_p · ∂(L/α²)/∂p.
    x, y = ring_points(ring_angles(4)), np.array([0.5, -1.0, 0.2, 0.8])
    params = _stack(mlp, range(1))
    after: list[Params] = []
    train(mlp, params, x, y, learning_rate=0.1, steps=1, snapshot_steps=(1,), on_snapshot=lambda _, p: after.append(p))
    single = [(W[0], b[0]) for W, b in params]
    f0 = forward(mlp, single, x)
    moved = flatten([(W[0], b[0]) for W, b in after[0]]) - flatten(single)
    gradient = central_differences(lambda p: _loss(mlp, p, f0, x, y), single)
    np.testing.assert_allclose(moved, -0.1 * learning_rate_factors(mlp, single, 2) * gradient, rtol=1e-5, atol=1e-10)


def test_training_lowers_the_loss_and_is_deterministic() -> None:
    mlp = MLP(depth=2, width=64)
    x = ring_points(ring_angles(8))
    y = np.sin(ring_angles(8))
    first = train(mlp, _stack(mlp, range(3)), x, y, learning_rate=1.0, steps=300)
    second = train(mlp, _stack(mlp, range(3)), x, y, learning_rate=1.0, steps=300)
    np.testing.assert_array_equal(first.loss, second.loss)
    assert np.all(first.loss[:, -1] < 1e-2 * first.loss[:, 0])
    assert np.all(first.diverged_at == -1) and first.reasons == (None, None, None)


def test_snapshots_see_the_parameters_before_each_requested_step() -> None:
    mlp = MLP(width=8)
    x, y = ring_points(ring_angles(4)), np.ones(4)
    params = _stack(mlp, range(2))
    seen: dict[int, Params] = {}
    history = train(mlp, params, x, y, learning_rate=0.5, steps=10, snapshot_steps=(0, 4, 10),
                    on_snapshot=lambda step, p: seen.setdefault(step, p))
    assert sorted(seen) == [0, 4, 10]
    np.testing.assert_array_equal(seen[0][0][0], params[0][0])
    final_loss = 0.5 * np.mean((forward(mlp, seen[10], x) - y) ** 2, axis=1)
    np.testing.assert_allclose(final_loss, history.loss[:, 10], rtol=1e-12)


def test_a_wide_network_trains_like_its_infinite_width_prediction() -> None:
    # docs/maths.md §4–5: with the analytic kernel and the network's own initial outputs, the discrete-time prediction
    # tracks the trained network; the gap shrinks as width grows (≈ n^(−1/2)).
    gamma = ring_angles(8)
    x, y, grid = ring_points(gamma), np.sin(gamma), ring_points(ring_angles(32))
    gaps = {}
    for width in (128, 4096):
        mlp = MLP(depth=1, width=width)
        params = _stack(mlp, range(2))
        finals: dict[int, Params] = {}
        train(mlp, params, x, y, learning_rate=1.0, steps=200, snapshot_steps=(200,), on_snapshot=finals.__setitem__)
        _, ntk_train = analytic_kernels(mlp, x)
        _, ntk_grid = analytic_kernels(mlp, grid, x)
        f0_train, f0_grid = forward(mlp, params, x), forward(mlp, params, grid)
        predicted = np.stack([gd_mse_prediction(ntk_train, ntk_grid, y, 200, 1.0, f0_train[k], f0_grid[k], discrete=True).f_test
                              for k in range(2)])
        trained = forward(mlp, finals[200], grid)
        gaps[width] = float(np.linalg.norm(trained - predicted) / np.linalg.norm(predicted))
    assert gaps[4096] < 0.05
    assert gaps[4096] < 0.4 * gaps[128]


def test_a_too_large_learning_rate_is_caught_and_explained() -> None:
    mlp = MLP(depth=1, width=32)
    x, y = ring_points(ring_angles(8)), np.sin(ring_angles(8))
    history = train(mlp, _stack(mlp, range(2)), x, y, learning_rate=40.0, steps=200)
    assert np.all(history.diverged_at > 0)
    for reason, limit in zip(history.reasons, history.lr_limit, strict=True):
        assert reason is not None and "learning rate 40 is above 2N/λ_max" in reason and f"{limit:.3g}" in reason
    assert np.isnan(history.loss[0, history.diverged_at[0]:]).all()


def test_a_diverging_network_does_not_disturb_those_stacked_beside_it() -> None:
    # Pick a learning rate between two networks' stability limits: one diverges, the other must train exactly
    # as it would alone.
    mlp = MLP(depth=1, width=4)
    x, y = ring_points(ring_angles(8)), np.sin(ring_angles(8))
    limits = train(mlp, _stack(mlp, range(12)), x, y, learning_rate=1e-3, steps=0).lr_limit
    low, high = int(np.argmin(limits)), int(np.argmax(limits))
    assert limits[high] > 1.3 * limits[low]
    rate = float(np.sqrt(limits[low] * limits[high]))
    pair = stack_params([init_params(mlp, 2, np.random.default_rng(seed)) for seed in (low, high)])
    together = train(mlp, pair, x, y, learning_rate=rate, steps=300)
    alone = train(mlp, _stack(mlp, range(high, high + 1)), x, y, learning_rate=rate, steps=300)
    assert together.diverged_at[0] > 0 and together.diverged_at[1] == -1
    np.testing.assert_allclose(together.loss[1], alone.loss[0], rtol=1e-12)


def test_zero_steps_only_measure_the_start() -> None:
    mlp = MLP(width=8)
    x, y = ring_points(ring_angles(4)), np.ones(4)
    history = train(mlp, _stack(mlp, range(2)), x, y, learning_rate=1.0, steps=0)
    assert history.loss.shape == (2, 1) and np.isfinite(history.loss).all()


def test_a_network_that_sees_nothing_has_no_learning_rate_limit() -> None:
    # x = 0 and no biases: every gradient is 0, Θ̂ = 0, so any learning rate is stable (2N/λ_max = ∞) — no warning.
    mlp = MLP(width=8, b_std=0.0)
    history = train(mlp, _stack(mlp, range(1)), np.zeros((3, 2)), np.ones(3), learning_rate=1.0, steps=3)
    assert history.lr_limit[0] == math.inf and history.diverged_at[0] == -1


def test_bad_training_arguments_are_refused() -> None:
    mlp = MLP(width=4)
    params = _stack(mlp, range(1))
    x = ring_points(ring_angles(3))
    with pytest.raises(ValueError, match=r"targets must be shaped \(N,\)"):
        train(mlp, params, x, np.ones(4), learning_rate=1.0, steps=1)
    with pytest.raises(ValueError, match="learning_rate must be positive"):
        train(mlp, params, x, np.ones(3), learning_rate=-1.0, steps=1)
    with pytest.raises(ValueError, match=r"snapshot steps must lie in 0\.\.5"):
        train(mlp, params, x, np.ones(3), learning_rate=1.0, steps=5, snapshot_steps=(6,))
    with pytest.raises(ValueError, match="stacked networks"):
        train(mlp, init_params(mlp, 2, np.random.default_rng(0)), x, np.ones(3), learning_rate=1.0, steps=1)


def test_discrete_steps_too_small_to_change_one_minus_eta_lambda_still_converge_at_infinity() -> None:
    # ηλ/N ≈ 1e-26: 1 − ηλ/N rounds to exactly 1.0, yet every step still fits a little; at t = ∞ the discrete
    # dynamics reach kernel regression, as gradient flow does (it was NaN, with no note).
    kernel = np.diag([1e-20, 2e-20])
    cross = np.array([[3e-21, -1e-21]])
    y = np.array([1.0, -1.0])
    flow = gd_mse_prediction(kernel, cross, y, np.inf, 1e-6)
    steps = gd_mse_prediction(kernel, cross, y, np.inf, 1e-6, discrete=True)
    np.testing.assert_allclose(steps.f_train, y, rtol=1e-12)
    np.testing.assert_allclose(steps.f_test, flow.f_test, rtol=1e-12)  # both are Θ*Θ⁻¹y = 0.35
