"""Write ``neural_tangents.json``: reference values from the real neural-tangents library.

Not part of the test suite and never imported by it: it needs JAX and neural-tangents,
which the project does not depend on. Run it from a scratch virtualenv, e.g.

    python3 -m venv /tmp/nt-venv
    /tmp/nt-venv/bin/pip install "neural-tangents==0.6.5" "jax==0.4.23" "jaxlib==0.4.23" \\
        "numpy<2" "scipy<1.13" "tensorflow==2.15.1" "tf2jax==0.3.6"
    /tmp/nt-venv/bin/python tests/ntk/reference/make_neural_tangents_reference.py

(neural-tangents 0.6.5, the newest release, does not import with the newest jax, 0.10.2:
``ImportError: cannot import name 'Jaxpr' from 'jax.core'``. With jax/jaxlib 0.4.23 it
imports and runs; tensorflow and tf2jax are pinned to versions that work with that jax.
Other versions between were not tried.)

The test ``tests/ntk/test_neural_tangents_reference.py`` reads the JSON with numpy alone.
Everything is float64 (``jax_enable_x64``); floats are written with ``repr``, which round-trips.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import scipy

jax.config.update("jax_enable_x64", True)

import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

OUT = Path(__file__).with_name("neural_tangents.json")

DEPTHS = (1, 2, 3, 4)
ACTIVATIONS = ("relu", "erf")
W_STDS = (1.0, 1.5, 2.0)
B_STDS = (0.0, 0.1, 0.5)

# Input sets: each has x1 and x2; analytic kernels are stored for (x1, None) and (x1, x2).
CIRCLE_GAMMA_1 = (0.0, 0.7, math.pi / 2, 2.5, math.pi)  # γ = 0 and γ = π: an antiparallel pair
CIRCLE_GAMMA_2 = (-2.0, 0.7, 1.2)                     # γ = 0.7 again: a parallel (identical) pair
R3_X1 = ((0.3, -1.2, 0.8), (1.5, 0.4, -0.2), (-0.1, 0.05, 0.02))  # norms ≈ 1.47, 1.57, 0.11
R3_X2 = (
    tuple(2.0 * v for v in R3_X1[0]),    # parallel to x1[0], twice its norm (exact in binary)
    tuple(-0.5 * v for v in R3_X1[1]),   # antiparallel to x1[1], half its norm (exact)
    (0.9, 0.9, -1.7),                    # generic
)

# Empirical cases: (depth, width, activation, w_std, b_std, input set, seed). Widths 3–8 keep the file small.
EMPIRICAL = (
    (1, 8, "relu", 1.5, 0.1, "circle", 11),
    (2, 5, "erf", 1.0, 0.5, "r3", 12),
    (3, 4, "relu", 2.0, 0.0, "r3", 13),
    (4, 3, "erf", 1.5, 0.1, "circle", 14),
    (2, 6, "relu", 1.0, 0.1, "r3", 15),
    (4, 5, "relu", 1.0, 0.1, "circle", 16),
    (1, 7, "erf", 2.0, 0.0, "circle", 17),
)

FINITE_TIMES = (0.0, 0.25, 1.0, 4.0, 30.0)


def ring(gamma: tuple[float, ...]) -> np.ndarray:
    """``(cos γ, sin γ)`` rows, computed as ``app.ntk.ring_points`` does."""
    g = np.asarray(gamma, dtype=np.float64)
    return np.stack([np.cos(g), np.sin(g)], axis=-1)


INPUTS: dict[str, tuple[np.ndarray, np.ndarray]] = {
    "circle": (ring(CIRCLE_GAMMA_1), ring(CIRCLE_GAMMA_2)),
    "r3": (np.asarray(R3_X1, dtype=np.float64), np.asarray(R3_X2, dtype=np.float64)),
}


def network(depth: int, activation: str, w_std: float, b_std: float, width: int = 512) -> Any:
    """``stax.serial`` of ``depth`` × (Dense(ntk) → activation) and a Dense(1) readout, as docs/maths.md §1.

    ``b_std`` is always passed (even 0.0): neural-tangents' default ``b_std=None`` drops the bias
    parameter, while ours keeps a bias whose multiplier is σb.
    """
    act = stax.Relu() if activation == "relu" else stax.Erf()
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std=w_std, b_std=b_std, parameterization="ntk"), act]
    layers.append(stax.Dense(1, W_std=w_std, b_std=b_std, parameterization="ntk"))
    return stax.serial(*layers)


def listed(a: Any) -> Any:
    """A float64 array as nested lists of Python floats."""
    return np.asarray(a, dtype=np.float64).tolist()


def analytic_cases() -> list[dict[str, Any]]:
    """``kernel_fn(x1, None)`` and ``kernel_fn(x1, x2)`` on every input set for the whole grid of architectures."""
    cases = []
    for depth in DEPTHS:
        for activation in ACTIVATIONS:
            for w_std in W_STDS:
                for b_std in B_STDS:
                    _, _, kernel_fn = network(depth, activation, w_std, b_std)
                    kernels: dict[str, Any] = {}
                    for name, (x1, x2) in INPUTS.items():
                        self_k = kernel_fn(jnp.asarray(x1), None, ("nngp", "ntk"))
                        cross_k = kernel_fn(jnp.asarray(x1), jnp.asarray(x2), ("nngp", "ntk"))
                        kernels[name] = {
                            "self": {"nngp": listed(self_k.nngp), "ntk": listed(self_k.ntk)},
                            "cross": {"nngp": listed(cross_k.nngp), "ntk": listed(cross_k.ntk)},
                        }
                    cases.append({"depth": depth, "activation": activation, "w_std": w_std, "b_std": b_std,
                                  "kernels": kernels})
    return cases


def draw_params(depth: int, width: int, input_dim: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Unit Gaussians in ``app.ntk.init_params``' layout and draw order: per layer W (fan_in, fan_out), then b (fan_out,)."""
    rng = np.random.default_rng(seed)
    fans = [input_dim] + [width] * depth + [1]
    return [(rng.standard_normal((fan_in, fan_out)), rng.standard_normal(fan_out))
            for fan_in, fan_out in itertools.pairwise(fans)]


