"""`tomo events` and `tomo channel …`: tomo's event list, and where events are sent.

On a local data directory the CLI reads the list as the local admin; logged in to
a tomo, as the token's user (who may be a viewer: channels are for admins).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run
from tomo.cli.output import emit, emit_json, err_console
from tomo.cli.output import table as print_table
from tomo.errors import RemoteError

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.events.schemas import ChannelPublic, EventsPage

channels = typer.Typer(help="Notification channels (Apprise URLs) events are sent to.",
                       no_args_is_help=True)  # fmt: skip
NameArg = Annotated[str, typer.Argument(help="The channel's name.", metavar="NAME")]


def events(
    ctx: typer.Context,
    unread: Annotated[bool, typer.Option("--unread", help="Only those not marked read.")] = False,
    mark_read: Annotated[
        bool, typer.Option("--mark-read", help="Then mark every event listed read.")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 100,
    json_: JsonOption = False,
) -> None:
    """What tomo noticed, newest first: failed installs, updates, uninstalls and syncs."""
    from tomo.auth.service import LOCAL_ADMIN

    async def listed(r: Services) -> EventsPage:
        page = await r.events.list_events(user_id=LOCAL_ADMIN.user_id, unread=unread, limit=limit)
        if mark_read:
            await r.events.mark_read(user_id=LOCAL_ADMIN.user_id)
        return page

    page = run(ctx, listed)
    if json_:
        emit_json(page)
        return
    _print_events(page, unread)


def _print_events(page: EventsPage, only_unread: bool) -> None:
    rows = [(str(e.id), e.at, e.kind.value, e.server_id, e.installation_name, e.title,
             "unread" if e.unread else "") for e in page.events]  # fmt: skip
    empty = "No unread events." if only_unread else "No events yet: tomo records failures here."
    print_table(None, ["id", "when", "kind", "server", "app", "what", ""], rows, empty=empty)


@channels.command("add")
def add(
    ctx: typer.Context,
    name: NameArg,
    url: Annotated[
        str, typer.Argument(help="An Apprise URL: ntfy://…, mailto://…, json://…", metavar="URL")
    ],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="An event kind it takes (repeat it); none: every kind.",
            metavar="KIND",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Add a channel; its URL is kept encrypted and shown as its scheme and host only."""
    from pydantic import SecretStr

    from tomo.events.schemas import ChannelCreate

    request = ChannelCreate(name=name, url=SecretStr(url), events=event or [])
    added = run(ctx, lambda r: r.events.add_channel(request))
    emit(added, json_, f"Added channel '{added.name}' ({added.url}), for {_kinds(added)}.")


@channels.command("list")
def list_channels(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List channels, their URLs masked, and how their last sending went."""
    found = run(ctx, lambda r: r.events.list_channels())
    if json_:
        emit_json(found)
        return
    rows = [(c.name, c.url, _kinds(c), c.last_sent_at, c.last_error) for c in found]
    print_table(None, ["name", "url", "events", "last sent", "last error"], rows,
                empty="No channels yet. Add one with `tomo channel add NAME URL`.")  # fmt: skip


@channels.command("test")
def send_test(ctx: typer.Context, name: NameArg, json_: JsonOption = False) -> None:
    """Send a sample notification now; says whether the service took it."""
    tested = run(ctx, lambda r: r.events.test_channel(name))
    if json_:
        emit_json(tested)
    if not tested.delivered:  # a failure to reach a service: exits as a server's would (7)
        raise RemoteError(f"channel '{name}'", f"not delivered: {tested.error}")
    if not json_:
        err_console().print(f"Delivered a test notification to '{name}'.", markup=False)


@channels.command("remove")
def remove(ctx: typer.Context, name: NameArg, json_: JsonOption = False) -> None:
    """Remove a channel."""
    gone = run(ctx, lambda r: r.events.remove_channel(name))
    emit(gone, json_, f"Removed channel '{gone.name}'.")


def _kinds(channel: ChannelPublic) -> str:
    if channel.events is None:
        return "every event"
    return ", ".join(kind.value for kind in channel.events)
