"""The content — concept cards and presets — is consistent: every button leads somewhere, every id is usable in a URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.content import CARDS, Card, load_cards, render_markdown
from app.content.presets import PRESETS, PRESETS_BY_ID, Preset
from app.web.routes import SECTIONS_BY_ID

HEADER_KEYS = {"try", "try_label"}  # what app/content/__init__.py reads from a card's header
URL_SAFE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # lower-case words joined by hyphens: no escaping in a URL or HTML id


def test_every_section_has_its_card_and_every_card_its_section() -> None:
    # The story: each section's text is its card (app/content/cards/<section id>.md), rendered beside its figure.
    assert set(load_cards()) == set(SECTIONS_BY_ID) and len(load_cards()) == len(list(CARDS.glob("*.md")))


@pytest.mark.parametrize("card", load_cards().values(), ids=lambda card: card.slug)
def test_every_cards_try_button_names_an_existing_preset(card: Card) -> None:
    assert card.try_preset is None or card.try_preset in PRESETS_BY_ID


@pytest.mark.parametrize("card", load_cards().values(), ids=lambda card: card.slug)
def test_every_try_button_has_a_label_and_every_label_a_button(card: Card) -> None:
    assert (card.try_preset is None) == (card.try_label is None)


@pytest.mark.parametrize("card", load_cards().values(), ids=lambda card: card.slug)
def test_every_card_has_a_body(card: Card) -> None:
    assert card.html.strip()


@pytest.mark.parametrize("card", load_cards().values(), ids=lambda card: card.slug)
def test_every_formula_in_a_card_became_mathml(card: Card) -> None:
    # An unmatched $ would be printed as a dollar sign; a lost placeholder as @@MATHk@@.
    assert "$" not in card.html and "@@MATH" not in card.html


@pytest.mark.parametrize("path", sorted(CARDS.glob("*.md")), ids=lambda path: path.name)
def test_card_headers_use_only_the_keys_the_loader_reads(path: Path) -> None:
    # A misspelt key ("Try:", "try-label:") would not be read as a header but printed as the card's first line.
    first = path.read_text(encoding="utf-8").partition("\n\n")[0]
    keys = {line.split(": ", 1)[0] for line in first.splitlines()}
    assert keys <= HEADER_KEYS or not any(re.fullmatch(r"[a-z_-]+", key, re.I) for key in keys)


def test_the_story_reads_in_the_order_the_product_asks_for() -> None:
    # The question and the city; what the kernel is; why a wide network freezes; drift against width; the forecast;
    # NNGP and NTK; where the picture fails (PRODUCT.md, "The page"; issue 12).
    story = ["widen", "ring", "maps", "freeze", "drift", "forecast", "nngp", "breaks", "limits"]
    assert [section for section in SECTIONS_BY_ID if section in story] == story


def test_preset_ids_are_unique() -> None:
    ids = [preset.id for preset in PRESETS]
    assert len(ids) == len(set(ids)) == len(PRESETS_BY_ID)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.id)
def test_preset_ids_are_url_safe(preset: Preset) -> None:
    assert URL_SAFE_ID.fullmatch(preset.id)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.id)
def test_every_preset_has_a_title_and_a_description(preset: Preset) -> None:
    assert preset.title.strip() and preset.description.strip()


def test_hats_and_primes_are_typeset_as_browsers_draw_them_well() -> None:
    html = render_markdown(r"$\hat\Theta(x, x')$ and $$\Theta^{-1}$$")
    assert "<mo>&#x002C6;</mo></mover>" in html and "&#x0005E;" not in html  # ˆ over Θ, not a raised ASCII caret
    assert "<mi>x</mi><mi>&#x02032;</mi>" in html and "<msup><mi>x</mi><mi>&#x02032;" not in html
    assert '<span class="formula"><math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in html


def test_cards_may_hold_tables() -> None:
    assert "<table>" in render_markdown("| a | b |\n| --- | --- |\n| 1 | 2 |")
