"""The store's vocabulary (categories and search words) as docs/store-vocabulary.md
tells it, and the synonyms' grouping of a query."""

from __future__ import annotations

from pathlib import Path

import pytest

from tomo.marketplace.categories import VOCABULARY, canonical_category, category_label
from tomo.marketplace.search.synonyms import SYNONYMS, expand

DOC = (Path(__file__).parents[2] / "docs" / "store-vocabulary.md").read_text()


def _row(first_cell: str) -> str:
    rows = [line for line in DOC.splitlines() if line.startswith(f"| {first_cell} |")]
    assert len(rows) == 1, f"docs/store-vocabulary.md has no row for {first_cell}"
    return rows[0]


@pytest.mark.parametrize("slug", list(VOCABULARY))
def test_every_category_is_documented_with_its_words(slug: str) -> None:
    row = _row(f"`{slug}`")
    entry = VOCABULARY[slug]
    assert f"| {entry.label} |" in row
    for word in entry.words:
        assert f"`{word}`" in row, f"{word} of {slug} is not in the document"


@pytest.mark.parametrize(("typed", "products"), SYNONYMS)
def test_every_search_phrase_is_documented(
    typed: tuple[str, ...], products: tuple[str, ...]
) -> None:
    row = _row(", ".join(f"`{phrase}`" for phrase in typed))
    for product in products:
        assert f"`{product}`" in row


def test_a_word_belongs_to_one_category_and_unknown_ones_stay() -> None:
    words = [word for entry in VOCABULARY.values() for word in entry.words]
    assert len(words) == len(set(words))
    assert all(canonical_category(slug) == slug for slug in VOCABULARY)
    assert canonical_category("development") == "developer"
    assert canonical_category("lab-bench") == "lab-bench"
    assert (category_label("ai"), category_label("lab-bench"), category_label("")) == (
        "AI", "Lab bench", "Other")  # fmt: skip


def test_a_phrase_people_type_is_one_group_of_its_synonyms() -> None:
    groups = expand(["best", "password", "manager", "jellyfin"])
    assert groups[0] == [["best"]]
    assert groups[1][0] == ["password", "manager"]
    assert ["vaultwarden"] in groups[1] and ["password", "vault"] in groups[1]
    assert groups[2] == [["jellyfin"]]  # a product is not widened
    assert len(groups) == 3
