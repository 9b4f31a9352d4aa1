"""The concept cards: the page's story, one card per section, beside its figure; Markdown rendered once to HTML with
maths as MathML.

``cards/<section id>.md`` is the text of the section ``templates/sections/<order>-<section id>.html``. It may start
with ``key: value`` lines (``try``: a scenario's id, ``try_label``: its button's words) and a blank line; the rest is
Markdown (CommonMark with tables, no raw HTML). ``$…$`` is inline maths and ``$$…$$`` display maths, converted by
latex2mathml on the server, so the page needs no maths script and no CDN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from latex2mathml.converter import convert
from markdown_it import MarkdownIt

CARDS = Path(__file__).parent / "cards"
MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$", re.DOTALL)


HEADER = re.compile(r"(?:(?:try|try_label): [^\n]*\n)+\n")  # the optional header: known keys only, then a blank line


@dataclass(frozen=True)
class Card:
    slug: str  # the id of the section it explains
    html: str
    try_preset: str | None
    try_label: str | None


def render_markdown(text: str) -> str:
    """Markdown (no raw HTML) with ``$…$`` / ``$$…$$`` maths turned into MathML."""
    formulas: list[str] = []

    def stash(match: re.Match[str]) -> str:
        display, inline = match.group(1), match.group(2)
        mathml = _typeset(convert(display or inline, display="block" if display else "inline"))
        formulas.append(f'<span class="formula">{mathml}</span>' if display else mathml)
        return f"@@MATH{len(formulas) - 1}@@"

    html = MarkdownIt("commonmark", {"html": False}).enable("table").render(MATH.sub(stash, text))
    return re.sub(r"@@MATH(\d+)@@", lambda m: formulas[int(m.group(1))], html)


PRIMED = re.compile(r"<msup><mi>([^<]+)</mi><mi>&#x02032;</mi></msup>")


def _typeset(mathml: str) -> str:
    """Two repairs of latex2mathml's output for how browsers draw it: a hat is the modifier circumflex (U+02C6; the
    ASCII ``^`` sits high and small over Θ), and ``x'`` is x followed by the prime, which its glyph raises itself (as
    a superscript it is drawn tiny)."""
    hatted = mathml.replace("<mo>&#x0005E;</mo></mover>", "<mo>&#x002C6;</mo></mover>")
    return PRIMED.sub(r"<mi>\1</mi><mi>&#x02032;</mi>", hatted)


def parse_card(path: Path) -> Card:
    text = path.read_text(encoding="utf-8")
    header = HEADER.match(text)
    fields = dict(line.split(": ", 1) for line in header.group(0).split("\n") if line) if header else {}
    body = text[header.end():] if header else text
    return Card(path.stem, render_markdown(body), fields.get("try"), fields.get("try_label"))


@lru_cache(maxsize=1)
def load_cards() -> dict[str, Card]:
    """Every card, by the id of the section it explains."""
    return {path.stem: parse_card(path) for path in sorted(CARDS.glob("*.md"))}
