"""Backups in a real Chromium against a real `tomo serve`, the real test server and a
real restic repository: backed up from the installation's page, followed on the job's
page, found on the Backups page and restored after asking (screenshots under
test-artifacts/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from tests.deployment.conftest import remove_test_containers
from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, log_in, look, new_page

KEPT = "what the backup holds\n"
JOB_MS = 60_000


@pytest.fixture(autouse=True)
def _helper_and_no_container_left(
    docker_engine: None, images: TestImages, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The served tomo restores with the test images' helper (busybox cannot be pulled
    here: `served` takes tomo's settings from this environment, and autouse fixtures
    come first); whatever the test installed goes when it ends."""
    monkeypatch.setenv("TOMO_HELPER_IMAGE", images.helper)
    yield
    remove_test_containers()


def web_on_box(served: Served, make_repo: Any, images: TestImages, sshd: Sshd,
               ssh_users: SshUsers, data_root: Path) -> None:  # fmt: skip
    """The web app, its data in ./data, installed on the test server as `web`."""
    repo = make_repo()
    docker = {"image": images.web_v1, "ports": [{"container": 80, "host": free_port()}],
              "volumes": [{"host_path": "./data", "container_path": "/data"}]}  # fmt: skip
    repo.write("apps/tools/web.yaml", yaml.safe_dump(app_definition("web", docker=docker)))
    repo.commit()
    served.tomo("repo", "add", repo.url, "--name", "Home")
    served.add_box(sshd, ssh_users, data_root)
    served.tomo("install", "home/web", "--server", "box")


async def job_done(page: Page) -> None:
    """On a job's page, until the job has ended well."""
    await expect(page).to_have_url(re.compile(r"/jobs/[\w-]+$"))
    status = page.locator("#job-status [data-status]")
    await expect(status).to_have_attribute("data-status", "done", timeout=JOB_MS)


async def test_an_installation_is_backed_up_and_restored_from_the_pages(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    base = with_users.url
    web_on_box(with_users, make_repo, images, sshd, ssh_users, data_root)
    note = data_root / "web" / "data" / "note.txt"
    note.write_text(KEPT)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)
    await page.goto(f"{base}/installed")
    await page.get_by_role("link", name="web", exact=True).first.click()
    section = page.locator(".backups-section")
    await expect(section).to_contain_text("No backup yet")

    await section.get_by_role("button", name="Back up now").click()
    await job_done(page)
    await page.get_by_role("link", name="web", exact=True).first.click()
    await expect(section.get_by_role("listitem")).to_have_count(1)
    await look(page, "backups-installation")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Backups").click()
    row = page.get_by_role("row", name=re.compile(r"^web "))
    await expect(row).to_contain_text("by hand")
    await look(page, "backups-list")

    note.unlink()
    await row.get_by_role("link", name=re.compile("^Restore")).click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Restore web")
    await look(page, "backup-restore-confirm")
    await page.get_by_role("button", name="Restore", exact=True).click()
    await job_done(page)
    assert note.read_text() == KEPT
    assert watched.problems == []