def to_stax(params: list[tuple[np.ndarray, np.ndarray]]) -> list[Any]:
    """Our ``[(W, b)]`` as ``stax.serial`` parameters: b reshaped to (1, fan_out), ``()`` for each activation."""
    out: list[Any] = []
    for W, b in params[:-1]:
        out += [(jnp.asarray(W), jnp.asarray(b)[None, :]), ()]
    W, b = params[-1]
    out.append((jnp.asarray(W), jnp.asarray(b)[None, :]))
    return out


def empirical_cases() -> tuple[list[dict[str, Any]], float]:
    """Empirical NTK and outputs; also the largest disagreement among neural-tangents' own three NTK implementations."""
    cases, spread = [], 0.0
    for depth, width, activation, w_std, b_std, inputs, seed in EMPIRICAL:
        x1, x2 = INPUTS[inputs]
        params = draw_params(depth, width, x1.shape[1], seed)
        _, apply_fn, _ = network(depth, activation, w_std, b_std, width)
        stax_params = to_stax(params)
        kernels = {}
        for impl in (1, 2, 3):
            ntk_fn = nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), implementation=impl)
            kernels[impl] = (np.asarray(ntk_fn(jnp.asarray(x1), None, stax_params)),
                             np.asarray(ntk_fn(jnp.asarray(x1), jnp.asarray(x2), stax_params)))
        for impl in (2, 3):
            for a, b in zip(kernels[1], kernels[impl], strict=True):
                spread = max(spread, float(np.max(np.abs(a - b)) / np.max(np.abs(a))))
        self_k, cross_k = kernels[1]
        cases.append({
            "depth": depth, "width": width, "activation": activation, "w_std": w_std, "b_std": b_std,
            "inputs": inputs, "seed": seed,
            "params": [{"W": listed(W), "b": listed(b)} for W, b in params],
            "ntk_self": listed(self_k),
            "ntk_cross": listed(cross_k),
            "output_x1": listed(np.asarray(apply_fn(stax_params, jnp.asarray(x1)))[:, 0]),
            "output_x2": listed(np.asarray(apply_fn(stax_params, jnp.asarray(x2)))[:, 0]),
        })
    return cases, spread


