"""Maths-core benchmark: empirical-NTK throughput against numpy's matmul, and the default experiment's wall time.

Run with ``make bench`` (or ``python -m benchmarks.core``). Everything is measured in this one
run on this machine, so the ratios compare like with like. Prints a Markdown table.
"""

from __future__ import annotations

import itertools
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from app.ntk import MLP, DriftConfig, drift_experiment, empirical_ntk, init_params, ring_angles, ring_points

MATMUL_SIZE = 2048
REPEATS = 5


def best_time(fn: Callable[[], object], repeats: int = REPEATS, budget_s: float = 2.0) -> float:
    """The fastest of ``repeats`` calls (stopping early once ``budget_s`` is spent): the least noisy estimate."""
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - started < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def matmul_gflops(size: int = MATMUL_SIZE) -> float:
    """numpy's float64 square matmul throughput: the machine's practical limit for our kernels."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    return 2 * size**3 / best_time(lambda: a @ b) / 1e9


def ntk_matmul_flops(depth: int, n_points: int, width: int, input_dim: int) -> float:
    """FLOPs of the matrix products in ``empirical_ntk(mlp, params, x)`` (one input set, so one forward pass).

    forward: ``2 N d n`` + ``(L−1) · 2 N n²`` + ``2 N n`` (readout); backprop of δ through the hidden
    matrices: ``(L−1) · 2 N n²``; Gram matrices ⟨δ_l, δ_l'⟩ and ⟨a_{l−1}, a_{l−1}'⟩ per layer:
    ``2 N² (fan_out + fan_in)``. (The readout's outer product is a broadcast, not a matmul: not counted.)
    """
    n, N, L = width, n_points, depth
    forward = 2 * N * input_dim * n + (L - 1) * 2 * N * n * n + 2 * N * n
    backward = (L - 1) * 2 * N * n * n
    fans = [input_dim] + [n] * L + [1]
    grams = sum(2 * N * N * (fan_in + fan_out) for fan_in, fan_out in itertools.pairwise(fans))
    return float(forward + backward + grams)


def kernel_rows(peak: float) -> list[str]:
    rows = ["| depth | N | width | time (ms) | GFLOP/s | ÷ matmul |", "|---:|---:|---:|---:|---:|---:|"]
    for depth in (1, 3):
        for n_points in (32, 128):
            x = ring_points(ring_angles(n_points))
            for width in (64, 256, 1024, 4096):
                mlp = MLP(depth=depth, width=width)
                params = init_params(mlp, 2, np.random.default_rng(0))
                seconds = best_time(lambda mlp=mlp, params=params, x=x: empirical_ntk(mlp, params, x))
                gflops = ntk_matmul_flops(depth, n_points, width, 2) / seconds / 1e9
                rows.append(f"| {depth} | {n_points} | {width} | {seconds * 1e3:.2f} | {gflops:.1f} | {gflops / peak:.2f} |")
    return rows


def experiment_rows() -> list[str]:
    """The default experiment in this process, then with its widths spread over a warm pool of one process per core."""
    config = DriftConfig()
    drift_experiment(DriftConfig(widths=(16,), steps=10, snapshots=2))  # warm imports and caches
    serial = best_time(lambda: drift_experiment(config), repeats=3, budget_s=10)
    workers = os.cpu_count() or 1
    with ProcessPoolExecutor(workers) as pool:
        drift_experiment(config, executor=pool)  # start and warm the workers
        parallel = best_time(lambda: drift_experiment(config, executor=pool), repeats=3, budget_s=10)
    return [
        f"default drift experiment (depth {config.depth}, widths {config.widths[0]}…{config.widths[-1]} doubling, "
        f"{config.seeds} seeds, {config.districts} districts, {config.grid} grid points, {config.steps} steps, "
        f"{config.snapshots} snapshots), best of 3:",
        f"- one process: **{serial:.3f} s**",
        f"- widths over {workers} processes: **{parallel:.3f} s** ({serial / parallel:.2f}× faster)",
    ]


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"python {platform.python_version()}")
    peak = matmul_gflops()
    print(f"numpy matmul {MATMUL_SIZE}×{MATMUL_SIZE} float64: {peak:.1f} GFLOP/s (the reference for ÷ matmul)\n")
    print("\n".join(kernel_rows(peak)))
    print()
    print("\n".join(experiment_rows()))


if __name__ == "__main__":
    main()
