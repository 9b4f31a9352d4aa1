"""The ReLU drift split into units switching on/off and the rest (docs/maths.md §5), against an explicit Jacobian.

The oracle (tests/ntk/oracles.py) differentiates, one parameter at a time, a forward pass of its own in which every
hidden unit's on/off pattern is held to the one it had at init: the gated linear network whose kernel is
``Θ̂(θ_T, P_0)``. It shares no code with the layer-by-layer kernel, the masked forward pass or backprop.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

from app.ntk import DriftConfig, DriftResult, drift_experiment, init_params, stack_params
from app.ntk.experiments import drift_parts, trained_networks
from app.ntk.kernels import kernel_and_trace
from app.ntk.mlp import Params, forward_trace
from tests.ntk.oracles import gated_jacobian_ntk, jacobian_ntk, relu_patterns

# Narrow and trained long, so that units do switch on the grid between init and the end (about 1 in 10 does).
SMALL = DriftConfig(widths=(10,), seeds=2, depth=2, steps=300, snapshots=2, districts=4, grid=12, b_std=0.5)
MLP10 = SMALL.mlp(SMALL.widths[0])
# Two float64 evaluations of the same kernel (entries ~1) summed in different orders: measured to agree to 3e-16
# relative. The tolerance leaves room for rounding and nothing else: the wrong splits differ by ~40 % (see below).
RTOL, ATOL = 1e-10, 1e-12


class Small(NamedTuple):
    """The experiment, and each seed's own network (unstacked) at init and after training, as the experiment had them."""

    result: DriftResult
    initial: list[Params]
    final: list[Params]


def networks(config: DriftConfig) -> tuple[list[Params], list[Params]]:
    """Each seed's parameters at init and after training, drawn and trained as ``drift_experiment`` does."""
    initial, final = trained_networks(config, config.widths[0])
    return ([[(W[k], b[k]) for W, b in initial] for k in range(config.seeds)],
            [[(W[k], b[k]) for W, b in final] for k in range(config.seeds)])


@pytest.fixture(scope="module")
def small() -> Small:
    return Small(drift_experiment(SMALL), *networks(SMALL))


def test_the_init_masks_kernel_is_the_explicit_jacobian_kernel_of_the_network_gated_as_at_init(small: Small) -> None:
    result, initial, final = small
    width, x, mlp = result.widths[0], result.task.x_grid, MLP10
    assert width.kernel_init_masks is not None
    for k in range(SMALL.seeds):
        gates0, gates_final = relu_patterns(mlp, initial[k], x), relu_patterns(mlp, final[k], x)
        assert any((g0 != g1).any() for g0, g1 in zip(gates0, gates_final, strict=True)), "no unit switched: no test"
        oracle = gated_jacobian_ntk(mlp, final[k], x, gates0)  # Θ̂(θ_T, P_0)
        np.testing.assert_allclose(width.kernel_init_masks[k], oracle, rtol=RTOL, atol=ATOL)
        # What a wrong split would have computed instead is far from it: the trained kernel Θ̂(θ_T, P_T), and the
        # patterns swapped, Θ̂(θ_0, P_T) (the split the other way round).
        for wrong in (jacobian_ntk(mlp, final[k], x, x), gated_jacobian_ntk(mlp, initial[k], x, gates_final)):
            assert np.max(np.abs(wrong - oracle)) > 1e-3 * np.max(np.abs(oracle))


def test_the_parts_are_the_norms_of_the_oracles_switching_and_smooth_changes(small: Small) -> None:
    result, initial, final = small
    width, x, mlp = result.widths[0], result.task.x_grid, MLP10
    assert width.drift_switching is not None
    for k in range(SMALL.seeds):
        start, end = jacobian_ntk(mlp, initial[k], x, x), jacobian_ntk(mlp, final[k], x, x)
        frozen = gated_jacobian_ntk(mlp, final[k], x, relu_patterns(mlp, initial[k], x))
        scale = np.linalg.norm(start)
        assert width.drift_switching[k] == pytest.approx(np.linalg.norm(end - frozen) / scale, rel=1e-8)
        assert width.drift_smooth[k] == pytest.approx(np.linalg.norm(frozen - start) / scale, rel=1e-8)
        assert width.drift_switching[k] > 0.01 and width.drift_smooth[k] > 0.01  # both parts are there to be swapped


def test_the_parts_add_up_to_the_whole_change_exactly(small: Small) -> None:
    # Θ̂(θ_t, P_t) is the network's own kernel, bit for bit, so the two brackets telescope to Θ̂_T − Θ̂_0.
    width, x = small.result.widths[0], small.result.task.x_grid
    assert width.kernel_init_masks is not None
    switching = width.kernel[:, -1] - width.kernel_init_masks
    smooth = width.kernel_init_masks - width.kernel[:, 0]
    total = width.kernel[:, -1] - width.kernel[:, 0]
    np.testing.assert_allclose(switching + smooth, total, rtol=0, atol=1e-12 * np.abs(width.kernel[:, 0]).max())
    params0 = stack_params(small.initial)
    own, trace = kernel_and_trace(MLP10, params0, x)
    with_own_masks = kernel_and_trace(MLP10, params0, x, masks=[s > 0 for s in trace.slopes])[0]
    np.testing.assert_array_equal(with_own_masks, own)
    np.testing.assert_array_equal(own, width.kernel[:, 0])


def test_drift_parts_are_relative_to_the_initial_kernel() -> None:
    kernel0, final, frozen = np.eye(2) * 2.0, np.eye(2) * 2.0 + [[0, 3], [4, 0]], np.eye(2) * 3.0
    switching, smooth = drift_parts(kernel0, final, frozen)
    assert switching == pytest.approx(np.linalg.norm(final - frozen) / np.sqrt(8))
    assert smooth == pytest.approx(1 / 2)  # ‖I‖_F / ‖2I‖_F


def test_erf_units_do_not_switch_so_the_whole_drift_is_smooth() -> None:
    result = drift_experiment(DriftConfig(widths=(8, 16, 32), seeds=1, activation="erf", steps=20, snapshots=2,
                                          districts=4, grid=8))
    for width in result.widths:
        assert width.kernel_init_masks is None and width.drift_switching is None
        np.testing.assert_array_equal(width.drift_smooth, width.drift[:, -1])
    assert "drift_switching" not in result.slopes and result.slopes["drift_smooth"] == result.slopes["drift"]


def test_only_relu_units_have_on_off_patterns_to_hold() -> None:
    mlp = SMALL.mlp(4)
    erf = DriftConfig(activation="erf").mlp(4)
    params = init_params(mlp, 2, np.random.default_rng(0))
    x = np.eye(2)
    with pytest.raises(ValueError, match="erf has none"):
        forward_trace(erf, params, x, masks=[np.ones((2, 4), dtype=bool)] * 2)
    with pytest.raises(ValueError, match="one mask per hidden layer"):
        forward_trace(mlp, params, x, masks=[np.ones((2, 4), dtype=bool)])
    with pytest.raises(ValueError, match=r"must be shaped \(2, 4\)"):
        forward_trace(mlp, params, x, masks=[np.ones((3, 4), dtype=bool)] * 2)
