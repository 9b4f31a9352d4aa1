"""The fully connected network: architecture, initialization, forward pass and backprop.

Conventions are neural-tangents' (``stax.Dense(..., parameterization='ntk')``), docs/maths.md §1:
every trainable number is a unit Gaussian at init and each layer carries its scale,

    h_l = (σw / √n_{l-1}) · a_{l-1} @ W_l + σb · b_l,    a_0 = x,  a_l = φ(h_l),
    f(x) = h_{L+1}   (the readout is an ordinary layer with one output, no extra scale).

All three parameterizations are written as one layer form with per-layer constants
(:class:`LayerScale`): ``h = w_mult · a @ W + b_mult · b`` with ``W ~ N(0, w_init²)``,
``b ~ N(0, b_init²)``, trained with learning rate ``η · w_lr`` (``η · b_lr`` for b); a learning
rate that scales with width (``lr_scaling``) is one more factor in ``w_lr`` and ``b_lr``.

Every array function here accepts stacked networks: parameters may carry leading batch
axes (``W`` shaped ``(..., fan_in, fan_out)``), which is how all seeds of one width are
trained with one set of numpy calls per step. Inputs ``x`` are shared, shaped ``(N, d)``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy.special import erf

from app.ntk.checks import Checkpoint, as_inputs, require
from app.ntk.deferred import DeferredWeights

Array = NDArray[np.float64]
Params = list[tuple[Array, Array]]  # [(W_l, b_l)]: W (..., fan_in, fan_out), b (..., fan_out)
TrainingParams = Sequence[tuple[Array | DeferredWeights, Array]]  # as Params, some W with steps pending (training)
Masks = list[NDArray[np.bool_]]     # [P_l]: ReLU activation patterns per hidden layer, (..., N, n_l)

ACTIVATIONS = ("relu", "erf")
PARAMETERIZATIONS = ("ntk", "standard", "mean_field")
LR_SCALINGS = ("fixed", "inverse_width")  # how the learning rate scales with width: η, or η/n (standard only)
MAX_DEPTH = 4
MAX_MEAN_FIELD_DEPTH = 1


@dataclass(frozen=True)
class MLP:
    """A fully connected network with ``depth`` hidden layers of ``width`` units and a scalar output.

    ``alpha`` is Chizat–Oyallon–Bach's lazy-training scale: training fits
    ``f_α(x) = f(x; θ_0) + α (f(x; θ) − f(x; θ_0))`` on the loss ``L(f_α) / α²``.
    ``alpha = 1`` is the ordinary network; large α is lazier, small α richer (docs/maths.md §6).
    We offset by ``f(x; θ_0)`` instead of centring at zero (as Chizat et al. and docs/maths.md do) so
    that α = 1 is exactly the unscaled network: the model starts at ``f(θ_0)`` rather than 0,
    i.e. the centred dynamics with target ``y − f(θ_0)``, and its forecasts start there too.

    ``lr_scaling``: ``fixed`` trains every parameter at the learning rate η (times the parameterization's own
    factors); ``inverse_width`` at ``η/n`` — the standard parameterization's learning rate, whose kernel grows
    like n (Lee et al. 2019, their standard-parameterization appendix), so that ``(η/n) Θ̂`` stays O(1). It is
    offered for the standard parameterization only: the ntk and mean_field ones already keep the kernel's scale
    fixed, and ``η/n`` would stop their wide networks from learning at all (docs/maths.md §6).
    """

    depth: int = 1
    width: int = 512
    activation: str = "relu"
    w_std: float = 1.0
    b_std: float = 0.1
    parameterization: str = "ntk"
    alpha: float = 1.0
    lr_scaling: str = "fixed"

    def __post_init__(self) -> None:
        require(isinstance(self.depth, int) and 1 <= self.depth <= MAX_DEPTH,
                 f"depth must be an integer from 1 to {MAX_DEPTH} hidden layers, got {self.depth!r}")
        require(isinstance(self.width, int) and self.width >= 1,
                 f"width must be a positive integer, got {self.width!r}")
        require(self.activation in ACTIVATIONS,
                 f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        require(self.parameterization in PARAMETERIZATIONS,
                 f"parameterization must be one of {PARAMETERIZATIONS}, got {self.parameterization!r}")
        require(math.isfinite(self.w_std) and self.w_std > 0,
                 f"w_std must be a finite positive number, got {self.w_std!r}")
        require(math.isfinite(self.b_std) and self.b_std >= 0,
                 f"b_std must be a finite number ≥ 0, got {self.b_std!r}")
        require(math.isfinite(self.alpha) and self.alpha > 0,
                 f"alpha must be a finite positive number, got {self.alpha!r}")
        require(self.parameterization != "mean_field" or self.depth <= MAX_MEAN_FIELD_DEPTH,
                 f"the mean_field parameterization is implemented for depth {MAX_MEAN_FIELD_DEPTH} only "
                 f"(got depth {self.depth}); use alpha < 1 to see the rich regime in deeper networks")
        require(self.lr_scaling in LR_SCALINGS, f"lr_scaling must be one of {LR_SCALINGS}, got {self.lr_scaling!r}")
        require(self.lr_scaling == "fixed" or self.parameterization == "standard",
                 f"lr_scaling={self.lr_scaling!r} (η/width) is the standard parameterization's learning rate, whose "
                 f"kernel grows like the width; the {self.parameterization} parameterization already keeps its "
                 f"kernel's scale fixed, so η/width would only stop its wide networks from learning: use "
                 f"lr_scaling='fixed', or parameterization='standard'")


class LayerScale(NamedTuple):
    """One layer's constants: ``h = w_mult · a @ W + b_mult · b``, ``W ~ N(0, w_init²)``, lr ``η·w_lr``."""

    fan_in: int
    fan_out: int
    w_mult: float
    b_mult: float
    w_init: float
    b_init: float
    w_lr: float
    b_lr: float


