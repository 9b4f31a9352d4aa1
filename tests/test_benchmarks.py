"""The benchmark scripts are not run by the suite (timings do not belong in it), but they must keep importing."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_benchmark_script_imports(name: str) -> None:
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, f"benchmarks/{name}.py says what it measures in its docstring"


def test_the_load_mix_is_a_valid_wrk_script() -> None:
    load = importlib.import_module("benchmarks.load")
    script = load.mix_script()
    assert script.count("{") == script.count("}") and "request = function()" in script
    assert sum(weight for weight, _, _ in load.MIX) > 0 and all(path.startswith(("/", "UNCACHED", "KERNELS"))
                                                              for _, _, path in load.MIX)
