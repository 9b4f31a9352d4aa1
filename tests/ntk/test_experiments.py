"""Drift experiments: the measured scaling laws of docs/maths.md §5–6, determinism, and slope fitting."""

from __future__ import annotations

import dataclasses
import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from app.ntk import DriftConfig, WidthResult, analytic_kernels, drift_experiment, experiments, forward, init_params, loglog_fit
from app.ntk.experiments import trained_networks

SMALL = DriftConfig(widths=(32, 128), seeds=2, steps=50, snapshots=3, districts=4, grid=16)


def test_results_have_the_documented_shapes() -> None:
    result = drift_experiment(DriftConfig(widths=(16, 32), seeds=2, depth=2, steps=20, snapshots=3, districts=4, grid=12))
    assert result.snapshot_steps == (0, 10, 20)
    width = result.widths[0]
    assert width.kernel.shape == (2, 3, 12, 12)
    assert width.drift.shape == (2, 3) and np.all(width.drift[:, 0] == 0)
    assert width.weight_change.shape == (2, 3, 3)
    assert width.function.shape == (2, 3, 12) and width.forecast is not None and width.forecast.shape == (2, 3, 12)
    assert width.loss.shape == (2, 21) and width.init_distance is not None and width.init_distance.shape == (2,)
    assert result.reference is not None and result.reference.mean_forecast.shape == (3, 12)
    assert width.kernel_init_masks is not None and width.kernel_init_masks.shape == (2, 12, 12)
    assert width.drift_switching is not None and width.drift_switching.shape == width.drift_smooth.shape == (2,)
    assert width.linearization.shape == (2, 3, 12) and width.lambda_max.shape == (2, 3)
    assert width.forecast_gap is not None and width.forecast_gap.shape == width.linearization_gap.shape == (2,)
    assert width.linearization_forecast_gap is not None and width.linearization_forecast_gap.shape == (2,)
    assert set(result.slopes) == {"drift", "drift_switching", "drift_smooth", "init_distance", "forecast_gap",
                                  "linearization_gap", "linearization_forecast_gap", "weight_change_1",
                                  "weight_change_2", "weight_change_3"}


def test_the_forecast_is_the_linearized_network_with_the_analytic_kernel_from_the_same_start() -> None:
    # Oracle: iterate f ← f − (η/N) Θ (f − y), f* ← f* − (η/N) Θ* (f − y) from the network's own initial outputs.
    result = drift_experiment(SMALL)
    task, width = result.task, result.widths[1]
    mlp = SMALL.mlp(width.width)
    params = init_params(mlp, 2, np.random.default_rng([SMALL.seed, width.width]))
    f, f_grid = forward(mlp, params, task.x_train), forward(mlp, params, task.x_grid)
    _, ntk_train = analytic_kernels(mlp, task.x_train)
    _, ntk_grid = analytic_kernels(mlp, task.x_grid, task.x_train)
    rate = SMALL.learning_rate / SMALL.districts
    for _ in range(SMALL.steps):
        f, f_grid = f - rate * ntk_train @ (f - task.y_train), f_grid - rate * ntk_grid @ (f - task.y_train)
    assert width.forecast is not None
    np.testing.assert_allclose(width.forecast[0, -1], f_grid, rtol=1e-9, atol=1e-12)


def test_weights_move_like_the_published_per_layer_rates() -> None:
    # docs/maths.md §5 (Lee et al. 2019): input and readout weights move ∝ n^(−1/2), hidden-to-hidden ones ∝ n^(−1).
    # Measured here: −0.45, −0.93, −0.43 (± 0.05–0.07).
    result = drift_experiment(DriftConfig(widths=(64, 256, 1024), depth=2, seeds=2, districts=8, snapshots=2,
                                          steps=300))
    assert -0.7 < result.slopes["weight_change_1"].slope < -0.3, result.slopes["weight_change_1"]
    assert -1.2 < result.slopes["weight_change_2"].slope < -0.8, result.slopes["weight_change_2"]
    assert -0.7 < result.slopes["weight_change_3"].slope < -0.3, result.slopes["weight_change_3"]


