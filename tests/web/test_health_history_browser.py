"""The health history in a real Chromium: an app installed on the test server by a
real `tomo serve`, killed and started by hand while a real health monitor makes its
passes on the same data, shows on its page what happened, and its events alone on
the Events page (screenshots under test-artifacts/screenshots/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, expect

from tests.deployment.conftest import data_root, images, registry, remove_test_containers
from tests.deployment.test_install import docker
from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import (
    VIEWER,
    Served,
    Watched,
    browser,
    log_in,
    look,
    new_page,
    served,
    watched,
    with_users,
)
from tomo.config import Settings
from tomo.monitor.monitor import HealthMonitor
from tomo.runtime import open_runtime

__all__ = ["browser", "data_root", "images", "registry", "served", "watched", "with_users"]


@pytest.fixture
def no_container_left(docker_engine: None) -> Iterator[None]:
    yield
    remove_test_containers()


def web_on_box(served: Served, make_repo: Any, images: TestImages, sshd: Sshd,
               ssh_users: SshUsers, data_root: Path) -> None:  # fmt: skip
    """The web app of a fresh catalog, installed on the test server as `web`."""
    repo = make_repo()
    port = free_port()
    docker_part = {"image": images.web_v1, "ports": [{"container": 80, "host": port}],
                   "restart_policy": "no"}  # fmt: skip
    repo.write("apps/tools/web.yaml", yaml.safe_dump(app_definition("web", docker=docker_part)))
    repo.commit()
    served.tomo("repo", "add", repo.url, "--name", "Home")
    served.tomo("server", "add", "box", "127.0.0.1", "--port", str(sshd.port), "--user",
                ssh_users.user, "--key", str(ssh_users.key), "--fingerprint", sshd.fingerprint,
                "--data-root", str(data_root))  # fmt: skip
    served.tomo("install", "home/web", "--server", "box")


async def flapped(served: Served) -> str:
    """Killed and started twice while a monitor makes its passes on the served data:
    down, recovered, then flapping. The installation's id."""
    settings = Settings(data_dir=served.data_dir, builtin_catalog=False)
    async with open_runtime(settings) as runtime:
        monitor = HealthMonitor(runtime.deployment, runtime.events, interval=0, time_limit=10)
        await monitor.run_pass()
        for verb in ("kill", "start", "kill"):
            docker(verb, "web")
            await monitor.run_pass()
        await runtime.events.flush()
        (web,) = await runtime.deployment.list_installations()
        return web.id


async def test_the_installation_page_shows_its_health_history(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
    no_container_left: None,
) -> None:  # fmt: skip
    web_on_box(with_users, make_repo, images, sshd, ssh_users, data_root)
    installation = await flapped(with_users)
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, VIEWER)

    await page.goto(f"{with_users.url}/installed/{installation}")
    history = page.locator("section.health-history")
    await expect(history.get_by_role("heading", name="Health history")).to_be_visible()
    titles = history.locator(".event-title")
    await expect(titles).to_have_text(["web on box is flapping: down 2 times in 1 min",
                                       "web on box recovered", "web on box is down"])  # fmt: skip
    await expect(history.locator(".event-detail").last).to_contain_text("exit code 137")
    await look(page, "installation-health-history")

    await history.get_by_role("link", name="All its events").click()
    await expect(page.get_by_role("heading", name="Events of web")).to_be_visible()
    await expect(page.locator(".event-title")).to_have_count(3)
    await look(page, "events-of-one-installation")
    assert watched.problems == []
