"""Alembic migrations of tomo's schema."""

# The newest migration; a test checks it against alembic's head. Kept here, light,
# so the CLI's quick paths can check a database without loading SQLAlchemy.
SCHEMA_REVISION = "0027"
