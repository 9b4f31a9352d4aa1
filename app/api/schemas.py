"""The API's JSON: request models with their bounds, response models, and the serialization of results.

This is the only module that turns numpy results into JSON (and the only one that knows
how numbers are rounded for plotting). Handlers stay thin; the maths core knows no JSON.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from app.ntk import MLP, DriftConfig, DriftResult, KernelPrediction, WidthResult
from app.ntk.spectrum import (
    BIAS_FREQUENCIES,
    BIAS_WIDTHS,
    FIT_FRACTION,
    FIT_RANGE,
    ZERO_RTOL,
    KernelSpectrum,
    RingSpectrum,
    SpectralBiasConfig,
    SpectralBiasResult,
    bias_widths,
)
from app.ntk.training import LearningSpeeds
from app.parameters import API_PARAMETERS, IDENTITY, MAX_WIDTH, parameter

API_VERSION = "1"
PLOT_DIGITS = 4          # significant digits of arrays meant for plotting
MAX_LOSS_POINTS = 201    # loss curves are subsampled to at most this many steps
COARSE_POINTS = 32       # the most grid points per side of each width's kernel change on the coarse grid
COARSE_DIGITS = 3        # their significant digits: colours and a road's glow need no more
MAX_VALUES_CHARS = 4000  # the longest `values` string read (128 numbers of ~30 characters)
CHOICES = tuple(p.name for p in API_PARAMETERS if p.kind == "choice")

Strict = ConfigDict(extra="forbid", allow_inf_nan=False)
StrictBody = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)  # JSON bodies: no type coercion (false ≠ 0)


# --- requests -------------------------------------------------------------------------------

def declared(name: str, **overrides: Any) -> Any:
    """The pydantic field of the parameter ``name`` as ``app/parameters.py`` declares it: default, bounds, choices, help.

    Choices are plain strings listed as the schema's ``enum`` and checked by :meth:`Declared._one_of`, so the
    allowed values are written only in the declaration (and the core). ``overrides`` may replace the default too.
    """
    p = parameter(name)
    options: dict[str, Any] = {"description": p.help}
    if p.kind in ("int", "float"):
        options |= {"ge": p.minimum, "le": p.maximum}
    elif p.kind == "choice":
        options["json_schema_extra"] = {"enum": list(p.values())}
    elif p.kind in ("widths", "numbers"):  # the form is checked by Declared, which says it in words
        options["json_schema_extra"] = {"pattern": p.pattern}
        if p.kind == "numbers":
            options["max_length"] = MAX_VALUES_CHARS
    default = overrides.pop("default", p.default)  # another endpoint's default for the same field (its own meaning)
    return Field(default, **(options | overrides))


class Declared(BaseModel):
    """A model whose fields come from ``app/parameters.py``: checks what a field's own type cannot."""

    model_config = Strict

    @field_validator(*CHOICES, check_fields=False)
    @classmethod
    def _one_of(cls, value: str, info: ValidationInfo) -> str:
        allowed = parameter(str(info.field_name)).values()
        if value not in allowed:
            expected = " or ".join([", ".join(repr(v) for v in allowed[:-1]), repr(allowed[-1])])
            raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
        return value

    @field_validator("widths", check_fields=False)
    @classmethod
    def _widths_in_range(cls, widths: str | None) -> str | None:
        if widths is None:  # optional where a default is chosen from other fields (SpectralBiasQuery)
            return widths
        p = parameter("widths")
        assert p.pattern is not None and p.minimum is not None and p.maximum is not None
        if not re.fullmatch(p.pattern, widths):
            raise ValueError(f"widths must be 1 to {p.max_count} whole numbers written with the digits 0–9 and "
                             f"separated by commas, like 16,64,256")
        numbers = [int(w) for w in widths.split(",")]
        if not all(p.minimum <= n <= p.maximum for n in numbers):
            raise ValueError(f"each width must be from {p.minimum:g} to {p.maximum:g}")
        if numbers != sorted(set(numbers)):
            raise ValueError("widths must be increasing and distinct")
        return widths


class Architecture(Declared):
    """The network: the fields of ``app.ntk.MLP`` except width (and alpha and lr_scaling, which only matter for
    training)."""

    depth: int = declared("depth")
    activation: str = declared("activation")
    w_std: float = declared("w_std")
    b_std: float = declared("b_std")
    parameterization: str = declared("parameterization")


