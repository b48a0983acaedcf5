"""The journeys of the web UI issue in a real browser, against a real `tomo serve`,
a real catalog repo and the real test server (sshd + Docker + registry): the
happy one from setup to uninstall, the refusals a person meets on the way, and
a viewer. Every main page is checked for accessibility and screenshotted."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from tests.deployment.conftest import remove_test_containers
from tests.deployment.test_install import page as fetch
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import (
    ADMIN,
    VIEWER,
    Served,
    Watched,
    labelled,
    log_in,
    look,
    new_page,
)

JOB_TIMEOUT = 90_000  # ms: pull, create and the stable wait of a small image


@pytest.fixture(autouse=True)
def _no_container_left(docker_engine: None) -> Iterator[None]:
    """Whatever a journey installed goes when it ends, however it ends."""
    yield
    remove_test_containers()


def catalog(make_repo: Any, images: TestImages) -> CatalogRepo:
    """`web` (a required variable, a port, a folder) and `dockerish` (the Docker socket)."""
    repo: CatalogRepo = make_repo()
    web = app_definition("web", description="A tiny web server that answers with its version.",
                         docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": free_port()}],
        "volumes": [{"host_path": "./data", "container_path": "/data"}],
        "environment": [{"name": "TZ", "default": "UTC"},
                        {"name": "GREETING", "required": True,
                         "description": "What the app says first"}],
    })  # fmt: skip
    risky = app_definition("dockerish", docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": free_port()}],
        "volumes": [{"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"}],
    })  # fmt: skip
    repo.write("apps/tools/web.yaml", yaml.safe_dump(web))
    repo.write("apps/tools/dockerish.yaml", yaml.safe_dump(risky))
    repo.commit()
    return repo


async def add_repo(page: Page, base: str, repo: CatalogRepo) -> None:
    await page.goto(f"{base}/repos/add")
    await look(page, "repo-add")
    await labelled(page, "Repository URL").fill(repo.url)
    await labelled(page, "Name").fill("Home")
    await page.get_by_role("button", name="Add and sync").click()
    await expect(page).to_have_url(re.compile(r"/repos/home"), timeout=30_000)
    await expect(page.get_by_text("synced").first).to_be_visible(timeout=30_000)


async def add_server(
    page: Page, base: str, sshd: Sshd, users: SshUsers, data_root: Path
) -> None:  # fmt: skip
    await page.goto(f"{base}/servers/add")
    await look(page, "server-add")
    await labelled(page, "Name").fill("box")
    await labelled(page, "Host").fill("127.0.0.1")
    await labelled(page, "SSH port").fill(str(sshd.port))
    await labelled(page, "User").fill(users.user)
    await page.get_by_role("textbox", name="Private key").fill(users.key.read_text())
    await labelled(page, "App data directory").fill(str(data_root))
    await page.get_by_role("button", name="Add and check its host key").click()
    await expect(page.get_by_text(sshd.fingerprint).first).to_be_visible()  # shown to compare
    await look(page, "server-trust")
    await page.get_by_role("button", name="Trust this key and log in").click()
    await expect(page.get_by_text("online").first).to_be_visible(timeout=30_000)
    await look(page, "server")


async def job_ends(page: Page, outcome: str) -> None:
    """Wait on a job's page until its end shows `outcome`."""
    await expect(page).to_have_url(re.compile(r"/jobs/"))
    await expect(page.locator("#job-status")).to_contain_text(outcome, timeout=JOB_TIMEOUT)