def gd_case(name: str, k_train: np.ndarray, k_test_train: np.ndarray, y: np.ndarray, learning_rate: float,
            f0_train: np.ndarray, f0_test: np.ndarray) -> dict[str, Any]:
    """``nt.predict.gradient_descent_mse`` with its defaults (``diag_reg=0``, ``trace_axes=(-1,)``) on one output.

    Targets and outputs are shaped (N, 1) for neural-tangents (the traced last axis is the single output).
    """
    y2, f0, f0s = jnp.asarray(y)[:, None], jnp.asarray(f0_train)[:, None], jnp.asarray(f0_test)[:, None]
    predict = nt.predict.gradient_descent_mse(jnp.asarray(k_train), y2, learning_rate=learning_rate)
    f_tr, f_te = predict(jnp.asarray(FINITE_TIMES), f0, f0s, jnp.asarray(k_test_train))
    f_tr_inf, f_te_inf = predict(jnp.inf, f0, f0s, jnp.asarray(k_test_train))     # eigenbasis, expm1(−∞) = −1
    f_tr_none, f_te_none = predict(None, f0, f0s, jnp.asarray(k_test_train))      # Cholesky solve
    eig = np.linalg.eigvalsh(k_train)
    return {
        "name": name,
        "k_train_train": listed(k_train), "k_test_train": listed(k_test_train), "y_train": listed(y),
        "learning_rate": learning_rate, "f0_train": listed(f0_train), "f0_test": listed(f0_test),
        "condition_number": float(eig[-1] / eig[0]),
        "times": list(FINITE_TIMES),
        "f_train": listed(np.asarray(f_tr)[..., 0]), "f_test": listed(np.asarray(f_te)[..., 0]),
        "f_train_t_inf": listed(np.asarray(f_tr_inf)[..., 0]), "f_test_t_inf": listed(np.asarray(f_te_inf)[..., 0]),
        "f_train_t_none": listed(np.asarray(f_tr_none)[..., 0]), "f_test_t_none": listed(np.asarray(f_te_none)[..., 0]),
    }


