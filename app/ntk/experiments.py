"""Drift experiments: train networks of several widths on the ring road and measure how their kernels move.

Shapes below: ``S`` seeds, ``K`` snapshots, ``G`` grid points, ``N`` districts, ``L`` hidden
layers (so ``L + 1`` weight matrices), ``W`` widths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import dataclass, field

import numpy as np

from app.ntk.checks import Checkpoint, require
from app.ntk.data import RingTask, ring_task
from app.ntk.kernels import analytic_kernels, kernel_and_trace, kernel_blocks
from app.ntk.mlp import LR_SCALINGS, MLP, Array, Masks, Params, init_params, stack_params
from app.ntk.training import KernelPrediction, LearningSpeeds, gd_mse_prediction, gp_posterior_mean, learning_speeds, train

DEFAULT_WIDTHS = tuple(2**k for k in range(4, 13))  # 16, 32, …, 4096
INPUT_DIM = 2  # the ring road lives in the plane
ALPHA_SCALINGS = ("fixed", "inverse_sqrt_width")  # how the lazy-training scale scales with width: α, or α/√n


@dataclass(frozen=True)
class DriftConfig:
    """Everything that determines a drift experiment; equal configs give identical results.

    Network ``k`` of width ``n`` is drawn from ``np.random.default_rng([seed + k, n])``, so a
    network is the same whichever other seeds or widths run beside it.

    Two settings scale with the width ``n`` of each network, and with nothing else (not with the other widths run
    beside it, so each network stays a function of its own width):

    - ``alpha_scaling``: ``fixed`` trains every width with the lazy-training scale ``alpha``; ``inverse_sqrt_width``
      with ``α_n = alpha/√n`` (Chizat, Oyallon & Bach 2019: only an α that shrinks like ``1/√n`` keeps the kernel
      moving as n grows). For one hidden layer and ``alpha = 1`` this is the mean-field scaling in every respect but
      one: ``α_n f`` has the mean-field readout multiplier ``σw/n`` (its bias ``σb/√n``), the step ``η/(α_n² N)`` is
      the mean-field learning rate ``η·n`` on every parameter, the weights are drawn identically, and the
      learning-rate-weighted kernels of the two networks are equal at equal weights; the one difference is the
      start: ``f_α`` starts at the NTK network's ``f(θ_0)`` (a draw of the NNGP, O(1)), the mean-field network at
      ``σb b_2 + O(n^−1/2)``, so the α run is the mean-field run fitting the shifted target
      ``y − (f(θ_0) − f_MF(θ_0))`` (docs/maths.md §6; ``tests/ntk/test_scalings.py``).
    - ``lr_scaling``: ``fixed`` trains every width at ``learning_rate``; ``inverse_width`` at ``learning_rate/n``
      (the standard parameterization only: see :class:`MLP`). The learning rate, the kernels (weighted by each
      parameter's learning rate) and ``lr_limit`` stay in units of ``learning_rate``, the same at every width.
    """

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    seeds: int = 3
    depth: int = MLP.depth  # the architecture's defaults are the network's own
    activation: str = MLP.activation
    w_std: float = MLP.w_std
    b_std: float = MLP.b_std
    parameterization: str = MLP.parameterization
    alpha: float = MLP.alpha
    alpha_scaling: str = "fixed"
    learning_rate: float = 1.0
    lr_scaling: str = MLP.lr_scaling
    steps: int = 500
    snapshots: int = 6
    districts: int = 8
    grid: int = 64
    target: str = "sin"
    frequency: int = 1
    values: tuple[float, ...] | None = None
    drawing: tuple[float, ...] | None = None  # target 'drawn': the knots of the curve (app.ntk.data.drawn_curve)
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        require(len(self.widths) >= 1 and all(isinstance(n, int) and n >= 1 for n in self.widths),
                 f"widths must be one or more positive integers, got {self.widths!r}")
        require(list(self.widths) == sorted(set(self.widths)), f"widths must be increasing and distinct, got {self.widths!r}")
        require(isinstance(self.seeds, int) and self.seeds >= 1, f"seeds must be a positive integer, got {self.seeds!r}")
        require(isinstance(self.steps, int) and self.steps >= 0, f"steps must be a whole number ≥ 0, got {self.steps!r}")
        require(isinstance(self.snapshots, int) and 2 <= self.snapshots <= self.steps + 1,
                 f"snapshots must be from 2 to steps + 1 = {self.steps + 1}, got {self.snapshots!r}")
        require(isinstance(self.grid, int) and self.grid >= 2, f"grid must be an integer ≥ 2, got {self.grid!r}")
        require(isinstance(self.seed, int) and self.seed >= 0, f"seed must be a whole number ≥ 0, got {self.seed!r}")
        require(math.isfinite(self.learning_rate) and self.learning_rate > 0,
                 f"learning_rate must be a finite positive number, got {self.learning_rate!r}")
        require(self.alpha_scaling in ALPHA_SCALINGS,
                 f"alpha_scaling must be one of {ALPHA_SCALINGS}, got {self.alpha_scaling!r}")
        require(self.lr_scaling in LR_SCALINGS, f"lr_scaling must be one of {LR_SCALINGS}, got {self.lr_scaling!r}")
        self.mlp(self.widths[0])  # validates the architecture fields

    def mlp(self, width: int) -> MLP:
        """The architecture at one width, with that width's lazy-training scale ``alpha_at(width)``."""
        return MLP(depth=self.depth, width=width, activation=self.activation, w_std=self.w_std, b_std=self.b_std,
                   parameterization=self.parameterization, alpha=self.alpha_at(width), lr_scaling=self.lr_scaling)

    def alpha_at(self, width: int) -> float:
        """The lazy-training scale of the networks of ``width`` lanes: ``alpha``, or ``alpha/√width``."""
        return self.alpha if self.alpha_scaling == "fixed" else self.alpha / math.sqrt(width)

    @property
    def snapshot_steps(self) -> tuple[int, ...]:
        """``snapshots`` evenly spaced training steps from 0 to ``steps``."""
        return tuple(int(k) for k in np.unique(np.round(np.linspace(0, self.steps, self.snapshots)).astype(int)))

    def task(self) -> RingTask:
        """The districts, their targets and the grid."""
        return ring_task(self.districts, self.grid, self.target, frequency=self.frequency,
                         values=None if self.values is None else np.asarray(self.values),
                         drawing=None if self.drawing is None else np.asarray(self.drawing),
                         noise=self.noise, rng=np.random.default_rng([self.seed, 0]))


@dataclass(frozen=True)
class WidthResult:
    """One width's networks (all seeds), measured at the snapshot steps. Entries after a network diverged are NaN.

    - ``kernel`` ``(S, K, G, G)``: Θ̂_t on the grid (``[:, 0]`` is Θ̂_0).
    - ``drift`` ``(S, K)``: ``‖Θ̂_t − Θ̂_0‖_F / ‖Θ̂_0‖_F`` on the grid.
    - ``weight_change`` ``(S, K, L + 1)``: ``‖W_l(t) − W_l(0)‖_F / ‖W_l(0)‖_F`` per weight matrix.
    - ``init_distance`` ``(S,)``: ``‖Θ̂_0 − Θ‖_F / ‖Θ‖_F`` against the analytic kernel (None without one).
    - ``function`` ``(S, K, G)``: the trained model ``f_α`` on the grid.
    - ``forecast`` ``(S, K, G)``: the planner's forecast, gradient descent with the *analytic* kernel Θ from the
      network's own initial outputs (None without an analytic kernel).
    - ``linearization`` ``(S, K, G)``: the network's *own* linearisation (Lee et al. 2019), gradient descent with its
      fixed empirical kernel at init, ``Θ̂_0``, from the same outputs (:func:`run_width` says why this is exactly the
      linearised model of the training the code does).
      A forecast whose fixed kernel is too large for the step diverges: NaN after step 0 (:func:`_until_diverging`).
    - ``forecast_gap`` ``(S,)``, ``linearization_gap`` ``(S,)``: ``‖f_T − g_T‖ / ‖f_T‖`` on the grid at the last
      snapshot, between the trained network ``f`` and ``g`` = its planner's forecast (None without one) or its own
      linearisation; ``linearization_forecast_gap`` ``(S,)``: ``‖f_lin,T − g_T‖ / ‖f_T‖``, the two forecasts apart
      (None without an analytic kernel): the initial kernel's error ``Θ̂_0 − Θ`` alone, carried into the function.
      All three share the denominator, so each is at most the sum of the other two. NaN where any part diverged.
    - ``loss`` ``(S, steps + 1)``; ``diverged_at`` ``(S,)`` (−1: never); ``divergence``: reasons in words.
    - ``lr_limit`` ``(S,)``: ``2N/λ_max`` of Θ̂_0 on the districts, the largest stable learning rate.
    - ``lambda_max`` ``(S, K)``: the top eigenvalue of the empirical kernel on the districts ``Θ̂_t(X, X)`` at every
      snapshot (``2N / lambda_max[:, 0]`` is ``lr_limit``); how the kernel shrinks or grows as the network trains.
    - ``kernel_init_masks`` ``(S, G, G)``: ``Θ̂(θ_T, P_0)``, the final weights' kernel with the activation patterns
      of init (ReLU; None for erf, whose units have no on/off pattern). See :func:`drift_parts`.
    - ``drift_switching``, ``drift_smooth`` ``(S,)``: the final drift's two parts (:func:`drift_parts`), each
      relative to ``‖Θ̂_0‖_F``; for erf ``drift_switching`` is None and ``drift_smooth`` is the whole final drift.
    """

    width: int
    kernel: Array
    drift: Array
    weight_change: Array
    init_distance: Array | None
    function: Array
    forecast: Array | None
    linearization: Array
    forecast_gap: Array | None
    linearization_gap: Array
    linearization_forecast_gap: Array | None
    loss: Array
    diverged_at: np.ndarray
    divergence: tuple[str | None, ...]
    lr_limit: Array
    lambda_max: Array
    kernel_init_masks: Array | None
    drift_switching: Array | None
    drift_smooth: Array


@dataclass(frozen=True)
class SlopeFit:
    """``log y = intercept + slope · log width``: least squares over every (width, seed) point; ``stderr`` is the slope's."""

    slope: float
    stderr: float
    intercept: float
    points: int


@dataclass(frozen=True)
class Reference:
    """The infinite-width side (docs/maths.md §2, §4, §8), computed once per experiment.

    - ``kernel_grid`` ``(G, G)``, ``kernel_grid_train`` ``(G, N)``, ``kernel_train`` ``(N, N)``: the analytic NTK Θ.
    - ``mean_forecast`` ``(K, G)``: the mean forecast at the snapshot steps (f0 = 0, discrete steps; NaN after step 0
      when η ≥ ``lr_limit``, :func:`_until_diverging`); ``note``: what is wrong with it (a singular Θ,
      a learning rate above 2N/λ_max), or None; ``lr_limit``: ``2N/λ_max`` of Θ on the districts, the largest
      learning rate at which any forecast with the analytic kernel converges (inf for a zero kernel).
    - ``ntk_mean`` ``(G,)``: its limit under gradient flow, t = ∞: kernel regression ``Θ(x, X) Θ⁻¹ y``
      (the part of ``y`` in a singular Θ's null space left out, as ``note`` says).
    - ``nngp_variance`` ``(G,)``: ``K(x, x)``, the variance of the initial network ``f(x; θ_0) ~ GP(0, K)``
      at infinite width; ``nngp_mean`` ``(G,)``: the posterior mean ``K(x, X) K⁻¹ y`` given the districts'
      targets exactly; ``nngp_note``: a singular K, or why both are None (mean-field: the initial
      network is not a sample of the NNGP).
    - ``speeds``: which part of the districts' targets (their noise included) gradient descent with Θ learns in the
      run's steps quickly, slowly or never (:func:`~app.ntk.training.learning_speeds`).
    """

    kernel_grid: Array
    kernel_grid_train: Array
    kernel_train: Array
    mean_forecast: Array
    note: str | None
    lr_limit: float
    ntk_mean: Array
    nngp_variance: Array | None
    nngp_mean: Array | None
    nngp_note: str | None
    speeds: LearningSpeeds | None = None


@dataclass(frozen=True)
class DriftResult:
    """A whole experiment: the config, the ring, the infinite-width reference (None for 'standard'),
    the per-width results in width order, and log-log slopes against width (``slopes`` keys:
    ``drift``, ``drift_switching`` (ReLU only), ``drift_smooth``, ``init_distance``, ``forecast_gap``,
    ``linearization_gap``, ``linearization_forecast_gap``, ``weight_change_1`` … ``weight_change_{L+1}``;
    ``init_distance``, ``forecast_gap`` and ``linearization_forecast_gap`` only with an analytic kernel)."""

    config: DriftConfig
    task: RingTask
    snapshot_steps: tuple[int, ...]
    reference: Reference | None
    widths: tuple[WidthResult, ...]
    slopes: dict[str, SlopeFit] = field(default_factory=dict)


WidthCallback = Callable[[WidthResult], None]
StepCallback = Callable[[int, int], None]  # (width, step): called before each training step, for progress


def drift_experiment(config: DriftConfig, on_width: WidthCallback | None = None, executor: Executor | None = None,
                     checkpoint: Checkpoint | None = None, on_step: StepCallback | None = None) -> DriftResult:
    """Train every width × seed, measure kernels, weights and functions, and fit slopes against width.

    ``on_width`` is called with each width's result as soon as it is ready (for streaming):
    in width order when run here, in order of completion when an ``executor`` (e.g. a
    process pool, one process per core) runs the widths in parallel, widest first. The
    widths are independent, so the result is identical either way. ``checkpoint()`` is called
    before every training step when run here, between widths with an executor; it may raise to
    abandon the experiment. ``on_step(width, step)`` is called before every training step when run here (progress).
    """
    task = config.task()
    reference = reference_kernels(config, task)
    results: dict[int, WidthResult] = {}

    def finished(result: WidthResult) -> None:
        results[result.width] = result
        if on_width is not None:
            on_width(result)

    if executor is None:
        for width in config.widths:
            finished(run_width(config, task, reference, width, checkpoint, on_step))
    else:
        futures = [executor.submit(run_width, config, task, reference, width) for width in reversed(config.widths)]
        for future in as_completed(futures):
            if checkpoint is not None:
                checkpoint()
            finished(future.result())
    in_order = tuple(results[width] for width in config.widths)
    return DriftResult(config=config, task=task, snapshot_steps=config.snapshot_steps, reference=reference, widths=in_order,
                       slopes=fit_slopes(in_order))


MEAN_FIELD_PRIOR_NOTE = ("the mean-field readout is divided by n instead of √n, so at initialisation the network tends "
                         "to the constant σb·b as the width grows: its initial functions are not samples of the NNGP, "
                         "and neither the band nor the posterior mean applies")


def reference_kernels(config: DriftConfig, task: RingTask) -> Reference | None:
    """The analytic kernels, the mean infinite-width forecast and the NNGP's prior and posterior, or None where no
    limit exists (the standard parameterization's NTK grows with width)."""
    if config.parameterization == "standard":
        return None
    mlp = config.mlp(config.widths[0])
    nngp_grid, ntk_grid = analytic_kernels(mlp, task.x_grid)  # (G, G) each
    nngp_grid_train, ntk_grid_train = analytic_kernels(mlp, task.x_grid, task.x_train)  # (G, N)
    nngp_train, ntk_train = analytic_kernels(mlp, task.x_train)  # (N, N)
    forecast = gd_mse_prediction(ntk_train, ntk_grid_train, task.y_train, np.array(config.snapshot_steps, dtype=float),
                                 config.learning_rate, discrete=True)
    mean_forecast = _until_diverging(forecast, np.array(config.snapshot_steps), config.learning_rate)
    converged = gd_mse_prediction(ntk_train, ntk_grid_train, task.y_train, math.inf, config.learning_rate)
    nngp_variance, nngp_mean, nngp_note = _nngp_prior_and_posterior(config, nngp_grid, nngp_grid_train, nngp_train,
                                                                    task.y_train)
    return Reference(kernel_grid=ntk_grid, kernel_grid_train=ntk_grid_train, kernel_train=ntk_train,
                     mean_forecast=mean_forecast, note=forecast.note, lr_limit=forecast.lr_limit,
                     ntk_mean=converged.f_test,
                     nngp_variance=nngp_variance, nngp_mean=nngp_mean, nngp_note=nngp_note,
                     speeds=learning_speeds(ntk_train, task.y_train, config.learning_rate, config.steps))


def _nngp_prior_and_posterior(config: DriftConfig, nngp_grid: Array, nngp_grid_train: Array, nngp_train: Array,
                              y_train: Array) -> tuple[Array | None, Array | None, str | None]:
    """``(K(x, x) (G,), K(x, X) K⁻¹ y (G,), note)`` from the NNGP kernel on the grid ``(G, G)``, grid × districts
    ``(G, N)`` and districts ``(N, N)``; ``(None, None, why)`` in the mean-field parameterization, whose initial
    network is not a sample of GP(0, K) (docs/maths.md §6, §8)."""
    if config.parameterization == "mean_field":
        return None, None, MEAN_FIELD_PRIOR_NOTE
    posterior = gp_posterior_mean(nngp_train, nngp_grid_train, y_train)
    return np.diagonal(nngp_grid).copy(), posterior.mean, posterior.note


def initial_networks(config: DriftConfig, width: int) -> Params:
    """The experiment's ``config.seeds`` networks of one width at init, stacked: seed ``k`` is drawn from
    ``default_rng([config.seed + k, width])``, so every width and every rerun draws the same networks."""
    mlp = config.mlp(width)
    return stack_params([init_params(mlp, INPUT_DIM, np.random.default_rng([config.seed + k, width]))
                         for k in range(config.seeds)])


def trained_networks(config: DriftConfig, width: int) -> tuple[Params, Params]:
    """The networks of one width at init and after ``config.steps`` steps, stacked, drawn and trained as the
    experiment does (for checks and measurements that need the networks themselves, not only their kernels)."""
    task, initial = config.task(), initial_networks(config, width)
    final: list[Params] = []
    train(config.mlp(width), initial, task.x_train, task.y_train, learning_rate=config.learning_rate,
          steps=config.steps, snapshot_steps=(config.steps,), on_snapshot=lambda step, p: final.append(p))
    return initial, final[0]


def run_width(config: DriftConfig, task: RingTask, reference: Reference | None, width: int,
              checkpoint: Checkpoint | None = None, on_step: StepCallback | None = None) -> WidthResult:
    """Train ``config.seeds`` networks of one width together and measure them at every snapshot.

    At each snapshot one :func:`~app.ntk.kernels.kernel_blocks` call gives the kernel on the grid (the drift) and on
    the districts, ``Θ̂_t(X, X)`` (its top eigenvalue, ``lambda_max``); at init also the grid × districts block and
    the outputs on the districts, which make each network's own linearised forecast (Lee et al. 2019):

        f_lin,t(x) = f_0(x) + Θ̂_0(x, X) Θ̂_0(X, X)⁻¹ (I − (I − η Θ̂_0(X, X)/N)^t) (y − f_0(X))

    This is exactly the linearisation of the training ``train`` does, for every parameterization and α: a step
    moves ``θ_p`` by ``−(η η_p / αN) Σ_i r_i ∂f(x_i)/∂θ_p`` and the model ``f_α = f_0 + α (f − f_0)``, linear in θ,
    by ``α J Δθ = −(η/N) Θ̂_η(x, X) r`` — α cancels, and ``Θ̂_η = Σ_p η_p ∂f/∂p ∂f/∂pᵀ`` is the learning-rate-weighted
    kernel ``empirical_ntk`` computes (the mean-field rates included; the standard parameterization's own scales).
    It is the planner's forecast with ``Θ̂_0`` in place of Θ, so the gap between the two forecasts is the initial
    kernel's error, and the gap from the network to its own linearisation is what the kernel's drift does.

    ``checkpoint``: see ``train``; ``on_step(width, step)`` is called before every training step.
    """
    mlp = config.mlp(width)
    params = initial_networks(config, width)
    weights0 = [W for W, _ in params]
    kernels, train_kernels, functions, moves = [], [], [], []
    switches = mlp.activation == "relu"
    masks0: Masks = []            # P_0 on the grid, per hidden layer (ReLU): (S, G, n) bool
    kernel_init_masks = None      # Θ̂(θ_T, P_0) on the grid (ReLU): (S, G, G)
    start: dict[str, Array] = {}  # at init: Θ̂_0(grid, X) (S, G, N) and f_0(X) (S, N)

    def measure(step: int, current: list[tuple[Array, Array]]) -> None:
        nonlocal kernel_init_masks
        blocks = kernel_blocks(mlp, current, task.x_grid, task.x_train, cross=step == 0, checkpoint=checkpoint)
        trace = blocks.trace_x
        if step == 0:
            assert blocks.xz is not None
            start.update(kernel_grid_train=blocks.xz, f0_train=blocks.trace_z.output)
        if switches and step == 0:
            masks0.extend(slope > 0 for slope in trace.slopes)
        if switches and step == config.snapshot_steps[-1]:
            kernel_init_masks = kernel_and_trace(mlp, current, task.x_grid, checkpoint=checkpoint, masks=masks0)[0]
        kernels.append(blocks.xx)
        train_kernels.append(blocks.zz)
        functions.append(trace.output)
        moves.append(np.stack([_relative(W, W0) for (W, _), W0 in zip(current, weights0, strict=True)], axis=-1))

    steps_begun = iter(range(config.steps + 1))

    def before_step() -> None:  # train calls it before every step: progress, then the caller's checkpoint
        if on_step is not None:
            on_step(width, next(steps_begun))
        if checkpoint is not None:
            checkpoint()

    history = train(mlp, params, task.x_train, task.y_train, learning_rate=config.learning_rate,
                    steps=config.steps, snapshot_steps=config.snapshot_steps, on_snapshot=measure, checkpoint=before_step)
    steps = np.array(config.snapshot_steps)
    valid = (history.diverged_at[:, None] < 0) | (steps[None, :] < history.diverged_at[:, None])  # (S, K)
    kernel = np.where(valid[..., None, None], np.stack(kernels, axis=1), np.nan)
    f0_grid = functions[0]
    function = np.where(valid[..., None], f0_grid[:, None] + mlp.alpha * (np.stack(functions, axis=1) - f0_grid[:, None]), np.nan)
    drift = _relative(kernel, kernel[:, :1])
    if kernel_init_masks is not None:
        kernel_init_masks = np.where(valid[:, -1, None, None], kernel_init_masks, np.nan)
        drift_switching, drift_smooth = drift_parts(kernel[:, 0], kernel[:, -1], kernel_init_masks)
    else:
        drift_switching, drift_smooth = None, drift[:, -1]
    weight_change = np.where(valid[..., None], np.stack(moves, axis=1), np.nan)
    lambda_max = np.where(valid, _top_eigenvalue(np.stack(train_kernels, axis=1)), np.nan)  # (S, K)

    def fixed_kernel_forecast(kernel_train: Array, kernel_grid_train: Array, k: int) -> Array:
        """Seed ``k``'s forecast with a fixed kernel from its own start, ``(K, G)`` (NaN after the start if it diverges)."""
        prediction = gd_mse_prediction(kernel_train, kernel_grid_train, task.y_train, steps.astype(float),
                                       config.learning_rate, f0_train=start["f0_train"][k], f0_test=f0_grid[k],
                                       discrete=True)
        return _until_diverging(prediction, steps, config.learning_rate)

    linearization = np.stack([fixed_kernel_forecast(train_kernels[0][k], start["kernel_grid_train"][k], k)
                              for k in range(config.seeds)])
    init_distance, forecast, forecast_gap, linearization_forecast_gap = None, None, None, None
    if reference is not None:
        init_distance = _relative(kernel[:, 0], reference.kernel_grid[None])
        forecast = np.stack([fixed_kernel_forecast(reference.kernel_train, reference.kernel_grid_train, k)
                             for k in range(config.seeds)])
        forecast_gap = _gap(function[:, -1], forecast[:, -1])
        linearization_forecast_gap = _gap(function[:, -1], forecast[:, -1], linearization[:, -1])
    return WidthResult(width=width, kernel=kernel, drift=drift, weight_change=weight_change, init_distance=init_distance,
                       function=function, forecast=forecast, linearization=linearization, forecast_gap=forecast_gap,
                       linearization_gap=_gap(function[:, -1], linearization[:, -1]),
                       linearization_forecast_gap=linearization_forecast_gap, loss=history.loss,
                       diverged_at=history.diverged_at, divergence=history.reasons, lr_limit=history.lr_limit,
                       lambda_max=lambda_max, kernel_init_masks=kernel_init_masks, drift_switching=drift_switching,
                       drift_smooth=drift_smooth)


def _until_diverging(prediction: KernelPrediction, steps: np.ndarray, learning_rate: float) -> Array:
    """A discrete fixed-kernel forecast's ``f_test`` ``(K, G)`` at ``steps`` ``(K,)``, NaN after step 0 if it diverges.

    With a fixed kernel the question is settled before the first step: each mode's residual is multiplied by
    ``1 − ηλ/N`` per step, so the forecast converges when ``η < 2N/λ_max`` (every mode shrinks, and the loss falls
    at every step) and otherwise grows or oscillates along the top eigenvectors without end, like
    ``|1 − ηλ_max/N|^t``: finite at each step, but not a forecast of anything (docs/maths.md §4). Its start, the
    network's own ``f_0``, is kept.
    """
    if learning_rate < prediction.lr_limit:
        return prediction.f_test
    return np.where((steps > 0)[:, None], np.nan, prediction.f_test)


def _top_eigenvalue(kernels: Array) -> Array:
    """λ_max of symmetric kernels ``(..., N, N)`` → ``(...)``; NaN for a kernel with a non-finite entry."""
    finite = np.asarray(np.isfinite(kernels).all(axis=(-2, -1)))
    top: Array = np.linalg.eigvalsh(np.where(finite[..., None, None], kernels, 0.0))[..., -1]
    return np.where(finite, top, np.nan)


def _gap(function: Array, forecast: Array, other: Array | None = None) -> Array:
    """``‖f − g‖ / ‖f‖`` over the last axis, ``(..., G)`` → ``(...)``: how far a forecast ``g`` is from the network ``f``
    (or, given ``other``, from that other forecast), relative to the network's own size, so that every gap of one
    network shares the denominator. NaN where any is NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        near = function if other is None else other
        return np.asarray(np.linalg.norm(near - forecast, axis=-1) / np.linalg.norm(function, axis=-1))


def drift_parts(kernel0: Array, kernel_final: Array, kernel_init_masks: Array) -> tuple[Array, Array]:
    """Split a ReLU network's final kernel change into ``(switching, smooth)``, each ``‖part‖_F / ‖Θ̂_0‖_F``.

    With ``Θ̂(θ, P)`` the empirical NTK of the weights θ when every hidden unit's on/off pattern on the inputs is
    given as ``P`` (``φ'(h_l) = P_l`` and ``a_l = h_l ⊙ P_l``; ``kernel_and_trace(..., masks=P)``), and ``P_t`` the
    network's own patterns at step t, so that ``Θ̂_t = Θ̂(θ_t, P_t)``, the change splits exactly in two:

        Θ̂_T − Θ̂_0 = [Θ̂(θ_T, P_T) − Θ̂(θ_T, P_0)]   switching: units turning on or off, at the trained weights
                   + [Θ̂(θ_T, P_0) − Θ̂(θ_0, P_0)]   smooth: the weights moving, every unit's pattern frozen at init

    The smooth part is how the kernel of the network with its gates frozen at init (linear in each pre-activation,
    so a polynomial in the weights) moves between the ReLU network's own θ_0 and θ_T: a smooth function of the weights,
    like the networks with smooth activations for which Dyer & Gur-Ari (2019) derive a drift ∝ 1/n. The switching part
    is what ReLU's kinks add. The norms do not add up (``‖total‖ ≤ ‖switching‖ + ‖smooth‖``); the matrices do.
    Only the final snapshot is split: the slopes against width are fitted there (docs/maths.md §5).

    ``kernel0`` ``Θ̂_0``, ``kernel_final`` ``Θ̂_T`` and ``kernel_init_masks`` ``Θ̂(θ_T, P_0)``: ``(..., G, G)`` → two ``(...)``.
    """
    scale = np.linalg.norm(kernel0, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        switching = np.linalg.norm(kernel_final - kernel_init_masks, axis=(-2, -1)) / scale
        smooth = np.linalg.norm(kernel_init_masks - kernel0, axis=(-2, -1)) / scale
    return np.asarray(switching), np.asarray(smooth)


def _relative(a: Array, b: Array) -> Array:
    """``‖a − b‖_F / ‖b‖_F`` over the last two axes (``(..., p, q)`` → ``(...)``).

    NaN (or inf) where ``b`` is zero: a change relative to nothing is undefined. It happens when a network's
    kernel is exactly zero at init (every unit dead at every input and no bias), and is reported, not hidden.
    """
    rows = max(1, CHUNK_NUMBERS * a.shape[-2] // max(1, a.size))  # a's rows per block of at most CHUNK_NUMBERS numbers
    change = sum(_squared_norms(a[..., i:i + rows, :] - b[..., i:i + rows, :]) for i in range(0, a.shape[-2], rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(np.sqrt(change / _squared_norms(b)))


CHUNK_NUMBERS = 2**19  # 4 MiB of float64: a − b block by block stays in the caches and under glibc's mmap threshold


def _squared_norms(x: Array) -> Array:
    """``‖x‖_F²`` over the last two axes, ``(..., p, q)`` → ``(...)``: one dot product per matrix (no squared copy).

    For the weights at a snapshot (up to 8 × 1024 × 1024 numbers) ``_relative`` block by block with this takes 12 ms
    where ``np.linalg.norm(a − b)`` took 40 ms (copies of ``a − b``, its absolute value and its square), agreeing to
    5e-16 relative."""
    flat = x.reshape(*x.shape[:-2], -1)
    return np.asarray(np.vecdot(flat, flat))


def fit_slopes(results: list[WidthResult] | tuple[WidthResult, ...]) -> dict[str, SlopeFit]:
    """Log-log slopes against width of the final drift and its two parts (:func:`drift_parts`; for erf the smooth part is
    the whole drift), each layer's final weight change, the init distance, the trained network's gaps to its two
    forecasts (the planner's, with the analytic kernel; its own linearisation) and the two forecasts' gap."""
    widths = np.array([r.width for r in results], dtype=float)
    series = {"drift": np.stack([r.drift[:, -1] for r in results])}  # (W, S)
    if results[0].drift_switching is not None:
        series["drift_switching"] = np.stack([r.drift_switching for r in results if r.drift_switching is not None])
    series["drift_smooth"] = np.stack([r.drift_smooth for r in results])
    if results[0].init_distance is not None:
        series["init_distance"] = np.stack([r.init_distance for r in results if r.init_distance is not None])
    if results[0].forecast_gap is not None:
        series["forecast_gap"] = np.stack([r.forecast_gap for r in results if r.forecast_gap is not None])
    series["linearization_gap"] = np.stack([r.linearization_gap for r in results])
    if results[0].linearization_forecast_gap is not None:
        series["linearization_forecast_gap"] = np.stack([r.linearization_forecast_gap for r in results
                                                         if r.linearization_forecast_gap is not None])
    for layer in range(results[0].weight_change.shape[-1]):
        series[f"weight_change_{layer + 1}"] = np.stack([r.weight_change[:, -1, layer] for r in results])
    return {name: loglog_fit(np.broadcast_to(widths[:, None], values.shape), values) for name, values in series.items()}


def loglog_fit(x: Array, y: Array) -> SlopeFit:
    """Least-squares line through ``(log x, log y)`` over the finite positive points; NaN where fewer than 3."""
    keep = np.isfinite(y) & (y > 0)
    lx, ly = np.log(x[keep]), np.log(y[keep])
    if lx.size < 3 or np.ptp(lx) == 0:
        return SlopeFit(slope=math.nan, stderr=math.nan, intercept=math.nan, points=int(lx.size))
    dx = lx - lx.mean()
    slope = float(dx @ (ly - ly.mean()) / (dx @ dx))
    intercept = float(ly.mean() - slope * lx.mean())
    residual = ly - intercept - slope * lx
    stderr = math.sqrt(float(residual @ residual) / (lx.size - 2) / float(dx @ dx))
    return SlopeFit(slope=slope, stderr=stderr, intercept=intercept, points=int(lx.size))
