"""Apps that need other apps, and containers tomo did not create, in a real browser:
the app page's tree of what it needs, the install form that installs it first,
and a container made by hand adopted from the server's "Other containers" page."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, expect

from tests.deployment.conftest import remove_test_containers
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, log_in, look, new_page
from tests.web.browser.test_journeys import job_ends


@pytest.fixture
def no_container_left(docker_engine: None) -> Iterator[None]:
    yield
    remove_test_containers()


def web(images: TestImages, **docker: Any) -> dict[str, Any]:
    return {"image": images.web_v1, "ports": [{"container": 80, "host": free_port()}],
            "volumes": [{"host_path": "./data", "container_path": "/data"}], **docker}  # fmt: skip


def catalog(make_repo: Any, images: TestImages) -> Any:
    repo = make_repo()
    apps = {
        "node": {"name": "Node", "docker": web(images, environment=[
            {"name": "TOKEN", "default": "${TOKEN}"}]),
            "settings": [{"name": "TOKEN", "secret": True, "generate": "hex"}],
            "exports": [{"name": "NODE_HOST", "host": "app"},
                        {"name": "NODE_TOKEN", "value": "${TOKEN}"}]},
        "viewer": {"name": "Viewer", "tagline": "Shows what the node knows",
                   "docker": web(images, environment=[
                       {"name": "UPSTREAM", "default": "${NODE_HOST}"}]),
                   "requires": [{"app": "node", "imports": ["NODE_HOST", "NODE_TOKEN"]}]},
    }  # fmt: skip
    for app_id, fields in apps.items():
        definition = {"id": app_id, "version": "1.0.0", "author": "Tests",
                      "description": f"The {app_id} of the tests.", **fields}  # fmt: skip
        repo.write(f"apps/tools/{app_id}.yaml", yaml.safe_dump(definition))
    repo.commit()
    return repo


def add_server(served: Served, sshd: Sshd, users: SshUsers, data_root: Path) -> None:
    served.add_box(sshd, users, data_root)


async def test_an_app_that_needs_another_is_installed_with_it_from_its_page(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
    no_container_left: None,
) -> None:  # fmt: skip
    base = with_users.url
    with_users.tomo("repo", "add", catalog(make_repo, images).url, "--name", "Home")
    add_server(with_users, sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)

    await page.goto(f"{base}/apps/home/viewer")
    needs = page.locator("section", has=page.get_by_role("heading", name="Apps it needs"))
    await expect(needs).to_contain_text("gives NODE_HOST, NODE_TOKEN")
    await expect(page.get_by_text("Reaches the app node")).to_be_visible()
    await look(page, "app-requires")

    await page.get_by_role("link", name="Install Viewer").click()
    await expect(page.get_by_text("Viewer needs another app on box first.")).to_be_visible()
    await page.get_by_label("Install what it needs first: home/node").check()
    await page.get_by_label("I accept: Reaches the app node").check()
    await look(page, "install-requires")
    await page.get_by_role("button", name="Install on box").click()
    await expect(page.get_by_role("status").first).to_contain_text("Installing node first")
    await job_ends(page, "done")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Installed viewer")
    assert watched.problems == []


async def test_a_container_made_by_hand_is_adopted_from_the_servers_page(
    browser: Browser, with_users: Served, watched: Watched, images: TestImages,
    sshd: Sshd, ssh_users: SshUsers, data_root: Path, no_container_left: None,
) -> None:  # fmt: skip
    base = with_users.url
    add_server(with_users, sshd, ssh_users, data_root)
    name = f"byhand-{uuid.uuid4().hex[:6]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-p", f"127.0.0.1:{free_port()}:80",
                    images.web_v1], check=True, capture_output=True)  # fmt: skip
    try:
        page = await new_page(browser, watched)
        await log_in(page, base, ADMIN)
        await page.goto(f"{base}/servers/box")
        await page.get_by_role("link", name="Other containers").click()
        await expect(page.get_by_role("heading", name=name)).to_be_visible()
        await look(page, "server-containers")
        await page.get_by_role("button", name=f"Adopt {name}").click()
        await expect(page.get_by_role("status").first).to_contain_text(
            f"Adopted {name} as it runs: nothing was restarted.")  # fmt: skip
        await expect(page.get_by_text("a container made outside tomo")).to_be_visible()
        await look(page, "adopted")
        assert watched.problems == []
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
