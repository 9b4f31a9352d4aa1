"""Each network's own linearisation and its kernel's top eigenvalue (docs/maths.md §4, §8), against an explicit Jacobian.

The oracle (tests/ntk/oracles.py) differentiates the network one parameter at a time through a forward pass of its own;
here gradient descent runs on the explicitly linearised model built from that Jacobian,

    f_α(x; θ) = f(x; θ_0) + α J(x) (θ − θ_0),    θ_p ← θ_p − η η_p (1/αN) Σ_i (f_α(x_i) − y_i) J(x_i)_p

(the step ``train`` takes, with the model linear in θ), step by step, with no kernel and no eigendecomposition.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import DriftConfig, drift_experiment, forward
from app.ntk.experiments import initial_networks, trained_networks
from app.ntk.mlp import Params
from tests.ntk.oracles import flat_jacobian, jacobian_ntk, learning_rate_factors

# Narrow and tiny: the Jacobian has 33–105 columns; 12 steps keep the linearised model's rounding far below RTOL.
TINY = {"widths": (6,), "seeds": 2, "steps": 12, "snapshots": 4, "districts": 3, "grid": 5}
# Two float64 routes to the same numbers (a closed form in the kernel's eigenbasis against 12 explicit steps):
# measured to agree to ~1e-14 relative; what a wrong kernel, rate or α would give differs by more than 1e-3.
RTOL, ATOL = 1e-10, 1e-12

# Every way the code scales the network: per-parameter learning rates (mean-field), α ≠ 1, the standard scales.
SCALINGS = {
    "ntk": {},
    "ntk, alpha 0.5, depth 2": {"alpha": 0.5, "depth": 2},
    "ntk, alpha 3, erf": {"alpha": 3.0, "activation": "erf"},
    "mean_field": {"parameterization": "mean_field", "learning_rate": 0.5},
    "standard": {"parameterization": "standard", "learning_rate": 0.5},
}


def seed(params: Params, k: int) -> Params:
    return [(W[k], b[k]) for W, b in params]


@pytest.mark.parametrize("changes", SCALINGS.values(), ids=SCALINGS.keys())
def test_the_linearization_is_gradient_descent_on_the_explicitly_linearized_network(changes: dict[str, object]) -> None:
    config = DriftConfig(**TINY | changes)  # type: ignore[arg-type]
    result = drift_experiment(config)
    task, width, mlp = result.task, result.widths[0], config.mlp(config.widths[0])
    rate, alpha, n = config.learning_rate, config.alpha, config.districts
    initial = initial_networks(config, config.widths[0])
    for k in range(config.seeds):
        params = seed(initial, k)
        assert rate < width.lr_limit[k], "a stable case: the divergent one is tested below"
        jacobian_train, jacobian_grid = flat_jacobian(mlp, params, task.x_train), flat_jacobian(mlp, params, task.x_grid)
        factors = learning_rate_factors(mlp, params, task.x_train.shape[1])
        f0_train, f0_grid = forward(mlp, params, task.x_train), forward(mlp, params, task.x_grid)
        moved = np.zeros(jacobian_train.shape[1])  # θ − θ_0
        expected = []
        for step in range(config.steps + 1):
            if step in result.snapshot_steps:
                expected.append(f0_grid + alpha * jacobian_grid @ moved)
            residual = f0_train + alpha * jacobian_train @ moved - task.y_train
            moved -= rate * factors * (jacobian_train.T @ residual) / (alpha * n)
        np.testing.assert_allclose(width.linearization[k], np.array(expected), rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(width.linearization[k, 0], width.function[k, 0], rtol=RTOL, atol=ATOL)  # same start


@pytest.mark.parametrize("changes", [{}, {"parameterization": "mean_field", "learning_rate": 0.5}], ids=["ntk", "mean_field"])
def test_lambda_max_is_the_top_eigenvalue_of_the_explicit_kernel_on_the_districts(changes: dict[str, object]) -> None:
    # The learning-rate-weighted kernel J diag(η_p) Jᵀ on the districts, at init and after training.
    config = DriftConfig(**TINY | {"steps": 200, "snapshots": 2} | changes)  # type: ignore[arg-type]
    result = drift_experiment(config)
    width, x, mlp = result.widths[0], result.task.x_train, config.mlp(config.widths[0])
    initial, final = trained_networks(config, config.widths[0])
    for k in range(config.seeds):
        at_init = np.linalg.eigvalsh(jacobian_ntk(mlp, seed(initial, k), x, x))[-1]
        at_end = np.linalg.eigvalsh(jacobian_ntk(mlp, seed(final, k), x, x))[-1]
        np.testing.assert_allclose(width.lambda_max[k], [at_init, at_end], rtol=RTOL)
        assert at_end != pytest.approx(at_init, rel=1e-3)  # the kernel did move: the last snapshot is not the first
        assert 2 * config.districts / width.lambda_max[k, 0] == pytest.approx(width.lr_limit[k], rel=1e-12)


def test_a_wide_network_is_far_closer_to_its_own_linearization_than_to_the_planners_forecast() -> None:
    # Lee et al. (2019): the trained network follows its own linearisation; the planner's forecast also carries the
    # initial kernel's error Θ̂_0 − Θ (∝ n^−½). erf, width 4096: measured 2e-5–4e-5 against 1e-3–4e-3.
    result = drift_experiment(DriftConfig(widths=(4096,), seeds=2, steps=50, snapshots=2, districts=4, grid=16,
                                          activation="erf"))
    width = result.widths[0]
    assert width.forecast_gap is not None
    assert np.all(width.linearization_gap < width.forecast_gap / 10), (width.linearization_gap, width.forecast_gap)
    assert np.all(width.forecast_gap < 0.02)  # and both are small: the planner's forecast is close too
    # So the distance from the planner's forecast is the two forecasts' distance, the initial kernel's error.
    assert width.linearization_forecast_gap is not None
    np.testing.assert_allclose(width.forecast_gap, width.linearization_forecast_gap, rtol=0.1)


def test_forecasts_whose_fixed_kernel_is_too_large_for_the_step_are_null_after_their_start() -> None:
    # Between 1.5× and 2× every kernel's limit 2N/λ_max: each fixed-kernel forecast grows like |1 − ηλ_max/N|^t, finite
    # at every step but a forecast of nothing, while the network itself may catapult.
    probe = DriftConfig(**TINY | {"widths": (64,), "seeds": 3})  # type: ignore[arg-type]
    result = drift_experiment(probe)
    assert result.reference is not None
    limits = [result.reference.lr_limit, *result.widths[0].lr_limit]
    config = DriftConfig(**TINY | {"widths": (64,), "seeds": 3, "steps": 200, "snapshots": 3,  # type: ignore[arg-type]
                                   "learning_rate": 1.6 * max(limits)})
    result = drift_experiment(config)
    width, reference = result.widths[0], result.reference
    assert reference is not None and width.forecast is not None
    assert reference.note is not None and "diverges" in reference.note
    for forecast in (width.forecast, width.linearization):
        assert np.isfinite(forecast[:, 0]).all() and np.isnan(forecast[:, 1:]).all()  # the start is the network's own
    assert np.isnan(reference.mean_forecast[1:]).all()
    assert width.linearization_forecast_gap is not None
    assert all(math.isnan(g) for g in [*width.forecast_gap, *width.linearization_gap, *width.linearization_forecast_gap])
