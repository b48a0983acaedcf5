"""Installed apps at a glance, in a real browser against a real `tomo serve` and the
real test server: the dashboard's tiles (icon, status, Open, an update offered),
"stopping…" while Docker waits out the app's grace period, the uninstall that asks
a second time, naming the data it deletes, and a job's page that loses tomo (it is
killed) and catches up when tomo is back."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from tests.cli.tomo_cli import tomo_command
from tests.deployment.conftest import remove_test_containers
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages
from tests.services import free_port, wait_until_serving
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, log_in, look, new_page
from tests.web.browser.test_journeys import JOB_TIMEOUT, job_ends

# An app that ignores SIGTERM: Docker waits out its grace period, then kills it.
STUBBORN = ["sh", "-c", "trap '' TERM; /bin/httpd -f -p 80 -h /www"]
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
        '<rect width="64" height="64" rx="14" fill="#2456d8"/>'
        '<path d="M14 20l8 26 10-18 10 18 8-26" stroke="#fff" stroke-width="5" fill="none"/>'
        "</svg>")  # fmt: skip


@pytest.fixture(autouse=True)
def _no_container_left(docker_engine: None) -> Iterator[None]:
    """Whatever a test installed goes when it ends, however it ends."""
    yield
    remove_test_containers()


def publish_web(repo: CatalogRepo, images: TestImages, port: int, *, grace: str,
                version: str = "1.0.0", image: str | None = None) -> None:  # fmt: skip
    """`web`, with its icon in the repository, a folder and a Docker volume of its own."""
    web = app_definition("web", version=version, icon="icons/web.svg", docker={
        "image": image or images.web_v1, "command": STUBBORN, "stop_grace_period": grace,
        "ports": [{"container": 80, "host": port}],
        "volumes": [{"host_path": "./data", "container_path": "/data"},
                    {"volume": "cache", "container_path": "/cache"}],
    })  # fmt: skip
    repo.write("icons/web.svg", ICON)
    repo.write("apps/tools/web.yaml", yaml.safe_dump(web))
    repo.commit()


def set_up(served: Served, repo: CatalogRepo, sshd: Sshd, users: SshUsers, data_root: Path) -> None:
    """The catalog and the server, from the shell; `web` installed on it."""
    served.tomo("repo", "add", repo.url, "--name", "Home")
    served.add_box(sshd, users, data_root)
    served.tomo("install", "home/web", "--server", "box")


async def stop_from_its_page(page: Page, base: str) -> None:
    await page.goto(f"{base}/installed")
    await page.locator(".tile").get_by_role("link", name="web", exact=True).click()
    await page.get_by_role("button", name="Stop", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/jobs/"))
    stop = page.locator('#job-steps li[data-name="stop"]')
    await expect(stop).to_have_attribute("data-status", "running")  # Docker is waiting
    # The page's script follows the job's stream (else it is not loaded yet, and a
    # tomo killed now would leave the page with nothing to notice it).
    await expect(page.locator("#job")).to_have_attribute("data-live", "yes")


async def test_the_dashboard_shows_each_app_as_a_tile_and_uninstall_asks_twice_with_data(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any, images: TestImages,
    sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    base, port, repo = with_users.url, free_port(), make_repo()
    publish_web(repo, images, port, grace="6s")
    set_up(with_users, repo, sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)

    await page.goto(f"{base}/installed")
    tile = page.locator(".tile", has=page.get_by_role("link", name="web", exact=True))
    await expect(tile.locator('[data-status="running"]')).to_have_text("running")
    await expect(tile.locator(".icon img")).to_have_js_property("naturalWidth", 64)
    opened = tile.get_by_role("link", name="Open web (opens in a new tab)")
    await expect(opened).to_have_attribute("href", f"http://127.0.0.1:{port}")
    await expect(tile).not_to_contain_text("Update available")
    await look(page, "installed-tiles")

    await stop_from_its_page(page, base)
    await page.goto(f"{base}/installed")
    await expect(tile.locator('[data-operation="stop"]')).to_have_text("stopping…")
    await expect(tile).to_contain_text("gives it up to 6s, its grace period, to finish before")
    await expect(opened).to_have_count(0)
    await look(page, "installed-stopping")
    # The page looks again every few seconds while the stop runs: no reload.
    await expect(tile.locator('[data-status="stopped"]')).to_have_text("stopped", timeout=30_000)
    await expect(tile).not_to_contain_text("stopping")

    publish_web(repo, images, port, grace="6s", version="2.0.0", image=images.web_v2)
    with_users.tomo("repo", "sync", "home")
    await page.reload()
    await expect(tile.get_by_role("link", name="Update available: 2.0.0 for web")).to_have_attribute(
        "href", re.compile(r"/installed/\w+/update$"))  # fmt: skip
    await page.get_by_role("link", name="Table").click()
    await expect(page).to_have_url(f"{base}/installed?view=table")
    row = page.locator("tbody tr", has=page.get_by_role("link", name="web", exact=True))
    await expect(row).to_contain_text("stopped")
    await expect(row).to_contain_text("Update available: 2.0.0")
    await look(page, "installed-table")

    await row.get_by_role("link", name="web", exact=True).click()
    await page.get_by_role("link", name="Uninstall").click()
    await page.get_by_label("Also delete its data").check()
    await page.get_by_role("button", name="Uninstall web").click()
    confirm = page.locator(".confirm-delete")
    asked = page.get_by_role("heading", name="Delete the data of web for good?")
    await expect(asked).to_be_visible()
    await expect(confirm).to_contain_text(f"the folder {data_root}/web/data, with everything in it")
    await expect(confirm).to_contain_text("the Docker volume web_cache")
    await expect(confirm).to_contain_text(f"{data_root}/web itself, if nothing else is left in it")
    assert (data_root / "web" / "data").is_dir()  # nothing deleted yet
    await look(page, "uninstall-confirm-delete")
    await page.get_by_role("button", name="Delete the data and uninstall web").click()
    await job_ends(page, "done")
    assert not (data_root / "web").exists()
    volumes = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True,
                             check=True).stdout.split()  # fmt: skip
    assert "web_cache" not in volumes
    await page.goto(f"{base}/installed")
    await expect(page.get_by_text("Nothing installed yet")).to_be_visible()
    assert watched.problems == []


class KillableTomo:
    """A `tomo serve` a test may kill (as a crash would) and start again, on the same
    port and data directory."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_PUBLISH_ADDRESS": "127.0.0.1",
               "TOMO_INSTALL_WAIT_TIMEOUT": "20", "TOMO_INSTALL_STABLE_SECONDS": "1",
               "TOMO_SYNC_INTERVAL": "0", "TOMO_MONITOR_INTERVAL": "0"}  # fmt: skip
        self.served = Served(f"http://127.0.0.1:{self.port}", tmp_path / "served", env)
        self.log = tmp_path / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [*tomo_command(), "--data-dir", str(self.served.data_dir), "serve",
                 "--port", str(self.port)], env=self.served.env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until_serving(self.served.url, self.process)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def killable(tmp_path: Path) -> Iterator[KillableTomo]:
    tomo = KillableTomo(tmp_path)
    tomo.start()
    tomo.served.tomo("user", "create", ADMIN[0], "--admin", "--password-stdin", stdin=ADMIN[1])
    try:
        yield tomo
    finally:
        tomo.kill()


