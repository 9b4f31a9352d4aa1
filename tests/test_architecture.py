"""Architecture invariants (ARCHITECTURE.md): the maths core is pure numpy — no web, no I/O, no global randomness."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1] / "app" / "ntk"
CORE_FILES = sorted(CORE.glob("*.py"))
ALLOWED_THIRD_PARTY = {"numpy", "scipy"}
IO_CALLS = {"open", "print", "input"}
IO_MODULES = {"os", "io", "pathlib", "socket", "subprocess", "shutil", "logging", "urllib", "http", "requests", "json",
              "pickle", "tempfile", "random", "time", "threading"}
RANDOM_ALLOWED = {"default_rng", "Generator", "SeedSequence"}


def _imported_modules(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_has_files_to_check() -> None:
    assert {"mlp.py", "kernels.py", "training.py", "data.py", "experiments.py"} <= {f.name for f in CORE_FILES}


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_imports_only_numpy_scipy_and_the_standard_library(path: Path) -> None:
    modules = _imported_modules(ast.parse(path.read_text()))
    third_party = {m for m in modules if m not in sys.stdlib_module_names and m not in {"app", "__future__"}}
    assert third_party <= ALLOWED_THIRD_PARTY, f"{path.name} imports {third_party - ALLOWED_THIRD_PARTY}"
    assert not modules & IO_MODULES, f"{path.name} imports I/O or clock modules {modules & IO_MODULES}"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_does_no_io(path: Path) -> None:
    calls = {node.func.id for node in ast.walk(ast.parse(path.read_text()))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & IO_CALLS, f"{path.name} calls {calls & IO_CALLS}"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.name)
def test_core_uses_no_global_random_state(path: Path) -> None:
    # Any np.random.<name> other than the explicit-generator API is the legacy global RNG.
    uses = {node.attr for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "random"}
    assert uses <= RANDOM_ALLOWED, f"{path.name} uses np.random.{uses - RANDOM_ALLOWED}"
