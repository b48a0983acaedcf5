"""What alembic compares and how it renders types; shared by env.py and the tests."""

from typing import Any, Literal

from tomo.db import StrEnumText, UTCDateTime
from tomo.marketplace.search import SEARCH_OBJECTS


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # The full-text index (and FTS5's shadow tables) is dialect-specific and
    # created by hand in migrations.
    shadow = (name or "").startswith(("marketplace_apps_fts_", "marketplace_apps_trigrams_"))
    return name not in SEARCH_OBJECTS and not shadow


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell plain SQLAlchemy types, not tomo's wrappers.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, StrEnumText):
        return f"sa.String(length={obj.length})"
    return False
