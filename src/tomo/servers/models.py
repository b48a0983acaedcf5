"""ORM table of the servers registry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tomo.db import Base, UTCDateTime

AUTH_TYPES = ("key", "password")
SERVER_STATUSES = ("unknown", "online", "offline", "error")


class Server(Base):
    """A host tomo reaches over SSH; credentials are stored encrypted."""

    __tablename__ = "servers"
    __table_args__ = (
        CheckConstraint(f"auth_type IN {AUTH_TYPES}", name="auth_type"),
        CheckConstraint(f"status IN {SERVER_STATUSES}", name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer, default=22)
    username: Mapped[str] = mapped_column(String(64))
    auth_type: Mapped[str] = mapped_column(String(16))
    # Fernet tokens; never returned by any read.
    password_enc: Mapped[str | None] = mapped_column(Text)
    private_key_enc: Mapped[str | None] = mapped_column(Text)
    passphrase_enc: Mapped[str | None] = mapped_column(Text)
    # The pinned host key (OpenSSH public key line) and its SHA256 fingerprint;
    # None until the user trusts one.
    host_key: Mapped[str | None] = mapped_column(Text)
    host_key_fingerprint: Mapped[str | None] = mapped_column(String(128))
    data_root: Mapped[str] = mapped_column(Text, default="/opt/tomo/apps")
    use_sudo: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="unknown")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Facts gathered by the last successful check (see facts.py).
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    facts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Its front door (see tomo.proxy): the base domain apps are named under, how it
    # speaks TLS (internal, acme, off), the ACME CA, its root (PEM, a private CA's)
    # and account email, and the host ports it publishes for HTTP and HTTPS.
    domain: Mapped[str | None] = mapped_column(String(253))
    tls_mode: Mapped[str] = mapped_column(String(16), default="internal")
    acme_ca: Mapped[str | None] = mapped_column(Text)
    acme_email: Mapped[str | None] = mapped_column(String(320))
    acme_ca_root: Mapped[str | None] = mapped_column(Text)
    # ACME's DNS-01 challenge: the provider (Caddy's dns.providers.<name>) and its
    # fields as sealed JSON (see tomo.crypto); None: HTTP-01.
    dns_provider: Mapped[str | None] = mapped_column(String(64))
    dns_credentials_enc: Mapped[str | None] = mapped_column(Text)
    proxy_http_port: Mapped[int] = mapped_column(Integer, default=80)
    proxy_https_port: Mapped[int] = mapped_column(Integer, default=443)
    # Who is changing its front door, and when they last said so (see proxy/lease.py).
    door_changing_by: Mapped[str | None] = mapped_column(String(32))
    door_changing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
