"""Jobs outlive their installation and keep a journal; repo credentials sealed.

- jobs: the installation may go (a failed install leaves no record behind but its
  job), so `installation_id` is nullable (SET NULL) and the job names its server,
  instance and app itself; `journal` holds what the operation changed so far, to
  undo or finish it after an interruption; `created_at` orders job listings.
- installations: `created_paths` goes (the journal of each job holds what it made;
  an installation owns every directory tomo places under its instance folder).
- marketplace_repos: credentials embedded in a URL (`https://user:token@host/…`)
  move, encrypted, into `credentials_enc`; the URL keeps no secret.

Revision ID: 0006
Revises: 0005
"""

import json
from urllib.parse import unquote, urlsplit, urlunsplit

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_constraint("fk_jobs_installation_id_installations", type_="foreignkey")
        batch.alter_column("installation_id", existing_type=sa.String(32), nullable=True)
        batch.create_foreign_key(
            "fk_jobs_installation_id_installations", "installations",
            ["installation_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
        batch.add_column(sa.Column("server_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("installation_name", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("app", sa.String(length=160), nullable=True))
        batch.add_column(sa.Column("journal", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE jobs SET created_at = started_at, "
        "server_id = (SELECT server_id FROM installations i WHERE i.id = jobs.installation_id), "
        "installation_name = (SELECT name FROM installations i WHERE i.id = jobs.installation_id)"
    )
    op.create_index(op.f("ix_jobs_created_at"), "jobs", ["created_at"], unique=False)
    with op.batch_alter_table("installations") as batch:
        batch.drop_column("created_paths")
    op.add_column("marketplace_repos", sa.Column("credentials_enc", sa.Text(), nullable=True))
    _seal_repo_credentials()


def _seal_repo_credentials() -> None:
    """Move `user:token@` out of stored https URLs, encrypted with tomo's secret key."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, url FROM marketplace_repos WHERE url LIKE '%@%'"))
    found = [(repo_id, *_split(url)) for repo_id, url in rows]
    found = [row for row in found if row[2] is not None]
    settings = context.config.attributes.get("settings")
    if not found or settings is None:
        return
    from tomo.crypto import Secrets  # only when there is something to seal

    secrets = Secrets(settings.secret_key, settings.data_dir)
    for repo_id, url, credentials in found:
        bind.execute(
            sa.text("UPDATE marketplace_repos SET url = :url, credentials_enc = :sealed "
                    "WHERE id = :id"),
            {"url": url, "sealed": secrets.encrypt(json.dumps(credentials)), "id": repo_id},
        )  # fmt: skip


def _split(url: str) -> tuple[str, dict[str, str] | None]:
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=host))
    return clean, {"username": unquote(username), "password": unquote(password)}


def downgrade() -> None:
    op.drop_column("marketplace_repos", "credentials_enc")
    with op.batch_alter_table("installations") as batch:
        batch.add_column(sa.Column("created_paths", sa.JSON(), nullable=False, server_default="[]"))
    op.drop_index(op.f("ix_jobs_created_at"), table_name="jobs")
    op.execute("DELETE FROM jobs WHERE installation_id IS NULL")
    with op.batch_alter_table("jobs") as batch:
        for column in ("created_at", "journal", "app", "installation_name", "server_id"):
            batch.drop_column(column)
        batch.drop_constraint("fk_jobs_installation_id_installations", type_="foreignkey")
        batch.alter_column("installation_id", existing_type=sa.String(32), nullable=False)
        batch.create_foreign_key(
            "fk_jobs_installation_id_installations", "installations",
            ["installation_id"], ["id"], ondelete="CASCADE",
        )  # fmt: skip
