"""Command line.

- ``python -m app serve``: start the web server with the settings from the environment (``app.config``).
- ``python -m app demo``: run the default drift experiment and print what it measured.
- ``python -m app worker``: run jobs from the RQ queue on ``LANES_QUEUE_URL`` (``app/api/rq_jobs.py``).
- ``python -m app export OUTDIR``: write the static site (page, embeds, presets' results) into OUTDIR.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.config import get_settings
from app.export import export_site, measure
from app.ntk import DriftConfig, drift_experiment
from app.serving.server import run, server_config


def demo() -> None:
    """Train the default widths and print, per width, the kernel's relative drift and the init kernel's distance."""
    config = DriftConfig()
    started = time.perf_counter()
    result = drift_experiment(config)
    elapsed = time.perf_counter() - started
    print(f"Drift experiment: depth {config.depth} {config.activation}, {config.seeds} seeds, "
          f"{config.districts} districts, {config.steps} steps of learning rate {config.learning_rate:g} "
          f"({elapsed:.2f} s)\n")
    print(f"{'width':>6}  {'kernel drift':>13}  {'init distance':>13}  {'final loss':>10}")
    for width in result.widths:
        distance = width.init_distance.mean() if width.init_distance is not None else float("nan")
        print(f"{width.width:>6}  {width.drift[:, -1].mean():>13.4f}  {distance:>13.4f}  {width.loss[:, -1].mean():>10.2e}")
    print()
    for name, fit in result.slopes.items():
        print(f"slope of {name:<16} against width: {fit.slope:+.3f} ± {fit.stderr:.3f}")


def serve() -> None:
    """uvicorn on ``LANES_HOST:LANES_PORT`` with ``LANES_WORKERS`` processes and the connection limits of the settings;
    SIGTERM refuses new connections, drains those in flight and stops (``app.serving.server``)."""
    run(server_config(get_settings()))


def worker() -> None:
    """An RQ worker running jobs queued by the web workers (``LANES_QUEUE_URL``, results to ``LANES_STORE_URL``):
    imported only here, so ``serve`` needs no RQ."""
    from app.api.rq_jobs import work_forever

    work_forever(get_settings())


def export(outdir: str) -> None:
    """Write the static site, say how large it is (all of it, and its saved results) and how to serve it."""
    started = time.perf_counter()
    written = export_site(Path(outdir))
    elapsed = time.perf_counter() - started
    data = [path for path in written if path.is_relative_to(Path(outdir) / "data")]
    print(f"wrote the static copy to {outdir} in {elapsed:.1f} s: {measure(written)}; its saved results (data/): "
          f"{measure(data)}")
    print(f"try: python -m http.server -d {outdir}")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "export":
        export(argv[1])
        return 0
    commands = {"serve": serve, "demo": demo, "worker": worker}
    if len(argv) != 1 or argv[0] not in commands:
        print("usage: python -m app {serve, demo, worker, export OUTDIR}", file=sys.stderr)
        return 2
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
