"""Independent oracles the maths core is checked against: finite differences and an explicit Jacobian."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from app.ntk import MLP
from app.ntk.mlp import Params, forward_trace, layer_scales, loss_gradient


def flat_jacobian(mlp: MLP, params: Params, x: np.ndarray) -> np.ndarray:
    """``J[i, p] = ∂f(x_i)/∂p`` for every parameter p, (N, P), one backprop per input (one-hot cotangents)."""
    trace = forward_trace(mlp, params, x)
    rows = []
    for i in range(x.shape[0]):
        grads = loss_gradient(params, trace, np.eye(x.shape[0])[i])
        rows.append(flatten(grads))
    return np.stack(rows)


def learning_rate_factors(mlp: MLP, params: Params, input_dim: int) -> np.ndarray:
    """Per-parameter learning-rate factors, flattened in the order of :func:`flat_jacobian`, (P,)."""
    return np.concatenate([np.concatenate([np.full(W.size, s.w_lr), np.full(b.size, s.b_lr)])
                           for s, (W, b) in zip(layer_scales(mlp, input_dim), params, strict=True)])


def jacobian_ntk(mlp: MLP, params: Params, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """The explicit ``J(x1) diag(η_p) J(x2)ᵀ``, (N1, N2): the oracle for the layer-wise kernel."""
    factors = learning_rate_factors(mlp, params, x1.shape[1])
    return (flat_jacobian(mlp, params, x1) * factors) @ flat_jacobian(mlp, params, x2).T


def flatten(params: Params) -> np.ndarray:
    """All parameters in one vector, layer by layer, W before b, (P,)."""
    return np.concatenate([a.ravel() for pair in params for a in pair])


def unflatten(vector: np.ndarray, like: Params) -> Params:
    """The inverse of :func:`flatten`, shaped like ``like``."""
    out, start = [], 0
    for W, b in like:
        end = start + W.size
        out.append((vector[start:end].reshape(W.shape), vector[end:end + b.size].reshape(b.shape)))
        start = end + b.size
    return out


def central_differences(objective: Callable[[Params], float], params: Params, eps: float = 1e-6) -> np.ndarray:
    """``∂ objective / ∂p`` for every parameter by central differences, flattened, (P,).

    Truncation error ~ε² times the third derivative, rounding ~1e-16/ε: about 1e-9 relative for smooth objectives.
    """
    flat = flatten(params)
    grad = np.empty_like(flat)
    for p in range(flat.size):
        step = np.zeros_like(flat)
        step[p] = eps
        grad[p] = (objective(unflatten(flat + step, params)) - objective(unflatten(flat - step, params))) / (2 * eps)
    return grad
