"""The presets' warm-up (issue 15, app/api/warmup.py): a started server keeps the experiments of the scenarios' first
visits in the shared store without any request asking for them, and a later server answers them from there."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from app.api.schemas import DriftQuery
from app.api.warmup import experiments_of, page_queries, warmed_presets
from app.config import Settings
from app.content.presets import PRESETS, PRESETS_BY_ID
from tests.servers import uvicorn_workers

CHEAP = "blind-spot"  # the scenario whose three experiments cost least (~0.5 s of the reference machine)


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _drift_url(base: str, params: dict[str, Any]) -> str:
    return f"{base}/api/v1/experiments/drift?{urlencode(params)}"


def test_a_started_server_keeps_the_first_visits_experiments_and_a_later_one_answers_them_from_the_store(
        tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path / 'results.sqlite3'}"
    queries = page_queries(PRESETS_BY_ID[CHEAP])
    with uvicorn_workers(1, store_url=store, warm_presets=CHEAP) as (base, _):
        deadline = time.monotonic() + 120
        while (warm := _get(f"{base}/readyz")[1]["warm_up"])["state"] != "done":
            assert warm["state"] == "warming" and time.monotonic() < deadline, warm
            time.sleep(0.2)
        assert (warm["kept"], warm["of"]) == (len(queries), len(queries)) == (3, 3)
    # A server that computes nothing itself (every experiment over its budget for a request: only a job could run it)
    # and warms nothing: what the first one kept is answered, anything else refused.
    with uvicorn_workers(1, store_url=store, compute_budget_s="0.0001") as (base, _):
        assert _get(f"{base}/readyz")[1]["warm_up"]["state"] == "off"
        for query in queries:
            status, document = _get(_drift_url(base, query.model_dump(exclude_none=True)))
            assert status == 200, document
            assert document["query"] == query.model_dump()
        other = queries[0].model_dump(exclude_none=True) | {"seed": 7}  # never warmed
        assert _get(_drift_url(base, other))[0] == 422


def test_the_page_asks_for_each_scenario_its_own_experiment_the_erf_overlay_and_the_mean_field_comparison() -> None:
    own, overlay, comparison = page_queries(PRESETS_BY_ID["default"])
    assert own == DriftQuery(**PRESETS_BY_ID["default"].changes) and own.kernel_width == 64
    assert (overlay.activation, overlay.kernel_width) == ("erf", None)
    assert (comparison.parameterization, comparison.depth, comparison.kernel_width) == ("mean_field", 1, None)
    # A scenario on another scaling is also compared against the NTK scaling of its settings.
    assert page_queries(PRESETS_BY_ID["mean-field"])[-1].parameterization == "ntk"
    # The page shows a scenario without a kernel width at its first width.
    assert page_queries(PRESETS_BY_ID["too-fast"])[0].kernel_width == 16


def test_every_scenario_but_the_jobs_is_warmed_by_default_the_page_s_default_first() -> None:
    assert Settings.model_fields["warm_presets"].default == "all"  # the tests' environment turns it off
    warmed = warmed_presets(Settings(warm_presets="all"))
    assert warmed[0].id == "default"
    assert {p.id for p in warmed} == {p.id for p in PRESETS if not p.job} != {p.id for p in PRESETS}
    configs = experiments_of(warmed, Settings(warm_presets="all"))
    assert len(configs) == len(set(configs)) < sum(len(page_queries(p)) for p in warmed)  # shared ones once


def test_warm_presets_names_scenarios_or_none() -> None:
    assert warmed_presets(Settings(warm_presets="")) == ()
    assert [p.id for p in warmed_presets(Settings(warm_presets="catapult, blind-spot"))] == ["catapult", "blind-spot"]
    assert warmed_presets(Settings(warm_presets="jacot-2018-original")) == ()  # a job is never warmed
    with pytest.raises(ValueError, match="unknown: nowhere"):
        warmed_presets(Settings(warm_presets="default,nowhere"))