def test_ntk_drift_falls_with_width_between_the_two_reference_slopes() -> None:
    # docs/maths.md §5: bounded by n^(−1/2), in practice near n^(−1). Measured here: −0.75 ± 0.05 (4 widths × 2 seeds).
    result = drift_experiment(DriftConfig(widths=(64, 256, 1024, 4096), seeds=2, districts=16, snapshots=2))
    drift, init = result.slopes["drift"], result.slopes["init_distance"]
    assert -1.2 < drift.slope < -0.5, drift
    assert -0.75 < init.slope < -0.3, init  # the init kernel's fluctuation: ∝ n^(−1/2)
    # Its two parts (docs/maths.md §5, "Why ReLU sits between"): units switching on/off fall like drift itself, the
    # rest like 1/n. Measured here: switching −0.73 ± 0.06, smooth −0.99 ± 0.04; the smooth part is the smaller at
    # every width from 256 on.
    switching, smooth = result.slopes["drift_switching"], result.slopes["drift_smooth"]
    assert -0.95 < switching.slope < -0.5, switching
    assert -1.2 < smooth.slope < -0.85, smooth
    assert smooth.slope < switching.slope - 0.1
    for width in result.widths[1:]:
        assert width.drift_switching is not None and np.all(width.drift_smooth < width.drift_switching)


def test_mean_field_drift_does_not_fall_with_width() -> None:
    # docs/maths.md §6: the kernel keeps moving O(1) at any width (measured here ≈ 1.5 at every width, slope ≈ 0).
    result = drift_experiment(DriftConfig(widths=(64, 256, 1024, 4096), seeds=2, districts=16, snapshots=2,
                                          parameterization="mean_field"))
    assert abs(result.slopes["drift"].slope) < 0.2, result.slopes["drift"]
    assert np.all(result.widths[-1].drift[:, -1] > 0.5)


def test_drift_falls_like_one_over_alpha() -> None:
    # Chizat, Oyallon & Bach: the relative kernel change ∝ 1/α at fixed width (measured slope ≈ −1.0 over α ∈ [1/4, 4]).
    alphas = np.array([0.25, 1.0, 4.0])
    drifts = [drift_experiment(DriftConfig(widths=(256,), seeds=3, alpha=float(a), steps=300, snapshots=2)).widths[0].drift[:, -1]
              for a in alphas]
    fit = loglog_fit(np.repeat(alphas, 3), np.concatenate(drifts))
    assert -1.4 < fit.slope < -0.7, fit
    assert np.mean(drifts[0]) > np.mean(drifts[1]) > np.mean(drifts[2])


def test_a_network_is_the_same_whichever_others_run_beside_it() -> None:
    common = {"steps": 30, "snapshots": 2, "districts": 4, "grid": 8}
    wide = drift_experiment(DriftConfig(widths=(16, 64), seeds=2, **common))
    alone = drift_experiment(DriftConfig(widths=(64,), seeds=3, **common))
    np.testing.assert_array_equal(wide.widths[1].kernel, alone.widths[0].kernel[:2])
    np.testing.assert_array_equal(wide.widths[1].loss, alone.widths[0].loss[:2])


def test_each_width_is_reported_as_soon_as_it_is_done() -> None:
    seen: list[int] = []
    result = drift_experiment(SMALL, on_width=lambda width: seen.append(width.width))
    assert seen == [32, 128] == [w.width for w in result.widths]


def test_a_checkpoint_runs_before_every_training_step_and_kernel_layer_and_can_abandon_the_experiment() -> None:
    calls: list[int] = []
    drift_experiment(SMALL, checkpoint=lambda: calls.append(1))
    per_kernel = SMALL.depth + SMALL.depth + (SMALL.depth + 1)  # forward and backward per hidden layer; Gram per layer
    # At each snapshot the kernel on the grid and on the districts; at init the grid × districts Gram too; and
    # Θ̂(θ_T, P_0) for the split of a ReLU network's drift.
    kernels = 2 * SMALL.snapshots + 1
    assert len(calls) == len(SMALL.widths) * (SMALL.steps + 1 + kernels * per_kernel + SMALL.depth + 1)

    class Abandon(Exception):
        pass

    def stop_after_ten() -> None:
        calls.append(1)
        if len(calls) > 10:
            raise Abandon

    calls.clear()
    with pytest.raises(Abandon):
        drift_experiment(SMALL, on_width=lambda width: pytest.fail("no width may finish"), checkpoint=stop_after_ten)
    assert len(calls) == 11


