"""The install form in a real browser, against a real `tomo serve` and the real test
server: a port in use comes with a free one that one click puts in; a preview shows
what it creates and the risk to accept before any is ticked; the secret tomo
generates is shown once the install is done, and only then; after a failed install,
"Back to the install form" brings back what was typed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from tests import services
from tests.deployment.conftest import remove_test_containers
from tests.deployment.test_install import container_env
from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page
from tests.web.browser.test_journeys import job_ends

SOCKET = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
          "readonly": True}  # fmt: skip


@pytest.fixture
def no_container_left(docker_engine: None) -> Iterator[None]:
    yield
    remove_test_containers()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port a plain process listens on (not Docker, not tomo)."""
    with services.held_port() as port:
        yield port


def publish(served: Served, make_repo: Any, images: TestImages, busy: int) -> None:
    """`watcher` (a port in use, the Docker socket, a secret tomo generates) and
    `broken` (an image that exits at once), in a repo named Home."""
    repo = make_repo()
    watcher = app_definition("watcher", docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": busy}], "volumes": [SOCKET],
        "environment": [{"name": "API_KEY", "secret": True, "generate": "hex"}]})  # fmt: skip
    broken = app_definition("broken", docker={
        "image": images.broken, "ports": [{"container": 80, "host": free_port()}],
        "environment": [{"name": "GREETING", "required": True},
                        {"name": "TOKEN", "secret": True, "required": True}]})  # fmt: skip
    repo.write("apps/tools/watcher.yaml", yaml.safe_dump(watcher))
    repo.write("apps/tools/broken.yaml", yaml.safe_dump(broken))
    repo.commit()
    served.tomo("repo", "add", repo.url, "--name", "Home")


async def test_the_install_form_helps_past_conflicts_risks_and_failures(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any, images: TestImages,
    sshd: Sshd, ssh_users: SshUsers, data_root: Path, held_port: int, no_container_left: None,
) -> None:  # fmt: skip
    base = with_users.url
    publish(with_users, make_repo, images, held_port)
    with_users.add_box(sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)

    await page.goto(f"{base}/apps/home/watcher/install")
    port = labelled(page, "Host port for 80/tcp")
    await expect(page.locator(".fit-result")).to_contain_text(f"host port {held_port}/tcp")
    offer = page.locator('#s-port\\.0 button[name="fill"]')
    free = str(await offer.get_attribute("value")).removeprefix("port.0=")
    assert free.isdigit() and int(free) != held_port
    await look(page, "install-port-offered")
    await offer.click()
    await expect(port).to_have_value(free)
    await expect(page.locator("#preview")).to_contain_text("can take this container")
    # The preview before the risk is ticked: what it creates, and the consent it needs.
    preview = page.locator("#preview")
    await expect(preview).to_contain_text(f"port {free} on box leads to 80/tcp in the container")
    await expect(page.locator("#risks-to-accept")).to_contain_text("Controls Docker on the server")
    await look(page, "install-preview-risks")

    await page.locator("#risks-to-accept a").click()  # to the box to tick
    await expect(page.locator("#f-risk\\.docker-socket")).to_be_focused()
    await page.locator("#f-risk\\.docker-socket").check()
    await page.get_by_role("button", name="Install on box").click()
    await job_ends(page, "done")
    secret = page.locator("#generated .secret-value")
    await expect(secret).to_have_text(container_env("watcher", "API_KEY"))
    await look(page, "job-generated-secret")
    await page.reload()
    await expect(page.locator("#job-status")).to_contain_text("done")
    await expect(page.locator("#generated")).to_have_count(0)  # shown once

    await failed_install_comes_back_filled_in(page, base)
    assert watched.problems == []


async def failed_install_comes_back_filled_in(page: Page, base: str) -> None:
    await page.goto(f"{base}/apps/home/broken/install")
    await labelled(page, "Instance name").fill("my-broken")
    await labelled(page, "GREETING").fill("hello there")
    await labelled(page, "TOKEN").fill("s3cret-typed")
    await page.get_by_role("button", name="Install on box").click()
    await job_ends(page, "failed")
    await page.get_by_role("link", name="Back to the install form").click()
    await expect(labelled(page, "Instance name")).to_have_value("my-broken")
    await expect(labelled(page, "GREETING")).to_have_value("hello there")
    await expect(labelled(page, "TOKEN")).to_have_value("")
    await expect(page.locator("#kept-form")).to_contain_text("type it again (TOKEN)")
    await look(page, "install-kept-after-failure")
