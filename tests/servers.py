"""Real servers on loopback ports, for tests and benchmarks: uvicorn in a thread, or ``uvicorn --workers N`` as a process."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from app.config import Settings
from app.main import create_app
from app.serving.server import server_config

ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """An app with ``settings`` served in a thread on a free 127.0.0.1 port, as ``python -m app serve`` would serve it
    (its connection limits included, in one process); its base URL."""
    port = free_port()
    config = server_config(settings, create_app(settings), host="127.0.0.1", port=port, workers=1, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class StaticFiles(http.server.SimpleHTTPRequestHandler):
    """Python's plain static file server, as a course site serves an export (a folder without its trailing slash is
    redirected to it, the query kept); quiet, and it remembers every path asked for (``server.asked``)."""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def send_head(self) -> object:
        self.server.asked.append(self.path)  # type: ignore[attr-defined]
        return super().send_head()


@contextmanager
def static_files(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """``folder`` served by :class:`StaticFiles` in a thread on a free 127.0.0.1 port: no app, no API. Yields its base
    URL and the list of paths asked of it so far."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(StaticFiles, directory=str(folder)))
    server.asked = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.asked  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def wait_healthy(base_url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


@contextmanager
def uvicorn_workers(workers: int, **settings: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m app serve`` (uvicorn, as the image runs it) with N worker processes on a free loopback port, with
    ``LANES_<NAME>`` settings (the presets' warm-up off unless ``warm_presets`` is given); (base URL, process).

    Stopped with SIGTERM (uvicorn drains, then exits), killed if it has not gone within 30 s.
    """
    port = free_port()
    env = {**os.environ, "LANES_HOST": "127.0.0.1", "LANES_PORT": str(port), "LANES_WORKERS": str(workers),
           "LANES_LOG_LEVEL": "warning", "LANES_WARM_PRESETS": "",  # no warm-up beside what is measured, unless asked
           **{f"LANES_{name.upper()}": value for name, value in settings.items()}}
    process = subprocess.Popen([sys.executable, "-m", "app", "serve"], cwd=ROOT, env=env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url)
        yield base_url, process
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a server drains, a worker finishes its job in hand), then SIGKILL if it has not gone within 30 s."""
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_pids(master: int) -> list[int]:
    """The uvicorn worker processes of ``master`` (its children started by multiprocessing's spawn)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == master and b"spawn_main" in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name (which may hold spaces): state, ppid, …; see proc(5), from field 3."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no VmHWM for {pid}")


REDIS_SERVER = Path("/usr/bin/redis-server")


@contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Debian's ``redis-server`` on ``port`` (by default a free loopback port), in memory only (no snapshots, no log
    file); its URL. A second one on the same port is the first restarted (empty).

    Started and stopped here: the suite needs no Redis of its own (``make test`` installs the package)."""
    assert REDIS_SERVER.exists(), "Debian's redis-server is missing: `make test` installs it (apt-get install redis-server)"
    port = port or free_port()
    process = subprocess.Popen([str(REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--logfile", ""], stdout=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "redis-server did not start"
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def busy_loops(count: int) -> Iterator[None]:
    """``count`` processes spinning at normal priority."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coroutine)`` in a thread of its own: a test may run in a process where Playwright's event loop is
    already running (the browser tests share the worker process), and asyncio.run refuses to start under it."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()
