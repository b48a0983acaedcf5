"""Alembic environment: always runs on the connection tomo hands it."""

from typing import Any, Literal

from alembic import context

from tomo.db import Base, UTCDateTime
from tomo.deployment import models as deployment_models  # noqa: F401
from tomo.marketplace import models as marketplace_models  # noqa: F401  (registers tables)
from tomo.marketplace.search import SEARCH_OBJECTS
from tomo.servers import models as servers_models  # noqa: F401


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # The full-text index (and FTS5's shadow tables) is dialect-specific and
    # created by hand in migrations.
    return name not in SEARCH_OBJECTS and not (name or "").startswith("marketplace_apps_fts")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    # Migrations spell plain SQLAlchemy types, not tomo's wrappers.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
