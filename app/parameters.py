"""Every parameter of a drift experiment and of the page's view, declared once.

One :class:`Parameter` per field says its name, kind, allowed range or choices, default, label,
unit, one-line help, whether it is part of the experiment's identity, and where it appears.
Everything else derives from this table:

- the API's query model, its validation and its OpenAPI descriptions (``app/api/schemas.py``);
- the page's controls (``templates/_controls.html`` and the figure sections render them);
- the page's URL-state table, handed to ``static/js/state.js`` as JSON (:func:`page_table`);
- the width sets offered by the page, and the static export's presets;
- the comparisons of 'When the analogy breaks' (:data:`COMPARISONS`), used by the page and saved by the
  static export.

Defaults and what the maths can do (activations, parameterizations, targets, the deepest
network) belong to the core: they are read from :class:`app.ntk.DriftConfig` and its
constants, so a default changes in one line there. The *ranges* here are this web product's
bounds — what one request may ask of a server — which the core deliberately does not know.
Changing a range is one line here. ``tests/test_parameters.py`` fails if a second copy appears.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode

from app.ntk import DriftConfig
from app.ntk.data import TARGETS
from app.ntk.experiments import ALPHA_SCALINGS
from app.ntk.mlp import ACTIVATIONS, LR_SCALINGS, MAX_DEPTH, PARAMETERIZATIONS

Kind = Literal["int", "float", "choice", "widths", "numbers", "text"]
Control = Literal["select", "number", "range", "none"]
Scope = Literal["experiment", "request", "view"]

DEFAULT = DriftConfig()
MAX_WIDTH = 10_000   # lanes: the widest network one request may train (Jacot et al.'s widest)
MAX_WIDTHS = 12      # widths compared in one experiment
_WIDTH = f"[0-9]{{1,{len(str(MAX_WIDTH))}}}"  # ASCII digits only: int() would also read "٣٢" (Arabic-Indic)
_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?"
# A drawn target (target=drawn): the values of its KNOTS equispaced knots (app.ntk.data.drawn_curve joins them by straight
# lines around the ring), each from −DRAWN_RANGE to DRAWN_RANGE with at most two decimals, comma-separated: 32 knots of a
# drawing take 130–180 characters, 200–250 in a URL (commas as %2C), the longest drawing (64 knots like −1.25) 517 in a
# URL; a link stays readable and editable by hand (tests/api/test_drawn_api.py measures it).
KNOTS = 32                 # the page's drawings: one knot every 11.25°
KNOTS_MIN, KNOTS_MAX = 4, 64
DRAWN_RANGE = 2
_KNOT = r"-?[0-9](\.[0-9]{1,2})?"


@dataclass(frozen=True)
class Choice:
    """One allowed value of a ``choice`` parameter; ``on_page`` is False for values the page cannot offer."""

    value: str
    label: str
    on_page: bool = True


@dataclass(frozen=True)
class Parameter:
    """One field, declared once.

    ``scope``: ``experiment`` — a query parameter of ``/api/v1/experiments/drift`` that changes what is computed
    (the experiment's identity); ``request`` — a query parameter that only chooses what is returned; ``view`` — a
    page-only setting (which road, district or time is shown). ``on_page``: part of the page's URL state.
    ``control``: how the page lets a reader set it (``none``: only through the URL or a scenario); ``shown_in``:
    where that control sits — ``settings`` (the settings panel) or the id of the figure section that holds it;
    ``from_result``: the control's options or range depend on the result on show, and the page fills them in.
    ``minimum``/``maximum`` bound numbers (for ``widths`` and ``numbers``: each entry); ``min_count``/``max_count``
    bound list lengths.
    """

    name: str
    kind: Kind
    default: int | float | str | None
    label: str
    help: str
    scope: Scope = "experiment"
    on_page: bool = True
    control: Control = "none"
    shown_in: str = "settings"
    from_result: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Choice, ...] = ()
    unit: str = ""
    note: str = ""       # a line shown under the page's control, where a label alone is not enough
    max_count: int | None = None
    min_count: int | None = None
    pattern: str | None = None

    @property
    def identity(self) -> bool:
        """Whether a different value is a different experiment (and a different cached result)."""
        return self.scope == "experiment"

    @property
    def in_api(self) -> bool:
        return self.scope in ("experiment", "request")

    def values(self) -> tuple[str, ...]:
        """Every allowed value of a choice parameter."""
        return tuple(c.value for c in self.choices)

    def page_choices(self) -> tuple[Choice, ...]:
        return tuple(c for c in self.choices if c.on_page)

    def options(self) -> tuple[tuple[str, str], ...]:
        """A select's ``(value, label)`` pairs: the page's choices, or every whole number of the range."""
        if self.from_result:
            return ()
        if self.choices:
            return tuple((c.value, c.label) for c in self.page_choices())
        if self.kind == "int" and self.minimum is not None and self.maximum is not None:
            return tuple((str(n), str(n)) for n in range(int(self.minimum), int(self.maximum) + 1))
        return ()


def _labelled(values: tuple[str, ...], labels: Mapping[str, str], order: tuple[str, ...] | None = None,
              off_page: tuple[str, ...] = ()) -> tuple[Choice, ...]:
    """The core's allowed ``values`` as choices, each with its label (every value must have one)."""
    assert set(labels) == set(values), f"labels {sorted(labels)} must cover exactly the core's values {sorted(values)}"
    return tuple(Choice(v, labels[v], v not in off_page) for v in (order or values))


def _widths(widths: tuple[int, ...]) -> str:
    return ",".join(map(str, widths))


WIDTH_SETS = (
    Choice(_widths(DEFAULT.widths), "16 to 4096 lanes (9 widths)"),
    Choice("64,256,1024,4096", "64 to 4096 lanes (4 widths)"),
    Choice("16,64,256,1024", "16 to 1024 lanes (4 widths)"),
    Choice("32,4096", "32 and 4096 lanes"),
)

DISTRICTS_MAX = 128


@dataclass(frozen=True)
class Comparison:
    """A scaling that 'When the analogy breaks' sets beside the NTK parameterization, declared once: the page's menu
    (``label``), the figure's legend, summary and table (``legend``), the experiment settings it changes
    (``overrides``: all four scaling settings, so the reader's own choice of any of them does not leak into it), and
    the static export, which saves each comparison of each scenario (``app/export.py``)."""

    id: str
    label: str
    legend: str
    overrides: Mapping[str, int | float | str]


_PLAIN: dict[str, int | float | str] = {"alpha": DEFAULT.alpha, "alpha_scaling": "fixed", "lr_scaling": "fixed"}
NTK_SCALING: Mapping[str, int | float | str] = {"parameterization": "ntk", **_PLAIN}  # what each comparison is drawn against
COMPARISONS = (
    Comparison("mean_field", "mean-field scaling", "mean-field scaling",
               {**_PLAIN, "parameterization": "mean_field", "depth": 1}),
    Comparison("alpha", "a small lazy-training scale α = 0.1", "lazy-training scale α = 0.1", {**NTK_SCALING, "alpha": 0.1}),
    Comparison("alpha_inverse_sqrt_width", "a lazy-training scale α = 1/√width", "α = 1/√width",
               {**NTK_SCALING, "alpha_scaling": "inverse_sqrt_width"}),
    Comparison("standard", "standard parameterization, η fixed", "standard, η fixed",
               {**_PLAIN, "parameterization": "standard"}),
    Comparison("standard_lr_inverse_width", "standard parameterization, η/width", "standard, η/width",
               {**_PLAIN, "parameterization": "standard", "lr_scaling": "inverse_width"}),
)
SNAPSHOTS_MAX = 41

# The page's URL state keeps this order (static/js/state.js writes parameters in it), so do the controls.
PARAMETERS: tuple[Parameter, ...] = (
    Parameter("preset", "text", "", "Scenario", "A named scenario: it sets every experiment setting.",
              scope="view", control="select", pattern="^[a-z0-9-]{0,40}$", note="Named scenarios set every control below."),
    Parameter("widths", "widths", _widths(DEFAULT.widths), "Widths to compare",
              f"Comma-separated, increasing widths, each 1–{MAX_WIDTH}, at most {MAX_WIDTHS}.",
              control="select", minimum=1, maximum=MAX_WIDTH, max_count=MAX_WIDTHS, choices=WIDTH_SETS, unit="lanes",
              pattern=f"^{_WIDTH}(,{_WIDTH}){{0,{MAX_WIDTHS - 1}}}$"),
    Parameter("width", "int", 64, "Road shown in the city and the maps",
              "The width whose kernels the ring and the maps show: one of the widths compared.",
              scope="view", control="range", from_result=True, minimum=1, maximum=MAX_WIDTH, unit="lanes"),
    Parameter("seeds", "int", DEFAULT.seeds, "Seeds", "Networks per width (seeds seed … seed + seeds − 1).",
              on_page=False, minimum=1, maximum=8),
    Parameter("depth", "int", DEFAULT.depth, "Hidden layers", "Hidden layers.",
              control="select", minimum=1, maximum=MAX_DEPTH),
    Parameter("activation", "choice", DEFAULT.activation, "Activation", "Nonlinearity: 'relu' or 'erf'.",
              control="select", choices=_labelled(ACTIVATIONS, {"relu": "ReLU", "erf": "erf"})),
    Parameter("w_std", "float", DEFAULT.w_std, "σw", "σw, the weights' scale.", minimum=0.01, maximum=4),
    Parameter("b_std", "float", DEFAULT.b_std, "σb", "σb, the biases' scale (0: no bias).", minimum=0, maximum=4),
    Parameter("parameterization", "choice", DEFAULT.parameterization, "Scaling",
              "'ntk', 'standard' or 'mean_field' (depth 1 only).", control="select",
              choices=_labelled(PARAMETERIZATIONS, {"ntk": "NTK (1/√width)", "mean_field": "mean-field (1/width)",
                                                    "standard": "standard"}, order=("ntk", "mean_field", "standard")),
              note="How the weights are scaled with width."),
    Parameter("alpha", "float", DEFAULT.alpha, "Lazy-training scale α", "Lazy-training scale α (1: the ordinary network).",
              control="number", minimum=0.01, maximum=100, note="1 is the ordinary network; small α is richer."),
    Parameter("alpha_scaling", "choice", DEFAULT.alpha_scaling, "α with width",
              "How α scales with each network's width n: 'fixed' (α at every width) or 'inverse_sqrt_width' "
              "(α/√n; with α = 1 and one hidden layer, the mean-field scaling started from the NTK network's "
              "initial function).", control="select",
              choices=_labelled(ALPHA_SCALINGS, {"fixed": "the same at every width",
                                                 "inverse_sqrt_width": "α/√width"}),
              note="Only α/√width keeps the kernel moving on ever wider roads."),
    Parameter("learning_rate", "float", DEFAULT.learning_rate, "Learning rate η", "Gradient-descent step size η.",
              control="number", minimum=1e-6, maximum=100),
    Parameter("lr_scaling", "choice", DEFAULT.lr_scaling, "η with width",
              "How the learning rate scales with each network's width n: 'fixed' (η at every width) or "
              "'inverse_width' (η/n; the standard parameterization only, whose kernel grows like n).",
              control="select",
              choices=_labelled(LR_SCALINGS, {"fixed": "the same at every width",
                                              "inverse_width": "η/width (standard only)"}),
              note="For the standard scaling, whose kernel grows with the width."),
    Parameter("steps", "int", DEFAULT.steps, "Training steps", "Gradient-descent steps.",
              control="number", minimum=1, maximum=10000, unit="steps"),
    Parameter("snapshots", "int", DEFAULT.snapshots, "Snapshots",
              "Evenly spaced times (including 0 and steps) at which kernels are measured.",
              on_page=False, minimum=2, maximum=SNAPSHOTS_MAX),
    Parameter("districts", "int", DEFAULT.districts, "Training districts", "Training points on the ring.",
              control="number", minimum=1, maximum=DISTRICTS_MAX, unit="districts"),
    Parameter("grid", "int", DEFAULT.grid, "Grid points", "Grid points on the ring for kernels and functions.",
              on_page=False, minimum=8, maximum=128),
    Parameter("target", "choice", DEFAULT.target, "What the network learns",
              "What the network learns: sin kγ, cos kγ, x₁x₂, a bump, a step, 'values' or 'drawn'.", control="select",
              choices=_labelled(TARGETS, {"sin": "sin kγ", "cos": "cos kγ", "xy": "x₁x₂", "bump": "a bump at one district",
                                          "step": "a step", "values": "your own values", "drawn": "your own drawing"},
                                off_page=("values",))),
    Parameter("frequency", "int", DEFAULT.frequency, "Frequency k", "k in sin kγ / cos kγ.",
              control="number", minimum=0, maximum=16),
    Parameter("values", "numbers", None, "Target values",
              "With target=values: comma-separated numbers from -100 to 100, one per district.",
              on_page=False, minimum=-100, maximum=100, pattern=f"^{_NUMBER}(,{_NUMBER})*$"),
    Parameter("drawing", "numbers", None, "Your drawing",
              f"With target=drawn: the drawn curve's values at {KNOTS_MIN}–{KNOTS_MAX} equispaced knots around the ring "
              f"(the first at −180°), comma-separated, each from {-DRAWN_RANGE} to {DRAWN_RANGE} with at most two "
              "decimals; the target joins them by straight lines.",
              minimum=-DRAWN_RANGE, maximum=DRAWN_RANGE, min_count=KNOTS_MIN, max_count=KNOTS_MAX,
              pattern=f"^{_KNOT}(,{_KNOT}){{{KNOTS_MIN - 1},{KNOTS_MAX - 1}}}$"),
    Parameter("noise", "float", DEFAULT.noise, "Label noise σ",
              "Standard deviation of Gaussian noise added to the targets.",
              control="number", shown_in="yours", minimum=0, maximum=2,
              note="Gaussian noise added once to the districts' targets (the same for every width and seed)."),
    Parameter("seed", "int", DEFAULT.seed, "Seed", "First seed.", control="number", minimum=0, maximum=2**31 - 1),
    Parameter("kernel_width", "int", None, "Kernel width",
              "Include this width's kernel on the grid at every snapshot (first seed).",
              scope="request", on_page=False, minimum=1, maximum=MAX_WIDTH, unit="lanes"),
    Parameter("district", "int", 4, "District", "The district whose row of the kernel the ring shows (0 is the first).",
              scope="view", control="select", shown_in="ring", from_result=True, minimum=0,
              maximum=DISTRICTS_MAX - 1),
    Parameter("time", "int", 5, "Time of day", "Which snapshot the ring and the maps show (0 is the morning).",
              scope="view", control="range", shown_in="ring", from_result=True, minimum=0,
              maximum=SNAPSHOTS_MAX - 1),
    Parameter("change_scale", "choice", "fixed", "Colour scale of the change",
              "How the change of the traffic map during the day is coloured: on one scale for every width ('fixed', "
              "so a wider road's smaller change looks fainter) or rescaled for each width ('per_width').",
              scope="view", control="select", shown_in="widen",
              choices=(Choice("fixed", "the same for every width"), Choice("per_width", "rescaled for each width"))),
    Parameter("compare", "choice", COMPARISONS[0].id, "Compare the NTK scaling with",
              "The scaling that 'When the analogy breaks' compares with the NTK parameterization.", scope="view",
              control="select", shown_in="breaks", choices=tuple(Choice(c.id, c.label) for c in COMPARISONS)),
)

BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
CONTROLS = tuple(p for p in PARAMETERS if p.control != "none")
API_PARAMETERS = tuple(p for p in PARAMETERS if p.in_api)
IDENTITY = tuple(p.name for p in PARAMETERS if p.identity)
PAGE_PARAMETERS = tuple(p for p in PARAMETERS if p.on_page)


def check_overrides(overrides: Mapping[str, object]) -> None:
    """Raise ValueError unless every name is an experiment parameter and its value one it allows (a comparison that
    names a parameter wrongly fails at import, not as a 422 on the page or a missing file in a static copy)."""
    for name, value in overrides.items():
        p = BY_NAME.get(name)
        if p is None or not p.identity:
            raise ValueError(f"{name!r} is not an experiment parameter")
        allowed = (value in p.values() if p.choices else isinstance(value, int | float) and not isinstance(value, bool)
                   and (p.minimum is None or p.minimum <= value) and (p.maximum is None or value <= p.maximum))
        if not allowed:
            raise ValueError(f"{name}={value!r} is not a value the parameter allows")


check_overrides(NTK_SCALING)
for _comparison in COMPARISONS:
    check_overrides(_comparison.overrides)
COMPARISONS_BY_ID = {c.id: c for c in COMPARISONS}


def parameter(name: str) -> Parameter:
    """The declaration of ``name`` (KeyError if there is none: a typo fails at import, not at run time)."""
    return BY_NAME[name]


def controls_in(place: str) -> tuple[Parameter, ...]:
    """The parameters whose controls sit in ``place`` (``settings`` or a section id), in declaration order."""
    return tuple(p for p in CONTROLS if p.shown_in == place)


def page_table() -> dict[str, Any]:
    """The page's URL-state table, as ``static/js/state.js`` reads it from the page's JSON block.

    ``fields``: every URL-state parameter in URL order, with what the page needs to parse, check and describe it;
    ``experiment``: the names that make up an experiment (sent to the API); ``knots``: how many knots the page's
    drawings have (:data:`KNOTS`); ``defaults``: the defaults of the
    experiment's parameters the page's state does not hold (``snapshots``; a scenario's ``seeds`` that differ are sent
    with it); ``ntk_scaling`` and ``comparisons``: the settings of 'When the analogy breaks' (:data:`COMPARISONS`).
    """
    def field(p: Parameter) -> dict[str, Any]:
        entry: dict[str, Any] = {"kind": p.kind, "default": p.default, "label": p.label}
        if p.minimum is not None:
            entry |= {"min": p.minimum, "max": p.maximum}
        if p.choices:
            entry["values"] = [c.value for c in p.page_choices()]
        if p.max_count is not None:
            entry["maxCount"] = p.max_count
        if p.min_count is not None:
            entry["minCount"] = p.min_count
        if p.pattern is not None:
            entry["pattern"] = p.pattern
        if p.unit:
            entry["unit"] = p.unit
        return entry

    return {"fields": {p.name: field(p) for p in PAGE_PARAMETERS},
            "experiment": [p.name for p in PAGE_PARAMETERS if p.identity],
            "knots": KNOTS,
            "defaults": {p.name: p.default for p in PARAMETERS if p.identity and not p.on_page},
            "ntk_scaling": dict(NTK_SCALING),
            "comparisons": {c.id: {"legend": c.legend, "overrides": dict(c.overrides)} for c in COMPARISONS}}


def js_string(value: object) -> str:
    """A query value as JavaScript's ``String()`` writes it (``1.0`` → ``1``, ``0.1`` → ``0.1``), for the values the
    page sends (within the parameters' ranges, where both languages write the shortest round-trip decimal)."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def page_request(state: Mapping[str, object]) -> str:
    """The query string ``static/js/api.js`` ``driftParams`` writes for a page state (a value for every page
    parameter) with no overrides: the experiment's parameters in URL order (``frequency`` only with a sin or cos
    target, ``drawing`` only with a drawn one), then ``snapshots`` (no more than the steps allow) and
    ``kernel_width`` (the road shown); values as JavaScript writes them, encoded as ``URLSearchParams`` does."""
    names = [p.name for p in PAGE_PARAMETERS if p.identity]
    if state["target"] not in ("sin", "cos"):
        names.remove("frequency")
    if state["target"] != "drawn" or state["drawing"] is None:
        names.remove("drawing")
    steps, snapshots = state["steps"], parameter("snapshots").default
    assert isinstance(steps, int) and isinstance(snapshots, int)
    pairs = [(name, state[name]) for name in names]
    pairs += [("snapshots", min(snapshots, steps + 1)), ("kernel_width", state["width"])]
    return urlencode([(name, js_string(value)) for name, value in pairs])


def page_defaults() -> dict[str, object]:
    """Every page parameter at its default: the state of the page opened without a query (``state.js`` defaults())."""
    return {p.name: p.default for p in PAGE_PARAMETERS}
