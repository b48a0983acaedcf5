"""`tomo channel …` and `tomo events` as a person runs them: the real entry point in a
subprocess, real receivers on loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.cli.test_remote import PASSWORD, Served
from tests.cli.tomo_cli import Laptop, Tomo
from tests.events.receivers import free_port, http_receiver


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


def test_channels_are_added_listed_masked_tested_and_removed(tomo: Tomo) -> None:
    with http_receiver() as receiver:
        added = tomo.json("channel", "add", "hooks", receiver.url("in?token=tk_secret"),
                          "--event", "sync-failed", "--event", "install-failed")  # fmt: skip
        tested = tomo.run("channel", "test", "hooks")
        posts = receiver.posts.wait_for(1)
    assert added["url"] == "json://127.0.0.1"
    assert added["events"] == ["install-failed", "sync-failed"]
    assert tested.stderr.strip() == "Delivered a test notification to 'hooks'."
    assert [p["json"]["title"] for p in posts] == ["tomo: test notification"]
    (listed,) = tomo.json("channel", "list")
    assert listed["url"] == "json://127.0.0.1" and listed["last_sent_at"] is not None
    assert "tk_secret" not in tomo.run("channel", "list").stdout
    assert tomo.json("channel", "remove", "hooks")["name"] == "hooks"
    assert tomo.run("channel", "list").stderr.startswith("No channels yet.")


def test_a_channel_that_cannot_be_reached_says_so_and_keeps_the_error(tomo: Tomo) -> None:
    tomo.run("channel", "add", "down", f"json://127.0.0.1:{free_port()}/hook")
    said = tomo.error("channel", "test", "down", expect=7)
    assert said.startswith("error: channel 'down': not delivered: ")
    assert "127.0.0.1" in said
    (listed,) = tomo.json("channel", "list")
    assert listed["last_error"] and listed["last_sent_at"] is None


def test_bad_channels_are_refused_naming_what_is_wrong(tomo: Tomo) -> None:
    assert tomo.error("channel", "add", "x", "notaservice://nowhere", expect=2).startswith(
        "error: Apprise cannot read this URL: check its scheme"
    )
    assert tomo.error("channel", "add", "x", "json://127.0.0.1/h", "--event", "kaboom",
                      expect=2).startswith("error: 'kaboom' is not an event tomo tells; it tells: install-failed")  # fmt: skip
    tomo.run("channel", "add", "x", "json://127.0.0.1/h")
    assert tomo.error("channel", "add", "x", "json://127.0.0.1/other", expect=4) == (
        "error: a channel named 'x' exists already."
    )
    assert tomo.error("channel", "test", "nope", expect=3) == "error: no channel named 'nope'."
    assert [c["name"] for c in tomo.json("channel", "list")] == ["x"]


def test_a_failed_sync_is_an_event_and_a_notification(tomo: Tomo, make_repo) -> None:
    repo = make_repo("catalog")
    repo.add_app("jellyfin", "media")
    repo.commit()
    assert tomo.run("events").stderr.strip() == "No events yet: tomo records failures here."
    tomo.run("repo", "add", repo.url, "--name", "Lab")
    shutil.rmtree(repo.path)  # the repository is gone: the next sync fails
    with http_receiver() as receiver:
        tomo.run("channel", "add", "hooks", receiver.url())
        tomo.run("repo", "sync", "Lab", expect=5)
        posts = receiver.posts.wait_for(1)
    assert [p["json"]["title"] for p in posts] == ["tomo: Catalog sync of lab failed"]
    page = tomo.json("events", "--unread", "--mark-read")
    assert page["unread"] == 1
    assert [(e["kind"], e["title"], e["unread"]) for e in page["events"]] == [
        ("sync-failed", "Catalog sync of lab failed", True)
    ]
    assert tomo.json("events", "--unread") == {"events": [], "unread": 0}
    assert "Catalog sync of lab failed" in tomo.run("events").stdout


def test_against_a_remote_tomo_a_viewer_reads_events_and_may_not_manage_channels(
    laptop: Laptop, served: Served, local: Tomo
) -> None:
    local.run("user", "create", "vera", "--password-stdin", stdin="vera's password 1\n")
    laptop.login(served.url, PASSWORD)
    added = laptop.json("channel", "add", "hooks", "json://127.0.0.1/h?token=tk_secret")
    assert added["url"] == "json://127.0.0.1"
    assert local.json("channel", "list")[0]["name"] == "hooks"  # kept by the served tomo
    laptop.login(served.url, "vera's password 1", user="vera")
    assert laptop.json("events") == {"events": [], "unread": 0}
    assert laptop.error("channel", "list", expect=10) == (
        "error: 'vera' is a viewer; this needs an admin"
    )
