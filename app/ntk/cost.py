"""What a computation will cost before it runs: estimated CPU seconds, and numbers held in memory.

The unit is honest: **seconds of CPU time of one core of the reference machine** (an AMD EPYC VM, family 25 model
17, 2 cores under KVM, Python 3.11.7, numpy 2.4.6 with OpenBLAS on one thread, as the server computes;
docs/performance.md; until 2026-12-02 an Intel Xeon VM, on which the model priced the same cases within 2×). A
computation is counted as terms of work, each priced by a rate (``RATES``, seconds per count); the estimate is
``Σ count · rate``. For ``S`` stacked networks (seeds) with ``L`` hidden layers of width ``n``, input dimension
``d``, ``P = parameter_count(L, n, d)`` parameters each, activation ``a``, and ``m(x) = min(1, 8x / 32 MiB)`` the
share of ``x`` float64 paid at memory's speed rather than the caches' (and for new arrays past 32 MiB, glibc's mmap
threshold, in page faults):

- **training**, per step on ``N`` points (``steps + 1`` forward passes, ``steps`` updates):
  ``(L+1)·train_layer[a] + S·N·n·L·(train_unit[a] + m(S·N·n)·large_array) + 6·N·S·P·matmul_flop
  + T·(train_weight + m(S·P)·large_weights)`` — numpy's calls per layer, the activation and its
  slope and the backprop products per unit, the forward, backward and weight-gradient products, and
  the weights' traffic ``T`` (read by the products, written by the gradient and the update: from the
  caches while they are small, from memory once they are not). ``T = S·P`` when every step is applied
  at once; the ``D`` weights of hidden-to-hidden matrices whose steps ``train`` keeps as factors
  (``deferred_parameters``) are written only when the factors are folded in, every ``C/N`` steps
  (``C = DEFAULT_CAPACITY`` rows), so ``T = S·P − D + D·N/C``, and the products through the pending factors
  add ``8·N·n·C/2`` FLOPs per such matrix;
- **an empirical-kernel measurement** between ``G`` and ``G'`` points (``G' = 0``: ``G`` with itself):
  ``(L+1)·kernel_layer[a] + S·(G+G')·n·L·(kernel_unit[a] + m(S·max(G,G')·n)·large_array)
  + (4·(G+G')·S·P + 2·S·G·G'·(2nL + d + 1))·matmul_flop`` — forward and δ passes, then the Gram
  products (``G' = G`` when ``G' = 0``);
- **weights**: ``S·P·weight_draw`` per width (``init_params``: Gaussian draws and stacking) and
  ``S·P·weight_snapshot`` per snapshot (the copy kept and the relative change from init);
- **analytic kernels** between ``G`` and ``G'`` points: ``G·G'·L·analytic_entry[a]`` (arc-cosine or
  arcsine moments per entry per layer);
- **eigendecompositions** of ``N × N`` kernels: ``N³·eigen`` each;
- a ``forecast`` per fixed-kernel forecast of one network (``gd_mse_prediction`` at the snapshot steps: Python's and
  numpy's calls; its eigendecomposition is counted as one of the above);
- a fixed ``width`` per width of an experiment (Python's own work, the loss curve).

A drift experiment (``drift_work``) adds, per width: weights; ``1 + K`` kernel measurements on the districts
(``train``'s ``2N/λ_max``, and ``Θ̂_t(X, X)`` at every snapshot, for its top eigenvalue) and the Gram products of
``Θ̂_0(grid, X)``; ``S`` eigendecompositions of ``N × N`` for each of those ``1 + K`` kernels and for each forecast;
``S`` forecasts with the network's own ``Θ̂_0`` and, with an infinite-width reference, ``S`` with the analytic Θ;
training; ``K`` kernel measurements on the grid. Once, with a reference: analytic kernels grid × grid,
grid × districts, districts × districts, and an ``N × N`` eigendecomposition. Settings that change numbers but not
work — α, the learning rate, and how either scales with width — are no terms (measured: equal CPU times;
``tests/ntk/test_cost.py`` keeps them out).

**How the rates were measured** (2026-12-02, on the reference machine, quiet but for this script;
``python -m benchmarks.cost --fit`` does it again): ``matmul_flop``, ``weight_draw`` and ``forecast`` were timed on
their own — numpy's float64 products at this code's shapes (``(256, 2048) @ (2048, 2048)``, the batched
``(4, 128, 1024) @ (4, 1024, 1024)``: 47 GFLOP/s on one thread), ``init_params``' Gaussian draws (11 ns a number) and
one network's fixed-kernel forecast on 8 districts, 64 grid points and 6 snapshots (148 µs, almost all of it calls,
not arithmetic). Every other rate was fitted: the CPU time (``time.thread_time``) of each of the 66 cases of the
script's grid, the least of 3 runs taken in turns (``benchmarks.cost.measure``: each right after an untimed run of
the same case, so that it finds its memory backed by the host), and non-negative least squares of the relative error
``estimate / measured − 1``. With these rates every case of that grid lies within 0.70–1.53× of its measured time
at the grid's fitted machine speed (1.04), and every case of ``tests/ntk/test_cost.py``'s smaller grid within
0.75–1.45× of its own (0.93); the test checks that shape (within 2×) on any machine. erf costs 6.9× ReLU per unit in
training and 3.7× in a kernel measurement: scipy's ``erf`` (about 16 ns a number) and ``exp`` against a comparison
and a product.

One rate depends on the CPU's vector instructions more than its speed does: ReLU's analytic kernel entry is mostly
``arccos``, which numpy computes with AVX-512 code where the CPU has it (the reference machine: fitted at 9.2 ns) and
one number at a time where it does not (an AMD EPYC Zen 3 VM, AVX2 only: 2.05–2.14× the fitted rate at that
machine's speed, outside the test's 2×). ``analytic_entry:relu`` is set between the two, at their geometric mean
(13.2 ns at the reference's speed), so each lies within 1.5× of it; erf's (``arcsin``) moved less (1.23–1.31×) and
keeps its fitted rate.

**Which requests are checked.** ``drift_cost`` (GET /experiments/drift) and ``empirical_kernel_cost``
(POST /kernels with an empirical kernel) are checked against ``compute_budget_s`` before anything runs.
POST /predictions and the analytic kernels of POST /kernels are not: their schema bounds them (at most
256 points of dimension ≤ 16, 64 times), and the largest body measured 21 ms of CPU (predictions, depth
4, erf, 256 + 256 points, 64 discrete times, serialization included) and 8 ms (analytic kernels
256 × 256): a thousandth of ``compute_timeout_s``. ``prediction_work`` and ``analytic_kernel_work``
price them for the benchmark and for the test that keeps that true if the bounds change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from app.ntk.deferred import DEFAULT_CAPACITY, keeps_factors
from app.ntk.experiments import INPUT_DIM, DriftConfig

LARGE_ARRAY_BYTES = 32 * 2**20  # past the caches; glibc's largest mmap threshold (new arrays this big fault every page)

RATES: dict[str, float] = {  # seconds of one reference core per count (module docstring: what each counts, how measured)
    "train_layer:relu": 2.02e-05,     # per layer per training step: numpy's per-call overhead
    "train_layer:erf": 2.03e-05,
    "train_unit:relu": 1.42e-09,      # per hidden unit per point per training step
    "train_unit:erf": 9.81e-09,
    "train_weight": 9.67e-10,         # per parameter per training step: its traffic from the caches ...
    "large_weights": 1.06e-08,        # ... and more, the share m(S·P) of it, from memory
    "kernel_layer:relu": 2.89e-05,    # per layer per empirical-kernel measurement
    "kernel_layer:erf": 5.08e-05,
    "kernel_unit:relu": 3.99e-09,     # per hidden unit per point per measurement
    "kernel_unit:erf": 1.47e-08,
    "large_array": 5.19e-09,          # per unit, training or measurement, the share m(S·N·n) on arrays past the caches
    "matmul_flop": 2.14e-11,          # per floating-point operation of a matrix product (measured: 47 GFLOP/s)
    "weight_draw": 1.08e-08,          # per parameter drawn at init (measured: Generator.standard_normal, stacking)
    "weight_snapshot": 7.59e-09,      # per parameter per snapshot: the copy kept and its change from init
    "analytic_entry:relu": 1.32e-08,  # per kernel entry per layer of an analytic kernel (between two machines: below)
    "analytic_entry:erf": 1.1e-08,
    "eigen": 4.35e-10,                # per N³ of an N × N symmetric eigendecomposition
    "forecast": 0.000148,             # per fixed-kernel forecast of one network (measured: gd_mse_prediction, N = 8)
    "width": 0.00353,                 # per width of a drift experiment
}


class Work:
    """Counts of each term of the model, by name (``RATES``' keys); :meth:`seconds` prices them."""

    def __init__(self) -> None:
        self.counts: dict[str, float] = defaultdict(float)

    def add(self, term: str, count: float) -> None:
        """Count ``count`` more of ``term``."""
        self.counts[term] += count

    def seconds(self, rates: Mapping[str, float] = RATES) -> float:
        """``Σ_term count · rate``: estimated CPU seconds of one core of the reference machine."""
        return sum(count * rates[term] for term, count in self.counts.items())


@dataclass(frozen=True)
class Cost:
    """``seconds``: estimated CPU time on one core of the reference machine; ``parameters``: numbers in the largest
    set of stacked parameters held at once; ``result_numbers``: numbers in the returned arrays."""

    seconds: float
    parameters: int
    result_numbers: int


def parameter_count(depth: int, width: int, input_dim: int) -> int:
    """Weights and biases of one network: ``P = (d+1)n + (L−1)(n+1)n + n + 1``."""
    return (input_dim + 1) * width + (depth - 1) * (width + 1) * width + width + 1


def large_share(numbers: float) -> float:
    """``m(x) = min(1, 8x / LARGE_ARRAY_BYTES)``: how much of ``x`` float64 is paid at memory's speed, not the caches'."""
    return min(1.0, 8 * numbers / LARGE_ARRAY_BYTES)


def _units(work: Work, kind: str, activation: str, count: float, array_numbers: float) -> None:
    """``count`` hidden-unit evaluations (``kind``: train or kernel), on arrays of ``array_numbers`` numbers each."""
    work.add(f"{kind}_unit:{activation}", count)
    work.add("large_array", count * large_share(array_numbers))


def training_work(work: Work, activation: str, depth: int, width: int, seeds: int, points: int, passes: int) -> None:
    """``passes`` full-batch gradient-descent steps of ``seeds`` stacked networks on ``points`` inputs.

    The hidden-to-hidden matrices that ``train`` defers (``deferred_parameters``) pay their weights' traffic only when
    their factors are folded in, once every ``DEFAULT_CAPACITY / points`` steps, and the thin products through the
    pending factors (on average half the capacity) besides the forward and backward ones."""
    parameters = seeds * parameter_count(depth, width, INPUT_DIM)
    deferred = deferred_parameters(depth, width, seeds, points)
    work.add(f"train_layer:{activation}", passes * (depth + 1))
    _units(work, "train", activation, passes * seeds * points * width * depth, seeds * points * width)
    work.add("matmul_flop", passes * 6 * points * parameters)
    if deferred:
        matrices = seeds * (depth - 1)
        work.add("matmul_flop", passes * matrices * 8 * points * width * (DEFAULT_CAPACITY // 2))
    traffic = parameters - deferred + deferred * points / DEFAULT_CAPACITY
    work.add("train_weight", passes * traffic)
    work.add("large_weights", passes * traffic * large_share(parameters))


def deferred_parameters(depth: int, width: int, seeds: int, points: int) -> int:
    """The weights in hidden-to-hidden matrices whose steps ``train`` keeps as factors (``keeps_factors``)."""
    if not keeps_factors(width, width, points):
        return 0
    return seeds * (depth - 1) * width * width


def kernel_work(work: Work, activation: str, depth: int, width: int, input_dim: int, seeds: int,
                points1: int, points2: int = 0, measurements: int = 1) -> None:
    """``measurements`` empirical NTKs of ``seeds`` stacked networks between ``points1`` and ``points2`` inputs
    (``points2 = 0``: ``points1`` with themselves, one forward pass)."""
    parameters = seeds * parameter_count(depth, width, input_dim)
    points, entries = points1 + points2, seeds * points1 * (points2 or points1)
    work.add(f"kernel_layer:{activation}", measurements * (depth + 1))
    _units(work, "kernel", activation, measurements * seeds * points * width * depth,
           seeds * max(points1, points2) * width)
    grams = 2 * entries * (2 * width * depth + input_dim + 1)
    work.add("matmul_flop", measurements * (4 * points * parameters + grams))


def analytic_work(work: Work, activation: str, depth: int, points1: int, points2: int) -> None:
    """``analytic_kernels`` between ``points1`` and ``points2`` inputs."""
    work.add(f"analytic_entry:{activation}", points1 * points2 * depth)


def drift_work(config: DriftConfig) -> Work:
    """What ``drift_experiment(config)`` does, term by term (module docstring)."""
    work = Work()
    seeds, depth, act, districts, grid = config.seeds, config.depth, config.activation, config.districts, config.grid
    snapshots = len(config.snapshot_steps)
    reference = config.parameterization != "standard"  # the infinite-width side exists
    if reference:
        for points1, points2 in ((grid, grid), (grid, districts), (districts, districts)):
            analytic_work(work, act, depth, points1, points2)
        work.add("eigen", districts**3)
    for width in config.widths:
        parameters = seeds * parameter_count(depth, width, INPUT_DIM)
        work.add("width", 1)
        work.add("weight_draw", parameters)
        work.add("weight_snapshot", parameters * snapshots)
        kernel_work(work, act, depth, width, INPUT_DIM, seeds, districts, measurements=1 + snapshots)
        work.add("matmul_flop", 2 * seeds * grid * districts * (2 * width * depth + INPUT_DIM + 1))  # Θ̂_0(grid, X)
        forecasts = seeds * (1 + reference)  # each network's own linearisation; the planner's forecast
        work.add("eigen", districts**3 * (seeds * (1 + snapshots) + forecasts))
        work.add("forecast", forecasts)
        training_work(work, act, depth, width, seeds, districts, config.steps + 1)
        kernel_work(work, act, depth, width, INPUT_DIM, seeds, grid, measurements=snapshots + _split_kernels(config))
    return work


def _split_kernels(config: DriftConfig) -> int:
    """Kernels a ReLU experiment evaluates once more per width, ``Θ̂(θ_T, P_0)``, to split its final drift."""
    return 1 if config.activation == "relu" else 0


def drift_cost(config: DriftConfig) -> Cost:
    """The cost of ``drift_experiment(config)``: its estimated seconds, the widest width's stacked parameters, and
    the numbers its result holds, per network: at every snapshot the kernel on the grid, the function and its two
    forecasts on the grid, each layer's weight change, the drift and λ_max; the loss at every step; the kernel with
    the patterns of init (ReLU); and eight numbers (init distance, limit, divergence step, the drift's two parts,
    the three gaps)."""
    steps, seeds, depth = config.steps + 1, config.seeds, config.depth
    parameters = seeds * parameter_count(depth, max(config.widths), INPUT_DIM)
    per_width = seeds * (len(config.snapshot_steps) * (config.grid**2 + config.grid * 3 + depth + 3) + steps
                         + _split_kernels(config) * config.grid**2 + 8)
    return Cost(drift_work(config).seconds(), parameters, per_width * len(config.widths))


def empirical_kernel_work(depth: int, width: int, activation: str, input_dim: int, points1: int, points2: int) -> Work:
    """One network drawn (``init_params``) and its ``empirical_ntk`` between two sets of points (``points2 = 0``: one)."""
    work = Work()
    work.add("weight_draw", parameter_count(depth, width, input_dim))
    kernel_work(work, activation, depth, width, input_dim, 1, points1, points2)
    return work


def empirical_kernel_cost(depth: int, width: int, activation: str, input_dim: int, points1: int, points2: int) -> Cost:
    """The cost of POST /kernels' empirical kernel (``points2 = 0``: the points with themselves)."""
    work = empirical_kernel_work(depth, width, activation, input_dim, points1, points2)
    return Cost(work.seconds(), parameter_count(depth, width, input_dim), points1 * (points2 or points1))


def analytic_kernel_work(depth: int, activation: str, points1: int, points2: int) -> Work:
    """``analytic_kernels`` between two sets of points (not checked against the budget: module docstring)."""
    work = Work()
    analytic_work(work, activation, depth, points1, points2)
    return work


def prediction_work(depth: int, activation: str, train: int, test: int, times: int) -> Work:
    """POST /predictions (not checked against the budget: module docstring): analytic kernels train × train and
    test × train, then ``gd_mse_prediction`` — an eigendecomposition, ``Θ* U`` and the modes at each time."""
    work = Work()
    analytic_work(work, activation, depth, train, train)
    analytic_work(work, activation, depth, test, train)
    work.add("eigen", train**3)
    work.add("matmul_flop", 2 * test * train * train + 4 * times * train * (train + test))
    return work


def spectral_bias_work(depth: int, activation: str, widths: tuple[int, ...], seeds: int, districts: int,
                       steps: int) -> Work:
    """``spectral_bias`` (app/ntk/spectrum.py): per width, the networks drawn, ``train``'s kernel at init on the districts
    (for ``2N/λ_max``) and ``steps`` training steps; once, the analytic NTK's row on the districts (its transform and
    the per-step projections are a few FFTs of ``N`` numbers, far below the rest)."""
    work = Work()
    analytic_work(work, activation, depth, 1, districts)
    for width in widths:
        work.add("width", 1)
        work.add("weight_draw", seeds * parameter_count(depth, width, INPUT_DIM))
        kernel_work(work, activation, depth, width, INPUT_DIM, seeds, districts)
        work.add("eigen", seeds * districts**3)
        training_work(work, activation, depth, width, seeds, districts, steps + 1)
    return work


def spectral_bias_cost(depth: int, activation: str, widths: tuple[int, ...], seeds: int, districts: int, steps: int,
                       frequencies: int, plotted_steps: int) -> Cost:
    """The cost of ``spectral_bias``: its seconds, the widest width's stacked parameters, and the numbers the API
    returns (per width and seed, each target frequency at ``plotted_steps`` steps; the kernel's ``N/2 + 1`` modes)."""
    seconds = spectral_bias_work(depth, activation, widths, seeds, districts, steps).seconds()
    numbers = len(widths) * seeds * frequencies * (plotted_steps + 2) + 4 * (districts // 2 + 1)
    return Cost(seconds, seeds * parameter_count(depth, max(widths), INPUT_DIM), numbers)
