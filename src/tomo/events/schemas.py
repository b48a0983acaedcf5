"""What the events feature's faces send and receive. A channel's URL goes in,
never out: answers carry its masked form (scheme and host)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, SecretStr

from tomo.events.kinds import EventKind, Severity


class EventPublic(BaseModel):
    """One entry of the event list, as every face shows it."""

    id: int
    at: datetime
    kind: EventKind
    severity: Severity
    server_id: str | None
    installation_id: str | None
    installation_name: str | None
    title: str
    detail: str | None
    unread: bool  # newer than what the asking user has marked read


class EventsPage(BaseModel):
    """The newest events (newest first) and how many the asking user has not read."""

    events: list[EventPublic]
    unread: int


class EventsRead(BaseModel):
    """Answered by marking the list read: the newest event id now seen."""

    seen_up_to: int


class ChannelCreate(BaseModel):
    """Sent to add a channel: an Apprise URL, and the event kinds it takes (none
    named: every kind). Kinds are checked by the service, so that every face words
    an unknown one the same way."""

    name: str = Field(max_length=64)
    url: SecretStr
    events: list[str] = Field(default_factory=list)


class ChannelPublic(BaseModel):
    """A channel as answered: its URL masked, and how its last sending went."""

    name: str
    url: str  # masked: scheme://host only, as the URL holds tokens and passwords
    events: list[EventKind] | None  # None: every kind
    created_at: datetime
    last_sent_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class ChannelTested(BaseModel):
    """Answered by a test: whether the sample reached the service, else why not."""

    channel: ChannelPublic
    delivered: bool
    error: str | None