class DriftQuery(Declared):
    """Every parameter of a drift experiment, as query parameters with defaults: a URL names a result.

    One line per parameter of ``app/parameters.py`` (in its order); ``tests/test_parameters.py`` checks they agree.
    """

    widths: str = declared("widths")
    seeds: int = declared("seeds")
    depth: int = declared("depth")
    activation: str = declared("activation")
    w_std: float = declared("w_std")
    b_std: float = declared("b_std")
    parameterization: str = declared("parameterization")
    alpha: float = declared("alpha")
    alpha_scaling: str = declared("alpha_scaling")
    learning_rate: float = declared("learning_rate")
    lr_scaling: str = declared("lr_scaling")
    steps: int = declared("steps")
    snapshots: int = declared("snapshots")
    districts: int = declared("districts")
    grid: int = declared("grid")
    target: str = declared("target")
    frequency: int = declared("frequency")
    values: str | None = declared("values")
    drawing: str | None = declared("drawing")
    noise: float = declared("noise")
    seed: int = declared("seed")
    kernel_width: int | None = declared("kernel_width")

    @field_validator("values")
    @classmethod
    def _numbers(cls, values: str | None) -> str | None:
        p = parameter("values")
        assert p.pattern is not None and p.minimum is not None and p.maximum is not None
        if values is None:
            return values
        if not re.fullmatch(p.pattern, values):
            raise ValueError("values must be numbers written with the digits 0–9 (a sign, a decimal point and an "
                             "exponent allowed) and separated by commas, like 0.5,-1,2e-3")
        numbers = [float(v) for v in values.split(",")]
        if not all(math.isfinite(v) for v in numbers):
            raise ValueError("values must be finite numbers")
        if not all(p.minimum <= v <= p.maximum for v in numbers):
            raise ValueError(f"each of the values must be from {p.minimum:g} to {p.maximum:g}")
        return values

    @field_validator("drawing")
    @classmethod
    def _knots(cls, drawing: str | None) -> str | None:
        return None if drawing is None else checked_drawing(drawing)

    @model_validator(mode="after")
    def _consistent(self) -> DriftQuery:
        if self.kernel_width is not None and self.kernel_width not in self.width_list:
            raise ValueError(f"kernel_width must be one of the widths ({self.widths}), got {self.kernel_width}")
        if (self.target == "values") != (self.values is not None):
            raise ValueError("give values exactly when target=values (one number per district)")
        if (self.target == "drawn") != (self.drawing is not None):
            raise ValueError("give drawing exactly when target=drawn (the drawn curve's values at its knots)")
        if self.values is not None and len(self.values.split(",")) != self.districts:
            raise ValueError(f"values must hold one number per district: {self.districts} expected, "
                             f"got {len(self.values.split(','))}")
        if self.snapshots > self.steps + 1:
            raise ValueError(f"snapshots must be at most steps + 1 = {self.steps + 1}")
        return self

    @property
    def width_list(self) -> tuple[int, ...]:
        return tuple(int(w) for w in self.widths.split(","))

    def to_config(self) -> DriftConfig:
        """The core's config (its own checks may still refuse with ValueError, e.g. deep mean-field)."""
        fields = {name: getattr(self, name) for name in IDENTITY}
        values = None if self.values is None else tuple(float(v) for v in self.values.split(","))
        drawing = None if self.drawing is None else tuple(float(v) for v in self.drawing.split(","))
        return DriftConfig(**fields | {"widths": self.width_list, "values": values, "drawing": drawing})


def checked_drawing(drawing: str) -> str:
    """``drawing`` if it is a drawing the API takes (``app/parameters.py``: its knots' count, range and form), else a
    ``ValueError`` saying which rule it breaks; the page checks a link's drawing by the same rules (``state.js``)."""
    p = parameter("drawing")
    assert p.pattern is not None and p.minimum is not None and p.maximum is not None
    assert p.min_count is not None and p.max_count is not None
    entries = drawing.split(",")
    if not p.min_count <= len(entries) <= p.max_count:
        raise ValueError(f"drawing must hold {p.min_count} to {p.max_count} values separated by commas, got {len(entries)}")
    if not re.fullmatch(p.pattern, drawing):
        raise ValueError("drawing must be numbers written with the digits 0–9, a sign and at most two decimals, "
                         "separated by commas, like 0.5,-1.25,2")
    if not all(p.minimum <= float(v) <= p.maximum for v in entries):
        raise ValueError(f"each value of the drawing must be from {p.minimum:g} to {p.maximum:g}")
    return drawing


MAX_COORDINATE = 1e4  # larger inputs overflow deep kernels (x·x' is squared at every layer)
Coordinate = Annotated[float, Field(ge=-MAX_COORDINATE, le=MAX_COORDINATE)]
Points = Annotated[list[Annotated[list[Coordinate], Field(min_length=1, max_length=16)]], Field(min_length=1, max_length=256)]


class KernelsRequest(Architecture):
    """Kernels between two sets of points (``x2`` omitted: ``x2 = x1``)."""

    model_config = StrictBody

    x1: Points = Field(description="Points, N1 × d (N1 ≤ 256, d ≤ 16).")
    x2: Points | None = Field(None, description="Points, N2 × d; omitted means x1.")
    kinds: list[Literal["analytic", "empirical"]] = Field(["analytic"], min_length=1, max_length=2,
                                                          description="Which kernels to compute.")
    width: int = Field(MLP.width, ge=1, le=MAX_WIDTH, description="Width of the sampled network (empirical only).")
    seed: int = declared("seed", description="Seed of the sampled network (empirical only).")

    @model_validator(mode="after")
    def _same_dimension(self) -> KernelsRequest:
        dims = {len(p) for p in self.x1} | {len(p) for p in self.x2 or []}
        if len(dims) != 1:
            raise ValueError(f"every point must have the same dimension d, got dimensions {sorted(dims)}")
        return self

    def arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        return np.array(self.x1, dtype=float), None if self.x2 is None else np.array(self.x2, dtype=float)


