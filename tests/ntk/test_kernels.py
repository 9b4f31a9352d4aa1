"""Empirical and analytic kernels against hand values, published numbers, an explicit Jacobian,
numerical integration and Monte Carlo."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import integrate, special, stats

from app.ntk import MLP, analytic_kernels, empirical_ntk, forward, init_params, loglog_fit, ring_angles, ring_points, stack_params
from app.ntk.kernels import _erf_moments, _relu_moments
from tests.ntk.oracles import jacobian_ntk
from tests.ntk.test_mlp import ARCHITECTURES


def test_hand_computed_one_layer_relu_kernels() -> None:
    # docs/maths.md §2: one hidden ReLU layer, x = x' on the unit circle, σw = 1.5, σb = 0.
    # A point with itself takes θ = 0 exactly (the diagonal is the variance), so only rounding remains: 1e-14.
    x = ring_points(np.array([0.7]))
    nngp, ntk = analytic_kernels(MLP(depth=1, w_std=1.5, b_std=0.0), x)
    assert nngp[0, 0] == pytest.approx(1.265625, rel=1e-14)
    assert ntk[0, 0] == pytest.approx(2.53125, rel=1e-14)


def test_reproduces_jacot_et_al_figure_1_infinite_width_curve() -> None:
    # Jacot et al. 2018, Fig. 1: 3 hidden ReLU layers, σw = 1, σb = 0.1, Θ(x0, x(γ)) with x0 = (1, 0);
    # published to 4 decimals: 0.2825 at γ = 0, 0.0927 at ±π/2, 0.0644 at ±π.
    gamma = np.array([0.0, math.pi / 2, -math.pi / 2, math.pi])
    _, ntk = analytic_kernels(MLP(depth=3, w_std=1.0, b_std=0.1), ring_points(np.zeros(1)), ring_points(gamma))
    np.testing.assert_allclose(ntk[0], [0.2825, 0.0927, 0.0927, 0.0644], atol=5e-5)


@pytest.mark.parametrize("mlp", ARCHITECTURES, ids=repr)
def test_layerwise_empirical_ntk_equals_explicit_jacobian_product(mlp: MLP, rng: np.random.Generator) -> None:
    # Same sums in a different order: float64 agreement to ~1e-13; 1e-10 leaves room for cancellation.
    x1, x2 = rng.standard_normal((4, 3)), rng.standard_normal((5, 3))
    params = init_params(mlp, 3, rng)
    np.testing.assert_allclose(empirical_ntk(mlp, params, x1, x2), jacobian_ntk(mlp, params, x1, x2), rtol=1e-10, atol=1e-12)


def test_empirical_ntk_of_one_set_is_symmetric_and_equals_the_two_set_call(rng: np.random.Generator) -> None:
    mlp = MLP(depth=2, width=16, activation="erf")
    x = rng.standard_normal((6, 2))
    params = init_params(mlp, 2, rng)
    kernel = empirical_ntk(mlp, params, x)
    np.testing.assert_allclose(kernel, kernel.T, rtol=1e-13)
    np.testing.assert_allclose(kernel, empirical_ntk(mlp, params, x, x), rtol=1e-13)


def test_stacked_empirical_ntk_is_each_networks_kernel(rng: np.random.Generator) -> None:
    mlp = MLP(depth=2, width=8)
    x = rng.standard_normal((4, 2))
    nets = [init_params(mlp, 2, np.random.default_rng(seed)) for seed in range(3)]
    expected = np.stack([empirical_ntk(mlp, net, x) for net in nets])
    np.testing.assert_allclose(empirical_ntk(mlp, stack_params(nets), x), expected, rtol=1e-13,
                               atol=1e-13 * np.abs(expected).max())  # entries near 0 differ by summation order only


def test_mean_field_learning_rate_weighted_kernel_equals_the_ntk_parameterizations_at_init(rng: np.random.Generator) -> None:
    # Readout σw/n with learning rate ×n contributes σw²/n per unit, exactly like σw/√n with learning rate 1.
    x = rng.standard_normal((5, 2))
    ntk_net, mf_net = MLP(width=32, parameterization="ntk"), MLP(width=32, parameterization="mean_field")
    params = init_params(ntk_net, 2, rng)
    np.testing.assert_allclose(empirical_ntk(mf_net, params, x), empirical_ntk(ntk_net, params, x), rtol=1e-12)


def _gaussian_pair(q11: float, q12: float, q22: float) -> tuple[float, float]:
    """v | u ~ N(slope · u, residual²) for (u, v) ~ N(0, [[q11, q12], [q12, q22]])."""
    slope = q12 / q11
    return slope, math.sqrt(max(q22 - slope * q12, 0.0))


@pytest.mark.parametrize(("q11", "q12", "q22"), [(1.0, 0.3, 2.0), (0.5, -0.4, 0.9), (2.0, 1.9, 1.9), (1.0, 0.0, 1.0)])
def test_relu_moments_equal_numerical_integration(q11: float, q12: float, q22: float) -> None:
    # Oracle: condition on u, use the Gaussian's E[relu(v) | u] = μΦ(μ/s) + sφ(μ/s) and P(v > 0 | u) = Φ(μ/s),
    # then integrate over u > 0 with adaptive quadrature (abs. error ~1e-12).
    slope, resid = _gaussian_pair(q11, q12, q22)
    density = stats.norm(scale=math.sqrt(q11)).pdf

    def relu_mean(mu: float) -> float:
        return mu * stats.norm.cdf(mu / resid) + resid * stats.norm.pdf(mu / resid)

    relu_relu = integrate.quad(lambda u: density(u) * u * relu_mean(slope * u), 0, np.inf, epsabs=1e-13)[0]
    step_step = integrate.quad(lambda u: density(u) * stats.norm.cdf(slope * u / resid), 0, np.inf, epsabs=1e-13)[0]
    k, dk = _relu_moments(np.array([[q12]]), np.array([q11]), np.array([q22]))
    assert k[0, 0] == pytest.approx(relu_relu, abs=1e-9)
    assert dk[0, 0] == pytest.approx(step_step, abs=1e-9)


@pytest.mark.parametrize(("q11", "q12", "q22"), [(1.0, 0.3, 2.0), (0.5, -0.4, 0.9), (3.0, 2.9, 3.0), (2.0, -1.99, 2.0)])
def test_erf_moments_equal_numerical_integration(q11: float, q12: float, q22: float) -> None:
    # Oracle: a smooth 2-D integral over ±12 standard deviations with adaptive quadrature (error ~1e-10).
    cov = np.array([[q11, q12], [q12, q22]])
    density = stats.multivariate_normal(cov=cov).pdf
    s1, s2 = 12 * math.sqrt(q11), 12 * math.sqrt(q22)

    def expect(g: object) -> float:
        return integrate.dblquad(lambda v, u: density([u, v]) * g(u, v), -s1, s1, -s2, s2, epsabs=1e-11)[0]  # type: ignore[operator]

    deriv = lambda z: 2 / math.sqrt(math.pi) * math.exp(-z * z)  # noqa: E731
    k, dk = _erf_moments(np.array([[q12]]), np.array([q11]), np.array([q22]))
    assert k[0, 0] == pytest.approx(expect(lambda u, v: special.erf(u) * special.erf(v)), abs=1e-8)
    assert dk[0, 0] == pytest.approx(expect(lambda u, v: deriv(u) * deriv(v)), abs=1e-8)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_nngp_is_the_covariance_of_random_networks(activation: str) -> None:
    # Monte Carlo over 4000 random networks of width 64: the sample covariance's relative error is ~√(2/4000) ≈ 2%
    # per entry; the finite width adds an O(1/n) ≈ 1.5% bias. 8% on the Frobenius norm is a > 3σ margin.
    mlp = MLP(depth=2, width=64, activation=activation, w_std=1.3, b_std=0.2)
    x = ring_points(ring_angles(5)) * np.array([1.0, 0.6])
    nets = stack_params([init_params(mlp, 2, np.random.default_rng([7, k])) for k in range(4000)])
    outputs = forward(mlp, nets, x)  # (4000, 5)
    sample_cov = outputs.T @ outputs / outputs.shape[0]
    nngp, _ = analytic_kernels(mlp, x)
    assert np.linalg.norm(sample_cov - nngp) / np.linalg.norm(nngp) < 0.08


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_empirical_ntk_averages_to_the_analytic_ntk(activation: str) -> None:
    # 64 networks of width 1024: per-network relative fluctuation ~1/√1024 ≈ 3%, so the mean's is ~0.4%; the O(1/n)
    # bias is ~0.1%. 2% leaves a wide margin.
    mlp = MLP(depth=3, width=1024, activation=activation, w_std=1.2, b_std=0.3)
    x = ring_points(ring_angles(6))
    nets = stack_params([init_params(mlp, 2, np.random.default_rng([8, k])) for k in range(64)])
    mean_kernel = empirical_ntk(mlp, nets, x).mean(axis=0)
    _, ntk = analytic_kernels(mlp, x)
    assert np.linalg.norm(mean_kernel - ntk) / np.linalg.norm(ntk) < 0.02


def test_empirical_ntk_converges_to_the_analytic_one_like_one_over_root_width() -> None:
    # docs/maths.md §5: the init kernel's relative distance from the analytic one ∝ n^(−1/2). Fitted over 4 widths × 6 seeds.
    mlp_at = lambda n: MLP(depth=2, width=n, activation="relu")  # noqa: E731
    x = ring_points(ring_angles(8))
    _, ntk = analytic_kernels(mlp_at(1), x)
    widths, errors = [], []
    for n in (64, 256, 1024, 4096):
        nets = stack_params([init_params(mlp_at(n), 2, np.random.default_rng([9, k, n])) for k in range(6)])
        distance = np.linalg.norm(empirical_ntk(mlp_at(n), nets, x) - ntk, axis=(1, 2)) / np.linalg.norm(ntk)
        widths += [n] * 6
        errors += list(distance)
    fit = loglog_fit(np.array(widths, dtype=float), np.array(errors))
    assert -0.65 < fit.slope < -0.35, fit


@pytest.mark.parametrize("q", [1.0, 1e6, 1e12])
def test_moments_of_parallel_and_antiparallel_pairs_are_the_closed_forms(q: float) -> None:
    # u = v: E[relu²] = q/2, E[step²] = 1/2; u = −v: both 0. erf: E[erf²] = (2/π) arcsin(2q/(1+2q)),
    # E[erf'²] = (4/π)/√(1+4q), E[erf(u) erf(−u)] = −E[erf²]. Relative 1e-7: θ's √-sensitivity (docs/maths.md §2).
    qs = np.array([q])
    for sign in (1.0, -1.0):
        relu, step = _relu_moments(np.array([[sign * q]]), qs, qs)
        assert relu[0, 0] == pytest.approx(q / 2 if sign > 0 else 0.0, rel=1e-7, abs=1e-7 * q)
        assert step[0, 0] == pytest.approx(0.5 if sign > 0 else 0.0, abs=1e-7)
        erf_erf, slope = _erf_moments(np.array([[sign * q]]), qs, qs)
        assert erf_erf[0, 0] == pytest.approx(sign * 2 / math.pi * math.asin(2 * q / (1 + 2 * q)), rel=1e-7)
        assert np.isfinite(slope[0, 0])
        if sign > 0:
            assert slope[0, 0] == pytest.approx(4 / math.pi / math.sqrt(1 + 4 * q), rel=1e-7)


def test_a_zero_input_without_biases_has_a_zero_kernel_and_no_warning() -> None:
    mlp = MLP(depth=3, b_std=0.0)
    x = np.array([[0.0, 0.0], [1.0, 0.0]])
    nngp, ntk = analytic_kernels(mlp, x)
    assert nngp[0].tolist() == [0.0, 0.0] and ntk[0].tolist() == [0.0, 0.0] and ntk[1, 1] > 0
    params = init_params(MLP(depth=3, width=16, b_std=0.0), 2, np.random.default_rng(0))
    assert empirical_ntk(MLP(depth=3, width=16, b_std=0.0), params, x)[0].tolist() == [0.0, 0.0]


def test_analytic_kernels_are_refused_for_the_standard_parameterization() -> None:
    with pytest.raises(ValueError, match="no infinite-width limit"):
        analytic_kernels(MLP(parameterization="standard"), np.ones((2, 2)))


def test_analytic_kernels_refuse_mismatched_input_dimensions() -> None:
    with pytest.raises(ValueError, match="same input dimension"):
        analytic_kernels(MLP(), np.ones((2, 2)), np.ones((2, 3)))


class _Stop(Exception):
    pass


def _stopping_after(allowed: int, made: list[None]) -> Callable[[], None]:
    """A checkpoint that lets ``allowed`` calls pass (noting each in ``made``) and raises at the next."""
    def checkpoint() -> None:
        if len(made) == allowed:
            raise _Stop
        made.append(None)
    return checkpoint


@pytest.mark.parametrize("x2", [None, "other"])
def test_a_checkpoint_is_called_before_every_layer_and_changes_no_number(x2: str | None) -> None:
    # Issue 11, item 3: a kernel nobody waits for stops within one layer of one pass. Passes: x1 (and x2), forward and
    # backward, each checking before every layer, then one check per layer's Gram matrices.
    mlp = MLP(depth=3, width=32)
    x1 = ring_points(ring_angles(5))
    other = None if x2 is None else ring_points(ring_angles(4) + 0.1)
    params = stack_params([init_params(mlp, 2, np.random.default_rng(k)) for k in range(2)])
    calls: list[None] = []
    kernel = empirical_ntk(mlp, params, x1, other, lambda: calls.append(None))
    passes = 1 if other is None else 2
    assert len(calls) == passes * (3 + 3) + 4  # forward and backward: 3 hidden layers each; Gram: 4 layers
    np.testing.assert_array_equal(kernel, empirical_ntk(mlp, params, x1, other))
    for allowed in range(len(calls)):  # a checkpoint that raises at any of them stops the work there
        made: list[None] = []
        with pytest.raises(_Stop):
            empirical_ntk(mlp, params, x1, other, _stopping_after(allowed, made))
        assert len(made) == allowed


def test_drawing_parameters_checks_before_every_layer() -> None:
    calls: list[None] = []
    params = init_params(MLP(depth=3, width=8), 2, np.random.default_rng(0), lambda: calls.append(None))
    assert len(calls) == len(params) == 4
    for (W, b), (W0, b0) in zip(params, init_params(MLP(depth=3, width=8), 2, np.random.default_rng(0)), strict=True):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
