"""What a search asks for, shared by both backends (and by the CLI's quick path:
this module imports nothing heavy)."""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Literal

from tomo.errors import InvalidInput
from tomo.marketplace.search import synonyms

SortKey = Literal["relevance", "name", "rating", "popularity", "updated"]
SORT_KEYS: tuple[SortKey, ...] = ("relevance", "name", "rating", "popularity", "updated")
MAX_TERMS = 12
MAX_PAGE = 200
# Far past any catalog, and well inside the databases' 64-bit integers.
MAX_OFFSET = 1_000_000_000

# Every sort ends in (name, repo_id, id) so pages are stable; each has an index
# in exactly this order (see models.py). Names sort without regard to case
# (qBittorrent among the q's): `sort_name` is the name folded to lower case.
SORT_COLUMNS: dict[SortKey, tuple[tuple[str, bool], ...]] = {
    "name": (("sort_name", False), ("repo_id", False), ("id", False)),
    "rating": (("avg_rating", True), ("rating_count", True), ("sort_name", False),
               ("repo_id", False), ("id", False)),
    "popularity": (("install_count", True), ("sort_name", False), ("repo_id", False),
                   ("id", False)),
    "updated": (("updated_at", True), ("sort_name", False), ("repo_id", False), ("id", False)),
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
    category: str | None = None  # as typed: filters ignore case (see `facet_value`)
    tags: tuple[str, ...] = field(default_factory=tuple)
    repo_id: str | None = None
    installable_only: bool = False  # leave out apps whose definition says tomo cannot
    one_per_app: bool = False  # of the same app in several repositories, one (families.py)
    sort: SortKey | None = None  # None: relevance when there is text, else name
    limit: int = 20
    offset: int = 0

    def __post_init__(self) -> None:
        # An empty filter is no filter; values are matched without regard to case.
        category = facet_value(self.category) if self.category else None
        tags = tuple(dict.fromkeys(facet_value(tag) for tag in self.tags if tag.strip()))
        object.__setattr__(self, "category", category or None)
        object.__setattr__(self, "tags", tags)
        check_paging(self.limit, self.offset)

    @property
    def terms(self) -> list[str]:
        return search_terms(self.text)

    @property
    def exact_name(self) -> str:
        """The text as an app's name would be if it were exactly that (lower(name),
        as `sort_name` holds it): such an app leads a ranking."""
        return " ".join((self.text or "").split()).lower()

    @property
    def effective_sort(self) -> SortKey:
        if self.sort is None or (self.sort == "relevance" and not self.terms):
            return "relevance" if self.terms else "name"
        return self.sort


@dataclass(frozen=True)
class Found:
    """What a backend found: all matches (estimated when `estimated`) and one page."""

    total: int
    pks: list[int]
    estimated: bool = False


@dataclass(frozen=True)
class Visibility:
    """Apps of disabled repos are hidden; the rest of the catalog is this big."""

    hidden_repos: tuple[str, ...]
    visible_apps: int


# A query's words as the engines match them: groups (all must match) of
# alternatives (any may match) of words (all must match), each word a list of
# forms (any may match, each as a prefix).
Forms = list[str]
Alternative = list[Forms]
Group = list[Alternative]


def term_groups(query: SearchQuery) -> list[Group]:
    """Each word of the query, or phrase of the synonyms table with its synonyms
    (synonyms.py), with every word's forms."""
    return [[[word_forms(word) for word in alternative] for alternative in group]
            for group in synonyms.expand(query.terms)]  # fmt: skip


def match_expression(groups: list[Group], form: str, *, conjunction: str, disjunction: str) -> str:
    """`groups` as one boolean expression of the engine's: `form` formats one form
    (a prefix match), `conjunction` and `disjunction` join parts (AND / OR, & / |)."""

    def either(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {disjunction} ".join(parts) + ")"

    def both(parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + f" {conjunction} ".join(parts) + ")"

    return f" {conjunction} ".join(
        either([both([either([form.format(f) for f in forms]) for forms in alternative])
                for alternative in group])
        for group in groups
    )  # fmt: skip


def check_paging(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}")
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be between 0 and {MAX_OFFSET}")


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def facet_value(value: str) -> str:
    """A category or tag as filters compare it: trimmed, ASCII letters in lower case
    (exactly what SQL's lower() does on both backends' stored values)."""
    return value.strip().translate(_ASCII_LOWER)


def word_forms(term: str) -> list[str]:
    """The term, and its stem when that differs (blocking → block, ads → ad): both
    are matched as prefixes, so word forms and unfinished words find the app."""
    stem = _stemmer().stemWord(term)
    return [term, stem] if stem != term and len(stem) >= 2 else [term]


@functools.cache
def _stemmer() -> Any:
    import snowballstemmer  # only for searches with text

    return snowballstemmer.stemmer("english")


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
