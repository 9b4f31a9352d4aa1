"""Slow and oversized clients against ``python -m app serve`` with 2 workers (what the image runs), on 127.0.0.1.

1. Slowloris: ``SLOWLORIS`` connections that send a request line, then a header line every 2 s, never ending the
   head. Reported: how many the server has closed (answered 408 or not) by ``header_timeout_s`` + 2 s and + 10 s.
2. Short bodies: ``SHORT_BODIES`` POSTs that declare 1 MiB and send 100 bytes less, then wait. Reported: the workers'
   resident memory (RSS) before, while the bodies are held, and ``body_timeout_s`` + 5 s after; how many were closed.
3. One huge header value, streamed up to 300 MiB: the MiB sent before the server refused, the seconds, and the
   workers' CPU seconds.
4. The drain: SIGTERM while an experiment computes, then a new client: refused, or left waiting (for how long).

Run with ``python -m benchmarks.slow_clients`` (``make bench-slow-clients``), about 90 s. Prints Markdown. It only
needs ``python -m app serve`` and ``tests.servers``' helpers, so it measures a version without the limits too:
there, nothing is closed in time and the huge header is read to its end.
"""

from __future__ import annotations

import contextlib
import os
import random
import resource
import selectors
import signal
import socket
import sys
import threading
import time
import urllib.request

from app.config import Settings
from tests.servers import cpu_seconds, uvicorn_workers, worker_pids

SLOWLORIS, SHORT_BODIES, HUGE = 1000, 200, 300 * 2**20
DECLARED = 2**20  # the default max_body_bytes: the largest body that is not refused at once


def rss_mib(pids: list[int]) -> float:
    """The processes' resident memory now (VmRSS), in MiB, summed."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total / 1024


def first_line(answer: bytes) -> str:
    return answer.split(b"\r\n")[0].decode(errors="replace")


def connect_all(port: int, count: int, first: bytes) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(first)
        client.setblocking(False)
        clients.append(client)
    return clients


def watch(clients: list[socket.socket], seconds: float, every: float = 2.0, piece: bytes = b"") -> dict[socket.socket, float]:
    """Until ``seconds`` have passed: send ``piece`` to each open client every ``every`` s, and note when each is
    answered or closed by the server (seconds since the start). The clients are closed at the end."""
    selector, started, closed = selectors.DefaultSelector(), time.monotonic(), {}
    for client in clients:
        selector.register(client, selectors.EVENT_READ)
    next_send = started + every
    while (now := time.monotonic()) < started + seconds:
        for key, _ in selector.select(timeout=min(0.2, max(next_send - now, 0))):
            client = key.fileobj
            assert isinstance(client, socket.socket)
            closed[client] = time.monotonic() - started
            selector.unregister(client)
        if piece and time.monotonic() >= next_send:
            for client in clients:
                if client not in closed:
                    with contextlib.suppress(OSError):  # closed since the last select: noted at the next one
                        client.send(piece)
            next_send += every
    for client in clients:
        client.close()
    return closed


def slowloris(port: int, settings: Settings) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n"
    clients = connect_all(port, SLOWLORIS, head)
    closed = watch(clients, settings.header_timeout_s + 10, piece=b"X-Slow: 1\r\n")
    early = sum(t <= settings.header_timeout_s + 2 for t in closed.values())
    when = f" (the first at {min(closed.values()):.1f} s, the last at {max(closed.values()):.1f} s)" if closed else ""
    print(f"| slowloris, {SLOWLORIS} connections | closed by {settings.header_timeout_s + 2:g} s: {early}; "
          f"by {settings.header_timeout_s + 10:g} s: {len(closed)}{when}; still open: {SLOWLORIS - len(closed)} |")


def short_bodies(port: int, pids: list[int], settings: Settings) -> None:
    before = rss_mib(pids)
    head = (f"POST /api/v1/kernels HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {DECLARED}\r\n\r\n").encode()
    clients = []
    for _ in range(SHORT_BODIES):
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(head + b" " * (DECLARED - 100))
        clients.append(client)
    time.sleep(2)
    held = rss_mib(pids)
    closed = watch(clients, settings.body_timeout_s + 5 - 2)
    after = rss_mib(pids)
    times = [t + 2 for t in closed.values()]  # seconds after sending
    when = f" (the first {min(times):.1f} s after sending, the last {max(times):.1f} s)" if times else ""
    print(f"| {SHORT_BODIES} bodies 100 bytes short of 1 MiB | workers' RSS {before:.0f} MiB before, {held:.0f} MiB "
          f"holding them, {after:.0f} MiB {settings.body_timeout_s + 5:g} s after; closed: {len(closed)}{when} |")


def huge_header(port: int, pids: list[int]) -> None:
    cpu = sum(cpu_seconds(pid) for pid in pids)
    started, sent, piece = time.monotonic(), 0, b"v" * 2**16
    with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Huge: ")
        try:
            while sent < HUGE:
                client.sendall(piece)
                sent += len(piece)
            client.sendall(b"\r\n\r\n")
            answer = client.recv(64)
        except OSError as error:
            answer = type(error).__name__.encode()
    seconds, cpu = time.monotonic() - started, sum(cpu_seconds(pid) for pid in pids) - cpu
    print(f"| one header value, up to {HUGE / 2**20:.0f} MiB | {sent / 2**20:.1f} MiB sent, then {first_line(answer)}; "
          f"{seconds:.1f} s, workers' CPU {cpu:.1f} s |")


def drain(port: int, process_pid: int) -> None:
    answers: list[object] = []
    url = f"http://127.0.0.1:{port}/api/v1/experiments/drift?widths=4096&steps=10000&snapshots=2&seed={random.randrange(10**6)}"
    slow = threading.Thread(target=lambda: answers.append(urllib.request.urlopen(url, timeout=120).status))
    slow.start()
    time.sleep(1.5)
    os.kill(process_pid, signal.SIGTERM)
    time.sleep(1.0)
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=40) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            outcome = f"accepted; then {first_line(client.recv(64)) or 'closed'}"
    except OSError as error:
        outcome = type(error).__name__
    waited = time.monotonic() - started
    slow.join()
    print(f"| a new client 1 s into the drain | {outcome} after {waited:.2f} s; the request in flight: {answers} |")


def main() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    settings = Settings()
    print(f"# Slow and oversized clients ({len(os.sched_getaffinity(0))} cores, {time.strftime('%Y-%m-%d')}, python "
          f"{sys.version.split()[0]}; python -m app serve, 2 workers, defaults)\n")
    print("| clients | what happened |\n| --- | --- |")
    with uvicorn_workers(2) as (base_url, process):
        port, pids = int(base_url.rsplit(":", 1)[1]), worker_pids(process.pid)
        slowloris(port, settings)
        short_bodies(port, pids, settings)
        huge_header(port, pids)
        drain(port, process.pid)


if __name__ == "__main__":
    main()
