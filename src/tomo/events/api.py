"""Event and channel routes: everyone reads the event list and marks it read for
themselves; channels (their URLs hold secrets) are for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from tomo.events.schemas import ChannelCreate, ChannelPublic, ChannelTested, EventsPage, EventsRead
from tomo.events.service import MAX_EVENTS, EventService
from tomo.http.deps import runtime_of
from tomo.http.problems import error_responses
from tomo.http.security import PrincipalDep


def get_events(request: Request) -> EventService:
    return runtime_of(request).events


EventsDep = Annotated[EventService, Depends(get_events)]

router = APIRouter(tags=["events"])


@router.get("/events", name="list_events", responses=error_responses(401))
async def list_events(
    events: EventsDep,
    principal: PrincipalDep,
    unread: bool = False,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> EventsPage:
    """The newest events first, each marked unread past what you have marked read."""
    return await events.list_events(user_id=principal.user_id, unread=unread, limit=limit)


@router.post("/events/read", name="mark_events_read", responses=error_responses(401, 403))
async def mark_events_read(events: EventsDep, principal: PrincipalDep) -> EventsRead:
    """Mark every event listed now as read (by you only)."""
    return await events.mark_read(user_id=principal.user_id)


@router.get("/channels", name="list_channels", responses=error_responses(401, 403))
async def list_channels(events: EventsDep) -> list[ChannelPublic]:
    """Every notification channel, its URL masked (scheme and host)."""
    return await events.list_channels()


@router.post("/channels", name="add_channel", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 409, 422))  # fmt: skip
async def add_channel(request: ChannelCreate, events: EventsDep) -> ChannelPublic:
    """Add a channel: an Apprise URL (kept encrypted, never answered) and the event
    kinds it takes (`events`; none named: every kind)."""
    return await events.add_channel(request)


@router.delete("/channels/{name}", name="remove_channel",
               responses=error_responses(401, 403, 404))  # fmt: skip
async def remove_channel(name: str, events: EventsDep) -> ChannelPublic:
    """Remove a channel."""
    return await events.remove_channel(name)


@router.post("/channels/{name}/test", name="test_channel",
             responses=error_responses(401, 403, 404))  # fmt: skip
async def test_channel(name: str, events: EventsDep) -> ChannelTested:
    """Send a sample notification now and say whether the service took it."""
    return await events.test_channel(name)
