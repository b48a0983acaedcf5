"""Characters that change how a text looks without showing themselves.

Bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to U+2069)
reorder what follows them, so a name can show as another's, or hide its end;
zero-width spaces and joiners (U+200B to U+200D, U+2060) and the byte order mark
(U+FEFF) make two names that look the same different (a lookalike of a trusted
app that sorts beside it); direction marks (U+200E, U+200F, U+061C) do both in
a smaller way. A catalog has no use for them that outweighs that, so they are
removed from every text of a definition as it is loaded, whatever the store's
format (AppDefinition calls `strip_invisible` on its raw input), and the sync
report says where.
"""

from __future__ import annotations

import re
from typing import Any

INVISIBLE = (
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width space, non-joiner, joiner, word joiner, BOM
    "\u200e\u200f\u061c"  # left-to-right, right-to-left and Arabic letter marks
)
_REMOVED = dict.fromkeys(map(ord, INVISIBLE))
_ANY_OF_THEM = re.compile(f"[{re.escape(INVISIBLE)}]")


def strip_invisible(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """`value` (a definition as loaded: mappings, lists, texts, numbers) with those
    characters removed from every text in it, and the places where some were (as
    errors name fields: `settings[0].label`). Mapping keys are left as written:
    they are names the definition's own checks refuse when malformed.

    Every validation of an AppDefinition asks this (each file of a sync, each stored
    definition a deployment loads), and almost no text holds one: `value` itself is
    returned, uncopied, unless a look through its texts finds some."""
    if not _holds_invisible(value):
        return value, []
    return _strip(value, where)


def _holds_invisible(value: Any) -> bool:
    if isinstance(value, str):  # ASCII text, most of any definition, cannot hold one
        return not value.isascii() and _ANY_OF_THEM.search(value) is not None
    if isinstance(value, dict):
        return any(map(_holds_invisible, value.values()))
    if isinstance(value, list):
        return any(map(_holds_invisible, value))
    return False


def _strip(value: Any, where: str) -> tuple[Any, list[str]]:
    if isinstance(value, str):
        cleaned = value.translate(_REMOVED)
        return cleaned, ([where or "(text)"] if cleaned != value else [])
    if isinstance(value, dict):
        return _mapping(value, where)
    if isinstance(value, list):
        return _sequence(value, where)
    return value, []


def _mapping(value: dict[Any, Any], where: str) -> tuple[dict[Any, Any], list[str]]:
    result: dict[Any, Any] = {}
    places: list[str] = []
    for key, item in value.items():
        result[key], found = _strip(item, f"{where}.{key}" if where else str(key))
        places += found
    return result, places


def _sequence(value: list[Any], where: str) -> tuple[list[Any], list[str]]:
    result: list[Any] = []
    places: list[str] = []
    for index, item in enumerate(value):
        cleaned, found = _strip(item, f"{where}[{index}]")
        result.append(cleaned)
        places += found
    return result, places


def removed_warning(places: list[str]) -> str | None:
    """The sync report's words for a definition that had some removed (None: none)."""
    if not places:
        return None
    shown = ", ".join(places[:8]) + (f" and {len(places) - 8} more" if len(places) > 8 else "")
    return (
        "invisible formatting characters (bidirectional controls, zero-width characters) "
        f"removed from {shown}: they can make a name look like another's"
    )
