"""What a computation will cost before it runs: floating-point operations and numbers held in memory.

The counts follow the code's own matrix products and elementwise passes, so they can be
checked against measured times (``benchmarks/core.py`` prints seconds per estimated GFLOP).
Per network with ``L`` hidden layers of width ``n``, input dimension ``d`` and ``N`` points:

    forward   F(N) = 2N (d·n + (L−1)·n² + n)  +  ELEMENTWISE · N·n·L
    gradient  2 F(N)   (δ propagation and the weight-gradient products)
    kernel    F(G) + 2G (L−1) n²  +  2G² (2nL + d + 1)   on G points (forward, δ, Gram matrices)

and every training step of one width costs ``STEP_OVERHEAD`` more (numpy's per-call overhead,
which dominates narrow networks) plus ``WEIGHT_TRAFFIC`` per weight (reading the weights in four
matrix products, writing their gradient and the updated weights: memory-bound for wide layers).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.ntk.experiments import INPUT_DIM, DriftConfig

ELEMENTWISE = 8            # elementwise passes per unit per layer (bias, activation, slope, products)
STEP_OVERHEAD = 1e6        # FLOP-equivalents per training step per width: ~40 µs of call overhead at ~25 GFLOP/s
WEIGHT_TRAFFIC = 60        # FLOP-equivalents per weight per training step: ~7 passes over memory (measured ~3 ns)


@dataclass(frozen=True)
class Cost:
    """``flops``: estimated floating-point operations; ``parameters``: numbers in the largest set of
    stacked parameters held at once; ``result_numbers``: numbers in the returned arrays."""

    flops: float
    parameters: int
    result_numbers: int


def parameter_count(depth: int, width: int, input_dim: int) -> int:
    """Weights and biases of one network: ``(d+1)n + (L−1)(n+1)n + n + 1``."""
    return (input_dim + 1) * width + (depth - 1) * (width + 1) * width + width + 1


def forward_flops(depth: int, width: int, input_dim: int, points: int) -> float:
    """One forward pass of one network on ``points`` inputs."""
    matmul = 2 * points * (input_dim * width + (depth - 1) * width * width + width)
    return float(matmul + ELEMENTWISE * points * width * depth)


def kernel_flops(depth: int, width: int, input_dim: int, points1: int, points2: int) -> float:
    """``empirical_ntk`` of one network between ``points1`` and ``points2`` inputs (one set: pass points2 = 0)."""
    passes = forward_flops(depth, width, input_dim, points1) + forward_flops(depth, width, input_dim, points2)
    backprop = 2 * (points1 + points2) * (depth - 1) * width * width
    grams = 2 * points1 * max(points1, points2) * (2 * width * depth + input_dim + 1)
    return float(passes + backprop + grams)


def drift_cost(config: DriftConfig) -> Cost:
    """The cost of ``drift_experiment(config)``: training, snapshot kernels on the grid, and the results.

    A ReLU experiment evaluates one kernel more per width, ``Θ̂(θ_T, P_0)`` (and keeps it), to split the final drift."""
    steps, seeds, depth = config.steps + 1, config.seeds, config.depth
    kernels = len(config.snapshot_steps) + (1 if config.activation == "relu" else 0)
    flops = 0.0
    for width in config.widths:
        per_step = 3 * forward_flops(depth, width, INPUT_DIM, config.districts) + WEIGHT_TRAFFIC * parameter_count(
            depth, width, INPUT_DIM)
        training = per_step * steps * seeds
        snapshots = kernel_flops(depth, width, INPUT_DIM, config.grid, 0) * kernels * seeds
        flops += training + snapshots + STEP_OVERHEAD * steps
    parameters = seeds * parameter_count(depth, max(config.widths), INPUT_DIM)
    per_width = seeds * (len(config.snapshot_steps) * (config.grid**2 + config.grid * 2 + depth + 2) + steps
                         + (kernels - len(config.snapshot_steps)) * config.grid**2 + 2)
    return Cost(flops, parameters, per_width * len(config.widths))
