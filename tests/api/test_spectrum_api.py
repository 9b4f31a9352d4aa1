"""GET /api/v1/spectrum and /api/v1/spectral-bias through HTTP: the core's numbers, cached, and bad input refused
with 422s that say what is allowed."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.schemas import SpectralBiasQuery, SpectrumQuery, bias_steps, plot_round
from app.ntk import MLP
from app.ntk.spectrum import BIAS_WIDTHS, SpectralBiasConfig, ring_spectrum, spectral_bias
from tests.conftest import ClientFactory

SPECTRUM = "/api/v1/spectrum"
BIAS = "/api/v1/spectral-bias"
SMALL_BIAS = {"widths": "16,64", "steps": 30, "districts": 16, "frequencies": "1,3"}


def test_the_spectrum_is_the_cores_in_full_precision_up_to_an_eighth_of_the_points(client: TestClient) -> None:
    document = client.get(SPECTRUM, params={"depth": 2, "activation": "erf", "w_std": 1.3, "b_std": 0.2}).json()
    core = ring_spectrum(MLP(depth=2, activation="erf", w_std=1.3, b_std=0.2))
    assert document["points"] == 1024 and document["frequencies"] == list(range(129))
    for name in ("ntk", "nngp"):
        ours = getattr(core, name)
        assert document[name]["eigenvalues"] == ours.eigenvalues[:129].tolist()
        assert document[name]["per_point"] == ours.per_point[:129].tolist()
        assert document[name]["zero"] == ours.zero[:129].tolist()
        assert document[name]["profile"] == ours.profile.tolist()
        assert [fit["slope"] for fit in document[name]["fits"]] == [fit.slope for fit in ours.fits]
        assert document["max_eigenvalue"][name] == ours.eigenvalues.max()
    assert document["multiplicity"] == [1] + [2] * 128
    assert document["query"] == {"depth": 2, "activation": "erf", "w_std": 1.3, "b_std": 0.2}


def test_the_blind_spot_shows_as_zeros_and_the_known_exponents(client: TestClient) -> None:
    document = client.get(SPECTRUM, params={"b_std": 0}).json()
    zero = document["ntk"]["zero"]
    assert [k for k in range(129) if zero[k]] == list(range(3, 129, 2))
    (fit,) = document["ntk"]["fits"]
    assert (fit["parity"], fit["law"]) == ("even", "power") and abs(fit["slope"] + 2) < 0.05


def test_the_spectral_bias_document_is_the_cores_rounded_for_plotting(client: TestClient) -> None:
    response = client.get(BIAS, params=SMALL_BIAS)
    assert response.status_code == 200
    document = response.json()
    config = SpectralBiasConfig(widths=(16, 64), steps=30, districts=16, frequencies=(1, 3))
    result = spectral_bias(config)
    shown = bias_steps(30)
    assert document["steps"] == shown.tolist() and document["learning_rate"] == result.learning_rate
    assert document["forecast"] == plot_round(result.forecast[:, shown]).tolist()
    for network, width in zip(document["networks"], result.widths, strict=True):
        relative = width.amplitude[..., shown] / width.amplitude[..., :1]
        assert network["relative"] == plot_round(relative).tolist()
        assert network["fit_steps"] == [[None if t < 0 else int(t) for t in seed] for seed in width.fit_steps]
    assert document["kernel"]["eigenvalues"] == result.eigenvalues.tolist()
    assert len(document["kernel"]["fit_steps"]) == 9


def test_without_widths_the_depths_narrow_and_wide_roads_are_trained(client: TestClient) -> None:
    document = client.get(BIAS, params={"depth": 3, "steps": 5}).json()
    assert document["widths"] == list(BIAS_WIDTHS[3]) and [n["width"] for n in document["networks"]] == [32, 256]
    assert document["query"]["widths"] is None


def test_a_blind_frequency_is_never_fitted_by_the_kernel(client: TestClient) -> None:
    document = client.get(BIAS, params={**SMALL_BIAS, "b_std": 0}).json()
    assert document["kernel"]["zero"][3] and document["kernel"]["fit_steps"][3] is None
    assert document["forecast"][1] == [1.0] * len(document["steps"])


def test_results_are_cached_by_etag(client: TestClient) -> None:
    first = client.get(BIAS, params=SMALL_BIAS)
    assert client.get(BIAS, params=SMALL_BIAS, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    spectrum = client.get(SPECTRUM)
    assert spectrum.headers["cache-control"].startswith("public")
    assert client.get(SPECTRUM, headers={"If-None-Match": spectrum.headers["etag"]}).status_code == 304


BAD = [
    (SPECTRUM, {"depth": 5}, "less than or equal to 4"),
    (SPECTRUM, {"activation": "tanh"}, "'relu' or 'erf'"),
    (SPECTRUM, {"w_std": 0}, "greater than or equal to 0.01"),
    (SPECTRUM, {"b_std": "nan"}, "finite number"),
    (SPECTRUM, {"points": 64}, "Extra inputs"),
    (BIAS, {"frequencies": "1,16"}, "below districts/2 = 16"),
    (BIAS, {"frequencies": "4,2"}, "increasing"),
    (BIAS, {"frequencies": "1,,2"}, "should match pattern"),
    (BIAS, {"districts": 3, "frequencies": "1"}, "districts must be a whole number ≥ 4"),
    (BIAS, {"lr_fraction": 1}, "less than 1"),
    (BIAS, {"widths": "64,32"}, "increasing and distinct"),
    (BIAS, {"widths": "0,32"}, "from 1 to 10000"),
    (BIAS, {"steps": 0}, "greater than or equal to 1"),
    (BIAS, {"depth": 4, "widths": "32,4096"}, "above this server's limit"),
    (BIAS, {"seeds": 9}, "less than or equal to 8"),
]


@pytest.mark.parametrize(("url", "params", "words"), BAD, ids=[f"{u.rsplit('/', 1)[1]}-{p}" for u, p, _ in BAD])
def test_bad_input_is_a_422_that_says_what_is_allowed(client: TestClient, url: str, params: dict[str, object],
                                                       words: str) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 422
    messages = " ".join(d["msg"] for d in response.json()["detail"])
    assert words in messages, messages


def test_the_openapi_document_describes_both_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    names = {p["name"] for p in paths[BIAS]["get"]["parameters"]}
    assert names == {"depth", "activation", "w_std", "b_std", "widths", "seeds", "districts", "frequencies", "steps",
                     "lr_fraction", "seed"}
    assert {p["name"] for p in paths[SPECTRUM]["get"]["parameters"]} == {"depth", "activation", "w_std", "b_std"}
    assert np.isclose(next(p for p in paths[BIAS]["get"]["parameters"] if p["name"] == "lr_fraction")["schema"]["default"],
                      0.25)


def test_a_warmed_worker_has_the_default_pages_spectrum_documents_before_anyone_asks(make_client: ClientFactory) -> None:
    client = make_client(warm_presets="default", store_url="", compute_in="threads")
    deadline = time.monotonic() + 240
    while client.get("/readyz").json()["warm_up"]["state"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    responses = client.app.state.compute.responses  # type: ignore[attr-defined]
    assert responses.get("spectral-bias:" + SpectralBiasQuery(seed=0).model_dump_json()) is not None
    for depth in range(1, 5):
        for activation in ("relu", "erf"):
            assert responses.get("spectrum:" + SpectrumQuery(depth=depth, activation=activation).model_dump_json())
