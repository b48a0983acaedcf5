"""ORM tables of accounts: users, sessions, API tokens, known devices, login
attempts and the audit log.

Session ids, API tokens and device cookies are long random values; only their
SHA-256 digests are stored (they cannot be guessed, so a fast hash is right, and
checking one costs no password hash).
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


class KnownDevice(Base):
    """A browser that logged in to an account before: its cookie outlives the session,
    and lets it try the account's password while strangers' guesses lock the account."""

    __tablename__ = "known_devices"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)  # its last login


class LoginAttempt(Base):
    """A login (or a current password) being checked, or that was wrong: counted per
    account, per address and per known device while it is recent (see throttle)."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), index=True)  # as tried: maybe no one's
    address: Mapped[str] = mapped_column(String(64), index=True)
    device: Mapped[str | None] = mapped_column(String(64), index=True)  # a known device's digest
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AuditEvent(Base):
    """One state-changing request or one login attempt: who, what, when, how it went."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str | None] = mapped_column(String(64))  # username; None: anonymous
    action: Mapped[str] = mapped_column(String(64))  # e.g. "install", "login"
    target: Mapped[str | None] = mapped_column(Text)  # e.g. "installations/3f2a…"
    # "ok"; "accepted" (a job was started: it records how it ends); the HTTP status of
    # a refusal or failure ("403", "409", "502"); "refused" (a tally, see audit_tally)
    outcome: Mapped[str] = mapped_column(String(16))
    client: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    # How many requests the row stands for: 1, or a tally's count (see audit_tally).
    count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