async def test_the_happy_journey_from_setup_to_uninstall(
    browser: Browser, served: Served, watched: Watched, make_repo: Any, images: TestImages,
    sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    base = served.url
    page = await new_page(browser, watched)
    await page.goto(base)
    await labelled(page, "User name").fill(ADMIN[0])
    await labelled(page, "Password").fill(ADMIN[1])
    await labelled(page, "Password again").fill(ADMIN[1])
    await page.get_by_role("button", name="Create the admin and log in").click()
    await add_repo(page, base, catalog(make_repo, images))
    await look(page, "repo")
    await add_server(page, base, sshd, ssh_users, data_root)

    await page.goto(f"{base}/store")
    await page.get_by_label("Search apps").fill("tiny web")  # found as it is typed
    results = page.locator("#results")
    await expect(results.get_by_role("link", name="Web", exact=True)).to_be_visible()
    await expect(results.get_by_role("link", name="Dockerish")).to_have_count(0)
    await look(page, "store-search")
    await results.get_by_role("link", name="Web", exact=True).click()
    await expect(page.get_by_role("heading", name="Web", exact=True)).to_be_visible()
    await look(page, "app")

    port = free_port()
    await page.get_by_role("link", name="Install Web").click()
    await expect(page.get_by_text("box can take Web")).to_be_visible()  # checked on the server
    await labelled(page, "GREETING").fill("hello from the browser")
    await labelled(page, "Host port for 80/tcp").fill(str(port))
    await page.get_by_role("button", name="Preview the command").click()
    await expect(page.locator("pre.command")).to_contain_text(f"127.0.0.1:{port}:80")
    await look(page, "install-preview")
    await page.get_by_role("button", name="Install on box").click()
    await job_ends(page, "done")
    await expect(page.get_by_role("link", name=re.compile(f"127.0.0.1:{port}"))).to_be_visible()
    await look(page, "job-done")
    assert fetch(port) == "web v1\n"

    await page.get_by_role("link", name="Open the installation").click()
    await expect(page.get_by_text("running").first).to_be_visible()
    await look(page, "installation")
    installation = page.url
    await page.get_by_role("link", name="Logs").first.click()
    await expect(page.locator("pre.log")).to_be_visible()
    await look(page, "logs")
    await page.goto(installation)
    await page.get_by_role("link", name="Update").click()
    await expect(labelled(page, "GREETING")).to_be_visible()
    await look(page, "update")
    await page.goto(installation)
    await page.get_by_role("button", name="Stop").click()
    await job_ends(page, "done")
    await page.goto(f"{base}/installed")
    await expect(page.locator("#results")).to_contain_text("stopped")
    await look(page, "installed")

    await page.locator("#results").get_by_role("link", name="web", exact=True).click()
    await page.get_by_role("link", name="Uninstall").click()
    await expect(page.locator("#remove-data-what")).to_contain_text(f"{data_root}/web/data")
    await look(page, "uninstall")
    await page.get_by_label("Also delete its data").check()
    await page.get_by_role("button", name="Uninstall web").click()
    await page.get_by_role("button", name="Delete the data and uninstall web").click()
    await job_ends(page, "done")
    assert not (data_root / "web").exists()
    await page.goto(f"{base}/installed")
    await expect(page.get_by_text("Nothing installed yet")).to_be_visible()
    for path, name in (("/servers", "servers"), ("/repos", "repos"), ("/users", "users"),
                       ("/tokens", "tokens"), ("/audit", "audit"), ("/account", "account")):  # fmt: skip
        await page.goto(f"{base}{path}")
        await look(page, name)
    assert watched.problems == []


async def test_what_an_install_refuses_and_says(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
) -> None:  # fmt: skip
    base = with_users.url
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)
    await add_repo(page, base, catalog(make_repo, images))
    await add_server(page, base, sshd, ssh_users, data_root)

    await page.goto(f"{base}/apps/home/web/install")
    await page.get_by_role("button", name="Install on box").click()  # GREETING left empty
    greeting = labelled(page, "GREETING")
    await expect(greeting).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#e-env\\.GREETING")).to_contain_text("required")
    await look(page, "install-refused")

    with socket.socket() as taken:  # a port something else already listens on
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        await greeting.fill("hi")
        await labelled(page, "Host port for 80/tcp").fill(str(busy))
        await page.get_by_role("button", name="Install on box").click()
        port_field = labelled(page, "Host port for 80/tcp")
        await expect(port_field).to_have_attribute("aria-invalid", "true")
        await expect(port_field).to_have_value(str(busy))  # what was typed is kept
        await expect(labelled(page, "GREETING")).to_have_value("hi")
        await expect(page.get_by_text(str(busy)).first).to_be_visible()

    await page.goto(f"{base}/apps/home/dockerish/install")
    await page.get_by_role("button", name="Preview the command").click()  # none ticked yet
    await expect(page.locator("#risks-to-accept")).to_contain_text("Controls Docker on the server")
    await page.get_by_role("button", name="Install on box").click()
    risk = page.get_by_label(re.compile("I accept: Controls Docker"))
    await expect(risk).to_have_attribute("aria-invalid", "true")
    await risk.check()
    await page.get_by_role("button", name="Preview the command").click()
    await expect(page.locator("pre.command")).to_contain_text("/var/run/docker.sock")
    await expect(page.get_by_label(re.compile("I accept: Controls Docker"))).to_be_checked()
    async with httpx.AsyncClient() as http:  # nothing was created for any of it
        assert (await http.get(f"{base}/installed")).status_code in (200, 303)
    assert not (data_root / "web").exists() and not (data_root / "dockerish").exists()
    assert watched.problems == []


async def test_a_viewer_sees_no_install_and_a_forged_one_is_refused(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages,
) -> None:  # fmt: skip
    base = with_users.url
    repo = catalog(make_repo, images)
    with_users.tomo("repo", "add", repo.url, "--name", "Home")
    page = await new_page(browser, watched)
    await log_in(page, base, VIEWER)
    await page.goto(f"{base}/apps/home/web")
    await expect(page.get_by_role("heading", name="Web", exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name="Install Web")).to_have_count(0)
    await expect(page.get_by_role("link", name="Users")).to_have_count(0)
    await look(page, "app-viewer")
    refused = await page.goto(f"{base}/apps/home/web/install")
    assert refused is not None and refused.status == 403
    await expect(page.get_by_role("heading", name="Forbidden")).to_be_visible()

    cookies = {c["name"]: c["value"] for c in await page.context.cookies()}
    forged = await page.request.post(f"{base}/apps/home/web/install", form={
        "csrf_token": cookies["tomo_csrf"], "server": "box", "action": "install",
        "env.GREETING": "x",
    }, max_redirects=0)  # fmt: skip
    assert forged.status == 403
    assert "viewer" in await forged.text()
    assert watched.problems == []