def test_divergence_is_a_result_with_a_reason_not_an_error() -> None:
    result = drift_experiment(DriftConfig(widths=(32, 64, 128, 256), seeds=2, learning_rate=30.0, steps=100, snapshots=3,
                                          districts=8, grid=16))
    width: WidthResult = result.widths[0]
    assert np.all(width.diverged_at > 0)
    assert all(reason is not None and "above 2N/λ_max" in reason for reason in width.divergence)
    assert np.isnan(width.drift[:, -1]).all() and np.isnan(width.function[:, -1]).all()
    assert math.isnan(result.slopes["drift"].slope)  # nothing finite left to fit


def test_the_standard_parameterization_has_no_infinite_width_reference() -> None:
    result = drift_experiment(DriftConfig(widths=(16, 32, 64), seeds=1, parameterization="standard", learning_rate=0.1,
                                          steps=20, snapshots=2, districts=4, grid=8))
    assert result.reference is None and result.widths[0].init_distance is None and result.widths[0].forecast is None
    assert "init_distance" not in result.slopes


def test_loglog_fit_recovers_an_exact_power_law() -> None:
    widths = np.array([16.0, 64.0, 256.0, 1024.0])
    fit = loglog_fit(widths, 3.0 * widths**-0.75)
    assert fit.slope == pytest.approx(-0.75, abs=1e-12) and fit.stderr < 1e-12
    assert fit.intercept == pytest.approx(math.log(3.0), abs=1e-12) and fit.points == 4


def test_loglog_fit_standard_error_matches_the_textbook_formula() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    y = np.exp(np.array([0.1, -0.5, -1.6, -2.0, -2.9]))
    fit = loglog_fit(x, y)
    lx, ly = np.log(x), np.log(y)
    coefficients, residuals, *_ = np.polyfit(lx, ly, 1, full=True)
    sxx = np.sum((lx - lx.mean()) ** 2)
    assert fit.slope == pytest.approx(coefficients[0], rel=1e-12)
    assert fit.stderr == pytest.approx(math.sqrt(residuals[0] / 3 / sxx), rel=1e-12)


def test_loglog_fit_skips_non_positive_and_missing_points_and_needs_three() -> None:
    assert loglog_fit(np.array([1.0, 2.0, 4.0, 8.0]), np.array([1.0, np.nan, 0.0, 0.125])).points == 2
    assert math.isnan(loglog_fit(np.array([1.0, 2.0]), np.array([1.0, 0.5])).slope)


@pytest.mark.parametrize(("fields", "message"), [
    ({"widths": ()}, "widths must be one or more positive integers"),
    ({"widths": (64, 32)}, "increasing and distinct"),
    ({"seeds": 0}, "seeds must be a positive integer"),
    ({"steps": 10, "snapshots": 12}, r"snapshots must be from 2 to steps \+ 1 = 11"),
    ({"grid": 1}, "grid must be an integer ≥ 2"),
    ({"learning_rate": math.nan}, "learning_rate must be a finite positive number"),
    ({"depth": 9}, "depth must be an integer from 1 to 4"),
])
def test_bad_configs_are_refused_with_a_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftConfig(**fields)  # type: ignore[arg-type]


def test_widths_run_in_parallel_processes_give_the_identical_result() -> None:
    config = DriftConfig(widths=(16, 32, 64), seeds=2, steps=40, snapshots=3, districts=4, grid=8)
    seen: list[int] = []
    with ProcessPoolExecutor(2) as pool:
        parallel = drift_experiment(config, on_width=lambda width: seen.append(width.width), executor=pool)
    serial = drift_experiment(config)
    assert sorted(seen) == [16, 32, 64]
    for a, b in zip(parallel.widths, serial.widths, strict=True):
        np.testing.assert_array_equal(a.kernel, b.kernel)
        np.testing.assert_array_equal(a.loss, b.loss)
    assert parallel.slopes == serial.slopes


# One district, one unit, a bias of 1.8e-177: the unit is dead at the district and the bias's square underflows, so
# the kernel on the district is exactly zero at init; with three layers it is zero on the whole grid too (both found by
# the schema fuzzer: a null where the schema said number, and a 0/0 warning that failed the suite).
DEAD = {"widths": (1,), "seeds": 1, "w_std": 1.1, "b_std": 1.8340402715450663e-177, "alpha": 0.01,
        "learning_rate": 75.4488554070902, "steps": 8, "snapshots": 2, "districts": 1, "grid": 8, "frequency": 0}


