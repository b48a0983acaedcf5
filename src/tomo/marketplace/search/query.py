"""What a search asks for, shared by both backends."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

SortKey = Literal["relevance", "name", "rating", "popularity", "updated"]
SORT_KEYS: tuple[SortKey, ...] = ("relevance", "name", "rating", "popularity", "updated")
MAX_TERMS = 12

# Every sort ends in (name, repo_id, id) so pages are stable; each has an index
# in exactly this order (see models.py).
SORT_COLUMNS: dict[SortKey, tuple[tuple[str, bool], ...]] = {
    "name": (("name", False), ("repo_id", False), ("id", False)),
    "rating": (("avg_rating", True), ("rating_count", True), ("name", False), ("repo_id", False),
               ("id", False)),
    "popularity": (("install_count", True), ("name", False), ("repo_id", False), ("id", False)),
    "updated": (("updated_at", True), ("name", False), ("repo_id", False), ("id", False)),
}  # fmt: skip
SORT_INDEXES: dict[SortKey, str] = {
    "name": "ix_marketplace_apps_sort_name",
    "rating": "ix_marketplace_apps_sort_rating",
    "popularity": "ix_marketplace_apps_sort_popularity",
    "updated": "ix_marketplace_apps_sort_updated",
}


@dataclass(frozen=True)
class SearchQuery:
    text: str | None = None
    category: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    repo_id: str | None = None
    sort: SortKey | None = None  # None: relevance when there is text, else name
    limit: int = 20
    offset: int = 0

    @property
    def terms(self) -> list[str]:
        return search_terms(self.text)

    @property
    def effective_sort(self) -> SortKey:
        if self.sort is None or (self.sort == "relevance" and not self.terms):
            return "relevance" if self.terms else "name"
        return self.sort


@dataclass(frozen=True)
class Visibility:
    """Apps of disabled repos are hidden; the rest of the catalog is this big."""

    hidden_repos: tuple[str, ...]
    visible_apps: int


def fts_terms(query: SearchQuery) -> list[tuple[str, bool]]:
    """(term, is_prefix) pairs: as in search-as-you-type, only the last word
    may be unfinished; earlier ones match whole words (which is also far
    cheaper than expanding every word as a prefix)."""
    terms = query.terms
    return [(term, n == len(terms) - 1) for n, term in enumerate(terms)]


def search_terms(text_: str | None) -> list[str]:
    """Words of the query; punctuation and operators never reach the engine."""
    return re.findall(r"\w+", fold_accents(text_ or "").lower())[:MAX_TERMS]


def _accent_table() -> tuple[str, str]:
    """Latin letters with diacritics and their bare letters, one for one, so the same
    folding runs in Python (queries) and in SQL `translate()` (PostgreSQL's index)."""
    accented, bare = [], []
    for code in range(0x00C0, 0x0250):
        letter = chr(code)
        base = unicodedata.normalize("NFKD", letter)[0]
        if base != letter and base.isascii() and base.isalpha():
            accented.append(letter)
            bare.append(base)
    for letter, base in ("øo", "ØO", "đd", "ĐD", "łl", "ŁL", "ıi", "ħh", "ĦH"):
        accented.append(letter)
        bare.append(base)
    return "".join(accented), "".join(bare)


ACCENTED, UNACCENTED = _accent_table()
_FOLD = str.maketrans(ACCENTED, UNACCENTED)


def fold_accents(text_: str) -> str:
    return text_.translate(_FOLD)
