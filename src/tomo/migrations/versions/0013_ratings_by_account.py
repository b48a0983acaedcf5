"""Ratings belong to an account's id, not to a name a later account could take.

Ratings were keyed by the rater's name: a deleted account's ratings passed to
whoever took the name next, and the two could not be told apart. Each rating now
names the account's id, with a foreign key that removes it with the account.

Existing ratings are matched to today's accounts by name (case aside: tomo's
names are lowercase, the CLI's --user was taken as typed; when one account rated
an app under two spellings, the newest rating stays). A rating no account's name
matches is no one's any more and is dropped. The apps' totals are counted again.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

RATINGS = "marketplace_ratings"
ORPHANS = "DELETE FROM marketplace_ratings WHERE lower(user_id) NOT IN (SELECT username FROM users)"
# Two spellings of one account's name for one app: all but the newest (then the
# greatest spelling, so that exactly one stays).
SPELLINGS = """
DELETE FROM marketplace_ratings WHERE EXISTS (
    SELECT 1 FROM marketplace_ratings AS other
    WHERE other.repo_id = marketplace_ratings.repo_id
      AND other.app_id = marketplace_ratings.app_id
      AND lower(other.user_id) = lower(marketplace_ratings.user_id)
      AND other.user_id <> marketplace_ratings.user_id
      AND (other.updated_at > marketplace_ratings.updated_at
           OR (other.updated_at = marketplace_ratings.updated_at
               AND other.user_id > marketplace_ratings.user_id)))
"""
TO_IDS = """
UPDATE marketplace_ratings SET user_id =
    (SELECT id FROM users WHERE users.username = lower(marketplace_ratings.user_id))
"""
RECOUNT = """
UPDATE marketplace_apps SET
    rating_sum = COALESCE((SELECT SUM(r.rating) FROM marketplace_ratings r
                           WHERE r.repo_id = marketplace_apps.repo_id
                             AND r.app_id = marketplace_apps.id), 0),
    rating_count = (SELECT COUNT(*) FROM marketplace_ratings r
                    WHERE r.repo_id = marketplace_apps.repo_id
                      AND r.app_id = marketplace_apps.id),
    avg_rating = COALESCE((SELECT AVG(CAST(r.rating AS FLOAT)) FROM marketplace_ratings r
                           WHERE r.repo_id = marketplace_apps.repo_id
                             AND r.app_id = marketplace_apps.id), 0)
"""
TO_NAMES = """
UPDATE marketplace_ratings SET user_id =
    (SELECT username FROM users WHERE users.id = marketplace_ratings.user_id)
"""


def upgrade() -> None:
    for statement in (ORPHANS, SPELLINGS, TO_IDS, RECOUNT):
        op.execute(statement)
    with op.batch_alter_table(RATINGS) as batch:
        batch.alter_column("user_id", existing_type=sa.String(length=128),
                           type_=sa.String(length=32), existing_nullable=False)  # fmt: skip
        batch.create_foreign_key(op.f("fk_marketplace_ratings_user_id_users"), "users",
                                 ["user_id"], ["id"], ondelete="CASCADE")  # fmt: skip
    op.create_index(op.f("ix_marketplace_ratings_user_id"), RATINGS, ["user_id"])


def downgrade() -> None:
    """Back to names: each rating names its account's current name."""
    op.drop_index(op.f("ix_marketplace_ratings_user_id"), table_name=RATINGS)
    with op.batch_alter_table(RATINGS) as batch:
        batch.drop_constraint(op.f("fk_marketplace_ratings_user_id_users"), type_="foreignkey")
        batch.alter_column("user_id", existing_type=sa.String(length=32),
                           type_=sa.String(length=128), existing_nullable=False)  # fmt: skip
    op.execute(TO_NAMES)
