"""The ring road: district positions and targets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.ntk import ring_angles, ring_points, ring_task, target_values


def test_districts_are_equispaced_on_the_unit_circle_starting_at_minus_pi() -> None:
    gamma = ring_angles(4)
    np.testing.assert_allclose(gamma, [-math.pi, -math.pi / 2, 0.0, math.pi / 2])
    np.testing.assert_allclose(np.linalg.norm(ring_points(gamma), axis=1), 1.0, rtol=1e-15)


def test_districts_lie_on_the_grid_when_their_count_divides_it() -> None:
    task = ring_task(8, 64)
    np.testing.assert_allclose(task.x_grid[::8], task.x_train, atol=1e-15)


@pytest.mark.parametrize(("kind", "expected"), [
    ("sin", lambda g: np.sin(2 * g)),
    ("cos", lambda g: np.cos(2 * g)),
    ("xy", lambda g: np.cos(g) * np.sin(g)),
    ("step", lambda g: np.where(np.cos(g) > 1e-12, 1.0, -1.0)),
])
def test_named_targets(kind: str, expected: object) -> None:
    gamma = ring_angles(16)
    np.testing.assert_allclose(target_values(kind, gamma, frequency=2), expected(gamma), atol=1e-15)  # type: ignore[operator]


def test_the_bump_lights_up_one_district() -> None:
    bump = target_values("bump", ring_angles(8))
    assert bump.argmax() == 4 and bump.max() == 1.0 and bump.min() < 1e-3


def test_user_values_are_used_as_given_and_checked() -> None:
    gamma = ring_angles(3)
    np.testing.assert_array_equal(target_values("values", gamma, values=np.array([1.0, -2.0, 0.5])), [1.0, -2.0, 0.5])
    with pytest.raises(ValueError, match=r"needs 3 values \(one per district\)"):
        target_values("values", gamma, values=np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        target_values("values", gamma, values=np.array([1.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match="only used with target 'values'"):
        target_values("sin", gamma, values=np.ones(3))


def test_noise_needs_a_generator_and_is_reproducible() -> None:
    with pytest.raises(ValueError, match="need a random generator"):
        ring_task(8, 16, noise=0.1)
    first = ring_task(8, 16, noise=0.1, rng=np.random.default_rng(3)).y_train
    second = ring_task(8, 16, noise=0.1, rng=np.random.default_rng(3)).y_train
    np.testing.assert_array_equal(first, second)
    assert 0 < np.abs(first - ring_task(8, 16).y_train).max() < 0.6


def test_unknown_targets_are_refused() -> None:
    with pytest.raises(ValueError, match="target must be one of"):
        target_values("square", ring_angles(4))
