"""An installation's events found by index (its page's health history, the Events
page's filter), newest first, however long the list grows.

Revision ID: 0027
Revises: 0026
"""

from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_installation_id", "events", ["installation_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_installation_id", table_name="events")
