"""ORM tables of accounts: users, sessions, API tokens and the audit log.

Session ids and API tokens are long random values; only their SHA-256 digests
are stored (they cannot be guessed, so a fast hash is right, and checking one
costs no password hash).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tomo.auth.roles import ROLES
from tomo.db import Base, UTCDateTime


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"role IN {ROLES}", name="role"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, parameters included
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BrowserSession(Base):
    """A login from a browser: the cookie holds the id, the table its digest."""

    __tablename__ = "auth_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)  # for the idle expiry
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the absolute expiry
    client: Mapped[str | None] = mapped_column(String(64))  # address it logged in from


class ApiToken(Base):
    """A named bearer token for scripts, with its owner's role."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # shown; not the secret
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One state-changing request or one login attempt: who, what, when, how it went."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str | None] = mapped_column(String(64))  # username; None: anonymous
    action: Mapped[str] = mapped_column(String(64))  # e.g. "install", "login"
    target: Mapped[str | None] = mapped_column(Text)  # e.g. "installations/3f2a…"
    outcome: Mapped[str] = mapped_column(String(16))  # "ok", or the HTTP status
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
