"""The events and channels routes through the real app: who may do what, and what
comes back (a channel's URL never does)."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.events.receivers import http_receiver
from tomo.events.kinds import EventKind
from tomo.runtime import Runtime


async def _sync_failed(runtime: Runtime) -> int:
    return await runtime.events.record(EventKind.SYNC_FAILED, title="Catalog sync of lab failed",
                                       detail="git fetch failed")  # fmt: skip


def test_viewers_read_events_and_mark_them_read_for_themselves(api: Api) -> None:
    api.run(_sync_failed)
    page = api.viewer.get("/api/events").json()
    assert page["unread"] == 1 and page["events"][0]["kind"] == "sync-failed"
    assert api.viewer.post("/api/events/read").status_code == 200
    assert api.viewer.get("/api/events", params={"unread": True}).json() == {
        "events": [], "unread": 0,
    }  # fmt: skip
    assert api.admin.get("/api/events").json()["unread"] == 1  # the admin has not read it


def test_channels_are_for_admins_and_their_urls_never_come_back(api: Api) -> None:
    with http_receiver() as receiver:
        url = receiver.url("hook?token=tk_secret")
        assert api.viewer.post("/api/channels", json={"name": "h", "url": url}).status_code == 403
        assert api.viewer.get("/api/channels").status_code == 403
        added = api.admin.post("/api/channels", json={"name": "h", "url": url})
        assert added.status_code == 201, added.text
        tested = api.admin.post("/api/channels/h/test").json()
        assert tested["delivered"] is True and len(receiver.posts.wait_for(1)) == 1
    listed = api.admin.get("/api/channels")
    assert "tk_secret" not in listed.text and listed.json()[0]["url"] == "json://127.0.0.1"
    assert api.viewer.delete("/api/channels/h").status_code == 403
    assert api.admin.delete("/api/channels/h").status_code == 200
    assert api.admin.delete("/api/channels/h").status_code == 404


def test_bad_channels_name_the_field_in_errors(api: Api) -> None:
    bad = api.admin.post("/api/channels", json={"name": "x", "url": "nope://", "events": ["boom"]})
    assert bad.status_code == 422
    assert sorted(error["field"] for error in bad.json()["errors"]) == ["events", "url"]
    api.admin.post("/api/channels", json={"name": "x", "url": "json://127.0.0.1/h"})
    taken = api.admin.post("/api/channels", json={"name": "x", "url": "json://127.0.0.1/h"})
    assert taken.status_code == 409 and taken.json()["errors"][0]["field"] == "name"
    assert len(api.admin.get("/api/channels").json()) == 1
