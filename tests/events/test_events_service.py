"""The event list and its channels, on both databases, with real receivers."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.events.receivers import free_port, http_receiver, smtp_receiver
from tomo.errors import Conflict, InvalidInput, NotFound
from tomo.events.kinds import EventKind
from tomo.events.models import NotificationChannel
from tomo.events.schemas import ChannelCreate
from tomo.events.service import EventService
from tomo.runtime import Runtime


def channel(name: str, url: str, *events: str) -> ChannelCreate:
    return ChannelCreate(name=name, url=SecretStr(url), events=list(events))


async def failed_install(events: EventService, name: str = "web") -> int:
    return await events.record(
        EventKind.INSTALL_FAILED, title=f"Install of {name} on nas failed",
        detail="pull of busybox:9 failed", server="nas", installation="abc123",
        installation_name=name,
    )  # fmt: skip


async def test_an_event_reaches_a_json_receiver_once_and_the_list(runtime: Runtime) -> None:
    events = runtime.events
    with http_receiver() as receiver:
        await events.add_channel(channel("hooks", receiver.url("tomo?token=s3cret")))
        await failed_install(events)
        await events.flush()
        posts = receiver.posts.wait_for(1)
        await events.flush()  # nothing else was queued: still one post
        assert len(receiver.posts.items) == 1
    sent = posts[0]["json"]
    assert sent["title"] == "tomo: Install of web on nas failed"
    assert "Server: nas" in sent["message"] and "App: web (abc123)" in sent["message"]
    assert "pull of busybox:9 failed" in sent["message"]
    listed = await events.list_events(user_id="u1")
    assert [(e.kind, e.unread) for e in listed.events] == [(EventKind.INSTALL_FAILED, True)]
    assert listed.unread == 1
    (shown,) = await events.list_channels()
    assert shown.last_sent_at is not None and shown.last_error is None


async def test_a_mail_reaches_a_local_smtp_server(runtime: Runtime) -> None:
    with smtp_receiver() as smtp:
        await runtime.events.add_channel(channel("mail", smtp.url()))
        await failed_install(runtime.events, "paperless")
        await runtime.events.flush()
        mails = smtp.mails.wait_for(1)
    assert len(mails) == 1
    assert mails[0]["to"] == ["admin@example.org"]
    assert "Install of paperless on nas failed" in mails[0]["data"]


async def test_a_channel_takes_only_the_kinds_it_chose(runtime: Runtime) -> None:
    events = runtime.events
    with http_receiver() as receiver:
        await events.add_channel(channel("syncs", receiver.url(), "sync-failed"))
        await failed_install(events)
        await events.record(EventKind.SYNC_FAILED, title="Catalog sync of lab failed")
        await events.flush()
        posts = receiver.posts.wait_for(1)
    assert [p["json"]["title"] for p in posts] == ["tomo: Catalog sync of lab failed"]


async def test_a_failing_channel_keeps_its_error_and_the_event_stays(runtime: Runtime) -> None:
    events = runtime.events
    await events.add_channel(channel("down", f"json://127.0.0.1:{free_port()}/hook"))
    await failed_install(events)
    await events.flush()
    (shown,) = await events.list_channels()
    assert shown.last_sent_at is None
    assert shown.last_error and "127.0.0.1" in shown.last_error
    assert len((await events.list_events(user_id="u1")).events) == 1


async def test_the_url_is_sealed_and_shown_masked(runtime: Runtime) -> None:
    shown = await runtime.events.add_channel(
        channel("ntfy", "ntfys://tomo:hunter2@ntfy.example.org/alerts?token=tk_abc")
    )
    assert shown.url == "ntfys://ntfy.example.org"
    async with runtime.db.session() as session:
        row = await session.scalar(select(NotificationChannel))
    assert row is not None and "hunter2" not in row.url_enc and "tk_abc" not in row.url_enc
    assert runtime.events.secrets.decrypt(row.url_enc).endswith("token=tk_abc")


@pytest.mark.parametrize(
    ("request_", "field", "words"),
    [
        (channel("bad", "notaservice://x"), "url", "Apprise cannot read this URL"),
        (channel("bad", ""), "url", "URL is empty"),
        (channel("bad", "json://127.0.0.1/h", "app-exploded"), "events", "'app-exploded'"),
        (channel(" ", "json://127.0.0.1/h"), "name", "name is empty"),
    ],
)
async def test_bad_input_names_its_field_and_saves_nothing(
    runtime: Runtime, request_: ChannelCreate, field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await runtime.events.add_channel(request_)
    assert [p.fields for p in refused.value.problems] == [(field,)]
    assert words in refused.value.message and refused.value.message.endswith(".")
    assert await runtime.events.list_channels() == []


async def test_a_name_is_taken_once(runtime: Runtime) -> None:
    await runtime.events.add_channel(channel("hooks", "json://127.0.0.1/a"))
    with pytest.raises(Conflict) as refused:
        await runtime.events.add_channel(channel("hooks", "json://127.0.0.1/b"))
    assert refused.value.fields == ("name",)
    assert [c.url for c in await runtime.events.list_channels()] == ["json://127.0.0.1"]


async def test_unread_is_per_user_and_marking_read_counts_what_was_there(
    runtime: Runtime,
) -> None:
    events = runtime.events
    await failed_install(events, "one")
    await failed_install(events, "two")
    assert await events.unread_count("alice") == 2
    await events.mark_read(user_id="alice")
    await failed_install(events, "three")
    assert await events.unread_count("alice") == 1
    assert await events.unread_count("bob") == 3
    page = await events.list_events(user_id="alice", unread=True)
    assert [e.installation_name for e in page.events] == ["three"]
    everything = await events.list_events(user_id="alice")
    assert [e.unread for e in everything.events] == [True, False, False]


async def test_test_and_remove_name_a_channel_that_exists(runtime: Runtime) -> None:
    with http_receiver() as receiver:
        await runtime.events.add_channel(channel("hooks", receiver.url()))
        tested = await runtime.events.test_channel("hooks")
        assert tested.delivered and tested.error is None
        assert len(receiver.posts.wait_for(1)) == 1
    await runtime.events.remove_channel("hooks")
    with pytest.raises(NotFound):
        await runtime.events.test_channel("hooks")


async def test_an_installations_events_are_read_by_index_newest_first(runtime: Runtime) -> None:
    """Its page's health history asks for one installation's newest events: each
    database finds them through the index on (installation_id, id), not by reading
    the whole list."""
    events = runtime.events
    for name in ("web", "db", "web"):
        await failed_install(events, name)
    await events.record(EventKind.INSTALL_FAILED, title="other", installation="other1",
                        installation_name="other")  # fmt: skip
    page = await events.list_events(user_id="nobody", installation="abc123", limit=2)
    assert [event.installation_name for event in page.events] == ["web", "db"]

    query = "SELECT id FROM events WHERE installation_id = 'abc123' ORDER BY id DESC LIMIT 2"
    async with runtime.db.engine.connect() as connection:
        if runtime.db.is_sqlite:
            plan = " ".join(str(row[-1]) for row in await connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {query}"))  # fmt: skip
        else:
            await connection.exec_driver_sql("SET enable_seqscan = off")  # a tiny table
            plan = " ".join(str(row[0]) for row in await connection.exec_driver_sql(
                f"EXPLAIN {query}"))  # fmt: skip
    assert "ix_events_installation_id" in plan, plan