def test_a_kernel_that_is_zero_on_the_districts_sets_no_learning_rate_limit() -> None:
    width = drift_experiment(DriftConfig(**DEAD, depth=1)).widths[0]  # type: ignore[arg-type]
    assert np.isinf(width.lr_limit).all()  # no eigenvalue: no learning rate is too large


def test_a_kernel_that_is_zero_at_init_has_no_relative_change() -> None:
    width = drift_experiment(DriftConfig(**DEAD, depth=3)).widths[0]  # type: ignore[arg-type]
    assert np.all(width.kernel[:, 0] == 0)
    assert not np.isfinite(width.drift[:, -1]).any()  # undefined (0/0): neither 0 nor a warning


@pytest.mark.parametrize("chunk", [experiments.CHUNK_NUMBERS, 144, 1])
def test_relative_change_block_by_block_matches_the_frobenius_norms_of_the_whole(chunk: int,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Oracle: numpy's Frobenius norm of the whole difference. Blocks of 144 numbers take 2 of a 5 × 6 matrix's rows
    # at a time (3 × 4 matrices of them: 2 + 2 + 1 rows), blocks of 1 number one row;
    # b of shape (3, 1, 5, 6) is broadcast against a (3, 4, 5, 6), as for a kernel against its value at init.
    monkeypatch.setattr(experiments, "CHUNK_NUMBERS", chunk)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 4, 5, 6)), rng.standard_normal((3, 1, 5, 6))
    expected = np.linalg.norm(a - b, axis=(-2, -1)) / np.linalg.norm(b, axis=(-2, -1))
    np.testing.assert_allclose(experiments._relative(a, b), expected, rtol=1e-13)
    assert experiments._relative(a, b).shape == (3, 4)


def test_the_blind_spot_target_never_enters_training_so_mean_field_retraces_the_ntk_path() -> None:
    # A bias-free one-layer ReLU network's output and every gradient are sums of relu(cos(γ − φ)) and half-ring steps
    # times cos γ, sin γ: no odd frequency ≥ 3, and on 8 equispaced districts sin 3γ only aliases with odd ones.
    # So ∇L = J^T (f − y)/N = J^T f/N: training ignores y (it pulls f(X) from f₀ to 0), and the mean-field network,
    # whose output is the NTK one's divided by √n and whose learning rate is n times larger, follows the same weights.
    blind = DriftConfig(widths=(16, 64), b_std=0.0, frequency=3, steps=60, snapshots=3)
    with_bias = dataclasses.replace(blind, b_std=0.1)

    def weight_gap(config: DriftConfig, width: int) -> float:
        """Largest difference between the trained weights with the config's target and with a zero target."""
        zero = dataclasses.replace(config, target="values", values=(0.0,) * config.districts)
        return max(float(np.abs(W - W0).max()) for (W, _), (W0, _) in
                   zip(trained_networks(config, width)[1], trained_networks(zero, width)[1], strict=True))

    for width in blind.widths:
        assert weight_gap(blind, width) < 1e-12
        assert weight_gap(with_bias, width) > 1e-3  # with biases the target is seen: the check above can fail
    ntk = drift_experiment(blind)
    mean_field = drift_experiment(dataclasses.replace(blind, parameterization="mean_field"))
    for a, b in zip(ntk.widths, mean_field.widths, strict=True):
        np.testing.assert_allclose(b.drift, a.drift, rtol=1e-9)
        np.testing.assert_allclose(b.weight_change, a.weight_change, rtol=1e-9)
        # f(X) ⟂ y, so the loss is ½·mean(y²) + ½·mean(f(X)²) ≥ ½·mean(sin² 3γ) = 0.25: nothing of y is ever fitted
        assert (a.loss >= 0.25 - 1e-12).all() and (a.loss[:, -1] < 0.252).all()
    assert drift_experiment(dataclasses.replace(with_bias, parameterization="mean_field")).widths[0].drift[0, -1] != \
        pytest.approx(drift_experiment(with_bias).widths[0].drift[0, -1], rel=1e-3)
