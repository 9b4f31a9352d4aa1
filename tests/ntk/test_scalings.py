"""Settings that scale with width (docs/maths.md §6): the lazy-training scale α/√n and the learning rate η/n.

Each is checked against independent reasoning: a width-scaled run is a fixed run with the scaled value; at one hidden
layer α = 1/√n is the mean-field network fitting a shifted target, exactly; the standard parameterization's kernel
divided by n tends to a closed form built from the analytic NNGP kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import MLP, DriftConfig, analytic_kernels, drift_experiment, empirical_ntk, forward, init_params, ring_points
from app.ntk.mlp import Params
from app.ntk.training import train

TINY = {"seeds": 2, "steps": 20, "snapshots": 2, "districts": 4, "grid": 8}


def test_alpha_over_root_width_trains_each_width_with_the_fixed_alpha_alpha_over_root_n() -> None:
    scaled = drift_experiment(DriftConfig(widths=(16, 64), alpha=0.5, alpha_scaling="inverse_sqrt_width", **TINY))
    for width in scaled.widths:
        fixed = drift_experiment(DriftConfig(widths=(width.width,), alpha=0.5 / math.sqrt(width.width), **TINY)).widths[0]
        for name in ("kernel", "drift", "function", "loss", "weight_change", "lr_limit"):
            np.testing.assert_array_equal(getattr(width, name), getattr(fixed, name), err_msg=f"{width.width}: {name}")


def test_at_one_hidden_layer_alpha_one_over_root_n_is_the_mean_field_network_fitting_a_shifted_target() -> None:
    # By hand (docs/maths.md §6): α f_NTK has the mean-field readout σw/n (its bias σb/√n), the step η/(α²N) is the
    # mean-field learning rate η·n, both draw the same unit weights, and their learning-rate-weighted kernels agree
    # at equal weights. Only the start differs: f_α starts at f_NTK(θ₀), the mean-field network at f_MF(θ₀), so the
    # α run is the mean-field run on the target y − (f_NTK(θ₀) − f_MF(θ₀)). Its readout bias moves √n times as far,
    # by the same amount of output. Tolerance: two orders of the same float arithmetic over 30 stable steps.
    width, steps = 32, 30
    config = DriftConfig(widths=(width,), alpha_scaling="inverse_sqrt_width", districts=4)
    task, scaled, mean_field = config.task(), config.mlp(width), MLP(width=width, parameterization="mean_field")
    assert scaled.alpha == 1 / math.sqrt(width)
    theta0 = [(W[None], b[None]) for W, b in init_params(scaled, 2, np.random.default_rng([0, width]))]
    shift = forward(scaled, theta0, task.x_train)[0] - forward(mean_field, theta0, task.x_train)[0]  # (N,)
    ends: dict[str, list[Params]] = {"scaled": [], "mean_field": []}
    runs = {name: train(mlp, theta0, task.x_train, y, learning_rate=1.0, steps=steps, snapshot_steps=(steps,),
                        on_snapshot=lambda _, p, name=name: ends[name].append(p))
            for name, mlp, y in (("scaled", scaled, task.y_train), ("mean_field", mean_field, task.y_train - shift))}
    np.testing.assert_allclose(runs["scaled"].loss, runs["mean_field"].loss, rtol=1e-10)
    assert runs["scaled"].loss[0, -1] < 0.5 * runs["scaled"].loss[0, 0]  # it trained: the agreement is not trivial
    (a,), (b,) = ends["scaled"], ends["mean_field"]
    for layer in range(2):
        np.testing.assert_allclose(a[layer][0], b[layer][0], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a[0][1], b[0][1], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(a[1][1] - theta0[1][1], math.sqrt(width) * (b[1][1] - theta0[1][1]), rtol=1e-9)
    np.testing.assert_allclose(empirical_ntk(scaled, a, task.x_grid), empirical_ntk(mean_field, b, task.x_grid), rtol=1e-10)


def test_alpha_over_root_width_keeps_the_kernel_moving_near_the_mean_field_level() -> None:
    # Measured here: slopes +0.08 ± 0.13 (α/√n) and +0.02 ± 0.02 (mean-field) over 64–4096; seed by seed the α run's
    # drift is 0.5–2.2× the mean-field run's (its random start is one more thing to fit); NTK scaling: −0.75.
    common = {"widths": (64, 1024, 4096), "seeds": 2, "districts": 16, "snapshots": 2}
    scaled = drift_experiment(DriftConfig(alpha_scaling="inverse_sqrt_width", **common))
    mean_field = drift_experiment(DriftConfig(parameterization="mean_field", **common))
    assert scaled.slopes["drift"].slope > -0.4, scaled.slopes["drift"]
    assert np.all(scaled.widths[-1].drift[:, -1] > 0.5)
    ratio = [np.median(a.drift[:, -1]) / np.median(b.drift[:, -1]) for a, b in zip(scaled.widths, mean_field.widths, strict=True)]
    assert all(1 / 3 < r < 3 for r in ratio), ratio


def test_eta_over_width_trains_each_width_at_the_fixed_rate_eta_over_n() -> None:
    # The kernels and lr_limit are in units of η (each parameter's rate relative to it): 1/n of, and n times, the
    # fixed-rate run's. Widths and η/N are powers of two, so the two orders of the arithmetic agree to the last bit
    # but for the kernel's own scaling; the tolerance allows a rounding per step.
    common = {"parameterization": "standard", **TINY}
    scaled = drift_experiment(DriftConfig(widths=(16, 64), learning_rate=2.0, lr_scaling="inverse_width", **common))
    for width in scaled.widths:
        n = width.width
        fixed = drift_experiment(DriftConfig(widths=(n,), learning_rate=2.0 / n, **common)).widths[0]
        for name in ("drift", "function", "loss", "weight_change"):
            np.testing.assert_allclose(getattr(width, name), getattr(fixed, name), rtol=1e-12, err_msg=f"{n}: {name}")
        np.testing.assert_allclose(n * width.kernel, fixed.kernel, rtol=1e-12)
        np.testing.assert_allclose(width.lr_limit, n * fixed.lr_limit, rtol=1e-12)


def test_the_standard_kernel_at_eta_over_n_tends_to_the_readouts_nngp_part() -> None:
    # One hidden layer, standard parameterization: Θ̂/n = (1/n)Σ_j a_j a_j' + O(1/n) → E[φ(u)φ(v)] = (K − σb²)/σw²,
    # K the analytic NNGP (the first layer's and the biases' parts are O(1/n)). Measured relative Frobenius error
    # 0.04–0.06 at n = 4096, 0.12–0.43 at n = 64 (fluctuations ∝ n^(−1/2)); bounds 0.09 and 3× with margin.
    w_std, b_std = 1.5, 0.3
    x = ring_points(np.linspace(-np.pi, np.pi, 16, endpoint=False))
    nngp, _ = analytic_kernels(MLP(w_std=w_std, b_std=b_std), x)
    limit = (nngp - b_std**2) / w_std**2

    def error(width: int) -> float:
        mlp = MLP(width=width, w_std=w_std, b_std=b_std, parameterization="standard", lr_scaling="inverse_width")
        errors = [np.linalg.norm(empirical_ntk(mlp, init_params(mlp, 2, np.random.default_rng([k, width])), x) - limit)
                  for k in range(4)]
        return float(np.mean(errors) / np.linalg.norm(limit))

    wide, narrow = error(4096), error(64)
    assert wide < 0.09 and narrow > 3 * wide, (wide, narrow)


def test_at_eta_over_n_no_standard_network_diverges_and_its_kernel_freezes() -> None:
    # Measured here: slope −1.87 ± 0.03 over 64–1024 (−1.99 ± 0.03 on the page's 16–4096): the first layer moves
    # ∝ n^(−3/2) and the kernel is the readout's; at η = 1 fixed the same networks diverge from 256 lanes on.
    result = drift_experiment(DriftConfig(widths=(64, 256, 1024), seeds=2, grid=16, steps=200, snapshots=2,
                                          parameterization="standard", lr_scaling="inverse_width"))
    assert all(np.all(width.diverged_at == -1) for width in result.widths)
    assert result.slopes["drift"].slope < -1.5, result.slopes["drift"]


@pytest.mark.parametrize("parameterization", ["ntk", "mean_field"])
def test_eta_over_width_is_refused_outside_the_standard_parameterization(parameterization: str) -> None:
    with pytest.raises(ValueError, match=f"η/width\\) is the standard parameterization's learning rate.*the "
                                         f"{parameterization} parameterization already keeps"):
        DriftConfig(parameterization=parameterization, lr_scaling="inverse_width")


@pytest.mark.parametrize(("fields", "message"), [
    ({"alpha_scaling": "sqrt"}, "alpha_scaling must be one of \\('fixed', 'inverse_sqrt_width'\\)"),
    ({"lr_scaling": "inverse_sqrt_width"}, "lr_scaling must be one of \\('fixed', 'inverse_width'\\)"),
])
def test_unknown_scalings_are_refused_with_the_allowed_values(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftConfig(**fields)  # type: ignore[arg-type]
