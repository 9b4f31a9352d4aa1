"""Every parameter is declared once (app/parameters.py): the API, the page's controls and its URL-state table derive
from that declaration, and no second copy of a range, a default or a list of fields exists elsewhere."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.schemas import DriftQuery
from app.ntk import DriftConfig
from app.parameters import (
    API_PARAMETERS,
    COMPARISONS,
    CONTROLS,
    IDENTITY,
    NTK_SCALING,
    PARAMETERS,
    Parameter,
    check_overrides,
    page_table,
)

ROOT = Path(__file__).resolve().parents[1]
PYTHON_TYPES = {"int": int, "float": float, "choice": str, "widths": str, "numbers": str, "text": str}


class Controls(HTMLParser):
    """The page's controls: ``id="control-<name>"`` elements, with their attributes and (for selects) option values."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, dict[str, str | None]] = {}
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        name = (attributes.get("id") or "").removeprefix("control-")
        if (attributes.get("id") or "").startswith("control-"):
            self.found[name] = attributes | {"tag": tag}
            if tag == "select":
                self._select, self.options[name] = name, []
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(attributes.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


@pytest.fixture
def page(client: TestClient) -> Controls:
    parser = Controls()
    parser.feed(client.get("/").text)
    return parser


@pytest.fixture
def openapi(client: TestClient) -> dict[str, dict[str, typing.Any]]:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/experiments/drift"]["get"]
    return {p["name"]: p["schema"] for p in operation["parameters"]}


def test_the_api_query_has_one_field_per_declared_api_parameter_in_order() -> None:
    assert list(DriftQuery.model_fields) == [p.name for p in API_PARAMETERS]


@pytest.mark.parametrize("p", API_PARAMETERS, ids=lambda p: p.name)
def test_each_api_field_has_the_declared_type_default_and_help(p: Parameter) -> None:
    field = DriftQuery.model_fields[p.name]
    expected = PYTHON_TYPES[p.kind] if p.default is not None else PYTHON_TYPES[p.kind] | None
    assert field.annotation == expected
    assert (field.default, field.description) == (p.default, p.help)


@pytest.mark.parametrize("p", API_PARAMETERS, ids=lambda p: p.name)
def test_the_openapi_schema_states_the_declared_range_choices_and_default(
        p: Parameter, openapi: dict[str, dict[str, typing.Any]]) -> None:
    schema = openapi[p.name]
    numbers = schema.get("anyOf", [schema])[0]  # optional integers are anyOf [integer, null]
    if p.kind in ("int", "float"):
        assert (numbers["minimum"], numbers["maximum"]) == (p.minimum, p.maximum)
    if p.kind == "choice":
        assert schema["enum"] == list(p.values())
    assert schema.get("default") == p.default


def test_the_core_computes_exactly_the_identity_parameters_and_their_defaults_are_the_cores() -> None:
    core = DriftConfig()
    assert {f.name for f in dataclasses.fields(DriftConfig)} == set(IDENTITY)
    for p in PARAMETERS:
        if p.identity:
            expected = ",".join(map(str, core.widths)) if p.name == "widths" else getattr(core, p.name)
            assert p.default == expected, p.name


def test_the_page_has_exactly_one_control_per_declared_control(page: Controls) -> None:
    assert set(page.found) == {p.name for p in CONTROLS}


@pytest.mark.parametrize("p", [p for p in CONTROLS if p.control == "number"], ids=lambda p: p.name)
def test_number_inputs_allow_the_declared_range(p: Parameter, page: Controls) -> None:
    control = page.found[p.name]
    assert (float(control["min"] or "nan"), float(control["max"] or "nan")) == (p.minimum, p.maximum)
    assert control["step"] == ("1" if p.kind == "int" else "any")


@pytest.mark.parametrize("p", [p for p in CONTROLS if p.control == "select" and p.name != "preset"], ids=lambda p: p.name)
def test_selects_offer_the_declared_choices(p: Parameter, page: Controls) -> None:
    assert page.options[p.name] == [value for value, _ in p.options()]


def test_the_page_receives_the_declared_url_state_table(client: TestClient) -> None:
    block = re.search(r'<script type="application/json" id="parameters">(.*?)</script>', client.get("/").text, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == json.loads(json.dumps(page_table()))


def test_ranges_the_page_checks_are_the_ranges_the_api_checks(openapi: dict[str, dict[str, typing.Any]]) -> None:
    for name, field in page_table()["fields"].items():
        if name in openapi and "min" in field:
            schema = openapi[name].get("anyOf", [openapi[name]])[0]
            assert (field["min"], field["max"]) == (schema.get("minimum", field["min"]), schema.get("maximum", field["max"]))


# --- no second copy -------------------------------------------------------------------------------------------

def _files(*patterns: str) -> list[Path]:
    return sorted(path for pattern in patterns for path in ROOT.glob(pattern))


def test_no_script_or_template_repeats_a_range_a_default_or_the_list_of_fields() -> None:
    default_widths = page_table()["fields"]["widths"]["default"]
    copies = {"the default widths": default_widths, "the widest width": "8192", "the most steps": "10000",
              "the list of experiment fields": '"learning_rate", "steps"'}
    for path in _files("static/js/**/*.js", "templates/**/*.html"):
        text = path.read_text(encoding="utf-8")
        for what, copy in copies.items():
            assert copy not in text, f"{path.relative_to(ROOT)} repeats {what} ({copy})"
        assert not re.search(r'\bmin="\d', text) or path.name == "_macros.html", f"{path.name} writes a range by hand"


def test_the_comparisons_are_declared_once_and_each_is_an_experiment_the_api_accepts() -> None:
    assert page_table()["comparisons"] == {c.id: {"legend": c.legend, "overrides": dict(c.overrides)} for c in COMPARISONS}
    compare = next(p for p in PARAMETERS if p.name == "compare")
    assert compare.values() == tuple(c.id for c in COMPARISONS)
    for overrides in (NTK_SCALING, *(c.overrides for c in COMPARISONS)):
        DriftQuery(**overrides)  # valid settings for the API
    # No script or template spells a comparison's settings out: a scaling named in JS is read from the JSON block.
    for path in _files("static/js/**/*.js", "templates/**/*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r'parameterization: "(mean_field|standard)"|alpha_scaling: "', text), path.name


@pytest.mark.parametrize("overrides", [{"parametrization": "standard"}, {"width": 64}, {"parameterization": "lazy"},
                                       {"alpha": 1000.0}, {"depth": "1"}],
                         ids=["misspelt", "a view parameter", "no such scaling", "out of range", "a string for a number"])
def test_a_comparison_naming_a_parameter_wrongly_is_refused(overrides: dict[str, typing.Any]) -> None:
    with pytest.raises(ValueError):
        check_overrides(overrides)


def test_the_api_query_model_writes_no_bound_or_default_of_its_own() -> None:
    source = (ROOT / "app" / "api" / "schemas.py").read_text(encoding="utf-8")
    query = source[source.index("class DriftQuery("):source.index("    @model_validator", source.index("class DriftQuery("))]
    fields = [line for line in query.splitlines() if re.match(r"    \w+: ", line)]
    assert fields and all(re.fullmatch(r'    (\w+): [^=]+ = declared\("\1"\)', line) for line in fields), fields
