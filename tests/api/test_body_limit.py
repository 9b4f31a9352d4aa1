"""Request bodies: the size limit (setting ``max_body_bytes``: 413 before any parsing, declared size or not), and
hostile bodies under it (deep nesting, non-finite numbers, truncation) refused with 400/422, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.conftest import ClientFactory

LIMIT = 4096


def test_a_declared_oversized_body_is_refused_with_413(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=LIMIT)
    response = client.post("/api/v1/kernels", content=b"[" + b"0," * LIMIT + b"0]",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"detail": f"the request body is larger than this server accepts: at most {LIMIT} bytes"}
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_chunked_oversized_body_is_refused_too(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=LIMIT)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server has to count
        yield b'{"x1": ['
        for _ in range(LIMIT // 8):
            yield b"[0.5], " * 2
        yield b"[0.5]]}"

    response = client.post("/api/v1/kernels", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_a_body_at_the_limit_reaches_the_handler(make_client: ClientFactory) -> None:
    client = make_client(max_body_bytes=LIMIT)
    body = json.dumps({"x1": [[0.5, 0.25]] * 8, "kinds": ["analytic"]}).encode()
    body += b" " * (LIMIT - len(body))
    response = client.post("/api/v1/kernels", content=body, headers={"Content-Type": "application/json"})
    assert len(body) == LIMIT and response.status_code == 200, response.text


def test_the_largest_valid_request_fits_the_default_limit(client: TestClient) -> None:
    # Every list at its maximum length, every number with 17 significant digits: what a real client might send.
    point = [-0.12345678901234567] * 16
    body = {"x_train": [point] * 256, "y_train": [0.12345678901234567] * 256, "x_test": [point] * 256,
            "times": [1.2345678901234567] * 64}
    content = json.dumps(body, indent=2).encode()
    response = client.post("/api/v1/predictions", content=content, headers={"Content-Type": "application/json"})
    assert len(content) < Settings().max_body_bytes and response.status_code == 200, response.text


@pytest.mark.parametrize(("body", "status"), [
    (b"[" * 100_000 + b"]" * 100_000, 400),                    # nesting deeper than any parser's recursion
    (b'{"x1": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    (b'{"x1": [[1e400]]}', 422),                                 # overflows to infinity
    (b'{"x1": [[NaN]]}', 422),
    (b'{"x1": [[1]]', 422),                                      # truncated
    (b'{"x1": [[1]], "x1": [[2]], "kinds": ["analytic"]}', 200),  # duplicate key: the last one counts, as in JSON.parse
    (b'{"x1": [[1]], "kinds": ["\xc3\x28"]}', 400),                # not UTF-8
])
def test_hostile_bodies_are_refused_without_a_500(make_client: ClientFactory, body: bytes, status: int) -> None:
    client = make_client()
    response = client.post("/api/v1/kernels", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert len(response.content) < 2000  # the refusal does not echo the body back
