"""GET /api/v1/experiments/drift/cost through HTTP: the cost before running, against the cost model and the
experiment endpoint's own refusals."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import get_settings
from app.content.presets import PRESETS_BY_ID
from app.ntk import DriftConfig
from app.ntk.cost import drift_cost

URL = "/api/v1/experiments/drift"


def cost(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get(f"{URL}/cost", params=query)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_default_experiment_fits_and_says_how_far_each_setting_could_go(client: TestClient) -> None:
    estimate = cost(client)
    assert estimate["seconds"] == pytest.approx(drift_cost(DriftConfig()).seconds, rel=1e-12)
    assert estimate["limit_seconds"] == get_settings().compute_budget_s
    assert estimate["fits"] is True and estimate["detail"] is None
    admissible = estimate["admissible"]
    assert admissible["widest"] == 4096
    # The most steps that fit: that many fits, one more does not (the cost model, asked through the same endpoint).
    assert cost(client, steps=admissible["steps"])["fits"] is True
    assert cost(client, steps=admissible["steps"] + 1)["fits"] is False
    assert cost(client, depth=admissible["depth"])["fits"] is True
    assert cost(client, depth=admissible["depth"] + 1)["fits"] is False


def test_an_over_budget_experiment_is_an_answer_with_the_refusal_and_the_nearest_settings_that_run(
        client: TestClient) -> None:
    widths = "16,32,64,128,256,512,1024,2048,4096"
    estimate = cost(client, depth=3, widths=widths)
    assert estimate["fits"] is False and estimate["seconds"] > estimate["limit_seconds"]
    refused = client.get(URL, params={"depth": 3, "widths": widths})
    assert refused.status_code == 422 and refused.json()["detail"][0]["msg"] == estimate["detail"]
    widest = estimate["admissible"]["widest"]
    listed = [int(w) for w in widths.split(",")]
    up_to = ",".join(str(w) for w in listed if w <= widest)
    one_more = ",".join(str(w) for w in listed[: len(up_to.split(",")) + 1])
    assert cost(client, depth=3, widths=up_to)["fits"] is True
    assert cost(client, depth=3, widths=one_more)["fits"] is False
    assert estimate["admissible"]["depth"] == cost(client)["admissible"]["depth"]  # depth alone: as for the default
    assert estimate["admissible"]["steps"] is None  # not even one step of 3 layers at 4096 fits


@pytest.mark.parametrize(("query", "message"), [({"depth": 0}, "greater than or equal to 1"),
                                                  ({"widths": "64,16"}, "increasing")])
def test_an_invalid_experiment_is_refused_as_by_the_experiment_itself(client: TestClient, query: dict[str, Any],
                                                                    message: str) -> None:
    response = client.get(f"{URL}/cost", params=query)
    assert response.status_code == 422 and message in response.text


def test_every_scenario_has_an_estimate(client: TestClient) -> None:
    # Mean-field has one hidden layer only: a deeper one is no admissible setting, not an error (it was a 500).
    for preset in client.get("/api/v1/presets").json():
        estimate = cost(client, **preset["query"])
        assert estimate["runs"] == ("job" if PRESETS_BY_ID[preset["id"]].job else "now"), preset["id"]
        if preset["query"].get("parameterization") == "mean_field":
            assert estimate["admissible"]["depth"] == 1
