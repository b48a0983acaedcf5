"""The install form on a Swarm manager in a real browser, against a real `tomo serve`
and a real single-node Swarm (tests/swarmhost.py): it asks how the app runs, where
its data goes and how its ports open; the preview says the node tomo suggests and
why, the tasks and where the ports open; the install runs on the Swarm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from playwright.async_api import Browser, expect

from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.swarmhost import SwarmHost
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page
from tests.web.browser.test_journeys import job_ends


async def test_the_install_form_on_a_swarm_says_where_the_app_runs(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any, images: TestImages,
    swarm_sshd: Sshd, ssh_users: SshUsers, data_root: Path, swarm_host: SwarmHost,
) -> None:  # fmt: skip
    base = with_users.url
    port = free_port()
    repo = make_repo()
    web = app_definition("web", docker={
        "image": images.web_v1, "ports": [{"container": 80, "host": port}],
        "volumes": [{"host_path": "./data", "container_path": "/data"}]})  # fmt: skip
    repo.write("apps/tools/web.yaml", yaml.safe_dump(web))
    repo.commit()
    with_users.tomo("repo", "add", repo.url, "--name", "Home")
    with_users.tomo("server", "add", "cluster", "127.0.0.1", "--port", str(swarm_sshd.port),
                    "--user", ssh_users.user, "--key", str(ssh_users.key), "--fingerprint",
                    swarm_sshd.fingerprint, "--data-root", str(data_root))  # fmt: skip
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)
    try:
        await page.goto(f"{base}/apps/home/web/install")
        await expect(labelled(page, "Runs as")).to_have_value("services")
        await expect(labelled(page, "Data on")).to_be_visible()
        await labelled(page, "Replicas").fill("3")  # one, as it has data: the preview says so
        await page.get_by_role("button", name="Preview the command").click()
        preview = page.locator("#preview")
        await expect(preview).to_contain_text(f"on node {_hostname(swarm_host)}")
        await expect(preview).to_contain_text(
            "suggested: the ready node with the fewest apps' data"
        )
        await expect(preview).to_contain_text("1 task (not 3: its data is on one node)")
        await look(page, "install-on-a-swarm")

        await page.get_by_role("button", name="Install on cluster").click()
        await job_ends(page, "done")
        assert swarm_host.fetch(f"http://127.0.0.1:{port}/").stdout == "web v1\n"
        assert watched.problems == []
    finally:
        swarm_host.clear()


def _hostname(host: SwarmHost) -> str:
    return host.docker("info", "--format", "{{.Name}}").stdout.decode().strip()
