"""Training speed against the memory's limit, and what float32 would change: ``make bench-training``.

Prints, in one run, on one BLAS thread (as the server computes):

1. numpy's streaming bandwidth here: a sum over a 400 MB array (the issue's yardstick) and a matrix–vector
   product over the same bytes (the fastest read numpy does);
2. one training step of 3 stacked networks with 3 hidden layers at widths 2048 and 4096 on 8 districts, with the
   wide matrices' steps kept as factors (``app/ntk/deferred.py``, as ``train`` does) and updated every step (as it
   did before), the least of several runs; the bytes a step must move (each hidden-to-hidden matrix read twice:
   forward and backward), the time that takes at the measured bandwidth, and the ratio limit ÷ step; and the four
   matrix products of a step timed alone and its share of the folds (each step's change of a matrix, applied 8 steps
   at a time): the arithmetic every step must do, at the rates OpenBLAS reaches, and how much of the step it is;
3. what the interactive budget could admit at best: for 3 seeds and 500 steps (the defaults) at depths 2 and 3 and
   widths 1024 and 2048, the cost model's estimate of the whole experiment against the least time its widest width's
   training could take (its hidden-to-hidden matrices read twice a step at the measured bandwidth, float64 and
   float32), and the least time its arithmetic could take (the forward and backward products of those matrices, at
   the rate OpenBLAS multiplies 8 rows here and at its rate for a square product, the best this core does) — the
   reason a ~5 s budget cannot hold 2048 lanes on this machine;
4. float32 against float64 training from the same (float32-exact) weights on the default scenario and the Jacot
   scenario: the largest relative difference of the loss at every step, the final kernel drift and each layer's
   weight change — the measurement behind training in float64 (docs/performance.md).
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import threadpoolctl

import app.ntk.deferred as deferral
from app.api.schemas import DriftQuery
from app.content.presets import PRESETS
from app.ntk import MLP, DriftConfig, empirical_ntk, init_params, stack_params, train
from app.ntk.cost import drift_cost
from app.ntk.experiments import initial_networks

SEEDS, DEPTH, DISTRICTS, STEPS = 3, 3, 8, 16
STREAM_BYTES = 400 * 2**20  # 400 MiB: past the caches


def best_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """The least wall time of ``repeats`` calls: the run least disturbed by other work."""
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def stream_bandwidth() -> dict[str, float]:
    """Bytes per second numpy reads here, over 400 MiB: ``x.sum()`` and a matrix–vector product ``X @ v``."""
    x = np.ones(STREAM_BYTES // 8)
    rows = x.reshape(-1, 2048)
    v = np.ones(2048)
    return {"sum": x.nbytes / best_seconds(x.sum), "matrix–vector": x.nbytes / best_seconds(lambda: rows @ v)}


def product_rates() -> dict[str, float]:
    """Floating-point operations per second of OpenBLAS here: a product of 8 rows by 3 stacked 2048 × 2048 matrices
    (a training step's shape) and a square 2048 × 2048 product (the best rate a core reaches)."""
    rng = np.random.default_rng(0)
    n = 2048
    square = rng.standard_normal((n, n))
    matrices, rows = rng.standard_normal((SEEDS, n, n)), rng.standard_normal((SEEDS, DISTRICTS, n))
    return {"8 rows": SEEDS * 2 * DISTRICTS * n * n / best_seconds(lambda: rows @ matrices),
            "square": 2 * n**3 / best_seconds(lambda: square @ square, repeats=3)}


def step_seconds(width: int, deferred: bool) -> float:
    """One training step of the stacked networks: (``STEPS`` steps − none) ÷ ``STEPS``, each the least of 3 runs."""
    mlp = MLP(depth=DEPTH, width=width)
    task = DriftConfig(depth=DEPTH, districts=DISTRICTS).task()
    params = stack_params([init_params(mlp, 2, np.random.default_rng([k, width])) for k in range(SEEDS)])
    saved = deferral.DEFERRED_MIN_WIDTH
    deferral.DEFERRED_MIN_WIDTH = saved if deferred else 10**9  # the layout before: every matrix updated every step
    try:
        def run(steps: int) -> Callable[[], object]:
            return lambda: train(mlp, params, task.x_train, task.y_train, learning_rate=1.0, steps=steps)
        return (best_seconds(run(STEPS), 3) - best_seconds(run(0), 3)) / STEPS
    finally:
        deferral.DEFERRED_MIN_WIDTH = saved


def products_seconds(width: int) -> float:
    """The forward and backward products of one step through the hidden-to-hidden matrices, alone."""
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((SEEDS, width, width)) for _ in range(DEPTH - 1)]
    a = rng.standard_normal((SEEDS, DISTRICTS, width))

    def products() -> None:
        for W in weights:
            a @ W
            a @ np.swapaxes(W, -1, -2)

    return best_seconds(products)


