"""GET /api/v1/experiments/drift and its SSE stream, through HTTP."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.schemas import DriftResponse
from app.config import get_settings
from app.ntk import DriftConfig, drift_experiment

URL = "/api/v1/experiments/drift"
SMALL = {"widths": "16,64", "seeds": 2, "steps": 40, "snapshots": 3, "districts": 4, "grid": 16}
SMALL_CONFIG = DriftConfig(widths=(16, 64), seeds=2, steps=40, snapshots=3, districts=4, grid=16)


def test_the_document_carries_the_cores_numbers(client: TestClient) -> None:
    response = client.get(URL, params=SMALL)
    assert response.status_code == 200
    document = response.json()
    DriftResponse.model_validate(document)
    expected = drift_experiment(SMALL_CONFIG)
    # Plotted arrays carry 4 significant digits: relative error ≤ 5e-4. Slopes are sent in full precision.
    for sent, width in zip(document["widths"], expected.widths, strict=True):
        np.testing.assert_allclose(sent["drift"], width.drift, rtol=5e-4, atol=0)
        np.testing.assert_allclose(sent["function"], width.function, rtol=5e-4, atol=1e-12)
        assert sent["diverged_at"] == [-1, -1]
    assert document["slopes"]["drift"]["slope"] == expected.slopes["drift"].slope or np.isnan(expected.slopes["drift"].slope)
    assert document["snapshot_steps"] == [0, 20, 40]
    assert document["kernel"] is None and document["reference"]["kernel"] is None


def test_the_reference_carries_the_nngp_prior_and_both_means(client: TestClient) -> None:
    document = client.get(URL, params=SMALL).json()
    DriftResponse.model_validate(document)
    expected = drift_experiment(SMALL_CONFIG).reference
    assert expected is not None and expected.nngp_variance is not None and expected.nngp_mean is not None
    sent = document["reference"]
    # Plotted arrays carry 4 significant digits: relative error ≤ 5e-4 (values near 0 are absolute, hence atol).
    for name, values in [("nngp_variance", expected.nngp_variance), ("nngp_mean", expected.nngp_mean),
                         ("ntk_mean", expected.ntk_mean)]:
        np.testing.assert_allclose(sent[name], values, rtol=5e-4, atol=1e-12)
    assert sent["nngp_note"] is None


def test_the_mean_field_reference_has_no_nngp_band_and_says_why(client: TestClient) -> None:
    sent = client.get(URL, params=SMALL | {"parameterization": "mean_field"}).json()["reference"]
    assert sent["nngp_variance"] is None and sent["nngp_mean"] is None and "mean-field" in sent["nngp_note"]
    assert len(sent["ntk_mean"]) == SMALL["grid"]


def test_the_document_carries_the_two_parts_of_the_drift_and_their_slopes(client: TestClient) -> None:
    relu = client.get(URL, params=SMALL).json()
    expected = drift_experiment(SMALL_CONFIG)
    for sent, width in zip(relu["widths"], expected.widths, strict=True):
        assert width.drift_switching is not None
        np.testing.assert_allclose(sent["drift_switching"], width.drift_switching, rtol=5e-4, atol=0)
        np.testing.assert_allclose(sent["drift_smooth"], width.drift_smooth, rtol=5e-4, atol=0)
    for name in ("drift_switching", "drift_smooth"):
        assert relu["slopes"][name]["slope"] == expected.slopes[name].slope
    erf = client.get(URL, params=SMALL | {"activation": "erf"}).json()
    DriftResponse.model_validate(erf)
    assert all(w["drift_switching"] is None for w in erf["widths"]) and "drift_switching" not in erf["slopes"]
    assert [w["drift_smooth"] for w in erf["widths"]] == [[seed[-1] for seed in w["drift"]] for w in erf["widths"]]


def test_the_document_carries_both_forecasts_their_gaps_and_the_kernels_top_eigenvalue(client: TestClient) -> None:
    document = client.get(URL, params=SMALL).json()
    expected = drift_experiment(SMALL_CONFIG)
    for sent, width in zip(document["widths"], expected.widths, strict=True):
        assert width.forecast_gap is not None and width.linearization_forecast_gap is not None
        for name, values in [("linearization", width.linearization), ("lambda_max", width.lambda_max),
                             ("forecast_gap", width.forecast_gap), ("linearization_gap", width.linearization_gap),
                             ("linearization_forecast_gap", width.linearization_forecast_gap)]:
            np.testing.assert_allclose(sent[name], values, rtol=5e-4, atol=1e-12)  # 4 significant digits
    for name in ("forecast_gap", "linearization_gap", "linearization_forecast_gap"):
        assert document["slopes"][name]["slope"] == expected.slopes[name].slope
    assert expected.reference is not None and document["reference"]["lr_limit"] == expected.reference.lr_limit
    # Too fast for every fixed kernel: the forecasts are null once they diverge, and so are the gaps.
    fast = client.get(URL, params=SMALL | {"learning_rate": 40}).json()
    DriftResponse.model_validate(fast)
    assert fast["reference"]["lr_limit"] < 40 and all(v is None for v in fast["reference"]["forecast"][-1])
    for width in fast["widths"]:
        assert all(v is None for seed in width["linearization"] for v in seed[-1])
        assert width["forecast_gap"] == width["linearization_gap"] == width["linearization_forecast_gap"] == [None, None]


def test_no_parameters_means_the_default_experiment(client: TestClient) -> None:
    document = client.get(URL).json()
    assert document["query"]["widths"] == "16,32,64,128,256,512,1024,2048,4096"
    assert [w["width"] for w in document["widths"]] == [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    assert -1.0 < document["slopes"]["drift"]["slope"] < -0.5


def test_kernel_width_adds_that_widths_kernel_and_the_analytic_one(client: TestClient) -> None:
    document = client.get(URL, params=SMALL | {"kernel_width": 64}).json()
    kernels = np.array(document["kernel"]["snapshots"])
    assert kernels.shape == (3, 16, 16) and document["kernel"]["width"] == 64
    np.testing.assert_allclose(kernels, drift_experiment(SMALL_CONFIG).widths[1].kernel[0], rtol=5e-4)
    assert np.array(document["reference"]["kernel"]).shape == (16, 16)


def test_kernel_width_adds_every_widths_kernel_change_on_the_coarse_grid(client: TestClient) -> None:
    # Grid 40 > 32 points: every 2nd point (20 of them). 3 significant digits: relative error ≤ 5e-3.
    document = client.get(URL, params=SMALL | {"grid": 40, "kernel_width": 16}).json()
    expected = drift_experiment(DriftConfig(**(SMALL_CONFIG.__dict__ | {"grid": 40})))
    assert document["coarse_grid"] == list(range(0, 40, 2))
    coarse = np.ix_(range(0, 40, 2), range(0, 40, 2))
    for sent, width in zip(document["widths"], expected.widths, strict=True):
        change = width.kernel[0, -1] - width.kernel[0, 0]
        drawn = np.array(sent["kernel_change"])
        assert drawn.shape == (20, 20)
        np.testing.assert_allclose(drawn, change[coarse], rtol=5e-3)
        # The change's largest magnitude on the whole grid, which the coarse grid can only fall short of.
        assert sent["change_max"] == pytest.approx(np.abs(change).max(), rel=1e-12)
        assert sent["change_max"] >= np.abs(drawn).max() * (1 - 5e-3)
    # Without kernel_width the document stays small: no kernels at all.
    plain = client.get(URL, params=SMALL).json()
    assert plain["coarse_grid"] == list(range(16)) and all(w["kernel_change"] is None for w in plain["widths"])


def test_results_are_cacheable_by_etag_whatever_the_parameter_order(client: TestClient) -> None:
    first = client.get(URL, params=SMALL)
    reordered = client.get(URL + "?" + "&".join(f"{k}={v}" for k, v in reversed(SMALL.items())))
    assert first.headers["etag"] == reordered.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=86400"
    assert client.get(URL, params=SMALL, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    assert client.get(URL, params=SMALL | {"seed": 1}).headers["etag"] != first.headers["etag"]


def test_large_documents_travel_gzipped(client: TestClient) -> None:
    response = client.get(URL, params=SMALL, headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip" and "Accept-Encoding" in response.headers["vary"]
    plain = client.get(URL, params=SMALL, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == response.json()


def test_divergence_is_a_result_not_an_error(client: TestClient) -> None:
    document = client.get(URL, params=SMALL | {"learning_rate": 40}).json()
    narrow = document["widths"][0]
    assert all(step > 0 for step in narrow["diverged_at"])
    assert all("above 2N/λ_max" in reason for reason in narrow["divergence"])
    assert narrow["drift"][0][-1] is None  # NaN travels as null


def _events(text: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_the_stream_sends_each_width_then_the_whole_result(client: TestClient) -> None:
    response = client.get(URL + "/stream", params=SMALL)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert [name for name, _ in events] == ["width", "width", "result"]
    assert [data["width"] for _, data in events[:2]] == [16, 64]
    assert events[2][1] == client.get(URL, params=SMALL).json()


def test_the_stream_of_a_finished_experiment_replays_it(client: TestClient) -> None:
    client.get(URL, params=SMALL)
    events = _events(client.get(URL + "/stream", params=SMALL).text)
    assert [name for name, _ in events] == ["width", "width", "result"]


BAD_QUERIES = [
    ({"widths": "abc"}, "widths must be 1 to 12 whole numbers written with the digits 0–9"),
    ({"widths": "٣٢"}, "written with the digits 0–9"),  # int() reads Arabic-Indic digits; the API does not
    ({"widths": "0,16"}, "each width must be from 1 to 10000"),
    ({"widths": "64,32"}, "widths must be increasing and distinct"),
    ({"widths": "16,10001"}, "each width must be from 1 to 10000"),
    ({"widths": ",".join(str(n) for n in range(1, 14))}, "widths must be 1 to 12 whole numbers"),
    ({"depth": 5}, "less than or equal to 4"),
    ({"activation": "tanh"}, "Input should be 'relu' or 'erf'"),
    ({"learning_rate": 0}, "greater than or equal to 0.000001"),
    ({"learning_rate": "nan"}, "finite number"),
    ({"steps": 20000}, "less than or equal to 10000"),
    ({"steps": 10, "snapshots": 20}, "snapshots must be at most steps + 1 = 11"),
    ({"target": "values"}, "give values exactly when target=values"),
    ({"target": "values", "values": "1,2"}, "one number per district: 8 expected, got 2"),
    ({"target": "values", "values": "1,2,x"}, "values must be numbers written with the digits 0–9"),
    ({"target": "values", "districts": 2, "values": "1e155,1"}, "each of the values must be from -100 to 100"),
    ({"target": "values", "districts": 2, "values": "1e999,1"}, "values must be finite numbers"),
    ({"kernel_width": 100}, "kernel_width must be one of the widths"),
    ({"colour": "red"}, "Extra inputs are not permitted"),
    ({"parameterization": "mean_field", "depth": 2}, "mean_field parameterization is implemented for depth 1 only"),
    ({"alpha_scaling": "sqrt"}, "Input should be 'fixed' or 'inverse_sqrt_width'"),
    ({"lr_scaling": "1/n"}, "Input should be 'fixed' or 'inverse_width'"),
    ({"lr_scaling": "inverse_width"}, "(η/width) is the standard parameterization's learning rate"),
    ({"widths": "8192", "depth": 4}, "s of computing (CPU time on the reference machine), above this server's limit of 6 s"),
    ({"seed": -1}, "greater than or equal to 0"),
]


@pytest.mark.parametrize(("params", "message"), BAD_QUERIES, ids=[str(p) for p, _ in BAD_QUERIES])
def test_bad_queries_get_422_saying_what_is_wrong(client: TestClient, params: dict[str, object], message: str) -> None:
    for url in (URL, URL + "/stream"):
        response = client.get(url, params=params)
        assert response.status_code == 422, response.text
        messages = " | ".join(error["msg"] for error in response.json()["detail"])
        assert message in messages


def test_how_alpha_and_eta_scale_with_width_is_part_of_the_experiment_and_defaults_to_todays(client: TestClient) -> None:
    plain = client.get(URL, params=SMALL)
    spelled_out = client.get(URL, params=SMALL | {"alpha_scaling": "fixed", "lr_scaling": "fixed"})
    assert spelled_out.headers["etag"] == plain.headers["etag"]  # links shared before these settings existed
    assert plain.json()["query"].items() >= {"alpha_scaling": "fixed", "lr_scaling": "fixed"}.items()
    scaled = client.get(URL, params=SMALL | {"alpha_scaling": "inverse_sqrt_width"})
    standard = SMALL | {"parameterization": "standard"}
    slowed = client.get(URL, params=standard | {"lr_scaling": "inverse_width"})
    assert scaled.status_code == slowed.status_code == 200
    etags = {plain.headers["etag"], scaled.headers["etag"], slowed.headers["etag"],
             client.get(URL, params=standard).headers["etag"]}
    assert len(etags) == 4
    assert scaled.json()["query"]["alpha_scaling"] == "inverse_sqrt_width"
    assert scaled.json()["widths"][0]["drift"] != plain.json()["widths"][0]["drift"]
    assert slowed.json()["query"]["lr_scaling"] == "inverse_width"


def test_the_budget_message_names_the_limit(make_client: object) -> None:
    client = make_client(compute_budget_s=0.1)  # type: ignore[operator]
    detail = client.get(URL).json()["detail"][0]
    assert detail["type"] == "compute_budget"
    assert "limit of 0.1 s" in detail["msg"] and "fewer or narrower widths" in detail["msg"]


def test_a_repeated_url_is_answered_from_the_cache_before_the_route_runs(client: TestClient) -> None:
    # The route depends on the settings; the fast path does not: count how often the route runs.
    calls: list[int] = []
    settings = client.app.state.settings  # type: ignore[attr-defined]
    client.app.dependency_overrides[get_settings] = lambda: calls.append(1) or settings  # type: ignore[attr-defined]
    first = client.get(URL, params=SMALL)
    again = client.get(URL, params=SMALL)
    assert len(calls) == 1 and again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert client.get(URL, params=SMALL, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    reordered = client.get(URL + "?" + "&".join(f"{k}={v}" for k, v in reversed(SMALL.items())))
    assert len(calls) == 2 and reordered.headers["etag"] == first.headers["etag"]  # route ran, result came from cache


def test_the_openapi_schema_has_no_dangling_reference(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    references = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(schema)))
    assert references and references <= set(schema["components"]["schemas"])


def test_a_network_whose_kernel_is_zero_at_init_is_answered_within_the_schema(client: TestClient) -> None:
    params = {"widths": "1", "seeds": 1, "depth": 3, "w_std": 1.1, "b_std": 1.8340402715450663e-177, "alpha": 0.01,
              "learning_rate": 75.4488554070902, "steps": 8, "snapshots": 2, "districts": 1, "grid": 8, "frequency": 0}
    for path in (URL, URL + "/stream"):
        assert client.get(path, params=params).status_code == 200, path  # was a 500 (0/0) and a null lr_limit
    width = client.get(URL, params=params).json()["widths"][0]
    assert width["lr_limit"] == [None] and width["drift"][0][-1] is None
    schema = client.get("/openapi.json").json()["components"]["schemas"]["WidthModel"]["properties"]["lr_limit"]
    assert {"type": "null"} in schema["items"]["anyOf"]


def test_the_kept_address_answers_a_computed_experiment_and_computes_none(client: TestClient) -> None:
    """The page asks here first (static/js/api.js getKeptDrift, a preload of the bare page): a kept experiment's
    document is a third smaller than its stream. Nothing is computed for it, whatever it would cost."""
    query = SMALL | {"seed": 12}
    asked = client.get(URL + "/kept", params=query)
    assert asked.status_code == 204 and asked.content == b"" and asked.headers["cache-control"] == "no-store"
    over_budget = client.get(URL + "/kept", params={"widths": "10000", "depth": 4, "steps": 10000})
    assert over_budget.status_code == 204  # not kept: the stream asked next says why it is refused
    computed = client.get(URL, params=query)  # only now is it computed
    assert computed.status_code == 200
    for kernel_width in (16, 16):  # the second from the URL's cache, past validation
        kept = client.get(URL + "/kept", params=query | {"kernel_width": kernel_width})
        assert kept.status_code == 200 and kept.json()["kernel"]["width"] == 16
        assert [w["drift"] for w in kept.json()["widths"]] == [w["drift"] for w in computed.json()["widths"]]
    refused = client.get(URL + "/kept", params=query | {"depth": 0})
    assert refused.status_code == 422 and "depth" in refused.text


def test_only_if_cached_answers_a_computed_experiment_and_computes_none(client: TestClient) -> None:
    """The same as the kept address, on the experiment's own (RFC 9111 §5.2.1.7)."""
    query = SMALL | {"seed": 11}
    asked = client.get(URL, params=query, headers={"Cache-Control": "only-if-cached"})
    assert asked.status_code == 204 and asked.content == b"" and asked.headers["cache-control"] == "no-store"
    assert client.get(URL, params=query, headers={"Cache-Control": "max-age=0, only-if-cached"}).status_code == 204
    computed = client.get(URL, params=query)  # only now is it computed
    assert computed.status_code == 200
    kept = client.get(URL, params=query | {"kernel_width": 16}, headers={"Cache-Control": "only-if-cached"})
    assert kept.status_code == 200
    assert [w["drift"] for w in kept.json()["widths"]] == [w["drift"] for w in computed.json()["widths"]]
