"""Shared fixtures: points on the ring and a fixed random generator."""

from __future__ import annotations

import numpy as np
import pytest

from app.ntk import ring_angles, ring_points


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260518)


@pytest.fixture
def ring8() -> np.ndarray:
    """Eight districts on the unit circle, (8, 2)."""
    return ring_points(ring_angles(8))