def folds_seconds(width: int, repeats: int = 5) -> float:
    """The folds of one step through the hidden-to-hidden matrices, alone: a matrix's fold of ``DEFAULT_CAPACITY``
    rows of factors (a rank-64 ``gemm`` into it, the least of ``repeats``) is shared by 64 ÷ ``DISTRICTS`` steps."""
    rng = np.random.default_rng(0)
    deferred = deferral.DeferredWeights(rng.standard_normal((SEEDS, width, width)))
    p, q = rng.standard_normal((SEEDS, DISTRICTS, width)), rng.standard_normal((SEEDS, DISTRICTS, width))
    steps_per_fold = deferral.DEFAULT_CAPACITY // DISTRICTS
    best = math.inf
    for _ in range(repeats):
        for _ in range(steps_per_fold):  # the factors filled, not folded yet
            deferred.subtract(p, q)
        started = time.perf_counter()
        deferred.fold()
        best = min(best, time.perf_counter() - started)
    return (DEPTH - 1) * best / steps_per_fold


def must_move(width: int) -> int:
    """Bytes a step reads at least: each hidden-to-hidden matrix (float64) once forward and once backward."""
    return 2 * SEEDS * (DEPTH - 1) * width * width * 8


def speed(bandwidth: dict[str, float]) -> None:
    print(f"\n## A training step: {SEEDS} stacked networks, {DEPTH} hidden layers, {DISTRICTS} districts, float64\n")
    print("| width | step, updated every step | step, steps kept as factors | speed-up | the four products alone "
          "| their folds | products + folds ÷ step | must move | at sum's bandwidth | limit ÷ step | at matrix–vector's "
          "| limit ÷ step |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for width in (2048, 4096):
        before, after, floor = step_seconds(width, False), step_seconds(width, True), products_seconds(width)
        folds = folds_seconds(width)
        limit_sum, limit_gemv = (must_move(width) / bandwidth[k] for k in ("sum", "matrix–vector"))
        print(f"| {width} | {before * 1e3:.1f} ms | {after * 1e3:.1f} ms | {before / after:.2f}× | {floor * 1e3:.1f} ms "
              f"| {folds * 1e3:.1f} ms | {(floor + folds) / after:.0%} "
              f"| {must_move(width) / 1e6:.0f} MB | {limit_sum * 1e3:.1f} ms | **{limit_sum / after:.0%}** "
              f"| {limit_gemv * 1e3:.1f} ms | {limit_gemv / after:.0%} |", flush=True)


def least_training_seconds(depth: int, width: int, steps: int, bandwidth: float, itemsize: int = 8) -> float:
    """The least time ``steps`` training steps of ``SEEDS`` stacked networks can take at ``bandwidth`` bytes/s: each
    hidden-to-hidden matrix read twice a step (forward, backward), nothing else counted."""
    return 2 * SEEDS * (depth - 1) * width * width * itemsize * steps / bandwidth


def least_arithmetic_seconds(depth: int, width: int, steps: int, rate: float) -> float:
    """The least time the forward and backward products through the hidden-to-hidden matrices of ``steps`` steps of
    ``SEEDS`` stacked networks take at ``rate`` flop/s: 2 products of 2 · 8 · width² flops each, per matrix and step."""
    return SEEDS * (depth - 1) * 2 * (2 * DISTRICTS * width * width) * steps / rate


def budget_floor(bandwidth: dict[str, float], rates: dict[str, float]) -> None:
    steps = DriftConfig().steps
    print(f"\n## What the budget could admit: {SEEDS} seeds, {steps} steps, widths doubling from 16, float64\n")
    print("The cost model's estimate of the whole experiment (reference CPU seconds), against the least time the "
          "widest width's training alone could take at the measured bandwidths, and its products alone at the "
          "measured rates of OpenBLAS on one core: "
          + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items()) + ".\n")
    print("| depth | widest | estimate, whole experiment | floor at sum's bandwidth | at matrix–vector's "
          "| at matrix–vector's, float32 | products at the 8-row rate | at the square rate |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for depth in (2, 3):
        for width in (1024, 2048):
            widths = tuple(16 * 2**k for k in range(int(math.log2(width // 16)) + 1))
            estimate = drift_cost(DriftConfig(depth=depth, widths=widths)).seconds
            floors = [least_training_seconds(depth, width, steps, bandwidth[k]) for k in ("sum", "matrix–vector")]
            single = least_training_seconds(depth, width, steps, bandwidth["matrix–vector"], itemsize=4)
            arithmetic = [least_arithmetic_seconds(depth, width, steps, rates[k]) for k in ("8 rows", "square")]
            print(f"| {depth} | {width} | {estimate:.1f} s | {floors[0]:.1f} s | {floors[1]:.1f} s | {single:.1f} s "
                  f"| {arithmetic[0]:.1f} s | {arithmetic[1]:.1f} s |", flush=True)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[both] - b[both]) / np.abs(a[both])))


def trained(config: DriftConfig, width: int, dtype: type) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(loss at every step, final drift on the grid, each layer's final weight change), trained in ``dtype`` from the
    scenario's networks rounded to float32 (so both runs start from the same numbers); kernels in float64."""
    task, mlp = config.task(), config.mlp(width)
    start = [(W.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64))
             for W, b in initial_networks(config, width)]
    final: list[list[tuple[np.ndarray, np.ndarray]]] = []
    history = train(mlp, [(W.astype(dtype), b.astype(dtype)) for W, b in start],
                    task.x_train.astype(np.float32).astype(dtype), task.y_train.astype(np.float32).astype(dtype),
                    learning_rate=config.learning_rate, steps=config.steps, snapshot_steps=(config.steps,),
                    on_snapshot=lambda step, p: final.append([(W.astype(np.float64), b.astype(np.float64)) for W, b in p]))
    k0, kt = (empirical_ntk(mlp, p, task.x_grid) for p in (start, final[0]))
    drift = np.linalg.norm(kt - k0, axis=(-2, -1)) / np.linalg.norm(k0, axis=(-2, -1))
    moves = np.stack([np.linalg.norm(W - W0, axis=(-2, -1)) / np.linalg.norm(W0, axis=(-2, -1))
                      for (W, _), (W0, _) in zip(final[0], start, strict=True)])
    return history.loss, drift, moves


def fidelity() -> None:
    print("\n## float32 training against float64, from the same weights (largest relative difference)\n")
    print("| scenario | width | final loss (float64) | loss, every step | final drift | weight change |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for preset in (p for p in PRESETS if p.id in ("default", "jacot-2018")):
        config = DriftQuery(**preset.changes).to_config()
        for width in (config.widths[0], config.widths[-1]):
            exact, single = trained(config, width, np.float64), trained(config, width, np.float32)
            diffs = [relative_difference(e, s) for e, s in zip(exact, single, strict=True)]
            print(f"| {preset.title} | {width} | {statistics.median(exact[0][:, -1]):.2e} | "
                  + " | ".join(f"{d:.1e}" for d in diffs) + " |", flush=True)


def main() -> None:
    threadpoolctl.threadpool_limits(limits=1, user_api="blas")
    print(f"machine: {platform.processor() or platform.machine()}, numpy {np.__version__}, python "
          f"{platform.python_version()}, one BLAS thread")
    bandwidth = stream_bandwidth()
    print("streaming bandwidth over 400 MiB: " + ", ".join(f"{k} {v / 1e9:.1f} GB/s" for k, v in bandwidth.items()))
    speed(bandwidth)
    budget_floor(bandwidth, product_rates())
    fidelity()


if __name__ == "__main__":
    main()
