"""The content — concept cards and presets — is consistent: every button leads somewhere, every id is usable in a URL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.content import CARDS, Card, load_cards
from app.content.presets import PRESETS, PRESETS_BY_ID, Preset

HEADER_KEYS = {"title", "kind", "try", "try_label"}  # what app/content/__init__.py reads from a card's header
URL_SAFE_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")  # lower-case words joined by hyphens: no escaping in a URL or HTML id


def test_there_are_cards_to_check() -> None:
    assert len(load_cards()) == len(list(CARDS.glob("*.md"))) >= 1


@pytest.mark.parametrize("card", load_cards(), ids=lambda card: card.slug)
def test_every_cards_try_button_names_an_existing_preset(card: Card) -> None:
    assert card.try_preset is None or card.try_preset in PRESETS_BY_ID


@pytest.mark.parametrize("card", load_cards(), ids=lambda card: card.slug)
def test_every_try_button_has_a_label_and_every_label_a_button(card: Card) -> None:
    assert (card.try_preset is None) == (card.try_label is None)


@pytest.mark.parametrize("card", load_cards(), ids=lambda card: card.slug)
def test_every_card_has_a_title_a_kind_and_a_body(card: Card) -> None:
    assert card.title.strip() and card.kind.strip() and card.html.strip()


@pytest.mark.parametrize("card", load_cards(), ids=lambda card: card.slug)
def test_every_formula_in_a_card_became_mathml(card: Card) -> None:
    # An unmatched $ would be printed as a dollar sign; a lost placeholder as @@MATHk@@.
    assert "$" not in card.html and "@@MATH" not in card.html


@pytest.mark.parametrize("path", sorted(CARDS.glob("*.md")), ids=lambda path: path.name)
def test_card_headers_use_only_the_keys_the_loader_reads(path: Path) -> None:
    # A misspelt key ("Try:", "try-label:") would be silently ignored and its button lost.
    header = path.read_text(encoding="utf-8").partition("\n\n")[0]
    assert {line.split(": ", 1)[0] for line in header.splitlines()} <= HEADER_KEYS


def test_card_slugs_are_unique_because_they_are_html_ids() -> None:
    slugs = [card.slug for card in load_cards()]
    assert len(slugs) == len(set(slugs))


def test_preset_ids_are_unique() -> None:
    ids = [preset.id for preset in PRESETS]
    assert len(ids) == len(set(ids)) == len(PRESETS_BY_ID)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.id)
def test_preset_ids_are_url_safe(preset: Preset) -> None:
    assert URL_SAFE_ID.fullmatch(preset.id)


@pytest.mark.parametrize("preset", PRESETS, ids=lambda preset: preset.id)
def test_every_preset_has_a_title_and_a_description(preset: Preset) -> None:
    assert preset.title.strip() and preset.description.strip()