class PredictionRequest(Architecture):
    """The infinite-width network's outputs after training on (x_train, y_train) by gradient descent."""

    model_config = StrictBody

    x_train: Points = Field(description="Training points, N × d.")
    y_train: list[Annotated[float, Field(ge=-1e6, le=1e6)]] = Field(min_length=1, max_length=256,
                                                                     description="Targets, one per training point.")
    x_test: Points = Field(description="Points to predict at, M × d.")
    times: list[float | Literal["inf"]] = Field(["inf"], min_length=1, max_length=64,
                                                description="Training times t (steps when discrete), or 'inf'.")
    learning_rate: float = declared("learning_rate", description="η.")
    discrete: bool = Field(False, description="Step-by-step gradient descent instead of gradient flow.")
    ridge: float = Field(0.0, ge=0, le=1e3, description="Added to the kernel's diagonal (only when asked).")

    @model_validator(mode="after")
    def _consistent(self) -> PredictionRequest:
        if len(self.y_train) != len(self.x_train):
            raise ValueError(f"y_train needs one value per training point: {len(self.x_train)} expected, got {len(self.y_train)}")
        dims = {len(p) for p in self.x_train} | {len(p) for p in self.x_test}
        if len(dims) != 1:
            raise ValueError(f"every point must have the same dimension d, got dimensions {sorted(dims)}")
        for t in self.times:
            if t != "inf" and (t < 0 or (self.discrete and t != math.floor(t)) or t > 1e9):
                raise ValueError("times must be ≥ 0 and ≤ 1e9 (whole numbers when discrete), or 'inf'")
        return self

    def time_array(self) -> np.ndarray:
        return np.array([math.inf if t == "inf" else t for t in self.times], dtype=float)


class SpectrumQuery(Declared):
    """The infinite-width kernels whose spectrum on the ring is asked for (NTK parameterization: the only one with a
    kernel limit besides mean-field, whose kernel at init is the same)."""

    depth: int = declared("depth")
    activation: str = declared("activation")
    w_std: float = declared("w_std")
    b_std: float = declared("b_std")


FREQUENCIES_PATTERN = "^[0-9]{1,2}(,[0-9]{1,2}){0,7}$"


class SpectralBiasQuery(SpectrumQuery):
    """Networks trained on a target of several frequencies, each frequency's residual against the kernel's forecast.

    ``widths`` omitted: the narrow and the wide width the page trains at this depth (``app.ntk.spectrum.BIAS_WIDTHS``).
    """

    widths: str | None = declared("widths", default=None, description=(
        "Comma-separated, increasing widths (at most 12, each 1–10000); omitted: "
        + "; ".join(f"{', '.join(map(str, w))} lanes at depth {d}" for d, w in BIAS_WIDTHS.items()) + "."))
    seeds: int = declared("seeds", default=SpectralBiasConfig.seeds)
    districts: int = declared("districts", default=SpectralBiasConfig.districts)
    frequencies: str = Field(",".join(map(str, BIAS_FREQUENCIES)), pattern=FREQUENCIES_PATTERN,
                             description="The target's frequencies k, comma-separated and increasing, each from 1 to "
                                         "below districts/2 (at most 8): the target is the sum of their cos kγ.")
    steps: int = declared("steps", default=SpectralBiasConfig.steps)
    lr_fraction: float = Field(SpectralBiasConfig.lr_fraction, gt=0, lt=1,
                               description="The learning rate as a fraction of the infinite-width kernel's stable "
                                           "limit on the districts: η = lr_fraction · 2N/λ_max.")
    seed: int = declared("seed")

    def to_config(self) -> SpectralBiasConfig:
        """The core's config (its own checks may refuse it with ValueError: a frequency the districts cannot resolve)."""
        widths = bias_widths(self.depth) if self.widths is None else tuple(int(w) for w in self.widths.split(","))
        return SpectralBiasConfig(depth=self.depth, activation=self.activation, w_std=self.w_std, b_std=self.b_std,
                                  widths=widths, seeds=self.seeds, districts=self.districts,
                                  frequencies=tuple(int(k) for k in self.frequencies.split(",")), steps=self.steps,
                                  lr_fraction=self.lr_fraction, seed=self.seed)


# --- responses ------------------------------------------------------------------------------

Matrix = list[list[float]]
MaybeFloat = float | None  # null where a network had diverged


class SlopeModel(BaseModel):
    slope: MaybeFloat = Field(description="Fitted exponent: log y = intercept + slope · log width.")
    stderr: MaybeFloat = Field(description="Standard error of the slope.")
    intercept: MaybeFloat
    points: int = Field(description="(width, seed) points in the fit (diverged or non-positive ones left out).")


