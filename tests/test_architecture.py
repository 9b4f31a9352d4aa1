"""Architecture invariants (ARCHITECTURE.md): layers import only what its table allows; the maths core is pure numpy —
no web, no I/O, no global randomness."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "app" / "ntk"
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


# --- layers: the import table in ARCHITECTURE.md -----------------------------------------------------------------

def allowed_imports() -> dict[str, set[str]]:
    """ARCHITECTURE.md's table "Layers, and who may import whom": layer → the other layers it may import."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = text[text.index("## Layers, and who may import whom"):].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.splitlines() if line.startswith("| `app")]
    return {re.sub(r"[` ]", "", layer): set(re.findall(r"`(app[.\w]*)`", may)) for layer, _, may in rows}


def layer_of(module: str, layers: set[str]) -> str | None:
    """The longest layer name that is ``module`` or a package above it."""
    matches = [layer for layer in layers if module == layer or module.startswith(layer + ".")]
    return max(matches, key=len, default=None)


def app_modules() -> dict[str, Path]:
    paths = [p for p in (ROOT / "app").rglob("*.py")]
    return {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p for p in paths}


def imports_of(path: Path, module: str) -> set[str]:
    """The ``app`` modules ``path`` imports (relative imports resolved against ``module``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(module.split(".")[:-node.level] + ([base] if base else []))
            names.add(base)
    return {name for name in names if name == "app" or name.startswith("app.")}


def test_the_layer_table_names_every_module_of_app() -> None:
    layers = set(allowed_imports())
    assert {"app.ntk", "app.api", "app.web", "app.serving", "app.parameters", "app.content"} <= layers
    unplaced = [m for m in app_modules() if m != "app" and layer_of(m, layers) is None]
    assert unplaced == []


@pytest.mark.parametrize("module", sorted(app_modules()), ids=str)
def test_each_module_imports_only_the_layers_its_own_may(module: str) -> None:
    table = allowed_imports()
    own = layer_of(module, set(table))
    if own is None:
        return  # app/__init__.py
    for imported in imports_of(app_modules()[module], module):
        target = layer_of(imported, set(table))
        assert target == own or target in table[own], f"{module} imports {imported}: {own} may import {sorted(table[own])}"
