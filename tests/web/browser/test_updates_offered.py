"""An update the catalog offers, seen in a real browser against a real `tomo serve` and
the real test server: an app installed, its version bumped in the catalog's git
repository and synced from the shell; the navigation counts it, its tile and its
page wear the badge, and the update page lists what changes before anything runs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, expect

from tests.deployment.conftest import remove_test_containers
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, log_in, look, new_page

NOTES = "Sharing with **links**.\n\n- Faster search\n- A dark theme"


@pytest.fixture(autouse=True)
def _no_container_left(docker_engine: None) -> Iterator[None]:
    """Whatever a test installed goes when it ends, however it ends."""
    yield
    remove_test_containers()


def publish_web(repo: CatalogRepo, image: str, port: int, **newer: Any) -> None:
    """`web` at 1.0.0, or as `newer` changes it: its image, ports, volumes, settings."""
    docker = {"image": image, "ports": [{"container": 80, "host": port}],
              "volumes": [{"host_path": "./data", "container_path": "/data"}],
              "environment": [{"name": "TZ", "default": "UTC"}]}  # fmt: skip
    web = app_definition("web", docker={**docker, **newer.pop("docker", {})}, **newer)
    repo.write("apps/tools/web.yaml", yaml.safe_dump(web))
    repo.commit()


async def test_an_update_is_counted_badged_and_its_changes_listed_before_it_runs(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any, images: TestImages,
    sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    base, port, repo = with_users.url, free_port(), make_repo()
    publish_web(repo, images.web_v1, port)
    with_users.tomo("repo", "add", repo.url, "--name", "Home")
    with_users.add_box(sshd, ssh_users, data_root)
    with_users.tomo("install", "home/web", "--server", "box")
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)
    await page.goto(f"{base}/installed")
    navigation = page.get_by_role("navigation", name="Main")
    installed_link = navigation.get_by_role("link", name=re.compile("^Installed"))
    await expect(installed_link).to_have_text("Installed")
    tile = page.locator(".tile", has=page.get_by_role("link", name="web", exact=True))
    await expect(tile).not_to_contain_text("Update available")

    publish_web(repo, images.web_v2, port, version="2.0.0", release_notes=NOTES, docker={
        "ports": [{"container": 80, "host": port}, {"container": 443, "host": free_port()}],
        "volumes": [{"host_path": "./data", "container_path": "/data"},
                    {"host_path": "./config", "container_path": "/config"}],
        "environment": [{"name": "TZ", "default": "UTC"}, {"name": "GREETING", "required": True}],
    })  # fmt: skip
    with_users.tomo("repo", "sync", "home")
    await page.reload()

    await expect(installed_link).to_have_accessible_name("Installed 1 update available")
    badge = tile.get_by_role("link", name="Update available: 2.0.0 for web")
    await expect(badge).to_be_visible()
    await look(page, "updates-offered-tiles")

    await tile.get_by_role("link", name="web", exact=True).click()
    await expect(page.locator(".page-head .update-badge")).to_have_text("Update available: 2.0.0")
    await page.get_by_role("link", name="see what the update changes").click()
    await expect(page).to_have_url(re.compile(r"/installed/\w+/update$"))
    notes = page.locator(".release-notes")
    await expect(notes.locator("strong")).to_have_text("links")
    await expect(notes.get_by_role("listitem")).to_have_text(["Faster search", "A dark theme"])
    changes = page.locator(".update-changes")
    await expect(changes.get_by_role("heading")).to_have_text("What the update changes")
    await expect(changes).to_contain_text(f"{images.web_v1} → becomes {images.web_v2}")
    await expect(changes).to_contain_text("new 443/tcp")
    await expect(changes).to_contain_text("new /config")
    await expect(changes).to_contain_text("GREETING needs a value below")
    await look(page, "update-what-changes")

    # Nothing ran: the app still answers as version 1, and is offered the update still.
    await page.goto(f"{base}/installed")
    await expect(badge).to_be_visible()
    await expect(installed_link).to_have_accessible_name("Installed 1 update available")
    assert watched.problems == []