class WidthModel(BaseModel):
    width: int
    drift: list[list[MaybeFloat]] = Field(description="Relative kernel change ‖Θ_t − Θ_0‖/‖Θ_0‖, seeds × snapshots.")
    weight_change: list[list[list[MaybeFloat]]] = Field(description="‖W_l(t) − W_l(0)‖/‖W_l(0)‖, seeds × snapshots × layers.")
    init_distance: list[MaybeFloat] | None = Field(description="‖Θ̂_0 − Θ‖/‖Θ‖ per seed (null: no analytic kernel).")
    function: list[list[list[MaybeFloat]]] = Field(description="The trained network on the grid, seeds × snapshots × grid.")
    forecast: list[list[list[MaybeFloat]]] | None = Field(
        description="The planner's forecast: gradient descent with the analytic (infinite-width) kernel Θ, from the "
                    "network's own initial outputs, on the grid, seeds × snapshots × grid (null: no analytic kernel; "
                    "null after step 0 when the forecast diverges, η ≥ reference.lr_limit).")
    linearization: list[list[list[MaybeFloat]]] = Field(
        description="The network's own linearisation (Lee et al. 2019): gradient descent with its own empirical "
                    "kernel at init, Θ̂₀, held fixed, from the same initial outputs, seeds × snapshots × grid (null "
                    "after step 0 when it diverges, as for forecast: η ≥ that seed's lr_limit).")
    forecast_gap: list[MaybeFloat] | None = Field(
        description="‖f_T − forecast_T‖/‖f_T‖ on the grid at the last snapshot, per seed: how far the trained "
                    "network ends from the planner's forecast (null: no analytic kernel; null entries: either diverged).")
    linearization_gap: list[MaybeFloat] = Field(
        description="‖f_T − linearization_T‖/‖f_T‖ on the grid at the last snapshot, per seed: how far the trained "
                    "network ends from its own linearisation (null where either diverged).")
    linearization_forecast_gap: list[MaybeFloat] | None = Field(
        description="‖linearization_T − forecast_T‖/‖f_T‖ on the grid at the last snapshot, per seed: how far apart "
                    "the two forecasts end, the initial kernel's error Θ̂₀ − Θ alone (null: no analytic kernel; null "
                    "entries: a forecast diverged).")
    loss_steps: list[int]
    loss: list[list[MaybeFloat]] = Field(description="Training loss per seed at loss_steps.")
    diverged_at: list[int] = Field(description="Step at which each seed diverged, −1 if it did not.")
    divergence: list[str | None] = Field(description="Why, in words.")
    lr_limit: list[MaybeFloat] = Field(description="2N/λ_max at init: the largest stable learning rate η per seed "
                                                   "(null where the kernel is zero at init: no limit). λ_max is "
                                                   "the top eigenvalue of the kernel weighted by each parameter's "
                                                   "learning rate relative to η, so with lr_scaling=inverse_width "
                                                   "(steps η/n) the limit is on η itself: n times 2N/λ_max of the "
                                                   "unweighted kernel.")
    lambda_max: list[list[MaybeFloat]] = Field(
        description="λ_max(t), the top eigenvalue of the network's empirical kernel on the districts Θ̂_t(X, X) "
                    "(weighted like lr_limit's), seeds × snapshots (null after a network diverged); 2N/λ_max(t) is "
                    "the largest learning rate the kernel of step t allows, and at t = 0 it is lr_limit.")
    drift_switching: list[MaybeFloat] | None = Field(
        description="The part of the final kernel change due to ReLU units switching on or off, per seed: "
                    "‖Θ̂_T − Θ̂(θ_T, P_0)‖/‖Θ̂_0‖ on the grid, where Θ̂(θ, P) is the kernel of the weights θ with every "
                    "hidden unit's on/off pattern on the grid held at P (P_0: the patterns at init). "
                    "Null for erf, whose units do not switch.")
    drift_smooth: list[MaybeFloat] = Field(
        description="The rest of the final kernel change, per seed: ‖Θ̂(θ_T, P_0) − Θ̂_0‖/‖Θ̂_0‖, the weights moving "
                    "with every unit's on/off pattern frozen at init. The two changes add up to Θ̂_T − Θ̂_0 exactly; "
                    "their norms need not add up to the drift. For erf: the whole final drift.")
    kernel_change: list[list[MaybeFloat]] | None = Field(
        description="With kernel_width (else null): the first seed's kernel change during training, Θ̂_T − Θ̂_0, on "
                    f"the coarse grid (the document's coarse_grid, at most {COARSE_POINTS} points), points × points, "
                    f"to {COARSE_DIGITS} significant digits: every width's change map, for drawing the widening "
                    "without asking for each width's kernels (null entries where the network diverged).")
    change_max: MaybeFloat = Field(
        description="max |Θ̂_T − Θ̂_0| over the whole grid, first seed (null if it diverged): the widest colour scale "
                    "the change map needs at this width.")


class SpeedsModel(BaseModel):
    eigenvalues: list[float] = Field(description="λ_k of Θ(X, X) on the districts, ascending.")
    coefficients: list[float] = Field(description="c_k = u_kᵀ y, the targets along each eigenvector u_k.")
    remaining: list[MaybeFloat] = Field(description="(1 − ηλ_k/N)^T: the fraction of each mode left after the run's T "
                                                    "steps (null for a mode that diverges, ηλ_k/N ≥ 2).")
    slow: list[bool] = Field(description="Learnable but slow: η λ_k T / N < 1, so more than 1/e of the mode is left.")
    never: list[bool] = Field(description="Never learned: λ_k ≤ 1e-7 λ_max, the kernel's null space.")
    still_to_learn: list[float] = Field(description="The targets' projection on the slow and never-learned modes, "
                                                    "Σ c_k u_k over them, at the districts.")
    residual: list[MaybeFloat] = Field(description="y − f_T(X): what the infinite-width forecast from f0 = 0 still "
                                                   "misses at the districts after the run's steps.")
    slow_share: float = Field(description="Σ c_k² / ‖y‖² over the slow modes (0 when y = 0).")
    never_share: float = Field(description="Σ c_k² / ‖y‖² over the never-learned modes (0 when y = 0).")
    steps: int
    learning_rate: float


class ReferenceModel(BaseModel):
    kernel: Matrix | None = Field(description="Analytic NTK on the grid (when kernel_width was asked for).")
    forecast: list[list[MaybeFloat]] = Field(description="Infinite-width prediction from f0 = 0, snapshots × grid "
                                                         "(null after step 0 where discrete steps diverge: "
                                                         "η ≥ lr_limit).")
    note: str | None = Field(description="What is wrong with the infinite-width prediction, if anything.")
    lr_limit: MaybeFloat = Field(description="2N/λ_max of the analytic kernel on the districts: above this learning "
                                             "rate every forecast with it diverges (null if the kernel is zero).")
    ntk_mean: list[MaybeFloat] = Field(description="The infinite-width network's mean after training to convergence "
                                                   "(gradient flow, t = ∞): kernel regression Θ(x, X) Θ⁻¹ y on the grid; "
                                                   "the part of y a singular Θ cannot fit is left out, as note says.")
    nngp_variance: list[MaybeFloat] | None = Field(
        description="K(x, x) on the grid: the variance of the initial network f(x; θ₀), a sample of the Gaussian "
                    "process GP(0, K) with the NNGP kernel K at infinite width (null in the mean-field "
                    "parameterization, whose initial network is not; nngp_note says why).")
    nngp_mean: list[MaybeFloat] | None = Field(
        description="The NNGP posterior mean K(x, X) K⁻¹ y on the grid: Bayesian regression with the prior "
                    "GP(0, K), given the targets at the districts exactly (a singular K's part left out, as "
                    "nngp_note says; null where nngp_variance is).")
    nngp_note: str | None = Field(description="What is wrong with the NNGP posterior mean (a singular K), or why "
                                              "there is none; null if nothing.")
    speeds: SpeedsModel | None = Field(
        None, description="Which part of the districts' targets y_train gradient descent with the analytic kernel Θ "
                          "learns in the run's steps quickly, slowly or never (its eigenbasis on the districts).")