async def test_a_jobs_page_says_it_lost_tomo_and_catches_up_when_tomo_is_back(
    browser: Browser, killable: KillableTomo, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    repo = make_repo()
    publish_web(repo, images, free_port(), grace="60s")  # a stop that takes its time
    set_up(killable.served, repo, sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, killable.served.url, ADMIN)
    await stop_from_its_page(page, killable.served.url)

    killable.kill()  # tomo dies mid-stop
    note = page.locator("#job-connection")
    await expect(note).to_have_text("Connection to tomo lost, retrying…")
    await expect(note).to_have_attribute("role", "status")  # said by screen readers
    await expect(page.locator("#job-status")).to_contain_text("running")  # as last known
    await look(page, "job-connection-lost")

    killable.start()  # it settles the interrupted stop as it starts
    await expect(note).to_have_text("Connected to tomo again: the steps below are up to date.",
                                    timeout=JOB_TIMEOUT)  # fmt: skip
    await expect(page.locator("#job-status")).to_contain_text("interrupted")
    await expect(page.locator("#job-end")).to_contain_text("tomo stopped during the stop")
    await look(page, "job-reconnected")
    # What the browser logged while tomo was gone: its failed requests, nothing else.
    gone = re.compile(r"ERR_CONNECTION_REFUSED|ERR_CONNECTION_RESET|ERR_EMPTY_RESPONSE")
    assert [problem for problem in watched.problems if not gone.search(problem)] == []
