"""Pages: the event list (everyone; unread ones marked, and marked read on request),
notification channels (admins), and the unread count in the navigation.

The pages call the EventService methods the API's routes call; the rules (what
an Apprise URL is, which kinds exist, a name taken once) are the service's, and a
page places its refusals beside the fields they name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select

from tomo.auth.models import BrowserSession
from tomo.auth.service import digest
from tomo.db import Database
from tomo.errors import TomoError
from tomo.events.api import get_events
from tomo.events.kinds import EventKind
from tomo.events.models import Event, EventsSeen
from tomo.events.schemas import ChannelCreate
from tomo.http.security import SESSION_COOKIE
from tomo.web.forms import errors_of, form_lists, form_values
from tomo.web.session import Admin, Viewer
from tomo.web.templating import redirect, refused, render

router = APIRouter()
CHANNEL_FIELDS = {"name", "url", "events"}
EVENTS_PAGE = 200  # the newest shown; older ones stay in the list (API, CLI)


# -- the navigation's count ---------------------------------------------------


async def count_unread_events(request: Request) -> None:
    """The unread count for the navigation, kept on the request for `render`: one query,
    by the session cookie, for a page a browser asks for (not its images or streams).
    It runs before the page's own check of the session, so it checks none: a page
    whose session is not live shows no navigation to put it in."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id and wants_a_page(request):
        db = get_events(request).db
        request.state.unread_events = await unread_for_session(db, session_id)


def wants_a_page(request: Request) -> bool:
    accept = request.headers.get("accept", "*/*")
    return "text/html" in accept or accept == "*/*"


async def unread_for_session(db: Database, session_id: str) -> int:
    seen = (
        select(EventsSeen.seen_up_to)
        .join(BrowserSession, BrowserSession.user_id == EventsSeen.user_id)
        .where(BrowserSession.id_hash == digest(session_id))
        .scalar_subquery()
    )
    query = select(func.count(Event.id)).where(Event.id > func.coalesce(seen, 0))
    async with db.session() as session:
        return await session.scalar(query) or 0


# -- events -------------------------------------------------------------------


@router.get("/events", name="web_events")
async def events_page(
    request: Request, principal: Viewer,
    installation: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:  # fmt: skip
    """What tomo noticed, newest first (of one installation when `installation` names
    it); what the user has not read is marked."""
    page = await get_events(request).list_events(user_id=principal.user_id, limit=EVENTS_PAGE,
                                                 installation=installation or None)  # fmt: skip
    named = next((e.installation_name for e in page.events if e.installation_name), installation)
    return render(request, "events/events.html", {"page": page, "installation": installation,
                                                  "installation_name": named})  # fmt: skip


@router.post("/events/read", name="web_events_read")
async def events_read(request: Request, principal: Viewer) -> Response:
    """Mark every event listed now as read, for this user."""
    await get_events(request).mark_read(user_id=principal.user_id)
    return redirect("/events", "Every event is marked read")


# -- channels -----------------------------------------------------------------


@router.get("/channels", name="web_channels")
async def channels_page(request: Request, principal: Admin) -> Response:
    """Every channel (URLs masked), and the form that adds one."""
    return await _channels_page(request, {})


@router.post("/channels", name="web_channel_add")
async def channel_add(request: Request, principal: Admin) -> Response:
    """Add a channel; what was typed comes back with the errors (never the URL, which
    may hold a password: it is typed again)."""
    values, chosen = await form_values(request), (await form_lists(request)).get("events", [])
    name = values.get("name", "")
    try:
        request_ = ChannelCreate(name=name, url=SecretStr(values.get("url", "")), events=chosen)
        added = await get_events(request).add_channel(request_)
    except ValidationError as exc:  # a name past its length: told as the API tells it
        found, status = errors_of(exc, CHANNEL_FIELDS), 422
    except TomoError as exc:
        found, status = errors_of(exc, CHANNEL_FIELDS), exc.http_status
    else:
        return redirect("/channels", f"Channel '{added.name}' added ({added.url})")
    context = {"values": {"name": name, "events": chosen}, "errors": found.fields,
               "general": found.general}  # fmt: skip
    return await _channels_page(request, context, status=status)


@router.post("/channels/{name}/test", name="web_channel_test")
async def channel_test(request: Request, name: str, principal: Admin) -> Response:
    """Send a sample now; the page says whether the service took it."""
    try:
        tested = await get_events(request).test_channel(name)
    except TomoError as exc:
        return refused(request, "/channels", exc)
    if tested.delivered:
        return redirect("/channels", f"Test notification delivered to '{name}'")
    return redirect("/channels", f"Test notification not delivered to '{name}': {tested.error}",
                    kind="error")  # fmt: skip


@router.post("/channels/{name}/remove", name="web_channel_remove")
async def channel_remove(request: Request, name: str, principal: Admin) -> Response:
    """Remove a channel (the page asked first)."""
    try:
        gone = await get_events(request).remove_channel(name)
    except TomoError as exc:
        return refused(request, "/channels", exc)
    return redirect("/channels", f"Channel '{gone.name}' removed")


async def _channels_page(
    request: Request, context: dict[str, Any], *, status: int = 200
) -> Response:
    listed = await get_events(request).list_channels()
    common = {"channels": listed, "kinds": list(EventKind), "values": {}, "errors": {},
              "general": []}  # fmt: skip
    return render(request, "events/channels.html", {**common, **context}, status=status)