class KernelSnapshots(BaseModel):
    width: int
    seed: int
    snapshots: list[list[list[MaybeFloat]]] = Field(description="Θ̂_t on the grid, snapshots × grid × grid.")


class DriftResponse(BaseModel):
    version: str
    query: dict[str, Any] = Field(description="The full parameter set that produced this result.")
    snapshot_steps: list[int]
    coarse_grid: list[int] = Field(description="The indices into gamma_grid of every width's kernel_change: every "
                                               f"k-th grid point, k the smallest that leaves at most {COARSE_POINTS}.")
    gamma_grid: list[float]
    gamma_train: list[float]
    y_train: list[float]
    target_grid: list[float] | None = Field(None, description="The target function on the grid, without the noise "
                                                              "(null for target=values: numbers at the districts only).")
    reference: ReferenceModel | None
    widths: list[WidthModel]
    kernel: KernelSnapshots | None
    slopes: dict[str, SlopeModel] = Field(
        description="Log–log fits against width, over every (width, seed) at the last snapshot: drift, drift_switching "
                    "(ReLU only), drift_smooth, init_distance, forecast_gap and linearization_forecast_gap (not for "
                    "the standard parameterization), linearization_gap, weight_change_1 … weight_change_{L+1}.")


class KernelsResponse(BaseModel):
    nngp: Matrix | None = Field(description="Analytic NNGP kernel (N1 × N2), full precision.")
    ntk: Matrix | None = Field(description="Analytic NTK (N1 × N2), full precision.")
    empirical_ntk: Matrix | None = Field(description="Empirical NTK of one sampled network of the given width.")


class DecayFitModel(BaseModel):
    parity: Literal["even", "odd"] = Field(description="The frequencies fitted: even or odd k.")
    law: Literal["power", "geometric"] = Field(description="power: log μ_k = intercept + slope · log k; geometric: "
                                                            "log μ_k = intercept + slope · k. The one with the smaller "
                                                            "rms is reported.")
    slope: float
    stderr: float = Field(description="Standard error of the slope.")
    intercept: float
    rms: float = Field(description="Root mean square of the residuals of log μ_k.")
    other_rms: float = Field(description="The same for the other law.")
    k_min: int
    k_max: int
    points: int = Field(description="Nonzero modes of this parity between k_min and k_max.")


class KernelSpectrumModel(BaseModel):
    eigenvalues: list[float] = Field(description="λ_k, the eigenvalue of the points × points kernel matrix for "
                                                 "frequency k (the cos kγ and sin kγ modes), k = 0 … max_frequency.")
    per_point: list[float] = Field(description="μ_k = λ_k / points: per point, the kernel operator's eigenvalue up "
                                               "to aliasing; mode k's residual decays like e^{−η μ_k t}.")
    zero: list[bool] = Field(description="|λ_k| ≤ zero_rtol · λ_max: zero to rounding.")
    fits: list[DecayFitModel] = Field(description="The decay of μ_k over fit_range, even and odd k apart.")
    profile: list[float] = Field(description="k(Δγ), the kernel between two ring points Δγ apart, at profile_angles.")


class SpectrumResponse(BaseModel):
    version: str
    query: dict[str, Any]
    points: int = Field(description="Equispaced ring points M whose kernel matrix is diagonalised.")
    frequencies: list[int] = Field(description="k = 0 … max_frequency (M/8, where aliasing stays small).")
    multiplicity: list[int] = Field(description="2 (a cos and a sin mode), 1 for k = 0.")
    zero_rtol: float
    fit_range: list[int] = Field(description="[k_min, k_max] of the decay fits.")
    max_eigenvalue: dict[str, float] = Field(description="λ_max of each kernel over all M/2 + 1 frequencies.")
    profile_angles: list[float] = Field(description="Δγ = 2πj/P in radians.")
    ntk: KernelSpectrumModel
    nngp: KernelSpectrumModel


class BiasWidthModel(BaseModel):
    width: int
    initial: list[list[MaybeFloat]] = Field(description="A_k(0), each target frequency's amplitude in the initial "
                                                        "residual f₀(X) − y, seeds × frequencies.")
    relative: list[list[list[MaybeFloat]]] = Field(description="A_k(t) / A_k(0) at steps, seeds × frequencies × steps "
                                                               "(null after a divergence).")
    fit_steps: list[list[int | None]] = Field(description="The first step with A_k(t) ≤ A_k(0)/e, seeds × frequencies "
                                                           "(null: not within the steps).")
    diverged_at: list[int] = Field(description="Step at which each seed diverged, −1 if it did not.")
    divergence: list[str | None]


