"""Clients that send too slowly or too much, through real sockets (issue 11, item 7; ``app/serving/server.py``).

A request's head is bounded in size (431) and in time (408), its body in time (408), whatever the client does; sound
clients, idle keep-alive connections and pipelining are not affected. The server is the one ``python -m app serve``
runs (``tests.servers.serve``), with short limits so that each test takes a second or two. Every wait has a generous
margin: these tests bound how long a connection lives, not how fast a busy machine answers.
"""

from __future__ import annotations

import http.client
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from app.config import Settings
from tests.servers import serve

HEADER_TIMEOUT, BODY_TIMEOUT, MAX_HEAD = 1.0, 2.0, 4096
MARGIN = 5.0


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    settings = Settings(header_timeout_s=HEADER_TIMEOUT, body_timeout_s=BODY_TIMEOUT, max_header_bytes=MAX_HEAD)
    with serve(settings) as base:
        parts = urlsplit(base)
        yield str(parts.hostname), int(parts.port or 0)


def _until_closed(client: socket.socket, seconds: float) -> bytes:
    """Everything the server sends until it closes the connection; fails if it is still open after ``seconds``."""
    received, deadline = b"", time.monotonic() + seconds
    while True:
        client.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = client.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            pytest.fail(f"the connection was still open after {seconds} s; received {received[:100]!r}")
        if not chunk:
            return received
        received += chunk


def _trickle(client: socket.socket, piece: bytes, seconds: float) -> float:
    """Send ``piece`` every 0.2 s until the server answers or closes; the seconds that took (fails after ``seconds``)."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if select.select([client], [], [], 0.2)[0]:
            return time.monotonic() - started
        try:
            client.sendall(piece)
        except OSError:  # closed under our feet: the answer, if any, is waiting
            return time.monotonic() - started
    pytest.fail(f"the server let a client trickle bytes for {seconds} s")


def test_a_head_sent_slowly_is_answered_408_and_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        took = _trickle(client, b"X-Slow: 1\r\n", HEADER_TIMEOUT + MARGIN)  # slowloris: a header line now and then
        answer = _until_closed(client, MARGIN)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer, answer
    assert b"did not arrive within 1 s" in answer
    assert took >= HEADER_TIMEOUT * 0.9


def test_a_connection_that_sends_nothing_is_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as client:
        started = time.monotonic()
        assert _until_closed(client, HEADER_TIMEOUT + MARGIN) == b""  # no request, no answer
        assert time.monotonic() - started >= HEADER_TIMEOUT * 0.9


def test_idle_time_between_requests_is_not_counted_against_the_head(address: tuple[str, int]) -> None:
    # A proxy keeps idle connections for its own keep-alive time (keep_alive_s), far longer than header_timeout_s.
    connection = http.client.HTTPConnection(*address, timeout=MARGIN)
    for _ in range(2):
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        assert response.status == 200 and response.read()
        time.sleep(HEADER_TIMEOUT + 0.5)
    connection.close()


def test_pipelined_requests_are_all_answered(address: tuple[str, int]) -> None:
    with socket.create_connection(address) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
                       b"GET /readyz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        answers = _until_closed(client, MARGIN)
    assert answers.count(b"HTTP/1.1 200 OK") == 2 and b'"status":"ready"' in answers


def _head(padding: int) -> bytes:
    # Counted as the server counts a head: the URL, then "name: value\r\n" per header.
    return b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Pad: " + b"p" * padding + b"\r\nConnection: close\r\n\r\n"


def test_a_head_over_the_limit_is_refused_with_431_and_one_at_the_limit_is_served(address: tuple[str, int]) -> None:
    at_limit = MAX_HEAD - len("/healthz") - len("host: test\r\n") - len("x-pad: \r\n") - len("connection: close\r\n")
    with socket.create_connection(address) as client:
        client.sendall(_head(at_limit))
        assert _until_closed(client, MARGIN).startswith(b"HTTP/1.1 200 ")
    with socket.create_connection(address) as client:
        client.sendall(_head(at_limit + 1))
        answer = _until_closed(client, MARGIN)
    assert answer.startswith(b"HTTP/1.1 431 ") and b"connection: close" in answer, answer[:200]
    assert f"at most {MAX_HEAD} bytes".encode() in answer


def test_a_huge_header_value_is_cut_off_after_its_first_reads(address: tuple[str, int]) -> None:
    # Before: a 300 MiB value was read to the end, parsed with quadratic copying (a worker at 100 % CPU for 20 s).
    piece, sent, offered = b"v" * 65536, 0, 64 * 2**20
    cpu, started = time.process_time(), time.monotonic()  # the server runs in this process
    with socket.create_connection(address) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Huge: ")
        client.settimeout(MARGIN)
        try:
            while sent < offered and not select.select([client], [], [], 0)[0]:
                client.sendall(piece)
                sent += len(piece)
            answer = _until_closed(client, MARGIN)
        except OSError:  # reset: the server closed with our bytes unread
            answer = b""
    assert sent < 16 * 2**20, f"{sent / 2**20:.0f} MiB of one header were accepted"  # the limit, reads, socket buffers
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert time.monotonic() - started < MARGIN and time.process_time() - cpu < 2.0


def test_a_body_that_stops_short_is_answered_408_and_closed(address: tuple[str, int]) -> None:
    body = b'{"x1": [[0.5, 0.25]]' + b" " * 9880  # 100 bytes short of what it declares
    with socket.create_connection(address) as client:
        client.sendall(b"POST /api/v1/kernels HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                       b"Content-Length: 10000\r\n\r\n" + body)
        started = time.monotonic()
        answer = _until_closed(client, BODY_TIMEOUT + MARGIN)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ") and b"body did not arrive within 2 s" in answer, answer[:200]
    assert waited >= BODY_TIMEOUT * 0.9


def test_a_body_trickled_after_the_answer_is_cut_off(address: tuple[str, int]) -> None:
    # A GET is answered without reading its body; each byte still arriving used to restart the keep-alive timer.
    with socket.create_connection(address) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nContent-Length: 100000\r\n\r\n")
        client.settimeout(MARGIN)
        assert client.recv(65536).startswith(b"HTTP/1.1 200 ")
        took = _trickle(client, b"x", BODY_TIMEOUT + MARGIN)
        assert _until_closed(client, MARGIN) == b""  # the answer was given: the connection just closes
    assert took <= BODY_TIMEOUT + MARGIN


def test_a_body_sent_in_pieces_within_the_time_is_served(address: tuple[str, int]) -> None:
    body = b'{"x1": [[0.5, 0.25], [0.1, 0.9]], "kinds": ["analytic"]}'
    with socket.create_connection(address) as client:
        client.sendall(b"POST /api/v1/kernels HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                       b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        for start in range(0, len(body), 16):
            time.sleep(0.1)
            client.sendall(body[start:start + 16])
        answer = _until_closed(client, MARGIN)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
