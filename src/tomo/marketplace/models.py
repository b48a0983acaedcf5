"""ORM tables of the marketplace: repos, apps, definition sources and ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Computed,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

from tomo.db import Base, UTCDateTime
from tomo.marketplace.kinds import REPO_TYPES

REPO_STATUSES = ("active", "syncing", "error")


class MarketplaceRepo(Base):
    """A git repository of app definitions the user subscribed to."""

    __tablename__ = "marketplace_repos"
    __table_args__ = (
        CheckConstraint(f"repo_type IN {REPO_TYPES}", name="repo_type"),
        CheckConstraint(f"status IN {REPO_STATUSES}", name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    url: Mapped[str] = mapped_column(Text)  # never with credentials in it
    # Credentials for the URL (JSON {"username", "password"}), Fernet-encrypted.
    credentials_enc: Mapped[str | None] = mapped_column(Text)
    branch: Mapped[str] = mapped_column(String(255), default="main")
    repo_type: Mapped[str] = mapped_column(String(16), default="community")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The catalog format its owner set (tomo, casaos, runtipi, umbrel, portainer);
    # None: detected from the files on every sync.
    format: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_synced: Mapped[datetime | None] = mapped_column(UTCDateTime)
    app_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_commit: Mapped[str | None] = mapped_column(String(64))
    # The last sync report (counts and per-file errors), shown until the next sync.
    last_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the running sync took its lease; a stale lease may be taken over.
    sync_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    @property
    def has_credentials(self) -> bool:
        """What the faces may say about the credentials: whether there are any."""
        return self.credentials_enc is not None


class MarketplaceAppRow(Base):
    """One synced app definition; the catalog key is (repo_id, id)."""

    __tablename__ = "marketplace_apps"
    __table_args__ = (
        UniqueConstraint("repo_id", "id", name="uq_marketplace_apps_repo_app"),
        Index("ix_marketplace_apps_app_id", "id"),
        Index("ix_marketplace_apps_category", "category"),
        Index("ix_marketplace_apps_family", "family"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Lookups by repo use the (repo_id, id) unique index.
    repo_id: Mapped[str] = mapped_column(ForeignKey("marketplace_repos.id", ondelete="CASCADE"))
    id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    # The name as sorts order it (qBittorrent among the q's); see search/query.py.
    sort_name: Mapped[str] = mapped_column(String(128), Computed("lower(name)"))
    description: Mapped[str] = mapped_column(Text)
    version: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    # JSONB on PostgreSQL so a GIN index serves tag filters.
    tags: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    author: Mapped[str] = mapped_column(Text)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)
    # False when the definition says why tomo cannot install it (details.not_installable).
    installable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The same app in several repositories: its name folded (families.py), and whether
    # this row is the one the store shows for it.
    family: Mapped[str] = mapped_column(String(128), default="", server_default="")
    represents: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    docker_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    requirements: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Descriptive fields that are shown but never filtered on (license, icon, links…).
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    risks: Mapped[list[str]] = mapped_column(JSON)
    source_path: Mapped[str] = mapped_column(Text)
    source_blob: Mapped[str] = mapped_column(String(64))
    avg_rating: Mapped[float] = mapped_column(Float, default=0.0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    install_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def _sort_index(name: str, *columns: ColumnElement[Any]) -> Index:
    """An index in the exact order of one search sort (see search/query.py)."""
    table = MarketplaceAppRow
    return Index(name, *columns, table.sort_name, table.repo_id, table.id)


_sort_index("ix_marketplace_apps_sort_name")
_sort_index(
    "ix_marketplace_apps_sort_rating",
    MarketplaceAppRow.avg_rating.desc(),
    MarketplaceAppRow.rating_count.desc(),
)
_sort_index("ix_marketplace_apps_sort_popularity", MarketplaceAppRow.install_count.desc())
_sort_index("ix_marketplace_apps_sort_updated", MarketplaceAppRow.updated_at.desc())


class MarketplaceSource(Base):
    """Every definition file seen by the last sync, with its blob and outcome.

    Kept so a re-sync parses only files whose blob changed and can still
    report the errors of unchanged bad files.
    """

    __tablename__ = "marketplace_sources"

    repo_id: Mapped[str] = mapped_column(
        ForeignKey("marketplace_repos.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    blob: Mapped[str] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    warning: Mapped[str | None] = mapped_column(Text)


class MarketplaceRating(Base):
    """One account's 1-5 rating of one app; kept when the app leaves and returns.

    Keyed by the account's id, never its name: a name freed by a deleted account
    may be taken by another, who must not inherit the ratings. They go with the
    account (see ratings.py), so every rating is someone's who can change it."""

    __tablename__ = "marketplace_ratings"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        ForeignKeyConstraint(["repo_id"], ["marketplace_repos.id"], ondelete="CASCADE"),
    )

    repo_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    rating: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TomoState(Base):
    """Small key/value facts about this installation of tomo itself."""

    __tablename__ = "tomo_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
