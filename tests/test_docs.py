"""The documentation stays true to the code: maths citations resolve, the settings table matches ``Settings``, links work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import AliasChoices

from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MATHS = DOCS / "maths.md"
OPERATIONS = DOCS / "operations.md"
MARKDOWN = sorted([ROOT / "README.md", *DOCS.glob("*.md")])

# "docs/maths.md §4"; a range "§5–6" cites both ends. The brief's own name, MATH.md, is not in the repository.
CITATION = re.compile(r"(?:MATH\.md|maths\.md) §(\d+)(?:[–-](\d+))?")
SECTION_HEADING = re.compile(r"^#{1,6} §(\d+)\b", re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, …
BACKTICKED = re.compile(r"`([^`]*)`")


def _cited_sources() -> list[Path]:
    return sorted([*ROOT.glob("app/**/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("static/js/**/*.js")])


def _citations() -> list[tuple[str, int]]:
    """Every (file:line, section number) cited in the code and tests."""
    found = []
    for path in _cited_sources():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for match in CITATION.finditer(line):
                found += [(f"{path.relative_to(ROOT)}:{number}", int(s)) for s in match.groups() if s is not None]
    return found


def _maths_sections() -> set[int]:
    return {int(n) for n in SECTION_HEADING.findall(MATHS.read_text(encoding="utf-8"))}


def test_maths_has_the_eight_numbered_sections_of_the_brief() -> None:
    assert _maths_sections() == set(range(1, 9))


def test_the_code_cites_the_maths_by_section() -> None:
    assert len(_citations()) > 10  # the scan finds the citations that exist today


def test_citations_name_the_maths_in_the_repository() -> None:
    outside = [str(path.relative_to(ROOT)) for path in _cited_sources() if path != Path(__file__)
               and re.search(r"(?<![/\w])MATH\.md", path.read_text(encoding="utf-8"))]
    assert outside == []  # cite docs/maths.md: the brief is not shipped


def test_every_maths_citation_in_code_and_tests_resolves_to_a_section() -> None:
    sections = _maths_sections()
    unresolved = [(where, n) for where, n in _citations() if n not in sections]
    assert unresolved == []


# --- the settings table ---------------------------------------------------------------------------------------------

def _table_rows(markdown: str, first_header: str) -> list[list[str]]:
    """The body rows of the Markdown table whose first header cell is ``first_header``, as lists of cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^\|\s*{re.escape(first_header)}\s*\|", line))
    rows = []
    for line in lines[start + 2:]:  # skip the header and its |---| line
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _documented_settings() -> dict[frozenset[str], str]:
    """Settings table of docs/operations.md: the environment names of each row → its default as written."""
    rows = _table_rows(OPERATIONS.read_text(encoding="utf-8"), "variable")
    documented = {}
    for variable, default, *_ in rows:
        names = frozenset(BACKTICKED.findall(variable))
        values = BACKTICKED.findall(default)
        documented[names] = values[0] if values else default
    return documented


def _environment_names(name: str, alias: Any) -> frozenset[str]:
    names = {f"LANES_{name.upper()}"}
    if isinstance(alias, AliasChoices):
        names |= {choice for choice in alias.choices if isinstance(choice, str)}
    return frozenset(names)


def _expected_settings() -> dict[frozenset[str], Any]:
    return {_environment_names(name, field.validation_alias): field.default for name, field in Settings.model_fields.items()}


def test_the_settings_table_lists_exactly_the_settings_fields() -> None:
    assert set(_documented_settings()) == set(_expected_settings())


@pytest.mark.parametrize("names", sorted(_expected_settings(), key=sorted), ids=lambda names: "/".join(sorted(names)))
def test_the_settings_table_gives_each_fields_default(names: frozenset[str]) -> None:
    expected, written = _expected_settings()[names], _documented_settings().get(names)
    assert written is not None, f"{sorted(names)} missing from the settings table"
    if expected is None:
        assert written == "none"
    else:
        assert type(expected)(written) == expected


def test_the_settings_table_finds_a_known_row() -> None:
    # Guards the parser itself: a table it misread could not match Settings by accident in both tests above.
    assert _documented_settings()[frozenset({"LANES_PORT", "PORT"})] == "8000"


# --- links ------------------------------------------------------------------------------------------------------------

def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)}


def _relative_links() -> list[tuple[Path, str]]:
    found = []
    for path in MARKDOWN:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)  # code blocks hold no links
        found += [(path, target) for target in LINK.findall(text) if not EXTERNAL.match(target)]
    return found


def test_the_docs_have_relative_links_to_check() -> None:
    assert len(_relative_links()) > 10


@pytest.mark.parametrize(("source", "target"), _relative_links(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_relative_link_points_at_an_existing_file_and_heading(source: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    destination = (source.parent / file_part).resolve() if file_part else source
    assert destination.exists(), f"{source.name} links to {target}, which does not exist"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination), f"{source.name} links to #{anchor}, not a heading of {destination.name}"
