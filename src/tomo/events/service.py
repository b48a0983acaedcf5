"""EventService: the event list, the channels, and one call to record an event.

`record` writes the event and queues it for every channel that takes its kind;
the sending happens in the background (delivery.py), once per event and channel.
The health monitor calls `record` on each change of state it sees; it groups a
flapping app itself (monitor/health.py), so that what reaches this module is
already one event per change worth telling.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.crypto import Secrets
from tomo.db import Database
from tomo.errors import Conflict, InvalidInput, NotFound, Refusal
from tomo.events import delivery
from tomo.events.delivery import DeliveryQueue, Message, Sent
from tomo.events.kinds import EventKind, Severity, known_kinds, severity_of
from tomo.events.models import Event, EventsSeen, NotificationChannel
from tomo.events.schemas import (
    ChannelCreate,
    ChannelPublic,
    ChannelTested,
    EventPublic,
    EventsPage,
    EventsRead,
)

log = logging.getLogger("tomo.events")
MAX_EVENTS = 500  # the most one listing answers
SAMPLE = Message(
    "tomo: test notification",
    "This is a test from tomo: this channel receives tomo's events.",
    False,
)


class EventService:
    def __init__(self, db: Database, secrets: Secrets) -> None:
        self.db = db
        self.secrets = secrets
        self._queue = DeliveryQueue(self._deliver)

    # -- recording ------------------------------------------------------------

    async def record(
        self,
        kind: EventKind,
        *,
        title: str,
        detail: str | None = None,
        server: str | None = None,
        installation: str | None = None,
        installation_name: str | None = None,
    ) -> int:
        """Add an event to the list and queue it for its channels; its id."""
        row = Event(
            at=datetime.now(UTC),
            kind=kind,
            severity=severity_of(kind),
            title=title,
            detail=detail,
            server_id=server,
            installation_id=installation,
            installation_name=installation_name,
        )
        async with self.db.session() as session, session.begin():
            session.add(row)
        self._queue.put(row.id)
        return row.id

    async def flush(self, within: float = delivery.SEND_TIMEOUT) -> None:
        """Wait until what is queued has gone out (at most `within` seconds): before tomo
        stops, as a CLI command ends right after the failure it recorded."""
        await self._queue.drain(within)

    async def _deliver(self, event_id: int) -> None:
        async with self.db.session() as session:
            event = await session.get(Event, event_id)
            channels = list(await session.scalars(select(NotificationChannel)))
        if event is None:
            return
        message = _message(event)
        for channel in channels:
            if channel.kinds is None or event.kind.value in channel.kinds:
                sent = await self._send(channel, message)
                if sent.error:
                    log.warning("event %s not sent to %s: %s", event.id, channel.name, sent.error)

    async def _send(self, channel: NotificationChannel, message: Message) -> Sent:
        try:
            sent = await delivery.send(self.secrets.decrypt(channel.url_enc), message)
        except Exception as exc:  # e.g. the key changed; the channel says so
            sent = Sent(getattr(exc, "message", None) or f"{type(exc).__name__}.")
        await self._note(channel.id, sent)
        return sent

    async def _note(self, channel_id: int, sent: Sent) -> None:
        now = datetime.now(UTC)
        values: dict[str, object] = (
            {"last_sent_at": now, "last_error": None, "last_error_at": None}
            if sent.error is None
            else {"last_error": sent.error, "last_error_at": now}
        )
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(NotificationChannel)
                .where(NotificationChannel.id == channel_id)
                .values(**values)
            )

    # -- the list -------------------------------------------------------------

    async def list_events(
        self, *, user_id: str, unread: bool = False, limit: int = 100,
        installation: str | None = None,
    ) -> EventsPage:  # fmt: skip
        """The newest events first, each marked unread past what `user_id` has read;
        only those of one installation when it is named (its page's health history).
        The unread count is of every event, as the navigation's."""
        limit = max(1, min(limit, MAX_EVENTS))
        async with self.db.session() as session:
            seen = await _seen_up_to(session, user_id)
            query = select(Event).order_by(Event.id.desc()).limit(limit)
            if unread:
                query = query.where(Event.id > seen)
            if installation is not None:
                query = query.where(Event.installation_id == installation)
            rows = list(await session.scalars(query))
            count = await session.scalar(select(func.count()).where(Event.id > seen))
        return EventsPage(events=[_public(row, seen) for row in rows], unread=count or 0)

    async def unread_count(self, user_id: str) -> int:
        """How many events `user_id` has not read (one query: the navigation's)."""
        seen = select(EventsSeen.seen_up_to).where(EventsSeen.user_id == user_id)
        query = select(func.count(Event.id)).where(
            Event.id > func.coalesce(seen.scalar_subquery(), 0)
        )
        async with self.db.session() as session:
            return await session.scalar(query) or 0

    async def mark_read(self, *, user_id: str) -> EventsRead:
        """Everything listed now counts as read by `user_id`."""
        async with self.db.session() as session, session.begin():
            newest = await session.scalar(select(func.max(Event.id))) or 0
            await session.merge(EventsSeen(user_id=user_id, seen_up_to=newest))
        return EventsRead(seen_up_to=newest)

    # -- channels -------------------------------------------------------------

    async def add_channel(self, request: ChannelCreate) -> ChannelPublic:
        """Check the name, URL and kinds (every problem at once), then keep the URL sealed."""
        url = request.url.get_secret_value().strip()
        kinds = _check_channel(request.name, url, request.events)
        row = NotificationChannel(
            name=request.name.strip(),
            url_enc=self.secrets.encrypt(url),
            url_masked=masked(url),
            kinds=kinds,
            created_at=datetime.now(UTC),
        )
        async with self.db.session() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                raise _taken(row.name) from None
        return channel_public(row)

    async def list_channels(self) -> list[ChannelPublic]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(NotificationChannel).order_by(NotificationChannel.name)
            )
            return [channel_public(row) for row in rows]

    async def remove_channel(self, name: str) -> ChannelPublic:
        async with self.db.session() as session, session.begin():
            row = await _channel(session, name)
            await session.delete(row)
        return channel_public(row)

    async def test_channel(self, name: str) -> ChannelTested:
        """Send a sample now (not queued: the one asking waits for the answer)."""
        async with self.db.session() as session:
            row = await _channel(session, name)
        sent = await self._send(row, SAMPLE)
        async with self.db.session() as session:
            row = await _channel(session, name)
        return ChannelTested(
            channel=channel_public(row), delivered=sent.error is None, error=sent.error
        )


