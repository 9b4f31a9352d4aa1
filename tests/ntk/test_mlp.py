"""The network itself: initialization, forward pass, and backprop against finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import MLP, forward, init_params, stack_params
from app.ntk.mlp import forward_trace, layer_scales, loss_gradient
from tests.ntk.oracles import central_differences, flatten

ARCHITECTURES = [
    MLP(depth=1, width=7, activation="relu"),
    MLP(depth=3, width=5, activation="relu", w_std=1.4, b_std=0.3),
    MLP(depth=2, width=6, activation="erf", w_std=1.2, b_std=0.5),
    MLP(depth=2, width=6, activation="erf", parameterization="standard"),
    MLP(depth=1, width=9, activation="relu", parameterization="mean_field"),
    MLP(depth=4, width=4, activation="erf", alpha=0.1),
]


def test_init_shapes_follow_fan_in_and_fan_out(rng: np.random.Generator) -> None:
    params = init_params(MLP(depth=3, width=5), input_dim=2, rng=rng)
    assert [(W.shape, b.shape) for W, b in params] == [((2, 5), (5,)), ((5, 5), (5,)), ((5, 5), (5,)), ((5, 1), (1,))]


def test_ntk_parameterization_draws_unit_gaussians(rng: np.random.Generator) -> None:
    # 4096² entries: the sample std of a unit Gaussian is within 1e-3 of 1 with overwhelming probability (σ ≈ 3.5e-4).
    W = init_params(MLP(depth=2, width=4096, w_std=2.0), input_dim=2, rng=rng)[1][0]
    assert abs(W.std() - 1.0) < 2e-3
    assert abs(W.mean()) < 2e-3


def test_standard_parameterization_folds_the_scale_into_the_weights(rng: np.random.Generator) -> None:
    W = init_params(MLP(depth=2, width=4096, w_std=2.0, parameterization="standard"), input_dim=2, rng=rng)[1][0]
    assert abs(W.std() - 2.0 / math.sqrt(4096)) < 2e-3 * 2.0 / math.sqrt(4096)


def test_forward_matches_the_layer_formula_written_out(rng: np.random.Generator) -> None:
    mlp = MLP(depth=2, width=3, w_std=1.3, b_std=0.2)
    x = rng.standard_normal((4, 5))
    (W1, b1), (W2, b2), (W3, b3) = params = init_params(mlp, 5, rng)
    a1 = np.maximum(1.3 / math.sqrt(5) * x @ W1 + 0.2 * b1, 0)
    a2 = np.maximum(1.3 / math.sqrt(3) * a1 @ W2 + 0.2 * b2, 0)
    expected = (1.3 / math.sqrt(3) * a2 @ W3 + 0.2 * b3)[:, 0]
    np.testing.assert_allclose(forward(mlp, params, x), expected, rtol=1e-14)


def test_parameterizations_give_the_same_function_distribution_at_init(rng: np.random.Generator) -> None:
    # Same seed, same unit draws: the standard parameterization only moves the scale from the layer into W.
    x = rng.standard_normal((3, 2))
    ntk_net, std_net = MLP(depth=2, width=8, parameterization="ntk"), MLP(depth=2, width=8, parameterization="standard")
    f_ntk = forward(ntk_net, init_params(ntk_net, 2, np.random.default_rng(1)), x)
    f_std = forward(std_net, init_params(std_net, 2, np.random.default_rng(1)), x)
    np.testing.assert_allclose(f_std, f_ntk, rtol=1e-12)


@pytest.mark.parametrize("mlp", ARCHITECTURES, ids=repr)
def test_backprop_matches_central_finite_differences(mlp: MLP, rng: np.random.Generator) -> None:
    # Central differences are good to ~1e-9 relative; 1e-6 leaves room for curvature near relu kinks.
    x = rng.standard_normal((3, 2)) + 0.1  # generic points: no unit sits exactly on the relu kink
    params = init_params(mlp, 2, rng)
    cotangent = rng.standard_normal(3)
    grads = loss_gradient(params, forward_trace(mlp, params, x), cotangent)
    expected = central_differences(lambda p: float(cotangent @ forward(mlp, p, x)), params)
    np.testing.assert_allclose(flatten(grads), expected, rtol=1e-6, atol=1e-8)


def test_stacked_networks_compute_what_each_computes_alone(rng: np.random.Generator) -> None:
    mlp = MLP(depth=2, width=6, activation="erf")
    x = rng.standard_normal((5, 2))
    nets = [init_params(mlp, 2, np.random.default_rng(seed)) for seed in range(3)]
    stacked = forward(mlp, stack_params(nets), x)
    np.testing.assert_allclose(stacked, np.stack([forward(mlp, net, x) for net in nets]), rtol=1e-14)


def test_mean_field_divides_the_readout_by_width_and_scales_learning_rates() -> None:
    scales = layer_scales(MLP(depth=1, width=100, w_std=2.0, b_std=0.5, parameterization="mean_field"), 2)
    assert scales[1].w_mult == pytest.approx(2.0 / 100)
    assert [(s.w_lr, s.b_lr) for s in scales] == [(100, 100), (100, 1)]


@pytest.mark.parametrize(("fields", "message"), [
    ({"depth": 0}, "depth must be an integer from 1 to 4"),
    ({"depth": 5}, "depth must be an integer from 1 to 4"),
    ({"width": 0}, "width must be a positive integer"),
    ({"width": 2.5}, "width must be a positive integer"),
    ({"activation": "tanh"}, "activation must be one of"),
    ({"parameterization": "mup"}, "parameterization must be one of"),
    ({"w_std": 0.0}, "w_std must be a finite positive number"),
    ({"w_std": math.nan}, "w_std must be a finite positive number"),
    ({"b_std": -0.1}, "b_std must be a finite number ≥ 0"),
    ({"alpha": math.inf}, "alpha must be a finite positive number"),
    ({"parameterization": "mean_field", "depth": 2}, "mean_field parameterization is implemented for depth 1 only"),
])
def test_bad_architectures_are_refused_with_a_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MLP(**fields)  # type: ignore[arg-type]


def test_bad_inputs_are_refused_with_a_reason(rng: np.random.Generator) -> None:
    mlp = MLP(width=4)
    params = init_params(mlp, 2, rng)
    with pytest.raises(ValueError, match=r"shaped \(N, d\)"):
        forward(mlp, params, np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        forward(mlp, params, np.array([[np.nan, 0.0]]))