def gd_cases(empirical: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two forecasts: one from an analytic kernel on the ring, one from a stored empirical kernel and its network's f0."""
    rng = np.random.default_rng(2024)
    # 1. Analytic NTK: 8 ring districts train, the five circle points test (depth 2, ReLU, σw = 1.5, σb = 0.1).
    gamma_train = -math.pi + 2 * math.pi * np.arange(8) / 8
    x_train, x_test = ring(tuple(gamma_train)), INPUTS["circle"][0]
    _, _, kernel_fn = network(2, "relu", 1.5, 0.1)
    k_tt = np.asarray(kernel_fn(jnp.asarray(x_train), None, "ntk"))
    k_st = np.asarray(kernel_fn(jnp.asarray(x_test), jnp.asarray(x_train), "ntk"))
    first = gd_case("analytic relu depth 2, w_std 1.5, b_std 0.1; 8 ring districts, y = sin γ", k_tt, k_st,
                    np.sin(gamma_train), 0.7, 0.3 * rng.standard_normal(8), 0.3 * rng.standard_normal(5))
    # 2. Empirical NTK of the stored empirical case with inputs 'r3', depth 2, ReLU: train on x1, test on x2,
    #    f0 = the network's own outputs (so this is exactly the linearized network's prediction).
    case = next(c for c in empirical if c["depth"] == 2 and c["activation"] == "relu")
    name = f"empirical relu depth {case['depth']}, width {case['width']}, seed {case['seed']}; train x1, test x2 of 'r3'"
    second = gd_case(name,
                     np.asarray(case["ntk_self"]), np.asarray(case["ntk_cross"]).T, np.array([0.5, -1.0, 0.25]), 1.0,
                     np.asarray(case["output_x1"]), np.asarray(case["output_x2"]))
    return [first, second]


def loss_convention_check(case: dict[str, Any]) -> dict[str, float]:
    """Solve the general ``nt.predict.gradient_descent`` ODE with an explicit loss and compare with the mse closed form.

    Returns the largest |difference| on the train outputs at the finite times for a *mean* loss
    ``½·mean((f − y)²)`` and for a *sum* loss ``½·Σ(f − y)²``: the one near zero is the convention.
    """
    k = jnp.asarray(case["k_train_train"])
    y = jnp.asarray(case["y_train"])[:, None]
    f0 = jnp.asarray(case["f0_train"])[:, None]
    closed = np.asarray(case["f_train"])
    out = {}
    for name, loss in (("mean", lambda fx, yy: 0.5 * jnp.mean((fx - yy) ** 2)),
                       ("sum", lambda fx, yy: 0.5 * jnp.sum((fx - yy) ** 2))):
        predict = nt.predict.gradient_descent(loss, k, y, learning_rate=case["learning_rate"])
        ode = np.asarray(predict(jnp.asarray(FINITE_TIMES), f0))[..., 0]
        out[name] = float(np.max(np.abs(ode - closed)))
    return out


NOTES = {
    "parameterization": (
        "stax.Dense(n, W_std=σw, b_std=σb, parameterization='ntk'): h = (σw/√fan_in)·x@W + σb·b with W (fan_in, fan_out), "
        "b stored by stax as (1, fan_out) (ours: (fan_out,)), all unit Gaussians. b_std is always passed explicitly: "
        "stax's default b_std=None has no bias parameter at all. The readout is Dense(1) with the same σw, σb."
    ),
    "activations": "stax.Relu() = ABRelu(0, 1) (do_stabilize=False); stax.Erf() = Erf(a=1, b=1, c=0), plain erf.",
    "analytic": ("kernel_fn(x1, x2, ('nngp', 'ntk')) of the stax.serial network (width irrelevant). 'self' is "
                 "kernel_fn(x1, None), 'cross' is kernel_fn(x1, x2)."),
    "empirical": ("nt.empirical_ntk_fn(apply_fn, trace_axes=(-1,), implementation=1) at the stored params; "
                  "trace_axes divides by the traced size (a mean over outputs), which is 1 here. 'ntk_self' is (x1, None), "
                  "'ntk_cross' is (x1, x2); outputs are apply_fn(params, x)[:, 0]."),
    "gradient_descent_mse": (
        "nt.predict.gradient_descent_mse(k_train_train, y_train[:, None], learning_rate=η) with its defaults diag_reg=0, "
        "diag_reg_absolute_scale=False, trace_axes=(-1,); predict_fn(t, f0_train[:, None], f0_test[:, None], k_test_train). "
        "Conventions read from neural_tangents/_src/predict.py (0.6.5): time is in units of the learning rate "
        "(t ← η·t, 'absolute_time = learning_rate * t'); the eigenvalue map is expm1(−max(λ, 0)·t / y_train.size), "
        "i.e. e^{−ηtΘ/N} with N = y_train.size = number of points × outputs. That is gradient flow on the MEAN loss "
        "½·mean((f − y)²) = 1/(2N)·Σ(f − y)² for one output, exactly our convention, so no argument needs changing "
        "(with k outputs it would divide by N·k). f_test uses expm1(...)/|λ|, so a zero eigenvalue gives 0/0 = NaN "
        "there (ours drops null-space modes instead): the stored kernels are positive definite. t=None uses a Cholesky "
        "solve (kernel regression); t=inf goes through the eigenbasis. diag_reg (relative to mean trace by default) is "
        "not used. 'ode_check' solves nt.predict.gradient_descent (an ODE) with an explicit loss on the first case: "
        "max |ODE − closed form| for a mean loss and for a sum loss."
    ),
}


def main() -> None:
    """Compute everything and write the JSON (compact: one line)."""
    empirical, spread = empirical_cases()
    gd = gd_cases(empirical)
    notes = dict(NOTES)
    notes["empirical_implementations_spread"] = (
        f"largest relative difference between empirical_ntk_fn implementations 1, 2 and 3 on these cases: {spread:.3g}")
    data = {
        "generator": "tests/ntk/reference/make_neural_tangents_reference.py",
        "versions": {"neural_tangents": nt.__version__, "jax": jax.__version__, "jaxlib": jaxlib.version.__version__,
                     "numpy": np.__version__, "scipy": scipy.__version__, "python": platform.python_version()},
        "notes": notes,
        "ode_check": loss_convention_check(gd[0]),
        "inputs": {name: {"x1": listed(x1), "x2": listed(x2)} for name, (x1, x2) in INPUTS.items()},
        "analytic": analytic_cases(),
        "empirical": empirical,
        "gd_mse": gd,
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB); ode_check {data['ode_check']}; "
          f"{notes['empirical_implementations_spread']}", file=sys.stderr)


if __name__ == "__main__":
    main()
