"""Why the ReLU drift sits between n^(−1/2) and n^(−1): its slope against width, and the slopes of its two parts; and
how far the trained networks end from their two fixed-kernel forecasts.

Run with ``make bench-slopes`` (or ``python -m benchmarks.drift_parts [--depths 1 3] [--max-width 8192] [--seeds 8]``).
For ReLU and erf, at each depth, the default experiment (8 districts, target sin γ, 500 steps of η = 1, 3 seeds, 64
grid points) over widths 16 … max doubling; prints Markdown tables of fitted slopes ± their standard error over the
whole range and over its narrower and wider halves (docs/maths.md §5: ``drift_parts``; §4: the distances from the
network to the planner's forecast and to its own linearisation, and between the two), the per-width medians, and, for
one hidden ReLU layer, the share of (unit, grid point) pairs whose unit switched on or off during training.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from app.ntk import DriftConfig, DriftResult, WidthResult, drift_experiment, loglog_fit
from app.ntk.experiments import trained_networks
from app.ntk.mlp import forward_trace

Pick = Callable[[WidthResult], "np.ndarray | None"]
SERIES: dict[str, Pick] = {  # name → the final value per seed of one width (None: not measured, e.g. switching for erf)
    "drift": lambda w: w.drift[:, -1],
    "drift_switching": lambda w: w.drift_switching,
    "drift_smooth": lambda w: w.drift_smooth,
    "forecast_gap": lambda w: w.forecast_gap,
    "linearization_gap": lambda w: w.linearization_gap,
    "linearization_forecast_gap": lambda w: w.linearization_forecast_gap,
}


def fit_label(widths: list[WidthResult], pick: Pick) -> str:
    """``slope ± stderr`` of the log–log fit through every (width, seed) point of ``widths``, or — when not measured."""
    values = [pick(w) for w in widths]
    if any(v is None for v in values):
        return "—"
    measured = [v for v in values if v is not None]
    x = np.concatenate([np.full(len(v), w.width, dtype=float) for w, v in zip(widths, measured, strict=True)])
    fit = loglog_fit(x, np.concatenate(measured))
    return f"{fit.slope:.2f} ± {fit.stderr:.2f}"


def slope_rows(result: DriftResult) -> list[str]:
    """One row per quantity: the slope over all widths, over the narrower half and over the wider half."""
    widths = list(result.widths)
    half = len(widths) // 2
    ranges = [widths, widths[: half + 1], widths[half:]]  # the halves share the middle width
    label = ", ".join(f"{r[0].width}–{r[-1].width}" for r in ranges)
    config = result.config
    return [f"| {config.activation} | {config.depth} | {name} | " + " | ".join(fit_label(r, pick) for r in ranges)
            + f" | {label} |" for name, pick in SERIES.items()]


def median_rows(result: DriftResult) -> list[str]:
    """Per-width medians over the seeds of the drift and its parts."""
    rows = []
    for w in result.widths:
        values = [pick(w) for pick in SERIES.values()]
        cells = ["—" if v is None else f"{np.median(v):.3g}" for v in values]
        rows.append(f"| {result.config.activation} | {result.config.depth} | {w.width} | " + " | ".join(cells) + " |")
    return rows


def switched_share(config: DriftConfig, width: int) -> float:
    """Of all (unit, grid point, seed) triples of one ReLU width, the share whose unit is on at init and off at the
    end, or the reverse (the networks drawn and trained exactly as ``run_width`` does; all hidden layers)."""
    mlp, task = config.mlp(width), config.task()
    initial, final = trained_networks(config, width)
    before = forward_trace(mlp, initial, task.x_grid).slopes
    after = forward_trace(mlp, final, task.x_grid).slopes
    return float(sum((a != b).sum() for a, b in zip(before, after, strict=True)) / sum(a.size for a in before))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--depths", type=int, nargs="+", default=[1])
    parser.add_argument("--max-width", type=int, default=8192)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes the widths spread over")
    parser.add_argument("--seeds", type=int, default=3, help="networks per width")
    args = parser.parse_args()
    widths = tuple(2**k for k in range(4, args.max_width.bit_length()))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}; "
          f"widths {widths[0]}…{widths[-1]} doubling, {args.seeds} seeds, otherwise the default experiment\n")
    results = []
    with ProcessPoolExecutor(args.workers) as pool:
        for depth in args.depths:
            for activation in ("relu", "erf"):
                started = time.perf_counter()
                config = DriftConfig(widths=widths, depth=depth, activation=activation, seeds=args.seeds)
                results.append(drift_experiment(config, executor=pool))
                print(f"{activation}, depth {depth}: {time.perf_counter() - started:.0f} s")
    print("\n| activation | depth | quantity | slope, all widths | narrower half | wider half | ranges |")
    print("|---|---:|---|---:|---:|---:|---|")
    for result in results:
        print("\n".join(slope_rows(result)))
    print("\n| activation | depth | width | " + " | ".join(SERIES) + " |\n|---|---:|---:|" + "---:|" * len(SERIES))
    for result in results:
        print("\n".join(median_rows(result)))
    if 1 in args.depths:
        config = DriftConfig(widths=widths, seeds=args.seeds)
        shares = [switched_share(config, n) for n in widths]
        fit = loglog_fit(np.array(widths, dtype=float), np.array(shares))
        print("\nReLU, depth 1: share of (unit, grid point) pairs switched on or off by the end, per width: "
              + ", ".join(f"{n}: {s:.2%}" for n, s in zip(widths, shares, strict=True))
              + f"; slope {fit.slope:.2f} ± {fit.stderr:.2f}")


if __name__ == "__main__":
    main()
