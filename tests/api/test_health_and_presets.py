"""Health endpoints and presets: every preset is valid, affordable, and does what its description says."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.budget import runs_as
from app.api.schemas import DriftQuery
from app.config import Settings
from app.content.presets import PRESETS, PRESETS_BY_ID, Preset
from app.ntk.cost import drift_cost


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {
        "status": "ready", "computations": 0, "capacity": 5,
        "store": {"kind": "none", "healthy": True,
                  "detail": "no result store is set (LANES_STORE_URL is empty): results are kept in this worker's memory only"},
        "warm_up": {"state": "off", "kept": 0, "of": 0, "seconds": None}}  # the tests warm no presets unless asked


def test_presets_are_served_with_full_parameter_sets(client: TestClient) -> None:
    served = client.get("/api/v1/presets").json()
    assert [p["id"] for p in served] == [p.id for p in PRESETS]
    assert all({"widths", "depth", "steps", "learning_rate"} <= set(p["query"]) for p in served)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.id)
def test_every_preset_fits_the_default_budget_or_runs_as_a_job(preset: Preset) -> None:
    cost = drift_cost(DriftQuery(**preset.changes).to_config())
    assert runs_as(cost, Settings()) == ("job" if preset.job else "now")


def _run(client: TestClient, preset_id: str) -> dict[str, object]:
    query = DriftQuery(**PRESETS_BY_ID[preset_id].changes)
    response = client.get("/api/v1/experiments/drift", params=query.model_dump(exclude_none=True))
    assert response.status_code == 200, response.text
    document: dict[str, object] = response.json()
    return document


def test_narrow_roads_move_more_than_wide_ones(client: TestClient) -> None:
    narrow, wide = _run(client, "narrow-vs-wide")["widths"]  # type: ignore[misc]
    assert min(narrow["drift"][k][-1] for k in range(3)) > 10 * max(wide["drift"][k][-1] for k in range(3))


def test_mean_field_keeps_moving_at_every_width(client: TestClient) -> None:
    document = _run(client, "mean-field")
    assert abs(document["slopes"]["drift"]["slope"]) < 0.2  # type: ignore[index]


def test_small_alpha_moves_every_kernel_far_more(client: TestClient) -> None:
    # Drift grows as α shrinks (docs/maths.md §6): α = 0.1 against α = 1, same networks; measured 22–41× per width.
    rich = _run(client, "rich-alpha")["widths"]
    lazy = {w["width"]: w for w in _run(client, "default")["widths"]}  # type: ignore[union-attr]
    for width in rich:  # type: ignore[union-attr]
        ratio = sum(d[-1] for d in width["drift"]) / sum(d[-1] for d in lazy[width["width"]]["drift"])
        assert ratio > 10, (width["width"], ratio)


def test_the_blind_spot_is_reported(client: TestClient) -> None:
    document = _run(client, "blind-spot")
    assert "singular" in document["reference"]["note"]  # type: ignore[index]
    # "the loss never falls below 0.25" (tests/ntk/test_experiments.py shows why, and the mean-field path)
    for width in document["widths"]:  # type: ignore[union-attr]
        assert all(min(loss) >= 0.25 - 1e-9 for loss in width["loss"])


def test_the_catapult_preset_is_above_the_limit_yet_converges_with_a_moving_kernel(client: TestClient) -> None:
    # Lewkowycz et al. (2020): between 2N/λ_max and roughly twice that, the loss spikes, the kernel shrinks, and
    # training converges; the kernel then moves O(1) at any width (measured 0.26–0.31 at 4096).
    document = _run(client, "catapult")
    widths, reference = document["widths"], document["reference"]
    districts = len(document["y_train"])  # type: ignore[arg-type]
    assert reference["lr_limit"] < 14  # type: ignore[index]  # the planner's kernel's too: every forecast diverges
    for width in widths:  # type: ignore[union-attr]
        assert all(9 - 0.5 < limit < 14 for limit in width["lr_limit"]) and width["diverged_at"] == [-1, -1, -1]
        # The kernel shrank until the step fits: 2N/λ_max climbed above η (measured 15.7–19.1 at step 50).
        assert all(16 - 0.5 < 2 * districts / seed[-1] < 19 + 0.5 for seed in width["lambda_max"])
        assert all(v is None for seed in width["linearization"] + width["forecast"] for v in seed[-1])
    widest = widths[-1]  # type: ignore[index]
    assert min(d[-1] for d in widest["drift"]) > 0.1
    for loss in widest["loss"]:  # the loss first rises 30–50-fold (measured), then falls far below its start
        assert max(loss) > 25 * loss[0] and loss[-1] < 1e-3 * loss[0]


def test_far_too_fast_diverges_everywhere_and_says_why(client: TestClient) -> None:
    for width in _run(client, "too-fast")["widths"]:  # type: ignore[union-attr]
        assert all(step > 0 for step in width["diverged_at"])
        assert all("learning rate 30 is above 2N/λ_max" in reason for reason in width["divergence"])


def test_the_jacot_preset_inflates_the_narrow_kernel(client: TestClient) -> None:
    # Jacot et al. report Θ(x0, x0) up ~19 % at n = 500 after 200 steps; here we only require the narrow road's
    # kernel to move several times more than the wide one's.
    narrow, wide = _run(client, "jacot-2018")["widths"]  # type: ignore[misc]
    assert sum(d[-1] for d in narrow["drift"]) > 2 * sum(d[-1] for d in wide["drift"])