@lru_cache(maxsize=256)
def layer_scales(mlp: MLP, input_dim: int) -> tuple[LayerScale, ...]:
    """The constants of the ``depth + 1`` layers (hidden layers, then the readout).

    - ntk:        multipliers ``σw/√fan_in``, ``σb``; unit-Gaussian init; learning rate η.
    - standard:   multipliers 1; init ``N(0, σw²/fan_in)``, ``N(0, σb²)``; learning rate η.
    - mean_field: as ntk, but the readout multiplier is ``σw/n`` and every parameter except
      the readout bias trains at ``η·n`` (the readout bias's gradient is already O(1)).
    - ``lr_scaling='inverse_width'`` (standard only): every parameter trains at ``η/n``, ``n`` the hidden width.
    """
    require(isinstance(input_dim, int) and input_dim >= 1, f"input_dim must be a positive integer, got {input_dim!r}")
    fans = [input_dim] + [mlp.width] * mlp.depth + [1]
    scales = []
    for fan_in, fan_out in itertools.pairwise(fans):
        if mlp.parameterization == "standard":
            scales.append(LayerScale(fan_in=fan_in, fan_out=fan_out, w_mult=1.0, b_mult=1.0,
                                     w_init=mlp.w_std / math.sqrt(fan_in), b_init=mlp.b_std, w_lr=1.0, b_lr=1.0))
        else:
            scales.append(LayerScale(fan_in=fan_in, fan_out=fan_out, w_mult=mlp.w_std / math.sqrt(fan_in), b_mult=mlp.b_std,
                                     w_init=1.0, b_init=1.0, w_lr=1.0, b_lr=1.0))
    if mlp.parameterization == "mean_field":
        n = float(mlp.width)
        scales = [s._replace(w_lr=n, b_lr=n) for s in scales[:-1]]
        scales.append(LayerScale(fan_in=mlp.width, fan_out=1, w_mult=mlp.w_std / n, b_mult=mlp.b_std,
                                 w_init=1.0, b_init=1.0, w_lr=n, b_lr=1.0))
    if mlp.lr_scaling == "inverse_width":
        scales = [s._replace(w_lr=s.w_lr / mlp.width, b_lr=s.b_lr / mlp.width) for s in scales]
    return tuple(scales)


def init_params(mlp: MLP, input_dim: int, rng: np.random.Generator, checkpoint: Checkpoint | None = None) -> Params:
    """Draw one network's parameters: ``[(W_l, b_l)]`` with ``W_l`` ``(fan_in, fan_out)``, ``b_l`` ``(fan_out,)``.

    ``checkpoint()``, if given, is called before each layer (it may raise to abandon the work)."""
    params = []
    for s in layer_scales(mlp, input_dim):
        if checkpoint is not None:
            checkpoint()
        params.append((s.w_init * rng.standard_normal((s.fan_in, s.fan_out)), s.b_init * rng.standard_normal(s.fan_out)))
    return params


def stack_params(networks: list[Params]) -> Params:
    """Stack several networks' parameters along a new leading axis: ``W`` → ``(S, fan_in, fan_out)``."""
    require(len(networks) > 0, "stack_params needs at least one network")
    return [(np.stack([net[l][0] for net in networks]), np.stack([net[l][1] for net in networks]))
            for l in range(len(networks[0]))]


