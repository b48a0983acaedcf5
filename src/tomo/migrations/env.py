"""Alembic environment: always runs on the connection tomo hands it."""

from typing import Any

from alembic import context

from tomo.db import Base
from tomo.marketplace import models  # noqa: F401  (registers the tables)
from tomo.marketplace.search import SEARCH_OBJECTS


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # The full-text index is dialect-specific and created by hand in migrations.
    return name not in SEARCH_OBJECTS


connection = context.config.attributes["connection"]
context.configure(
    connection=connection, target_metadata=Base.metadata, include_object=include_object
)
with context.begin_transaction():
    context.run_migrations()
