"""The drift experiment's headline numbers, pinned against a re-implementation that shares no code with app/ntk.

What the page reports — the kernel drift ``‖Θ̂_t − Θ̂_0‖_F / ‖Θ̂_0‖_F`` on the grid, each weight matrix's
movement ``‖W_l(t) − W_l(0)‖_F / ‖W_l(0)‖_F``, the loss at every step and the trained function on the
grid — is recomputed here from docs/maths.md §1, §3 and §4 alone: the same initial draws, a plain forward
pass, per-example gradients by the chain rule, ``Θ̂ = J Jᵀ`` and full-batch gradient descent on
``L = 1/(2N) Σ (f(x_i) − y_i)²``. Only the data (district angles, targets, grid) is read from the
experiment, and that is checked once against the ring's own formula.

Tolerance: both sides evaluate the same float64 arithmetic in a different order, so each number
differs by rounding, ~1e-16 relative per operation. 25 stable gradient-descent steps and sums of a
few hundred terms grow that (measured: ≤ 1e-15 absolute everywhere, ≤ 1.2e-13 relative, the largest
where the trained function is ~5e-3); 1e-10 leaves three orders of margin for other BLAS builds, while
any real change in the maths (the learning rate × 1.001, a missing bias, σw and σb swapped) moves these
numbers by 1e-4 relative or more. Entries that are exactly 0 on both sides (the drift and weight change
at step 0) need an absolute tolerance: 1e-13, a hundred times the largest absolute difference measured.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.special import erf

from app.ntk import DriftConfig, DriftResult, drift_experiment

RTOL = 1e-10  # rounding only: see the module docstring
ATOL = 1e-13  # for entries that are exactly 0 on both sides (step 0)
INPUT_DIM = 2


@dataclass(frozen=True)
class Reference:
    """One width's numbers from the re-implementation, shaped like the experiment's: S seeds, K snapshots."""

    drift: np.ndarray          # (S, K)
    weight_change: np.ndarray  # (S, K, L + 1)
    loss: np.ndarray           # (S, steps + 1)
    function: np.ndarray       # (S, K, G)


# --- the re-implementation: one network at a time, plain numpy ----------------------------------

Layers = list[tuple[np.ndarray, np.ndarray]]  # [(W_l (fan_in, fan_out), b_l (fan_out,))]


def draw_network(seed: int, width: int, depth: int) -> Layers:
    """NTK parameterization: every parameter a unit Gaussian, layer by layer, W then b (docs/maths.md §1)."""
    rng = np.random.default_rng([seed, width])
    fans = [INPUT_DIM] + [width] * depth + [1]
    layers = []
    for fan_in, fan_out in itertools.pairwise(fans):
        weights = rng.standard_normal((fan_in, fan_out))
        biases = rng.standard_normal(fan_out)
        layers.append((weights, biases))
    return layers


def phi(activation: str, h: np.ndarray) -> np.ndarray:
    return np.maximum(h, 0.0) if activation == "relu" else erf(h)


def phi_slope(activation: str, h: np.ndarray) -> np.ndarray:
    return (h > 0).astype(float) if activation == "relu" else 2 / math.sqrt(math.pi) * np.exp(-(h**2))


def outputs_and_jacobian(config: DriftConfig, layers: Layers, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``f(x_i)`` (N,) and ``J[i, p] = ∂f(x_i)/∂p`` (N, P), p running layer by layer, W (row-major) before b.

    ``h_l = (σw/√fan_in) a_{l-1} W_l + σb b_l``; ``f = h_{L+1}``. Chain rule per input:
    ``∂f/∂h_{L+1} = 1``, ``∂f/∂a_l = (σw/√fan_in) W_{l+1} ∂f/∂h_{l+1}``, ``∂f/∂h_l = φ'(h_l) ∂f/∂a_l``;
    ``∂f/∂W_l = (σw/√fan_in) a_{l-1} ⊗ ∂f/∂h_l``, ``∂f/∂b_l = σb ∂f/∂h_l``.
    """
    sigma_w, sigma_b = config.w_std, config.b_std
    activations, preactivations = [x], []
    for l, (W, b) in enumerate(layers):
        h = sigma_w / math.sqrt(W.shape[0]) * activations[-1] @ W + sigma_b * b
        preactivations.append(h)
        if l < len(layers) - 1:
            activations.append(phi(config.activation, h))
    f = preactivations[-1][:, 0]
    blocks: list[np.ndarray] = []
    d_h = np.ones((x.shape[0], 1))  # ∂f/∂h_{L+1}, per input
    for l in range(len(layers) - 1, -1, -1):
        W = layers[l][0]
        multiplier = sigma_w / math.sqrt(W.shape[0])
        d_W = multiplier * activations[l][:, :, None] * d_h[:, None, :]  # (N, fan_in, fan_out)
        d_b = sigma_b * d_h
        blocks = [d_W.reshape(x.shape[0], -1), d_b, *blocks]
        if l > 0:
            d_h = phi_slope(config.activation, preactivations[l - 1]) * (multiplier * d_h @ W.T)
    return f, np.concatenate(blocks, axis=1)


def flat(layers: Layers) -> np.ndarray:
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in layers])


def shaped(vector: np.ndarray, like: Layers) -> Layers:
    layers, start = [], 0
    for W, b in like:
        middle, end = start + W.size, start + W.size + b.size
        layers.append((vector[start:middle].reshape(W.shape), vector[middle:end]))
        start = end
    return layers


def relative_change(now: np.ndarray, start: np.ndarray) -> float:
    return float(np.linalg.norm(now - start) / np.linalg.norm(start))


