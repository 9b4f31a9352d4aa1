"""Independent oracles the maths core is checked against: finite differences and an explicit Jacobian.

The Jacobian is built by forward-mode differentiation, one parameter at a time, through a forward pass
written here: it shares no code with app/ntk's forward pass or backprop (only the layer constants of
``layer_scales``), so a bug in the backward recursion cannot be mirrored by the oracle.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import erf

from app.ntk import MLP
from app.ntk.mlp import layer_scales

Params = list[tuple[np.ndarray, np.ndarray]]  # [(W_l (fan_in, fan_out), b_l (fan_out,))], one network


def flat_jacobian(mlp: MLP, params: Params, x: np.ndarray, gates: list[np.ndarray] | None = None) -> np.ndarray:
    """``J[i, p] = ∂f(x_i)/∂p`` for every parameter p, (N, P): column p is the derivative along parameter p alone.

    ``gates`` (ReLU): fixed on/off patterns per hidden layer, (N, n_l) bool: the Jacobian of the gated linear network
    ``a_l = h_l · gate_l`` instead of ``relu(h_l)`` (see :func:`relu_patterns`)."""
    size = flatten(params).size
    columns = [_directional_derivative(mlp, params, unflatten(np.eye(1, size, p)[0], params), x, gates)
               for p in range(size)]
    return np.stack(columns, axis=1)


def relu_patterns(mlp: MLP, params: Params, x: np.ndarray) -> list[np.ndarray]:
    """Which ReLU units are on at each input, per hidden layer: ``h_l > 0``, (N, n_l) bool, from this module's own pass."""
    a, patterns = x, []
    for s, (W, b) in list(zip(layer_scales(mlp, x.shape[1]), params, strict=True))[:-1]:
        h = s.w_mult * (a @ W) + s.b_mult * b
        patterns.append(h > 0)
        a = np.maximum(h, 0.0)
    return patterns


def _directional_derivative(mlp: MLP, params: Params, tangent: Params, x: np.ndarray,
                            gates: list[np.ndarray] | None = None) -> np.ndarray:
    """``d/dε f(x; θ + ε·tangent)`` at ε = 0, (N,), carried forward through the layers beside the values.

    ``h = m_w a @ W + m_b b`` gives ``ḣ = m_w (ȧ @ W + a @ Ẇ) + m_b ḃ``; ``a = φ(h)`` gives ``ȧ = φ'(h) ḣ``;
    with gates ``g``, ``a = g h`` gives ``ȧ = g ḣ``.
    """
    a, a_dot = x, np.zeros_like(x)
    scales = layer_scales(mlp, x.shape[1])
    for l, (s, (W, b), (W_dot, b_dot)) in enumerate(zip(scales, params, tangent, strict=True)):
        h = s.w_mult * (a @ W) + s.b_mult * b
        h_dot = s.w_mult * (a_dot @ W + a @ W_dot) + s.b_mult * b_dot
        if l == len(params) - 1:
            return np.asarray(h_dot[:, 0])
        if gates is not None:
            a, a_dot = np.where(gates[l], h, 0.0), np.where(gates[l], h_dot, 0.0)
        elif mlp.activation == "relu":
            a, a_dot = np.maximum(h, 0.0), np.where(h > 0, h_dot, 0.0)
        else:
            a, a_dot = erf(h), 2 / math.sqrt(math.pi) * np.exp(-(h**2)) * h_dot
    raise ValueError("a network has at least one layer")


def learning_rate_factors(mlp: MLP, params: Params, input_dim: int) -> np.ndarray:
    """Per-parameter learning-rate factors, flattened in the order of :func:`flat_jacobian`, (P,)."""
    return np.concatenate([np.concatenate([np.full(W.size, s.w_lr), np.full(b.size, s.b_lr)])
                           for s, (W, b) in zip(layer_scales(mlp, input_dim), params, strict=True)])


def jacobian_ntk(mlp: MLP, params: Params, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    """The explicit ``J(x1) diag(η_p) J(x2)ᵀ``, (N1, N2): the oracle for the layer-wise kernel."""
    factors = learning_rate_factors(mlp, params, x1.shape[1])
    return np.asarray((flat_jacobian(mlp, params, x1) * factors) @ flat_jacobian(mlp, params, x2).T)


def gated_jacobian_ntk(mlp: MLP, params: Params, x: np.ndarray, gates: list[np.ndarray]) -> np.ndarray:
    """``J_g(x) diag(η_p) J_g(x)ᵀ``, (N, N), with ``J_g`` the Jacobian of the ReLU network's units held to ``gates``."""
    jacobian = flat_jacobian(mlp, params, x, gates)
    return np.asarray((jacobian * learning_rate_factors(mlp, params, x.shape[1])) @ jacobian.T)


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
