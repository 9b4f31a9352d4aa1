"""Refuse requests over this server's compute budget before they start, saying how to get under it; and say what a
drift experiment would cost before running it, with the nearest settings that fit (``GET …/drift/cost``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.api.errors import InvalidInput
from app.config import Settings
from app.ntk import DriftConfig
from app.ntk.cost import Cost, drift_cost
from app.parameters import parameter

RESULT_ADVICE = "use fewer snapshots, seeds or widths, or a coarser grid"
AS_A_JOB = "; or run it as a job: POST /api/v1/jobs with the same parameters"


def budget_problem(cost: Cost, settings: Settings, advice: str, location: tuple[str, ...] = ("query",),
                   result_advice: str = RESULT_ADVICE, job: bool = False) -> str | None:
    """What makes ``cost`` exceed a limit of this server, in words, with what to reduce (``advice`` for the
    arithmetic, ``result_advice`` for the size of the answer); None if it fits. ``job``: the limits of a job
    (``job_budget_s``, ``max_job_parameters``), else those of one request answered at once."""
    seconds = settings.job_budget_s if job else settings.compute_budget_s
    parameters = settings.max_job_parameters if job else settings.max_parameters
    kind = "a job's" if job else "one request's"
    if cost.seconds > seconds:
        return (f"this experiment needs an estimated {cost.seconds:.2g} s of computing (CPU time on the reference "
                f"machine), above this server's limit of {seconds:g} s for {kind} computing; {advice}")
    if cost.parameters > parameters:
        return (f"this request holds {cost.parameters:,} network parameters at once, above this server's limit of "
                f"{parameters:,} for {kind} network; use a narrower or shallower network"
                f"{' (or fewer seeds)' if location == ('query',) else ''}")
    if cost.result_numbers > settings.max_result_numbers:
        return (f"this request would return {cost.result_numbers:,} numbers, above this server's limit of "
                f"{settings.max_result_numbers:,}; {result_advice}")
    return None


def check_budget(cost: Cost, settings: Settings, advice: str, location: tuple[str, ...] = ("query",),
                 result_advice: str = RESULT_ADVICE) -> None:
    """Raise :class:`InvalidInput` (``compute_budget``, at ``location``: the query or the body) if ``cost`` exceeds a
    limit (:func:`budget_problem` says which)."""
    problem = budget_problem(cost, settings, advice, location, result_advice)
    if problem is not None:
        raise InvalidInput(problem, "compute_budget", location)


def runs_as(cost: Cost, settings: Settings) -> str:
    """How this server would run an experiment of ``cost``: "now" (answered at once), "job" (only as a queued job:
    POST /api/v1/jobs), or "refused" (over a job's limits too)."""
    if budget_problem(cost, settings, "") is None:
        return "now"
    return "job" if budget_problem(cost, settings, "", job=True) is None else "refused"


def job_problem(config: DriftConfig, settings: Settings, advice: str) -> str | None:
    """Why ``config`` cannot run even as a job (the message of a 422), or None."""
    return budget_problem(drift_cost(config), settings, advice, job=True)


def fits(config: DriftConfig, settings: Settings) -> bool:
    """Whether ``drift_experiment(config)`` is within every limit of this server."""
    return budget_problem(drift_cost(config), settings, "") is None


def _fits_with(config: DriftConfig, settings: Settings, **changes: Any) -> bool:
    """Whether ``config`` with ``changes`` is an experiment the core accepts (mean-field has one hidden layer only,
    say) and that fits."""
    try:
        changed = dataclasses.replace(config, **changes)
    except ValueError:
        return False
    return fits(changed, settings)


def drift_estimate(config: DriftConfig, settings: Settings, advice: str) -> dict[str, Any]:
    """What ``config`` would cost here, whether it fits, and the nearest settings that do, changing one of the page's
    controls at a time (see :class:`app.api.schemas.CostResponse`)."""
    cost = drift_cost(config)
    runs = runs_as(cost, settings)
    problem = budget_problem(cost, settings, advice + (AS_A_JOB if runs == "job" else ""), job=runs == "refused")
    return {
        "seconds": cost.seconds, "seconds_here": cost.seconds / settings.machine_speed, "runs": runs,
        "limit_seconds": settings.compute_budget_s, "job_limit_seconds": settings.job_budget_s,
        "parameters": cost.parameters, "limit_parameters": settings.max_parameters,
        "result_numbers": cost.result_numbers, "limit_result_numbers": settings.max_result_numbers,
        "fits": runs == "now", "detail": problem,
        "admissible": {"depth": _deepest(config, settings),
                       "widest": _widest(config, settings),
                       "steps": _most_steps(config, settings)},
    }


def _deepest(config: DriftConfig, settings: Settings) -> int | None:
    """The most hidden layers (up to the parameter's maximum) that fit, the other settings kept; None if none do."""
    depths = range(1, int(parameter("depth").maximum or 1) + 1)
    fitting = [depth for depth in depths if _fits_with(config, settings, depth=depth)]
    return max(fitting) if fitting else None


def _widest(config: DriftConfig, settings: Settings) -> int | None:
    """The widest of the requested widths such that the widths up to it fit (the wider ones dropped); None if even
    the narrowest alone does not."""
    fitting = [w for k, w in enumerate(config.widths, 1) if _fits_with(config, settings, widths=config.widths[:k])]
    return max(fitting) if fitting else None


def _most_steps(config: DriftConfig, settings: Settings) -> int | None:
    """The most training steps (up to the parameter's maximum) that fit, the snapshots capped at steps + 1; None if
    even one step does not. The cost grows with the steps, so a bisection finds it."""
    def fits_with_steps(steps: int) -> bool:
        return _fits_with(config, settings, steps=steps, snapshots=min(config.snapshots, steps + 1))

    low, high = 1, int(parameter("steps").maximum or 1)
    if not fits_with_steps(low):
        return None
    while low < high:  # invariant: low fits
        middle = (low + high + 1) // 2
        if fits_with_steps(middle):
            low = middle
        else:
            high = middle - 1
    return low