def reimplemented(config: DriftConfig, width: int, x_train: np.ndarray, y_train: np.ndarray, x_grid: np.ndarray) -> Reference:
    """Train ``config.seeds`` networks of one width by plain gradient descent and measure them at the snapshots."""
    snapshots = evenly_spaced_steps(config.steps, config.snapshots)
    drifts, moves, losses, functions = [], [], [], []
    for k in range(config.seeds):
        start = draw_network(config.seed + k, width, config.depth)
        theta = flat(start)
        kernel0 = None
        drift, move, loss, function = [], [], [], []
        for step in range(config.steps + 1):
            layers = shaped(theta, start)
            f_train, jacobian_train = outputs_and_jacobian(config, layers, x_train)
            residual = f_train - y_train
            loss.append(residual @ residual / (2 * len(y_train)))
            if step in snapshots:
                f_grid, jacobian_grid = outputs_and_jacobian(config, layers, x_grid)
                kernel = jacobian_grid @ jacobian_grid.T
                kernel0 = kernel if kernel0 is None else kernel0
                drift.append(relative_change(kernel, kernel0))
                move.append([relative_change(W, W0) for (W, _), (W0, _) in zip(layers, start, strict=True)])
                function.append(f_grid)
            theta = theta - config.learning_rate * jacobian_train.T @ residual / len(y_train)  # η ∇L
        drifts.append(drift)
        moves.append(move)
        losses.append(loss)
        functions.append(function)
    return Reference(np.array(drifts), np.array(moves), np.array(losses), np.array(functions))


def evenly_spaced_steps(steps: int, snapshots: int) -> list[int]:
    return sorted({round(steps * j / (snapshots - 1)) for j in range(snapshots)})


# --- the experiments under test ------------------------------------------------------------------

CASES = [("relu", 1), ("relu", 2), ("erf", 1), ("erf", 2)]


def _config(activation: str, depth: int) -> DriftConfig:
    # σw ≠ σb (swapping them changes every number), η ≠ 1 (scaling it is caught), seed ≠ 0 (seed + k is used).
    return DriftConfig(widths=(8, 16), seeds=2, depth=depth, activation=activation, w_std=1.5, b_std=0.3,
                       parameterization="ntk", learning_rate=0.7, steps=25, snapshots=4, districts=8, grid=12,
                       target="sin", seed=3)


@pytest.fixture(scope="module", params=CASES, ids=lambda case: f"{case[0]}-depth{case[1]}")
def compared(request: pytest.FixtureRequest) -> tuple[DriftResult, list[Reference]]:
    config = _config(*request.param)
    result = drift_experiment(config)
    task = result.task
    references = [reimplemented(config, n, task.x_train, task.y_train, task.x_grid) for n in config.widths]
    return result, references


def test_the_ring_is_the_formula() -> None:
    # District i of N at γ_i = −π + 2πi/N, x = (cos γ, sin γ), y = sin γ; the grid likewise. Exact formulas: 1e-15.
    task = drift_experiment(_config("relu", 1)).task
    gamma_train = np.array([-math.pi + 2 * math.pi * i / 8 for i in range(8)])
    gamma_grid = np.array([-math.pi + 2 * math.pi * i / 12 for i in range(12)])
    np.testing.assert_allclose(task.x_train, np.column_stack([np.cos(gamma_train), np.sin(gamma_train)]), atol=1e-15)
    np.testing.assert_allclose(task.y_train, np.sin(gamma_train), atol=1e-15)
    np.testing.assert_allclose(task.x_grid, np.column_stack([np.cos(gamma_grid), np.sin(gamma_grid)]), atol=1e-15)


def test_snapshots_are_evenly_spaced_from_the_first_step_to_the_last() -> None:
    result = drift_experiment(_config("relu", 1))
    assert [0, 8, 17, 25] == evenly_spaced_steps(25, 4) == list(result.snapshot_steps)


def test_no_network_diverges_so_every_number_is_compared(compared: tuple[DriftResult, list[Reference]]) -> None:
    result, _ = compared
    assert all((width.diverged_at == -1).all() for width in result.widths)


def test_kernel_drift_on_the_grid_matches_the_reimplementation(compared: tuple[DriftResult, list[Reference]]) -> None:
    result, references = compared
    for width, expected in zip(result.widths, references, strict=True):
        np.testing.assert_allclose(width.drift, expected.drift, rtol=RTOL, atol=ATOL, err_msg=f"width {width.width}")


def test_weight_movement_per_matrix_matches_the_reimplementation(compared: tuple[DriftResult, list[Reference]]) -> None:
    result, references = compared
    for width, expected in zip(result.widths, references, strict=True):
        np.testing.assert_allclose(width.weight_change, expected.weight_change, rtol=RTOL, atol=ATOL,
                                   err_msg=f"width {width.width}")


def test_training_loss_at_every_step_matches_the_reimplementation(compared: tuple[DriftResult, list[Reference]]) -> None:
    result, references = compared
    for width, expected in zip(result.widths, references, strict=True):
        np.testing.assert_allclose(width.loss, expected.loss, rtol=RTOL, err_msg=f"width {width.width}")


def test_trained_function_on_the_grid_matches_the_reimplementation(compared: tuple[DriftResult, list[Reference]]) -> None:
    result, references = compared
    for width, expected in zip(result.widths, references, strict=True):
        np.testing.assert_allclose(width.function, expected.function, rtol=RTOL, atol=ATOL, err_msg=f"width {width.width}")
