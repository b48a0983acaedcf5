"""The Events and Channels pages, as a browser without JavaScript: the unread count in
the navigation, marking read, channels added with their errors beside the fields,
tested and removed, their URLs never shown."""

from __future__ import annotations

import re

import httpx

from tests.events.receivers import free_port, http_receiver
from tests.web.conftest import Web
from tests.web.test_admin_pages import error_beside, forms_carry_the_session_token, said
from tomo.events.kinds import EventKind
from tomo.runtime import Runtime

HTML = {"Accept": "text/html"}


def unread_in_nav(answer: httpx.Response) -> str | None:
    found = re.search(r'<span class="nav-unread"[^>]*>(\d+)<', answer.text)
    return found.group(1) if found else None


async def _two_failures(runtime: Runtime) -> None:
    await runtime.events.record(EventKind.SYNC_FAILED, title="Catalog sync of lab failed",
                                detail="git fetch failed")  # fmt: skip
    await runtime.events.record(EventKind.UNINSTALL_FAILED, title="Uninstall of web on nas failed",
                                server="nas", installation="inst1", installation_name="web")  # fmt: skip


def test_the_navigation_counts_unread_events_per_user_until_marked_read(web: Web) -> None:
    viewer, admin = web.viewer(), web.admin()
    assert unread_in_nav(viewer.get("/store", headers=HTML)) is None
    web.api.run(_two_failures)
    assert unread_in_nav(viewer.get("/store", headers=HTML)) == "2"
    listed = viewer.get("/events", headers=HTML)
    assert said(listed).count("unread") >= 2
    assert "Catalog sync of lab failed" in said(listed) and 'href="/installed/inst1"' in listed.text
    assert forms_carry_the_session_token(viewer, listed)  # "Mark all read", as a browser sends it
    done = viewer.follow(viewer.post("/events/read"))
    assert "Every event is marked read." in said(done)
    assert unread_in_nav(done) is None and "Mark all read" not in done.text
    assert unread_in_nav(admin.get("/store", headers=HTML)) == "2"  # the admin's are theirs


def test_channels_are_an_admins_page(web: Web) -> None:
    assert web.viewer().get("/channels").status_code == 403
    assert 'href="/channels"' not in web.viewer().get("/events").text
    assert 'href="/channels"' in web.admin().get("/events").text


def test_a_channel_is_added_tested_and_removed_its_url_masked(web: Web) -> None:
    admin = web.admin()
    with http_receiver() as receiver:
        url = receiver.url("hook?token=tk_secret")
        added = admin.follow(admin.post("/channels", {"name": "phone", "url": url,
                                                      "events": ["sync-failed"]}))  # fmt: skip
        assert "Channel 'phone' added (json://127.0.0.1)." in said(added)
        assert "tk_secret" not in added.text and "sync failed" in said(added)
        assert forms_carry_the_session_token(admin, added)
        tested = admin.follow(admin.post("/channels/phone/test"))
        assert "Test notification delivered to 'phone'." in said(tested)
        assert len(receiver.posts.wait_for(1)) == 1
    removed = admin.follow(admin.post("/channels/phone/remove"))
    assert "Channel 'phone' removed." in said(removed) and "No channels yet" in said(removed)


def test_a_channel_that_cannot_be_reached_says_so(web: Web) -> None:
    admin = web.admin()
    admin.post("/channels", {"name": "down", "url": f"json://127.0.0.1:{free_port()}/h"})
    tested = admin.follow(admin.post("/channels/down/test"))
    assert "Test notification not delivered to 'down': A Connection error" in said(tested)
    assert 'class="alert alert-error"' in tested.text


def test_bad_channels_keep_what_was_typed_and_name_each_field(web: Web) -> None:
    admin = web.admin()
    bad = admin.post("/channels", {"name": "phone", "url": "nope://x"})
    assert bad.status_code == 422
    assert error_beside(bad, "url").startswith("Apprise cannot read this URL")
    assert 'value="phone"' in bad.text and "nope://x" not in bad.text  # the URL is typed again
    admin.post("/channels", {"name": "phone", "url": "json://127.0.0.1/h"})
    taken = admin.post("/channels", {"name": "phone", "url": "json://127.0.0.1/h"})
    assert taken.status_code == 409
    assert error_beside(taken, "name") == "a channel named 'phone' exists already."
    assert said(admin.get("/channels")).count("json://127.0.0.1") == 1
