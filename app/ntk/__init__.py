"""The maths core: pure numpy, no web imports, no I/O, randomness only from a passed ``np.random.Generator``.

Public names, stable for researchers who use them directly.
"""

from app.ntk.data import RingTask, ring_angles, ring_points, ring_task, target_values
from app.ntk.experiments import DriftConfig, DriftResult, SlopeFit, WidthResult, drift_experiment, fit_slopes, loglog_fit
from app.ntk.kernels import analytic_kernels, empirical_ntk
from app.ntk.mlp import MLP, forward, init_params, stack_params
from app.ntk.training import KernelPrediction, PosteriorMean, TrainingHistory, gd_mse_prediction, gp_posterior_mean, train

__all__ = [
    "MLP",
    "DriftConfig",
    "DriftResult",
    "KernelPrediction",
    "PosteriorMean",
    "RingTask",
    "SlopeFit",
    "TrainingHistory",
    "WidthResult",
    "analytic_kernels",
    "drift_experiment",
    "empirical_ntk",
    "fit_slopes",
    "forward",
    "gd_mse_prediction",
    "gp_posterior_mean",
    "init_params",
    "loglog_fit",
    "ring_angles",
    "ring_points",
    "ring_task",
    "stack_params",
    "target_values",
    "train",
]
