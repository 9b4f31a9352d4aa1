"""POST /api/v1/kernels and /api/v1/predictions, through HTTP."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.ntk import MLP, analytic_kernels, empirical_ntk, gd_mse_prediction, init_params, ring_angles, ring_points
from tests.conftest import ClientFactory

POINTS = ring_points(ring_angles(5)).tolist()


def test_analytic_kernels_are_the_cores_in_full_precision(client: TestClient) -> None:
    response = client.post("/api/v1/kernels", json={"x1": POINTS, "depth": 2, "activation": "erf", "w_std": 1.3})
    assert response.status_code == 200
    nngp, ntk = analytic_kernels(MLP(depth=2, activation="erf", w_std=1.3), np.array(POINTS))
    np.testing.assert_array_equal(response.json()["nngp"], nngp)
    np.testing.assert_array_equal(response.json()["ntk"], ntk)
    assert response.json()["empirical_ntk"] is None


def test_the_empirical_kernel_is_that_of_the_network_named_by_seed_and_width(client: TestClient) -> None:
    x2 = [[0.3, -0.2], [1.0, 1.0]]
    body = {"x1": POINTS, "x2": x2, "kinds": ["empirical"], "width": 64, "seed": 5}
    sent = np.array(client.post("/api/v1/kernels", json=body).json()["empirical_ntk"])
    mlp = MLP(width=64)
    expected = empirical_ntk(mlp, init_params(mlp, 2, np.random.default_rng([5, 64])), np.array(POINTS), np.array(x2))
    np.testing.assert_array_equal(sent, expected)


def test_predictions_are_the_cores_kernel_regression(client: TestClient) -> None:
    gamma = ring_angles(6)
    body = {"x_train": ring_points(gamma).tolist(), "y_train": np.sin(gamma).tolist(), "x_test": POINTS,
            "times": [0, 5, "inf"], "learning_rate": 0.5}
    document = client.post("/api/v1/predictions", json=body).json()
    _, ntk_train = analytic_kernels(MLP(), ring_points(gamma))
    _, ntk_test = analytic_kernels(MLP(), np.array(POINTS), ring_points(gamma))
    expected = gd_mse_prediction(ntk_train, ntk_test, np.sin(gamma), np.array([0, 5, math.inf]), 0.5)
    np.testing.assert_allclose(document["f_test"], expected.f_test, rtol=1e-12, atol=1e-15)
    assert document["times"] == [0, 5, "inf"] and document["rank"] == 6 and document["note"] is None


def test_a_singular_kernel_is_reported_in_words(client: TestClient) -> None:
    gamma = ring_angles(8)
    body = {"x_train": ring_points(gamma).tolist(), "y_train": np.sin(3 * gamma).tolist(), "x_test": POINTS,
            "b_std": 0.0}
    document = client.post("/api/v1/predictions", json=body).json()
    assert document["rank"] < 8 and "singular" in document["note"]


BAD_BODIES = [
    ("/api/v1/kernels", {"x1": [[1.0, 0.0], [1.0]]}, "same dimension d"),
    ("/api/v1/kernels", {"x1": [[0.0] * 17]}, "at most 16 items"),
    ("/api/v1/kernels", {"x1": [[0.0, 1.0]] * 257}, "at most 256 items"),
    ("/api/v1/kernels", {"x1": []}, "at least 1 item"),
    ("/api/v1/kernels", {"x1": [["a", 1.0]]}, "valid number"),
    ("/api/v1/kernels", {"x1": POINTS, "parameterization": "standard"}, "no infinite-width limit"),
    ("/api/v1/kernels", {"x1": POINTS, "kinds": ["empirical"], "width": 8192, "depth": 4}, "above this server's limit"),
    ("/api/v1/kernels", {"x1": POINTS, "width": 0}, "greater than or equal to 1"),
    ("/api/v1/kernels", {"x1": POINTS, "extra": 1}, "Extra inputs are not permitted"),
    ("/api/v1/predictions", {"x_train": POINTS, "y_train": [1.0], "x_test": POINTS}, "one value per training point"),
    ("/api/v1/predictions", {"x_train": POINTS, "y_train": [0.0] * 5, "x_test": POINTS, "times": [-1]},
     "times must be ≥ 0"),
    ("/api/v1/predictions", {"x_train": POINTS, "y_train": [0.0] * 5, "x_test": POINTS, "times": [1.5],
                             "discrete": True}, "whole numbers when discrete"),
]


@pytest.mark.parametrize(("url", "body", "message"), BAD_BODIES, ids=[m for _, _, m in BAD_BODIES])
def test_bad_bodies_get_422_saying_what_is_wrong(client: TestClient, url: str, body: object, message: str) -> None:
    response = client.post(url, json=body)
    assert response.status_code == 422, response.text
    assert message in " | ".join(error["msg"] for error in response.json()["detail"])


@pytest.mark.parametrize("raw", [b'{"x1": [[NaN, 0]]}', b'{"x1": [[Infinity, 0]]}', b"not json", b'{"x1": [[1, 0]]'])
def test_nan_infinity_and_broken_json_get_422(client: TestClient, raw: bytes) -> None:
    response = client.post("/api/v1/kernels", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text


def test_a_body_that_is_not_json_at_all_gets_a_clear_error(client: TestClient) -> None:
    response = client.post("/api/v1/kernels", content=b"x1=1", headers={"Content-Type": "text/plain"})
    assert response.status_code == 422


def test_a_refusal_lists_a_bounded_number_of_problems_and_quotes_no_long_names(client: TestClient) -> None:
    body = {"x1": [[1.0, 0.0]]} | {f"unknown_{k}": 0 for k in range(5000)} | {"k" * 100_000: 0}
    response = client.post("/api/v1/kernels", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 21 and detail[-1]["msg"] == "and 4981 more problems like these"
    assert all(len(part) <= 65 for problem in detail for part in problem["loc"] if isinstance(part, str))
    assert len(response.content) < 5000  # the body sent was 194 kB; before the cap the answer was 579 kB


def test_a_budget_refusal_of_a_body_points_at_the_body_and_names_what_to_change(make_client: ClientFactory) -> None:
    client = make_client(max_parameters=1000)
    response = client.post("/api/v1/kernels", json={"x1": [[1.0, 0.0]], "kinds": ["empirical"], "width": 512})
    assert response.status_code == 422
    problem = response.json()["detail"][0]
    assert problem["loc"] == ["body"] and problem["type"] == "compute_budget"
    assert problem["msg"].endswith("use a narrower or shallower network")  # fewer points would not help
