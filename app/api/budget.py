"""Refuse requests over this server's compute budget before they start, saying how to get under it."""

from __future__ import annotations

from app.api.errors import InvalidInput
from app.config import Settings
from app.ntk.cost import Cost

RESULT_ADVICE = "use fewer snapshots, seeds or widths, or a coarser grid"


def check_budget(cost: Cost, settings: Settings, advice: str, location: tuple[str, ...] = ("query",),
                 result_advice: str = RESULT_ADVICE) -> None:
    """Raise :class:`InvalidInput` (``compute_budget``, at ``location``: the query or the body) if ``cost`` exceeds a
    limit, saying what to reduce: ``advice`` for the arithmetic, ``result_advice`` for the size of the answer."""
    if cost.seconds > settings.compute_budget_s:
        raise InvalidInput(f"this request needs an estimated {cost.seconds:.2g} s of computing (CPU time on the "
                           f"reference machine), above this server's limit of {settings.compute_budget_s:g} s; {advice}",
                           "compute_budget", location)
    if cost.parameters > settings.max_parameters:
        raise InvalidInput(f"this request holds {cost.parameters:,} network parameters at once, above this server's "
                           f"limit of {settings.max_parameters:,}; use a narrower or shallower network"
                           f"{' (or fewer seeds)' if location == ('query',) else ''}", "compute_budget", location)
    if cost.result_numbers > settings.max_result_numbers:
        raise InvalidInput(f"this request would return {cost.result_numbers:,} numbers, above this server's limit of "
                           f"{settings.max_result_numbers:,}; {result_advice}", "compute_budget", location)
