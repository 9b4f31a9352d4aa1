"""Numbers rounded for plotting (app/api/schemas.py plot_round) against Python's own decimal formatting."""

from __future__ import annotations

import numpy as np
import pytest

from app.api.schemas import plot_round


@pytest.mark.parametrize("digits", [3, 4, 6])
def test_a_rounded_number_is_the_double_nearest_its_short_decimal(digits: int) -> None:
    """The oracle: ``format(v, ".4g")`` read back, the nearest double to v's decimal of ``digits`` significant
    figures. Every plotted magnitude (1e-12 to 1e12, both signs, and next to decades' edges) matches it exactly: the
    powers of ten are exact, not numpy's ``**`` and ``log10``, whose SIMD code differs between machines."""
    rng = np.random.default_rng(digits)
    decades = np.array([float(f"1e{k}") for k in rng.integers(-12, 12, 20_000)])
    values = rng.uniform(1, 10, decades.size) * decades * rng.choice([-1.0, 1.0], decades.size)
    # next to a decade's edge (rounding up into the next decade, or not); not on a tie of the decimal, where scaling
    # rounds twice and may part from the oracle by one unit in the last digit (the same on every machine)
    edges = np.array([float(f"{m}e{k}") for k in range(-12, 12) for m in ("1", "9.999949", "9.99951", "5.00049")])
    values = np.concatenate([values, edges, -edges])
    expected = np.array([float(format(v, f".{digits}g")) for v in values])
    np.testing.assert_array_equal(plot_round(values, digits), expected)


def test_the_special_values_stay_what_they_are_and_a_subnormal_becomes_zero() -> None:
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1e-310, 1e308])
    rounded = plot_round(special)
    np.testing.assert_array_equal(rounded, [0.0, -0.0, np.nan, np.inf, -np.inf, 0.0, 0.0, 1e308])
    assert np.signbit(rounded[1])
