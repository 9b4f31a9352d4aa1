"""Our kernels, networks and training forecasts against stored values from the real neural-tangents library.

``reference/neural_tangents.json`` was written by ``reference/make_neural_tangents_reference.py``
(neural-tangents 0.6.5 on JAX, float64) in a scratch environment; this file needs numpy only.
Every comparison is scaled to the largest reference entry (``atol = tol · max|ref|``) as well as
entrywise (``rtol = tol``): odd erf kernels, dead ReLU networks and ``sin 0`` targets have exact
zeros, where only an error relative to the matrix's scale means anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.ntk import MLP, analytic_kernels, empirical_ntk, forward, gd_mse_prediction, init_params
from app.ntk.mlp import Params

REFERENCE = json.loads((Path(__file__).parent / "reference" / "neural_tangents.json").read_text())
INPUTS = {name: (np.asarray(s["x1"]), np.asarray(s["x2"])) for name, s in REFERENCE["inputs"].items()}

# Closed-form kernels: the same formulas evaluated in the same order as neural-tangents (the ReLU moment as
# det/2π + (½ − θ/2π) q12, exact at θ = 0); float64 agrees to ~3e-15 everywhere, (anti)parallel pairs included
# (measured 1.2e-16 there). 1e-13 leaves room for another BLAS's summation order. Before we adopted that order,
# (det + (π − θ) q12)/2π rounded one ulp off at θ = 0 and deeper layers turned it into errors of ~1e-8.
ANALYTIC_TOL = 1e-13
# Finite-width kernels and outputs: sums of products in a different order from JAX's autodiff; ~1e-15 measured.
EMPIRICAL_TOL = 1e-12


def _assert_close(ours: np.ndarray, ref: Any, tol: float, what: str) -> None:
    """``|ours − ref| ≤ tol·|ref| + tol·max|ref|`` entrywise."""
    ref = np.asarray(ref, dtype=np.float64)
    np.testing.assert_allclose(ours, ref, rtol=tol, atol=tol * float(np.abs(ref).max()), err_msg=what)


def _mlp(case: dict[str, Any]) -> MLP:
    return MLP(depth=case["depth"], width=case.get("width", 1), activation=case["activation"],
               w_std=case["w_std"], b_std=case["b_std"])


def _case_id(case: dict[str, Any]) -> str:
    width = f"-n{case['width']}" if "width" in case else ""
    return f"{case['activation']}-L{case['depth']}{width}-w{case['w_std']}-b{case['b_std']}"


def _params(case: dict[str, Any]) -> Params:
    return [(np.asarray(p["W"]), np.asarray(p["b"])) for p in case["params"]]


def test_reference_covers_depths_activations_biases_and_degenerate_input_pairs() -> None:
    cases = REFERENCE["analytic"]
    assert {c["depth"] for c in cases} == {1, 2, 3, 4}
    assert {c["activation"] for c in cases} == {"relu", "erf"}
    assert {c["w_std"] for c in cases} >= {1.0, 1.5, 2.0}
    assert 0.0 in {c["b_std"] for c in cases} and any(c["b_std"] > 0 for c in cases)
    x1, x2 = INPUTS["r3"]
    cosines = (x1 @ x2.T / np.outer(np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1))).ravel()
    assert np.isclose(cosines, 1.0, atol=1e-12).any() and np.isclose(cosines, -1.0, atol=1e-12).any()
    assert len(set(np.round(np.linalg.norm(x1, axis=1), 6))) == len(x1)  # different norms
    assert REFERENCE["empirical"] and REFERENCE["gd_mse"]


@pytest.mark.parametrize("case", REFERENCE["analytic"], ids=_case_id)
def test_analytic_kernels_equal_neural_tangents_kernel_fn(case: dict[str, Any]) -> None:
    mlp = _mlp(case)
    for name, (x1, x2) in INPUTS.items():
        for which, x2_arg in (("self", None), ("cross", x2)):
            ours = analytic_kernels(mlp, x1, x2_arg)
            for k, kernel in zip(("nngp", "ntk"), ours, strict=True):
                _assert_close(kernel, case["kernels"][name][which][k], ANALYTIC_TOL, f"{k} on {name} ({which})")


@pytest.mark.parametrize("case", REFERENCE["empirical"], ids=_case_id)
def test_empirical_ntk_equals_neural_tangents_empirical_ntk_fn(case: dict[str, Any]) -> None:
    mlp, params = _mlp(case), _params(case)
    x1, x2 = INPUTS[case["inputs"]]
    _assert_close(empirical_ntk(mlp, params, x1), case["ntk_self"], EMPIRICAL_TOL, "Θ̂(x1, x1)")
    _assert_close(empirical_ntk(mlp, params, x1, x2), case["ntk_cross"], EMPIRICAL_TOL, "Θ̂(x1, x2)")


@pytest.mark.parametrize("case", REFERENCE["empirical"], ids=_case_id)
def test_forward_equals_neural_tangents_apply_fn(case: dict[str, Any]) -> None:
    mlp, params = _mlp(case), _params(case)
    x1, x2 = INPUTS[case["inputs"]]
    _assert_close(forward(mlp, params, x1), case["output_x1"], EMPIRICAL_TOL, "f(x1)")
    _assert_close(forward(mlp, params, x2), case["output_x2"], EMPIRICAL_TOL, "f(x2)")


@pytest.mark.parametrize("case", REFERENCE["empirical"], ids=_case_id)
def test_stored_parameters_have_init_params_layout(case: dict[str, Any]) -> None:
    # The generator draws unit Gaussians in init_params' layout: W (fan_in, fan_out), b (fan_out,).
    expected = init_params(_mlp(case), INPUTS[case["inputs"]][0].shape[1], np.random.default_rng(0))
    assert [(W.shape, b.shape) for W, b in _params(case)] == [(W.shape, b.shape) for W, b in expected]


@pytest.mark.parametrize("case", REFERENCE["gd_mse"], ids=lambda c: c["name"].split(";")[0])
def test_gd_mse_prediction_equals_neural_tangents_gradient_descent_mse(case: dict[str, Any]) -> None:
    # Eigendecomposition and solve: errors grow like κ(Θ)·ε (κ = 17 and 51 here); 1e-13·κ leaves ~100× room.
    tol = 1e-13 * max(1.0, case["condition_number"])
    kernel, cross, y = (np.asarray(case[k]) for k in ("k_train_train", "k_test_train", "y_train"))
    f0, f0_test = np.asarray(case["f0_train"]), np.asarray(case["f0_test"])
    lr = case["learning_rate"]
    f_train, f_test = gd_mse_prediction(kernel, cross, y, np.asarray(case["times"]), lr, f0, f0_test)
    _assert_close(f_train, case["f_train"], tol, "f_train at finite t")
    _assert_close(f_test, case["f_test"], tol, "f_test at finite t")
    f_train, f_test = gd_mse_prediction(kernel, cross, y, math.inf, lr, f0, f0_test)
    for how in ("t_inf", "t_none"):  # neural-tangents' eigenbasis at t = ∞ and its Cholesky solve at t = None
        _assert_close(f_train, case[f"f_train_{how}"], tol, f"f_train, {how}")
        _assert_close(f_test, case[f"f_test_{how}"], tol, f"f_test, {how}")


def test_neural_tangents_gradient_descent_mse_is_gradient_flow_on_the_mean_loss() -> None:
    # The generator solved nt.predict.gradient_descent's ODE with an explicit loss on the first gd case and
    # compared it with gradient_descent_mse: ½·mean((f − y)²) = 1/(2N)·Σ(f − y)², our loss, matches to the
    # ODE solver's accuracy; ½·Σ(f − y)² (time N times faster) does not.
    check = REFERENCE["ode_check"]
    assert check["mean"] < 1e-6
    assert check["sum"] > 1e-2
