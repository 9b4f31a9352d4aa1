"""The concept cards: Markdown files with a small header, rendered once to HTML with maths as MathML.

A card file starts with ``key: value`` lines (``title``, ``kind``, ``try``, ``try_label``) and a
blank line, then Markdown. ``$…$`` is inline maths and ``$$…$$`` display maths, converted by
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


@dataclass(frozen=True)
class Card:
    slug: str
    kind: str
    title: str
    html: str
    try_preset: str | None
    try_label: str | None


def render_markdown(text: str) -> str:
    """Markdown (no raw HTML) with ``$…$`` / ``$$…$$`` maths turned into MathML."""
    formulas: list[str] = []

    def stash(match: re.Match[str]) -> str:
        display, inline = match.group(1), match.group(2)
        formulas.append(convert(display or inline, display="block" if display else "inline"))
        return f"@@MATH{len(formulas) - 1}@@"

    html = MarkdownIt("commonmark", {"html": False}).render(MATH.sub(stash, text))
    return re.sub(r"@@MATH(\d+)@@", lambda m: formulas[int(m.group(1))], html)


def parse_card(path: Path) -> Card:
    header, _, body = path.read_text(encoding="utf-8").partition("\n\n")
    fields = dict(line.split(": ", 1) for line in header.splitlines())
    return Card(path.stem.split("-", 1)[1], fields["kind"], fields["title"], render_markdown(body),
                fields.get("try"), fields.get("try_label"))


@lru_cache(maxsize=1)
def load_cards() -> tuple[Card, ...]:
    """Every card, in file-name order."""
    return tuple(parse_card(path) for path in sorted(CARDS.glob("*.md")))
