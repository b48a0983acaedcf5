"""Tables of the event list, the notification channels and who has read what."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tomo.db import Base, StrEnumText, UTCDateTime
from tomo.events.kinds import EventKind, Severity


class Event(Base):
    """Something tomo noticed. Server and installation are copied as text, not
    referenced: the list outlives an installation that is gone (a failed install's)."""

    __tablename__ = "events"
    # An installation's events, newest first (its health history) without a scan.
    __table_args__ = (Index("ix_events_installation_id", "installation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[EventKind] = mapped_column(StrEnumText(EventKind, 32))
    severity: Mapped[Severity] = mapped_column(StrEnumText(Severity, 16))
    server_id: Mapped[str | None] = mapped_column(String(64))
    installation_id: Mapped[str | None] = mapped_column(String(64))
    installation_name: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)


class NotificationChannel(Base):
    """An Apprise URL that events are sent to. The URL holds tokens and passwords:
    only its sealed form is stored, with a masked one (scheme and host) to show."""

    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url_enc: Mapped[str] = mapped_column(Text)
    url_masked: Mapped[str] = mapped_column(String(300))
    # The kinds it takes (EventKind values); None: every kind, those added later too.
    kinds: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EventsSeen(Base):
    """How far each user has read the list (the newest event id they saw). Keyed by
    the user's id without a reference: the local CLI reads as 'local', no user row."""

    __tablename__ = "events_seen"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_up_to: Mapped[int] = mapped_column(Integer)
