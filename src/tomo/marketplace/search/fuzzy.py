"""Typo tolerance: trigram similarity, as PostgreSQL's pg_trgm computes it.

When no app matches a query's words, apps whose name, category or tags hold
words *like* them are offered instead (`jellyfn` finds Jellyfin). Each backend
finds candidates with its trigram index; this module scores them the same way
on both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from tomo.marketplace.search.query import Found

# Below this, two words are not alike (pg_trgm's default is 0.3 for whole strings;
# word against word needs more: "blocker" is 0.36 like "docker", 0.5 like "blocks").
THRESHOLD = 0.4
# How many candidates a backend's trigram index may offer for scoring.
CANDIDATES = 200
MIN_TERM = 3  # shorter words have too few trigrams to compare


def trigrams(word: str) -> set[str]:
    """The word's trigrams, padded as pg_trgm pads them (two spaces before, one after)."""
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    left, right = trigrams(a), trigrams(b)
    return len(left & right) / len(left | right) if left and right else 0.0


def fuzzy_terms(terms: Iterable[str]) -> list[str]:
    return [term for term in terms if len(term) >= MIN_TERM]


def inner_trigrams(terms: Iterable[str]) -> list[str]:
    """The unpadded trigrams of the terms: what a trigram index can be asked for."""
    found = {term[i : i + 3] for term in terms for i in range(len(term) - 2)}
    return sorted(found)


def score(terms: list[str], text: str) -> float:
    """How well the text's words match the terms: every term must find a word like
    it, so the weakest term's best match is the score."""
    words = set(re.findall(r"\w+", text.lower()))
    if not terms or not words:
        return 0.0
    return min(max(similarity(term, word) for word in words) for term in terms)


def best(terms: list[str], candidates: Iterable[Sequence[Any]], offset: int, limit: int) -> Found:
    """Candidates (pk, words, popularity) alike enough, best first, then most popular."""
    scored = [(score(terms, words), popularity, pk) for pk, words, popularity in candidates]
    alike = sorted((-s, -p, pk) for s, p, pk in scored if s >= THRESHOLD)
    pks = [pk for _, _, pk in alike]
    return Found(len(pks), pks[offset : offset + limit])