def masked(url: str) -> str:
    """A URL as shown back: its scheme and host, never its user, password, path or query
    (tokens live in any of them)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if host else f"{parts.scheme}://…"


def channel_public(row: NotificationChannel) -> ChannelPublic:
    kinds = None if row.kinds is None else [EventKind(kind) for kind in row.kinds]
    return ChannelPublic(
        name=row.name,
        url=row.url_masked,
        events=kinds,
        created_at=row.created_at,
        last_sent_at=row.last_sent_at,
        last_error=row.last_error,
        last_error_at=row.last_error_at,
    )


def _check_channel(name: str, url: str, events: list[str]) -> list[str] | None:
    problems = []
    if not name.strip():
        problems.append(Refusal("the channel's name is empty.", ("name",)))
    if not url:
        problems.append(Refusal("the channel's URL is empty.", ("url",)))
    elif not delivery.parses(url):
        problems.append(Refusal(
            "Apprise cannot read this URL: check its scheme (ntfy://, mailto://, json://, …) "
            "and its parts against Apprise's list of services.", ("url",),
        ))  # fmt: skip
    unknown = [kind for kind in events if kind not in EventKind._value2member_map_]
    for kind in unknown:
        problems.append(
            Refusal(f"'{kind}' is not an event tomo tells; it tells: {known_kinds()}.", ("events",))
        )
    if problems:
        raise InvalidInput(problems)
    return sorted(set(events), key=list(EventKind._value2member_map_).index) or None


def _taken(name: str) -> Conflict:
    return Conflict(f"a channel named '{name}' exists already.", fields=("name",))


async def _channel(session: AsyncSession, name: str) -> NotificationChannel:
    row = await session.scalar(select(NotificationChannel).where(NotificationChannel.name == name))
    if row is None:
        raise NotFound(f"no channel named '{name}'.")
    return row


async def _seen_up_to(session: AsyncSession, user_id: str) -> int:
    seen = await session.scalar(select(EventsSeen.seen_up_to).where(EventsSeen.user_id == user_id))
    return seen or 0


def _public(row: Event, seen: int) -> EventPublic:
    return EventPublic(
        id=row.id,
        at=row.at,
        kind=row.kind,
        severity=row.severity,
        server_id=row.server_id,
        installation_id=row.installation_id,
        installation_name=row.installation_name,
        title=row.title,
        detail=row.detail,
        unread=row.id > seen,
    )


def _message(event: Event) -> Message:
    """What a channel receives: the title, then where and what happened."""
    lines = [event.title]
    if event.server_id:
        lines.append(f"Server: {event.server_id}")
    if event.installation_name:
        lines.append(f"App: {event.installation_name} ({event.installation_id})")
    if event.detail:
        lines.append(f"What happened: {event.detail}")
    lines.append(f"When: {event.at:%Y-%m-%d %H:%M:%S} UTC")
    # No link yet: tomo has no setting for its own public address to point to the
    # installation's page with.
    return Message(f"tomo: {event.title}", "\n".join(lines), event.severity is not Severity.INFO)