class SpectralBiasResponse(BaseModel):
    version: str
    query: dict[str, Any]
    widths: list[int]
    learning_rate: float = Field(description="η = lr_fraction · 2N/λ_max.")
    frequencies: list[int] = Field(description="The target's frequencies: y = Σ_k cos kγ on the districts.")
    steps: list[int] = Field(description="The steps returned (about 100, log-spaced, with 0 and the last).")
    fit_fraction: float = Field(description="1/e: a frequency counts as fitted once this much of it is left.")
    forecast: list[list[float]] = Field(description="The infinite-width kernel's forecast |1 − ηλ_k/N|^t of "
                                                    "A_k(t)/A_k(0), frequencies × steps.")
    kernel: dict[str, list[Any]] = Field(description="The analytic NTK on the districts, per frequency k = 0 … N/2: "
                                                     "frequencies, eigenvalues λ_k, per_point λ_k/N, zero, fit_steps "
                                                     "(the forecast's first step at 1/e; null: never).")
    networks: list[BiasWidthModel]


class PredictionResponse(BaseModel):
    times: list[float | Literal["inf"]]
    f_train: list[list[MaybeFloat]] = Field(description="times × N (null where discrete steps diverge)")
    f_test: list[list[MaybeFloat]] = Field(description="times × M (null where discrete steps diverge)")
    rank: int
    unlearnable_fraction: float
    lr_limit: float | None = Field(description="2N/λ_max (null if the kernel is zero).")
    note: str | None


class AdmissibleModel(BaseModel):
    depth: int | None = Field(description="The most hidden layers that fit, every other setting kept (null: none).")
    widest: int | None = Field(description="The widest of the requested widths such that the widths up to it fit, the "
                                           "wider ones dropped (null: not even the narrowest alone).")
    steps: int | None = Field(description="The most training steps that fit, every other setting kept (snapshots "
                                          "capped at steps + 1; null: not even one).")


class CostResponse(BaseModel):
    seconds: float = Field(description="Estimated computing: CPU seconds on one core of the reference machine "
                                        "(app/ntk/cost.py).")
    seconds_here: float = Field(description="Estimated wall-clock seconds on this server (seconds ÷ the setting "
                                            "machine_speed), when it runs alone.")
    runs: Literal["now", "job", "refused"] = Field(description="How this server would run it: 'now' (the drift "
                                                   "endpoints answer it), 'job' (over the interactive limit but within "
                                                   "a job's: POST /api/v1/jobs queues it), or 'refused'.")
    limit_seconds: float = Field(description="This server's limit on one request's estimated computing.")
    job_limit_seconds: float = Field(description="This server's limit on a job's estimated computing.")
    parameters: int = Field(description="Network parameters held at once (the widest width's, all seeds).")
    limit_parameters: int
    result_numbers: int = Field(description="Numbers the result would hold.")
    limit_result_numbers: int
    fits: bool = Field(description="Whether the experiment is within every limit of one request: the drift endpoints "
                                   "would run it now (runs = 'now').")
    detail: str | None = Field(description="Why it does not run now, with what to reduce (null when it does): for "
                                           "'refused', why not even as a job.")
    admissible: AdmissibleModel = Field(description="The nearest settings that run now, changing one at a time.")


class JobProgressModel(BaseModel):
    widths_done: int = Field(description="Widths finished.")
    widths: int = Field(description="Widths the experiment trains.")
    width: int | None = Field(description="The width training now (null between widths and before the start).")
    step: int | None = Field(description="Its training step now.")
    steps: int = Field(description="Training steps per width.")
    fraction: float = Field(description="Share of the estimated work done, 0–1 (each width weighted by its cost).")


class JobResponse(BaseModel):
    id: str = Field(description="This ticket: GET, DELETE and /events of /api/v1/jobs/{id}.")
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    position: int | None = Field(description="Jobs ahead of it in the queue (0: next); null unless queued.")
    wait_seconds: float | None = Field(description="Estimated seconds until it starts; null unless queued.")
    progress: JobProgressModel
    estimate_seconds: float = Field(description="Estimated wall-clock seconds of its computing on this server.")
    elapsed_seconds: float | None = Field(description="Seconds since it started (to its end once finished).")
    detail: str | None = Field(description="Why it failed (null otherwise).")
    query: dict[str, Any] = Field(description="The experiment's query parameters.")
    result: str = Field(description="Where the finished experiment is answered: GET this path (and /stream).")


class PresetModel(BaseModel):
    id: str
    title: str
    description: str
    query: dict[str, Any] = Field(description="Query parameters of /api/v1/experiments/drift.")


class ErrorModel(BaseModel):
    detail: str


# --- serialization --------------------------------------------------------------------------

def dumps(document: Any) -> bytes:
    """Compact JSON; NaN and ±inf become null; numpy arrays are written natively."""
    return orjson.dumps(document, default=_contiguous, option=orjson.OPT_SERIALIZE_NUMPY)


def _contiguous(value: Any) -> Any:
    """orjson writes only C-ordered arrays itself; hand it a C-ordered copy of any other."""
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


# 10**k for k = -400 … 400, each the double nearest to it (0 and inf at the ends), parsed from its decimal: the same
# on every machine. numpy's own ``**`` and ``log10`` may differ in the last bit from one CPU to another (their SIMD
# code paths: AVX-512 or AVX2), which changed the rounded numbers of a document, and so the shared URLs' records.
_DECADES = 400
MOST_DECADES = 308  # the largest power of ten a double holds
_POWERS_OF_TEN = np.array([float(f"1e{k}") for k in range(-_DECADES, _DECADES + 1)])


def _power_of_ten(k: np.ndarray) -> np.ndarray:
    powers: np.ndarray = _POWERS_OF_TEN[np.clip(k, -_DECADES, _DECADES) + _DECADES]
    return powers


