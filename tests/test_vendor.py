"""The vendored files (vendor/README.md): byte for byte the official release, with its licence, and enough for the
page: every trace type a figure draws is in the bundle."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from app.web.routes import PLOTLY_JS

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "vendor"
FIGURES = ROOT / "static" / "js" / "figures"


def test_every_vendored_file_matches_its_recorded_checksum_and_nothing_is_unlisted() -> None:
    recorded = dict(reversed(line.split("  ", 1)) for line in (VENDOR / "SHA256SUMS").read_text().splitlines())
    assert set(recorded) == {p.name for p in VENDOR.iterdir()} - {"SHA256SUMS", "README.md"}
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_the_served_bundle_is_the_cartesian_build_of_the_version_its_name_and_readme_give_under_mit() -> None:
    version = re.fullmatch(r"plotly-cartesian-(\d+\.\d+\.\d+)\.min\.js", PLOTLY_JS.name)
    assert version, PLOTLY_JS.name
    header = PLOTLY_JS.read_text()[:200]
    assert f"plotly.js (cartesian - minified) v{version[1]}" in header and "MIT license" in header
    assert (VENDOR / "LICENSE.plotly.js.txt").read_text().startswith("MIT License")
    readme = (VENDOR / "README.md").read_text()
    assert f"plotly.js-cartesian-dist-min@{version[1]}" in readme and f"`{PLOTLY_JS.name}`" in readme


def test_every_trace_type_a_figure_draws_is_registered_in_the_bundle() -> None:
    not_traces = {"log", "linear", "category", "date", "line", "rect", "circle", "path"}  # axis and shape types
    drawn = set()
    for module in FIGURES.glob("*.js"):
        # Every `type: "…"` that is not an axis type or a layout shape's names a trace.
        drawn |= set(re.findall(r'\btype: "([a-z0-9]+)"', module.read_text())) - not_traces
    assert {"scatter", "heatmap"} <= drawn
    bundle = PLOTLY_JS.read_text()
    registered = set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', bundle))
    assert drawn <= registered, drawn - registered
