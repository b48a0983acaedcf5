"""Notification channels and the event list in a real browser: a json:// channel to a
real local receiver, its Test button delivering; a catalog sync that failed listed
as unread (counted in the navigation), then read."""

from __future__ import annotations

import shutil
import subprocess

from playwright.async_api import Browser, expect

from tests.cli.tomo_cli import tomo_command
from tests.events.receivers import http_receiver
from tests.gitrepo import CatalogRepo
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page


def failed_sync(served: Served, repo: CatalogRepo) -> None:
    """A repository subscribed from the shell, then gone: its sync fails (exit 5)."""
    served.tomo("repo", "add", repo.url, "--name", "Lab")
    shutil.rmtree(repo.path)
    done = subprocess.run([*tomo_command(), "--data-dir", str(served.data_dir),
                           "repo", "sync", "Lab"], env=served.env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 5, done.stderr


async def test_a_channel_is_tested_and_a_failed_sync_is_unread_then_read(
    browser: Browser, with_users: Served, watched: Watched, make_repo
) -> None:
    served = with_users
    repo = make_repo("catalog")
    repo.add_app("jellyfin", "media")
    repo.commit()
    page = await new_page(browser, watched)
    await log_in(page, served.url, ADMIN)
    with http_receiver() as receiver:
        await page.get_by_role("link", name="Channels").click()
        await labelled(page, "Name").fill("phone")
        await labelled(page, "Apprise URL").fill("nope://")
        await page.get_by_role("button", name="Add the channel").click()
        await expect(page.locator("#e-url")).to_contain_text("Apprise cannot read this URL")
        await look(page, "channel-add-error")

        await labelled(page, "Apprise URL").fill(receiver.url("hook?token=tk_secret"))
        await page.get_by_label("sync failed").check()
        await page.get_by_role("button", name="Add the channel").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Channel 'phone' added (json://127.0.0.1)."
        )
        await page.get_by_role("button", name="Send a test to phone").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Test notification delivered to 'phone'."
        )
        assert [p["json"]["title"] for p in receiver.posts.wait_for(1)] == [
            "tomo: test notification"
        ]
        assert "tk_secret" not in await page.content()
        await look(page, "channels")

        failed_sync(served, repo)
        posts = receiver.posts.wait_for(2)
    assert [p["json"]["title"] for p in posts][1:] == ["tomo: Catalog sync of lab failed"]

    await page.goto(f"{served.url}/store")
    events_link = page.get_by_role("link", name="Events 1 unread")
    await expect(events_link).to_be_visible()
    await events_link.click()
    event = page.locator(".event").first
    await expect(event).to_contain_text("Catalog sync of lab failed")
    await expect(event.locator(".badge-info")).to_have_text("unread")
    await look(page, "events-unread")

    await page.get_by_role("button", name="Mark all read").click()
    await expect(page.get_by_role("status")).to_have_text("Every event is marked read.")
    await expect(page.locator(".event-unread")).to_have_count(0)
    await expect(page.get_by_role("link", name="Events", exact=True)).to_be_visible()
    await look(page, "events-read")

    await page.get_by_role("link", name="Channels").click()
    await page.get_by_role("button", name="Remove phone").click()
    await expect(page.get_by_role("status")).to_have_text("Channel 'phone' removed.")
    assert watched.problems == []
