"""Neural tangent kernels: empirical (finite width, layer by layer) and analytic (infinite width).

Both follow neural-tangents' conventions (``empirical_ntk_fn``, ``stax.Dense/Relu/Erf``),
docs/maths.md §2–3. ``x2=None`` means ``x2 = x1`` (and then shared work is done once).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from app.ntk.checks import Checkpoint, as_inputs, require
from app.ntk.mlp import MLP, Array, Masks, Params, Trace, forward_trace, output_sensitivities


def empirical_ntk(mlp: MLP, params: Params, x1: Array, x2: Array | None = None,
                  checkpoint: Checkpoint | None = None) -> Array:
    """The finite-width NTK ``Θ̂(x, x') = Σ_p η_p ∂f(x)/∂p ∂f(x')/∂p``: ``(N1, d)``, ``(N2, d)`` → ``(..., N1, N2)``.

    Computed layer by layer, never through a Jacobian (docs/maths.md §3):

        Θ̂ = Σ_{l=1..L+1} ⟨δ_l(x), δ_l(x')⟩ · (w_lr · w_mult² ⟨a_{l-1}(x), a_{l-1}(x')⟩ + b_lr · b_mult²)

    which in the NTK parameterization is ``(σw²/n_{l-1}) ⟨a, a'⟩ + σb²``. ``η_p`` are the
    per-parameter learning-rate factors (all 1 except in the mean-field parameterization),
    so this is the kernel that drives the function under gradient descent. Stacked
    parameters (leading axes ``...``) give stacked kernels. ``checkpoint()``, if given, is called
    before each layer of each pass (it may raise to abandon the work).
    """
    return kernel_and_output(mlp, params, x1, x2, checkpoint)[0]


def kernel_and_output(mlp: MLP, params: Params, x1: Array, x2: Array | None = None,
                      checkpoint: Checkpoint | None = None) -> tuple[Array, Array]:
    """``(Θ̂(x1, x2), f(x1))``: the empirical NTK and, from the same forward pass, the outputs ``(..., N1)``."""
    x1 = as_inputs(x1)
    trace1 = forward_trace(mlp, params, x1, checkpoint)
    deltas1 = output_sensitivities(params, trace1, checkpoint)
    if x2 is None:
        return _layerwise_kernel(trace1, deltas1, trace1, deltas1, checkpoint), trace1.output
    x2 = as_inputs(x2)
    require(x2.shape[1] == x1.shape[1], f"x1 and x2 must have the same input dimension, got {x1.shape[1]} and {x2.shape[1]}")
    trace2 = forward_trace(mlp, params, x2, checkpoint)
    deltas2 = output_sensitivities(params, trace2, checkpoint)
    return _layerwise_kernel(trace1, deltas1, trace2, deltas2, checkpoint), trace1.output


def kernel_and_trace(mlp: MLP, params: Params, x: Array, checkpoint: Checkpoint | None = None,
                     masks: Masks | None = None) -> tuple[Array, Trace]:
    """``(Θ̂(x, x), trace)``: the empirical NTK on one input set ``(N, d)`` → ``(..., N, N)``, and its forward trace.

    The trace's ``slopes`` are, for ReLU, the activation patterns ``P_l = step(h_l)`` ``(..., N, n_l)``. Given
    ``masks`` (ReLU only, see ``forward_trace``), the kernel is ``Θ̂(θ, P)``: the same layer-by-layer sum, with
    ``φ'(h_l) = P_l`` and ``a_l = h_l ⊙ P_l`` taken from the given patterns instead of the network's own, i.e. the
    NTK of the gated linear network whose gates are ``P`` (docs/maths.md §5, "Why ReLU sits between").
    """
    x = as_inputs(x)
    trace = forward_trace(mlp, params, x, checkpoint, masks)
    deltas = output_sensitivities(params, trace, checkpoint)
    return _layerwise_kernel(trace, deltas, trace, deltas, checkpoint), trace


class KernelBlocks(NamedTuple):
    """The empirical NTK on two input sets ``x`` ``(M, d)`` and ``z`` ``(N, d)``, block by block, and their traces."""

    xx: Array           # Θ̂(x, x): (..., M, M)
    xz: Array | None    # Θ̂(x, z): (..., M, N), or None when not asked for
    zz: Array           # Θ̂(z, z): (..., N, N)
    trace_x: Trace      # the forward pass on x (its outputs f(x): trace_x.output, (..., M))
    trace_z: Trace      # the forward pass on z (f(z): trace_z.output, (..., N))


def kernel_blocks(mlp: MLP, params: Params, x: Array, z: Array, *, cross: bool = True,
                  checkpoint: Checkpoint | None = None) -> KernelBlocks:
    """``Θ̂(x, x)``, ``Θ̂(x, z)`` (if ``cross``) and ``Θ̂(z, z)`` with one forward and one δ pass per input set.

    The same layer-by-layer sums as :func:`empirical_ntk`, so each block equals its own ``empirical_ntk`` call
    (to rounding) while every pass is done once: what the drift experiment needs at each snapshot, the kernel on
    the grid ``x`` and on the districts ``z``, and at initialisation the grid × districts block of the network's own
    linearised forecast (app/ntk/experiments.py). Joining ``x`` and ``z`` into one set would do the same passes but
    add the ``Θ̂(z, x)`` block and, without ``cross``, the ``Θ̂(x, z)`` one.
    """
    x, z = as_inputs(x), as_inputs(z)
    require(z.shape[1] == x.shape[1], f"x and z must have the same input dimension, got {x.shape[1]} and {z.shape[1]}")
    trace_x, trace_z = forward_trace(mlp, params, x, checkpoint), forward_trace(mlp, params, z, checkpoint)
    deltas_x, deltas_z = output_sensitivities(params, trace_x, checkpoint), output_sensitivities(params, trace_z, checkpoint)
    return KernelBlocks(
        xx=_layerwise_kernel(trace_x, deltas_x, trace_x, deltas_x, checkpoint),
        xz=_layerwise_kernel(trace_x, deltas_x, trace_z, deltas_z, checkpoint) if cross else None,
        zz=_layerwise_kernel(trace_z, deltas_z, trace_z, deltas_z, checkpoint),
        trace_x=trace_x, trace_z=trace_z)


def _layerwise_kernel(trace1: Trace, deltas1: list[Array], trace2: Trace, deltas2: list[Array],
                      checkpoint: Checkpoint | None) -> Array:
    """``Σ_l ⟨δ_l, δ_l'⟩ · (w_lr · w_mult² ⟨a_{l-1}, a_{l-1}'⟩ + b_lr · b_mult²)`` → ``(..., N1, N2)``."""
    kernel: Array = np.zeros(())
    for l, s in enumerate(trace1.scales):
        if checkpoint is not None:
            checkpoint()
        inputs_gram = _gram(trace1.inputs[l], trace2.inputs[l])
        kernel = kernel + _gram(deltas1[l], deltas2[l]) * (s.w_lr * s.w_mult**2 * inputs_gram + s.b_lr * s.b_mult**2)
    return kernel


def _gram(a: Array, b: Array) -> Array:
    """``a @ bᵀ`` over the last axis: ``(..., N1, n)``, ``(..., N2, n)`` → ``(..., N1, N2)``."""
    return a @ np.swapaxes(b, -1, -2)


def analytic_kernels(mlp: MLP, x1: Array, x2: Array | None = None) -> tuple[Array, Array]:
    """The infinite-width ``(nngp, ntk)``, each ``(N1, N2)``, exactly as neural-tangents computes them.

    Per layer we track the cross covariance ``Σ(x, x')`` and the variances ``Σ(x, x)``,
    ``Σ(x', x')`` (each with its own diagonal formula, docs/maths.md §2):

        input:        K = x·x'/d,   Θ̃ = 0
        dense:        Σ = σw² K + σb²,   Θ = Σ + σw² Θ̃
        activation:   K = E[φ(u)φ(v)],   Θ̃ = Θ · E[φ'(u)φ'(v)],   (u, v) ~ N(0, Σ)
        readout:      nngp = σw² K_L + σb²,   ntk = nngp + σw² Θ̃_L

    The mean-field parameterization's learning-rate-weighted kernel at init has the same
    limit as the NTK parameterization's; the standard parameterization's NTK grows with
    width and has no finite limit, so it is refused.
    """
    require(mlp.parameterization != "standard",
             "the standard parameterization's NTK grows with width and has no infinite-width limit; "
             "use parameterization='ntk' for analytic kernels")
    x1 = as_inputs(x1)
    same = x2 is None
    x2 = x1 if x2 is None else as_inputs(x2)
    require(x2.shape[1] == x1.shape[1], f"x1 and x2 must have the same input dimension, got {x1.shape[1]} and {x2.shape[1]}")
    d = x1.shape[1]
    var_w, var_b = mlp.w_std**2, mlp.b_std**2
    cross, var1, var2 = x1 @ x2.T / d, np.sum(x1**2, axis=1) / d, np.sum(x2**2, axis=1) / d
    ntk_tilde: Array = np.zeros_like(cross)
    for _ in range(mlp.depth):
        if same:  # x with itself: the diagonal is the variance exactly (θ = 0), not θ ≈ 1e-8 from rounding
            np.fill_diagonal(cross, var1)
        cross, var1, var2 = var_w * cross + var_b, var_w * var1 + var_b, var_w * var2 + var_b
        ntk = cross + var_w * ntk_tilde
        if mlp.activation == "relu":
            cross, slope_cross = _relu_moments(cross, var1, var2)
            var1, var2 = var1 / 2, var2 / 2
        else:
            cross, slope_cross = _erf_moments(cross, var1, var2)
            var1, var2 = _erf_variance(var1), _erf_variance(var2)
        ntk_tilde = ntk * slope_cross
    if same:
        np.fill_diagonal(cross, var1)
    nngp = var_w * cross + var_b
    return nngp, nngp + var_w * ntk_tilde


def _relu_moments(q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
    """Arc-cosine kernels: ``(E[relu(u) relu(v)], E[step(u) step(v)])`` for ``(u, v) ~ N(0, [[q11, q12], [q12, q22]])``.

    ``θ = atan2(√(q11 q22 − q12²), q12)`` (atan2, not arccos of a ratio: rounding would leave
    [−1, 1]); ``E[step step] = ½ − θ/2π`` and ``E[relu relu] = √(q11 q22 − q12²)/2π + (½ − θ/2π) q12``,
    written in neural-tangents' order so that θ = 0 gives exactly ``q12/2`` (``π q12 / 2π`` would
    round one ulp off, and the next layer would turn that ulp into θ ≈ 1e-8).
    """
    det = np.sqrt(np.maximum(np.outer(q11, q22) - q12**2, 0.0))
    step = 0.5 - np.arctan2(det, q12) / (2 * math.pi)
    return det / (2 * math.pi) + step * q12, step


def _erf_moments(q12: Array, q11: Array, q22: Array) -> tuple[Array, Array]:
    """``(E[erf(u) erf(v)], E[erf'(u) erf'(v)])`` in closed form (Williams 1997).

    ``E[erf erf] = (2/π) arcsin(2 q12 / √((1 + 2q11)(1 + 2q22)))`` and ``E[erf' erf'] = (4/π) / √D`` with
    ``D = (1 + 2q11)(1 + 2q22) − 4 q12² = 1 + 2q11 + 2q22 + 4 (q11 q22 − q12²)``, written in that
    second form (and the determinant clipped at 0) so that large variances do not cancel.
    """
    norm = np.outer(1 + 2 * q11, 1 + 2 * q22)
    det = np.maximum(np.outer(q11, q22) - q12**2, 0.0)
    slope = (4 / math.pi) / np.sqrt(np.add.outer(2 * q11, 2 * q22) + 1 + 4 * det)
    return (2 / math.pi) * np.arcsin(np.clip(2 * q12 / np.sqrt(norm), -1.0, 1.0)), slope


def _erf_variance(q: Array) -> Array:
    """``E[erf(u)²] = (2/π) arcsin(2q / (1 + 2q))`` for ``u ~ N(0, q)``."""
    return (2 / math.pi) * np.arcsin(2 * q / (1 + 2 * q))
