"""Shared fixtures: a fixed random generator, points on the ring, and apps driven through HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.api.jobs import JobRequest
from app.api.routes.jobs import job_request
from app.api.schemas import DriftQuery
from app.config import Settings
from app.main import create_app
from tests.servers import redis_server

ClientFactory = Callable[..., TestClient]

# No shared result store unless a test asks for one (tests/api/test_store.py): every other test sees cold experiments
# computed by the server it started, never results an earlier run left on disk. Set before any Settings() is made,
# and inherited by the servers the tests start as processes.
os.environ["LANES_STORE_URL"] = ""
# Computations in threads unless a test asks for processes (the production default: the page's live server, and
# tests/api/test_processes.py): in-process tests replace functions of the server to count or slow its work, which a
# process pool would never see, and each pool's start costs a second.
os.environ["LANES_COMPUTE_IN"] = "threads"
# No warm-up of the presets (app/api/warmup.py) unless a test asks for one (tests/api/test_warmup.py): every app a test
# makes would otherwise compute the scenarios' experiments beside it, on the suite's two cores.
os.environ["LANES_WARM_PRESETS"] = ""


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A real redis-server (Debian's), started for the module that asks and stopped after it."""
    with redis_server() as url:
        yield url


def job_for(params: dict[str, Any], settings: Settings, client: str = "10.0.0.1") -> JobRequest:
    """The job request the API makes of these drift query parameters, from ``client``."""
    query = DriftQuery(**params)
    return job_request(query, query.to_config(), settings, client)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20260518)


@pytest.fixture
def make_client() -> Iterator[ClientFactory]:
    """``make_client(**settings)``: a started TestClient for an app with those settings (closed after the test)."""
    clients: list[TestClient] = []

    def make(**overrides: Any) -> TestClient:
        client = TestClient(create_app(Settings(**overrides)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()