def activate(activation: str, h: Array) -> tuple[Array, Array]:
    """``(φ(h), φ'(h))`` elementwise; ``h`` is overwritten.

    We take relu'(0) = 0 (JAX takes 1/2). It never changes a kernel here: a pre-activation
    is exactly 0 only when everything feeding it is, and then every gradient through it is 0.
    """
    if activation == "relu":
        slope = (h > 0).astype(h.dtype)
        return np.multiply(h, slope, out=h), slope
    value = erf(h)  # then erf'(h) = 2/√π · exp(−h²), in h's own memory: one new array, not five (the same numbers)
    np.multiply(h, h, out=h)
    np.negative(h, out=h)
    np.exp(h, out=h)
    return value, np.multiply(h, 2.0 / math.sqrt(math.pi), out=h)


class Trace(NamedTuple):
    """What the backward pass needs from the forward pass, per layer l = 1..L+1."""

    scales: tuple[LayerScale, ...]
    inputs: list[Array]   # a_{l-1}: (..., N, fan_in); inputs[0] is x itself, (N, d)
    slopes: list[Array]   # φ'(h_l) for the hidden layers: (..., N, n_l)
    output: Array         # f(x): (..., N)


def forward_trace(mlp: MLP, params: TrainingParams, x: Array, checkpoint: Checkpoint | None = None,
                  masks: Masks | None = None) -> Trace:
    """Run the network on ``x`` ``(N, d)`` keeping each layer's input and activation slope.

    ``masks``, for ReLU only: one activation pattern ``P_l`` per hidden layer, ``(..., N, n_l)`` bool,
    used instead of the network's own ``step(h_l)``: ``a_l = h_l ⊙ P_l`` and ``φ'(h_l) = P_l``. That is a gated
    linear network, linear in each pre-activation once the gates are given; with ``P_l = step(h_l)`` it is the
    ReLU network itself, exactly (``masks=None``). Its kernel ``Θ̂(θ, P)`` is the one docs/maths.md §5 splits the
    drift with. ``checkpoint()``, if given, is called before each hidden layer (it may raise to abandon the work)."""
    scales = layer_scales(mlp, x.shape[-1])
    if masks is not None:
        require(mlp.activation == "relu", f"activation patterns are 0/1 gates of ReLU units; {mlp.activation} has none")
        require(len(masks) == len(params) - 1, f"one mask per hidden layer: {len(params) - 1} expected, got {len(masks)}")
    inputs, slopes = [x], []
    a = x
    for l, (s, (W, b)) in enumerate(zip(scales[:-1], params[:-1], strict=False)):
        if checkpoint is not None:
            checkpoint()
        h = _weights_times(s.w_mult, a, W)
        h += s.b_mult * b[..., None, :]
        if masks is None:
            a, slope = activate(mlp.activation, h)
        else:
            require(masks[l].shape == h.shape, f"the mask of hidden layer {l + 1} must be shaped {h.shape}, got {masks[l].shape}")
            slope = masks[l].astype(np.float64)
            a = np.multiply(h, slope, out=h)
        inputs.append(a)
        slopes.append(slope)
    s, (W, b) = scales[-1], params[-1]
    output = _weights_times(s.w_mult, a, W)[..., 0] + s.b_mult * b
    return Trace(scales=scales, inputs=inputs, slopes=slopes, output=output)


def forward(mlp: MLP, params: Params, x: Array) -> Array:
    """The network's output ``f(x; θ)``: ``x`` ``(N, d)`` → ``(..., N)``. (The raw network: no α offset.)"""
    return forward_trace(mlp, params, as_inputs(x)).output


def output_sensitivities(params: Params, trace: Trace, checkpoint: Checkpoint | None = None) -> list[Array]:
    """``δ_l = ∂f/∂h_l`` for l = 1..L+1, each ``(..., N, fan_out_l)``.

    ``δ_{L+1} = 1`` and ``δ_l = φ'(h_l) ⊙ (w_mult_{l+1} · δ_{l+1} @ W_{l+1}ᵀ)`` (docs/maths.md §3).
    ``checkpoint()``, if given, is called before each layer (it may raise to abandon the work).
    """
    return _backprop(params, trace, np.ones_like(trace.output), checkpoint)


def loss_gradient(params: Params, trace: Trace, cotangent: Array) -> Params:
    """``Σ_i g_i ∂f(x_i)/∂θ`` for a cotangent ``g`` shaped ``(..., N)``, as ``[(∂W_l, ∂b_l)]``.

    With ``δ̃_l = Σ_i g_i δ_l(x_i)`` (δ propagated down from ``g`` instead of from 1):
    ``∂W_l = w_mult · a_{l-1}ᵀ δ̃_l`` and ``∂b_l = b_mult · 1ᵀ δ̃_l`` (:func:`gradient_factors`).
    """
    if len(params) == 2 and trace.inputs[0].ndim == 2:
        return _one_hidden_layer_gradient(params, trace, cotangent)
    return [(_scaled_matmul(s.w_mult, np.swapaxes(a, -1, -2), delta), bias)
            for s, a, delta, bias in gradient_factors(params, trace, cotangent)]