def plot_round(values: np.ndarray, digits: int = PLOT_DIGITS) -> np.ndarray:
    """Round to ``digits`` significant figures, elementwise (NaN stays NaN, 0 stays 0, a subnormal number becomes 0),
    the same on every machine.

    A value's decade ``⌊log₁₀|v|⌋`` is checked against exact powers of ten (log10's last bit cannot move it), and
    ``v`` is scaled by an exact power of ten, rounded to a whole number and scaled back: dividing by a power of ten
    gives the nearest double to the short decimal, so the JSON writer prints it short: ``0.1234``, not
    ``0.12340000000000001``.
    """
    values = np.asarray(values, dtype=np.float64)
    size = np.abs(values)
    measured = np.isfinite(size) & (size > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        decade = np.floor(np.log10(np.where(measured, size, 1.0))).astype(int)
    decade += (size >= _power_of_ten(decade + 1)).astype(int) - (size < _power_of_ten(decade)).astype(int)
    exponent = np.where(measured, np.minimum(digits - 1 - decade, MOST_DECADES), 0)  # a subnormal rounds to 0
    scale_up, scale_down = _power_of_ten(np.maximum(exponent, 0)), _power_of_ten(np.maximum(-exponent, 0))
    up = np.round(values * scale_up) / scale_up
    down = np.round(values / scale_down) * scale_down
    rounded: np.ndarray = np.where(exponent >= 0, up, down)
    return rounded


def drift_document(query: DriftQuery, result: DriftResult) -> dict[str, Any]:
    """The JSON document of one drift experiment (see :class:`DriftResponse`)."""
    kernel = None if query.kernel_width is None else kernel_document(query, result, query.kernel_width)
    reference = None
    if result.reference is not None:
        ref = result.reference
        reference = {"kernel": None if kernel is None else plot_round(ref.kernel_grid),
                     "forecast": plot_round(ref.mean_forecast), "note": ref.note,
                     "lr_limit": ref.lr_limit if math.isfinite(ref.lr_limit) else None, "ntk_mean": plot_round(ref.ntk_mean),
                     "nngp_variance": None if ref.nngp_variance is None else plot_round(ref.nngp_variance),
                     "nngp_mean": None if ref.nngp_mean is None else plot_round(ref.nngp_mean), "nngp_note": ref.nngp_note,
                     "speeds": None if ref.speeds is None else speeds_document(ref.speeds)}
    return {
        "version": API_VERSION,
        "query": query.model_dump(),
        "snapshot_steps": list(result.snapshot_steps),
        "gamma_grid": plot_round(result.task.gamma_grid, 6),
        "gamma_train": plot_round(result.task.gamma_train, 6),
        "coarse_grid": coarse_grid(len(result.task.gamma_grid)),
        "y_train": result.task.y_train,
        "target_grid": None if result.task.target_grid is None else plot_round(result.task.target_grid),
        "reference": reference,
        "widths": [width_document(w, change=kernel is not None) for w in result.widths],
        "kernel": kernel,
        "slopes": {name: {"slope": fit.slope, "stderr": fit.stderr, "intercept": fit.intercept, "points": fit.points}
                   for name, fit in result.slopes.items()},
    }


def speeds_document(speeds: LearningSpeeds) -> dict[str, Any]:
    """The reference's ``speeds`` (see :class:`SpeedsModel`): the eigenbasis's numbers in full precision (N ≤ 128 each)."""
    def finite(values: np.ndarray) -> list[float | None]:
        return [float(v) if math.isfinite(v) else None for v in values]

    return {"eigenvalues": speeds.eigenvalues, "coefficients": speeds.coefficients, "remaining": finite(speeds.remaining),
            "slow": [bool(v) for v in speeds.slow], "never": [bool(v) for v in speeds.never],
            "still_to_learn": speeds.still_to_learn, "residual": finite(speeds.residual),
            "slow_share": speeds.slow_share, "never_share": speeds.never_share, "steps": speeds.steps,
            "learning_rate": speeds.learning_rate}


def kernel_document(query: DriftQuery, result: DriftResult, width: int) -> dict[str, Any]:
    """The drift document's ``kernel``: that width's kernel on the grid at every snapshot, of its first seed."""
    focus = next(w for w in result.widths if w.width == width)
    return {"width": focus.width, "seed": query.seed, "snapshots": plot_round(focus.kernel[0])}


def width_document(width: WidthResult, change: bool = False) -> dict[str, Any]:
    """One width's results, rounded for plotting (see :class:`WidthModel`); ``change``: with its ``kernel_change``."""
    coarse = coarse_grid(width.kernel.shape[-1])
    steps = width.loss.shape[1]
    loss_steps = np.unique(np.linspace(0, steps - 1, min(steps, MAX_LOSS_POINTS)).round().astype(int))
    return {
        "width": width.width,
        "drift": plot_round(width.drift),
        "weight_change": plot_round(width.weight_change),
        "init_distance": None if width.init_distance is None else plot_round(width.init_distance),
        "function": plot_round(width.function),
        "forecast": None if width.forecast is None else plot_round(width.forecast),
        "linearization": plot_round(width.linearization),
        "forecast_gap": None if width.forecast_gap is None else plot_round(width.forecast_gap),
        "linearization_gap": plot_round(width.linearization_gap),
        "linearization_forecast_gap": None if width.linearization_forecast_gap is None
        else plot_round(width.linearization_forecast_gap),
        "loss_steps": loss_steps,
        "loss": plot_round(width.loss[:, loss_steps]),
        "diverged_at": width.diverged_at,
        "divergence": list(width.divergence),
        "lr_limit": plot_round(width.lr_limit),
        "lambda_max": plot_round(width.lambda_max),
        "drift_switching": None if width.drift_switching is None else plot_round(width.drift_switching),
        "drift_smooth": plot_round(width.drift_smooth),
        "kernel_change": plot_round((width.kernel[0, -1] - width.kernel[0, 0])[np.ix_(coarse, coarse)], COARSE_DIGITS)
        if change else None,
        "change_max": float(np.max(np.abs(width.kernel[0, -1] - width.kernel[0, 0]))),
    }


def coarse_grid(points: int) -> np.ndarray:
    """Every k-th of ``points`` grid indices, k = ⌈points / COARSE_POINTS⌉: at most ``COARSE_POINTS`` of them."""
    return np.arange(0, points, -(-points // COARSE_POINTS))


def kernels_document(nngp: np.ndarray | None, ntk: np.ndarray | None, empirical: np.ndarray | None) -> dict[str, Any]:
    """Kernels in full precision (see :class:`KernelsResponse`)."""
    return {"nngp": nngp, "ntk": ntk, "empirical_ntk": empirical}


def prediction_document(request: PredictionRequest, prediction: KernelPrediction) -> dict[str, Any]:
    """Infinite-width predictions in full precision (see :class:`PredictionResponse`)."""
    return {"times": request.times, "f_train": prediction.f_train, "f_test": prediction.f_test,
            "rank": prediction.rank, "unlearnable_fraction": prediction.unlearnable_fraction,
            "lr_limit": prediction.lr_limit if math.isfinite(prediction.lr_limit) else None, "note": prediction.note}


def spectrum_document(query: SpectrumQuery, spectrum: RingSpectrum) -> dict[str, Any]:
    """The spectrum of both kernels in full precision, frequencies 0 … M/8 (see :class:`SpectrumResponse`)."""
    shown = spectrum.points // 8 + 1

    def kernel(part: KernelSpectrum) -> dict[str, Any]:
        return {"eigenvalues": part.eigenvalues[:shown], "per_point": part.per_point[:shown],
                "zero": part.zero[:shown].tolist(), "profile": part.profile,
                "fits": [{"parity": f.parity, "law": f.law, "slope": f.slope, "stderr": f.stderr,
                          "intercept": f.intercept, "rms": f.rms, "other_rms": f.other_rms, "k_min": f.k_min,
                          "k_max": f.k_max, "points": f.points} for f in part.fits]}

    return {"version": API_VERSION, "query": query.model_dump(), "points": spectrum.points,
            "frequencies": spectrum.frequencies[:shown], "multiplicity": spectrum.multiplicity[:shown],
            "zero_rtol": ZERO_RTOL, "fit_range": list(FIT_RANGE),
            "max_eigenvalue": {"ntk": float(spectrum.ntk.eigenvalues.max()), "nngp": float(spectrum.nngp.eigenvalues.max())},
            "profile_angles": spectrum.profile_angles, "ntk": kernel(spectrum.ntk), "nngp": kernel(spectrum.nngp)}


BIAS_PLOT_STEPS = 100  # log-spaced steps returned by the spectral-bias document


def bias_steps(steps: int) -> np.ndarray:
    """About ``BIAS_PLOT_STEPS`` steps from 0 to ``steps``, log-spaced (the figure's time axis is logarithmic)."""
    return np.unique(np.concatenate([[0], np.round(np.geomspace(1, steps, BIAS_PLOT_STEPS)), [steps]]).astype(int))


def spectral_bias_document(query: SpectralBiasQuery, result: SpectralBiasResult) -> dict[str, Any]:
    """The spectral-bias experiment, rounded for plotting (see :class:`SpectralBiasResponse`)."""
    shown = bias_steps(result.config.steps)
    n = result.config.districts
    fit = result.kernel_fit_steps
    return {
        "version": API_VERSION, "query": query.model_dump(), "widths": list(result.config.widths),
        "learning_rate": result.learning_rate, "frequencies": list(result.config.frequencies), "steps": shown,
        "fit_fraction": FIT_FRACTION, "forecast": plot_round(result.forecast[:, shown]),
        "kernel": {"frequencies": list(range(n // 2 + 1)), "eigenvalues": result.eigenvalues,
                   "per_point": result.eigenvalues / n, "zero": result.zero.tolist(),
                   "fit_steps": [None if math.isinf(t) else int(t) for t in fit]},
        "networks": [{"width": w.width, "initial": plot_round(w.amplitude[..., 0]),
                      "relative": plot_round(w.amplitude[..., shown] / w.amplitude[..., :1]),
                      "fit_steps": [[None if t < 0 else int(t) for t in seed] for seed in w.fit_steps],
                      "diverged_at": w.diverged_at, "divergence": list(w.reasons)} for w in result.widths],
    }


def job_document(status: Any, result_path: str) -> dict[str, Any]:
    """A job ticket's status (``app.api.jobs.JobStatus``) as :class:`JobResponse`'s JSON."""
    progress = status.progress
    return {
        "id": status.id, "state": status.state, "position": status.position,
        "wait_seconds": None if status.wait_seconds is None else round(status.wait_seconds, 1),
        "progress": {"widths_done": progress.widths_done, "widths": progress.widths, "width": progress.width,
                     "step": progress.step, "steps": progress.steps, "fraction": round(status.fraction, 4)},
        "estimate_seconds": round(status.estimate_seconds, 1),
        "elapsed_seconds": None if status.elapsed_seconds is None else round(status.elapsed_seconds, 1),
        "detail": status.detail, "query": status.params, "result": result_path,
    }
