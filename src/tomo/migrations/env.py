"""Alembic environment: always runs on the connection tomo hands it."""

from alembic import context

from tomo.auth import models as auth_models  # noqa: F401
from tomo.db import Base
from tomo.deployment import models as deployment_models  # noqa: F401
from tomo.marketplace import models as marketplace_models  # noqa: F401  (registers tables)
from tomo.migrations.filters import include_object, render_item
from tomo.servers import models as servers_models  # noqa: F401

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=include_object,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
