"""A drawn target through HTTP: ``target=drawn&drawing=…`` is validated as ``app/parameters.py`` declares it (a 422
that says which rule a bad drawing breaks), and the document carries the drawn curve, the noisy districts' targets and
the learning speeds of those targets, as the core computes them."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.schemas import DriftResponse
from app.ntk import DriftConfig, analytic_kernels, ring_angles
from app.ntk.training import learning_speeds

URL = "/api/v1/experiments/drift"
SMALL = {"widths": "16,64", "seeds": 2, "steps": 40, "snapshots": 3, "districts": 12, "grid": 32}
KNOTS = [0.5, -1, 1.25, 0, 2, -2, 0.75, -0.25] * 4  # 32 knots
DRAWING = ",".join(f"{v:g}" for v in KNOTS)


def problem(response: object) -> str:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return " ".join(item["msg"] for item in detail)


def test_a_drawing_round_trips_and_the_document_draws_its_curve(client: TestClient) -> None:
    response = client.get(URL, params=SMALL | {"target": "drawn", "drawing": DRAWING})
    assert response.status_code == 200
    document = response.json()
    DriftResponse.model_validate(document)
    assert document["query"]["drawing"] == DRAWING and document["query"]["target"] == "drawn"
    curve = lambda gamma: np.interp(gamma, ring_angles(32), KNOTS, period=2 * math.pi)  # noqa: E731  the oracle
    # (the document's angles are rounded to 6 digits: the oracle reads the districts' and the grid's own)
    np.testing.assert_allclose(document["y_train"], curve(ring_angles(12)), atol=1e-12)
    # target_grid is rounded for plotting to 4 significant digits (values near 0: absolute)
    np.testing.assert_allclose(document["target_grid"], curve(ring_angles(32)), rtol=5e-4, atol=1e-12)


def test_the_speeds_are_the_analytic_kernels_on_the_noisy_targets(client: TestClient) -> None:
    document = client.get(URL, params=SMALL | {"target": "drawn", "drawing": DRAWING, "noise": 0.3}).json()
    config = DriftConfig(widths=(16, 64), seeds=2, steps=40, snapshots=3, districts=12, grid=32, target="drawn",
                         drawing=tuple(KNOTS), noise=0.3)
    task = config.task()
    np.testing.assert_allclose(document["y_train"], task.y_train, rtol=1e-15)  # sent in full precision, noise included
    kernel = analytic_kernels(config.mlp(16), task.x_train)[1]
    expected = learning_speeds(kernel, task.y_train, 1.0, 40)
    speeds = document["reference"]["speeds"]
    np.testing.assert_allclose(speeds["still_to_learn"], expected.still_to_learn, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(speeds["residual"], expected.residual, rtol=1e-12, atol=1e-14)
    assert speeds["slow"] == expected.slow.tolist() and speeds["never"] == expected.never.tolist()
    assert speeds["slow_share"] == pytest.approx(expected.slow_share, rel=1e-12)
    assert (speeds["steps"], speeds["learning_rate"]) == (40, 1.0)
    # Independently: the slow part is y's projection on the eigenvectors of Θ(X, X) with η λ T / N < 1.
    eigenvalues, vectors = np.linalg.eigh(kernel)
    slow = vectors[:, eigenvalues * 40 / 12 < 1]
    np.testing.assert_allclose(speeds["still_to_learn"], slow @ slow.T @ task.y_train, atol=1e-12)


def test_every_target_has_its_curve_on_the_grid_except_values(client: TestClient) -> None:
    sin = client.get(URL, params=SMALL | {"frequency": 2}).json()
    np.testing.assert_allclose(sin["target_grid"], np.sin(2 * ring_angles(32)), rtol=5e-4, atol=1e-12)
    values = client.get(URL, params=SMALL | {"target": "values", "values": ",".join(["0.5"] * 12)}).json()
    assert values["target_grid"] is None and values["y_train"] == [0.5] * 12


def test_the_standard_parameterization_has_no_speeds(client: TestClient) -> None:
    document = client.get(URL, params=SMALL | {"parameterization": "standard", "learning_rate": 0.01}).json()
    assert document["reference"] is None


@pytest.mark.parametrize(("drawing", "says"), [
    ("1,2,0", "4 to 64 values"),
    (",".join(["0"] * 65), "4 to 64 values"),
    ("0,0,0,2.5", "from -2 to 2"),
    ("0,0,0,-3", "from -2 to 2"),
    ("0,0,0,0.125", "at most two decimals"),
    ("0,0,0,1e-2", "at most two decimals"),
    ("0,0,0,nan", "at most two decimals"),
    ("0,0,0,inf", "at most two decimals"),
    ("0,0,,0", "at most two decimals"),
    ("0;0;0;0", "4 to 64 values"),
    ("0,0,0,٣", "at most two decimals"),  # a digit, but not one of 0–9
    ("0,0,0,0,", "at most two decimals"),
], ids=["too few", "too many", "too high", "too low", "three decimals", "an exponent", "nan", "inf", "an empty value",
        "semicolons", "arabic-indic digit", "a trailing comma"])
def test_a_bad_drawing_is_refused_with_the_rule_it_breaks(client: TestClient, drawing: str, says: str) -> None:
    response = client.get(URL, params=SMALL | {"target": "drawn", "drawing": drawing})
    assert response.status_code == 422
    assert says in problem(response) and "drawing" in problem(response)


@pytest.mark.parametrize("params", [{"target": "drawn"}, {"drawing": DRAWING}, {"target": "values", "drawing": DRAWING}],
                         ids=["drawn without a drawing", "a drawing without its target", "a drawing with values"])
def test_a_drawing_goes_with_target_drawn_and_only_with_it(client: TestClient, params: dict[str, str]) -> None:
    response = client.get(URL, params=SMALL | params)
    assert response.status_code == 422
    assert re.search("give drawing exactly when target=drawn|give values exactly when target=values", problem(response))


def test_a_drawing_is_part_of_the_experiments_identity(client: TestClient) -> None:
    one = client.get(URL, params=SMALL | {"target": "drawn", "drawing": DRAWING}).json()
    other = client.get(URL, params=SMALL | {"target": "drawn", "drawing": DRAWING.replace("0.5", "0.25", 1)}).json()
    assert one["y_train"] != other["y_train"]


def test_a_drawing_keeps_a_link_short() -> None:
    from urllib.parse import urlencode

    from app.parameters import KNOTS_MAX
    assert len(urlencode({"drawing": DRAWING})) < 250  # the page's 32 knots
    longest = ",".join(["-1.25"] * KNOTS_MAX)  # the most knots, each as long as the form allows
    assert len(urlencode({"drawing": longest})) == 517 < 2048


def test_the_cost_endpoint_takes_a_drawing(client: TestClient) -> None:
    response = client.get("/api/v1/experiments/drift/cost", params=SMALL | {"target": "drawn", "drawing": DRAWING})
    assert response.status_code == 200, response.text
    bad = client.get("/api/v1/experiments/drift/cost", params=SMALL | {"target": "drawn", "drawing": "9,9,9,9"})
    assert bad.status_code == 422
