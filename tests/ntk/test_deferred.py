"""Wide matrices whose training steps are kept as low-rank factors (app/ntk/deferred.py), against the explicit matrix,
and training with them against training that applies every step at once."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import app.ntk.deferred as deferral
from app.api.schemas import DriftQuery
from app.content.presets import PRESETS
from app.ntk import DriftConfig, train
from app.ntk.deferred import DeferredWeights
from app.ntk.experiments import initial_networks
from app.ntk.mlp import Params


def test_products_folds_and_undo_match_the_explicit_matrix(rng: np.random.Generator) -> None:
    weights = rng.standard_normal((3, 5, 7))
    original = weights.copy()
    deferred = DeferredWeights(weights, capacity=6)  # room for 3 steps of 2 rows: the 4th step folds first
    explicit = weights.copy()
    a, d = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 7))
    for step in range(7):
        p, q = rng.standard_normal((3, 2, 5)), rng.standard_normal((3, 2, 7))
        deferred.subtract(p, q)
        explicit -= np.swapaxes(p, -1, -2) @ q
        np.testing.assert_allclose(deferred.times(a), a @ explicit, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(deferred.times_transposed(d), d @ np.swapaxes(explicit, -1, -2), rtol=1e-12, atol=1e-12)
        assert deferred.used == 2 * (step % 3 + 1)  # folded after every third step
    which = np.array([False, True, False])
    deferred.undo_last(which)
    explicit[which] += np.swapaxes(p[which], -1, -2) @ q[which]  # the last step taken back for network 1 only
    np.testing.assert_allclose(deferred.materialized(), explicit, rtol=1e-12, atol=1e-12)
    assert deferred.used == 0
    np.testing.assert_array_equal(weights, original)  # the array it started from was never written


def test_a_diverged_networks_nan_factors_are_taken_back_entirely(rng: np.random.Generator) -> None:
    deferred = DeferredWeights(rng.standard_normal((2, 4, 4)), capacity=8)
    before = deferred.materialized()
    p, q = rng.standard_normal((2, 2, 4)), rng.standard_normal((2, 2, 4))
    q[0] = np.nan
    deferred.subtract(p, q)
    deferred.undo_last(np.array([True, False]))
    after = deferred.materialized()
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_allclose(after[1], before[1] - p[1].T @ q[1], rtol=1e-12)


def _train(config: DriftConfig, width: int, deferred: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, Params]:
    """(loss at every step, final parameters) of the scenario's networks of one width."""
    monkeypatch.setattr(deferral, "DEFERRED_MIN_WIDTH", 512 if deferred else 10**9)
    task, final = config.task(), []
    history = train(config.mlp(width), initial_networks(config, width), task.x_train, task.y_train,
                    learning_rate=config.learning_rate, steps=config.steps, snapshot_steps=(0, config.steps // 3, config.steps),
                    on_snapshot=lambda step, p: final.append(p))
    return history.loss, final[-1]


JACOT = next(p for p in PRESETS if p.id == "jacot-2018")
CASES = {
    "the Jacot scenario at width 512, 50 steps": (dataclasses.replace(DriftQuery(**JACOT.changes).to_config(), steps=50), 512),
    "erf, two hidden layers, α = 0.3": (DriftConfig(activation="erf", depth=2, alpha=0.3, steps=60), 768),
    "standard parameterization, four hidden layers": (DriftConfig(parameterization="standard", depth=4, steps=12,
                                                                  learning_rate=0.02), 512),
    "two of three networks diverge": (DriftConfig(depth=2, seeds=3, steps=12, learning_rate=51.0), 512),
}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_steps_kept_as_factors_train_exactly_as_steps_applied_at_once(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same arithmetic re-associated: equal to rounding, at every step, with the snapshots' weights between folds.
    config, width = CASES[case]
    loss, final = _train(config, width, True, monkeypatch)
    plain_loss, plain_final = _train(config, width, False, monkeypatch)
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(plain_loss))
    np.testing.assert_allclose(loss, plain_loss, rtol=1e-9, atol=0)
    for (W, b), (W_plain, b_plain) in zip(final, plain_final, strict=True):
        np.testing.assert_allclose(W, W_plain, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b, b_plain, rtol=1e-9, atol=1e-12)


def test_the_diverging_case_diverges_for_some_networks_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # So that the case above does take a step back in the middle of a stack (DeferredWeights.undo_last).
    config, width = CASES["two of three networks diverge"]
    loss, _ = _train(config, width, True, monkeypatch)
    diverged = np.isnan(loss[:, -1])
    assert diverged.any() and not diverged.all()