def gradient_factors(params: TrainingParams, trace: Trace, cotangent: Array) -> list[tuple[LayerScale, Array, Array, Array]]:
    """``Σ_i g_i ∂f(x_i)/∂θ`` layer by layer as factors ``(scale, a_{l-1}, δ̃_l, ∂b_l)``, without forming ``∂W_l``.

    ``∂W_l = w_mult · a_{l-1}ᵀ δ̃_l``: ``a_{l-1}`` ``(..., N, fan_in)`` (``(N, d)`` for the shared inputs) and
    ``δ̃_l`` ``(..., N, fan_out)``, a product of rank ≤ N; ``∂b_l = b_mult · 1ᵀ δ̃_l`` ``(..., fan_out)``. Training
    keeps the wide layers' steps in this form (:class:`~app.ntk.deferred.DeferredWeights`).
    """
    ones = np.ones(cotangent.shape[-1], dtype=cotangent.dtype)  # the sum over inputs as a matmul: faster than .sum(axis=-2)
    deltas = _backprop(params, trace, cotangent)
    return [(s, a, delta, s.b_mult * (ones @ delta))
            for s, a, delta in zip(trace.scales, trace.inputs, deltas, strict=True)]


def _one_hidden_layer_gradient(params: Params, trace: Trace, g: Array) -> Params:
    """:func:`loss_gradient` for one hidden layer on shared inputs, without building δ̃.

    Under the scalar readout, ``δ̃_1 = φ'(h_1) ⊙ (g ⊗ v)`` with ``v = w_mult₂ · W₂`` ``(..., n)``, so

        [∂W₁; ∂b₁] = [w_mult₁ xᵀ; b_mult₁ 1ᵀ] δ̃_1 = (([w_mult₁ xᵀ; b_mult₁ 1ᵀ] ⊙ g) @ φ'(h_1)) ⊙ v

    reads the slopes once instead of writing and re-reading an (..., N, n) array.
    """
    first, readout = trace.scales
    x, hidden = trace.inputs
    inputs = np.vstack([first.w_mult * x.T, np.full(x.shape[0], first.b_mult, dtype=x.dtype)])  # (d + 1, N)
    both = (inputs * g[..., None, :]) @ trace.slopes[0]  # (..., d + 1, n)
    both *= (readout.w_mult * params[1][0][..., 0])[..., None, :]
    readout_weights = readout.w_mult * (np.swapaxes(hidden, -1, -2) @ g[..., None])  # (..., n, 1)
    return [(both[..., :-1, :], both[..., -1, :]), (readout_weights, readout.b_mult * g.sum(axis=-1, keepdims=True))]


def _backprop(params: TrainingParams, trace: Trace, cotangent: Array, checkpoint: Checkpoint | None = None) -> list[Array]:
    """Propagate ``cotangent`` ``(..., N)`` from the output down: ``[δ̃_1 … δ̃_{L+1}]``."""
    deltas = [cotangent[..., None]]  # (..., N, 1)
    for l in range(len(params) - 1, 0, -1):  # hidden layers, from the top
        if checkpoint is not None:
            checkpoint()
        W, w_mult = params[l][0], trace.scales[l].w_mult
        if isinstance(W, DeferredWeights):
            back = W.times_transposed(deltas[-1] if w_mult == 1.0 else w_mult * deltas[-1])
        elif W.shape[-1] == 1:  # the readout: an outer product, far cheaper by broadcasting than as a matmul
            back = (w_mult * deltas[-1]) * np.swapaxes(W, -1, -2)
        else:
            back = _scaled_matmul(w_mult, deltas[-1], np.swapaxes(W, -1, -2))
        deltas.append(np.multiply(back, trace.slopes[l - 1], out=back))
    return deltas[::-1]


def _weights_times(c: float, a: Array, W: Array | DeferredWeights) -> Array:
    """``c · (a @ W)``, for plain weights or weights with steps pending."""
    if isinstance(W, DeferredWeights):
        return W.times(a if c == 1.0 else c * a)
    return _scaled_matmul(c, a, W)


def _scaled_matmul(c: float, a: Array, b: Array) -> Array:
    """``c · (a @ b)``, with the scalar applied to whichever operand is smaller."""
    if c == 1.0:
        return a @ b
    if a.size <= b.size:
        return (c * a) @ b
    return a @ (c * b)
