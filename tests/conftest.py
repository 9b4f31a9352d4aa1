"""Shared fixtures: a fixed random generator, points on the ring, and apps driven through HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

ClientFactory = Callable[..., TestClient]


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
