"""What installations use, measured on the real test server (sshd + Docker) by the
health monitor's pass, and shown by the API, the pages and `tomo ps --stats`."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.async_api import Browser, expect

from tests.api.conftest import users_of
from tests.cli.tomo_cli import Laptop, Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.deployment.test_multi_container import two_services
from tests.monitor.test_monitor import installed, monitor_of
from tests.services import free_port, wait_until_serving
from tests.web.browser import conftest as browsing
from tests.web.browser.conftest import ADMIN, Watched, log_in, look, new_page
from tests.web.conftest import Web, text_of
from tomo.app import create_app
from tomo.monitor.monitor import HealthMonitor
from tomo.runtime import Runtime

# The browser tests' Chromium, its pages watched for script errors.
browser = browsing.browser
watched = browsing.watched
LIMIT = 64 * 2**20  # set on the container with `docker update`: tomo sets none itself


@pytest.fixture
def site(deploy: Deploy) -> Iterator[Web]:
    """The web app (and API) on the deploy fixture's data, its monitor never started."""
    with TestClient(create_app(deploy.runtime.settings)) as client:
        yield Web(users_of(client), client)


def served_pass(site: Web, time_limit: float = 10) -> None:
    """One pass of a monitor of the served app's own runtime, on the app's loop: its
    figures go where its pages and API read them."""
    runtime: Runtime = cast(FastAPI, site.client.app).state.runtime
    monitor = HealthMonitor(runtime.deployment, runtime.events, interval=0,
                            time_limit=time_limit)  # fmt: skip
    assert site.client.portal is not None
    site.client.portal.call(monitor.run_pass)
    site.client.portal.call(monitor.figures_read)  # read beside the pass, not waited for


def one(site: Web, installation: str) -> dict[str, Any]:
    answer = site.api.admin.get(f"/api/installations/{installation}")
    assert answer.status_code == 200, answer.text
    return cast(dict[str, Any], answer.json())


async def test_a_pass_measures_each_installation_and_the_api_and_pages_show_it(
    deploy: Deploy, site: Web
) -> None:
    web = await installed(deploy, "web")
    docker("update", "--memory", str(LIMIT), "--memory-swap", str(LIMIT), "web")
    assert one(site, web)["resources"] is None  # nothing measured yet
    assert "—" in text_of(site.admin().get("/installed?view=table"))

    served_pass(site)

    used = one(site, web)["resources"]
    assert used["running"] == 1 and used["memory_limit_bytes"] == LIMIT
    assert 0 < used["memory_bytes"] < LIMIT and used["cpu_percent"] >= 0
    assert used["net_rx_bytes"] >= 0 and used["block_read_bytes"] >= 0
    (listed,) = site.api.admin.get("/api/installations").json()
    assert listed["resources"] == used
    (server,) = site.api.admin.get("/api/servers").json()
    figures = server["resources"]
    assert figures["cpu_count"] >= 1 and figures["memory_total_bytes"] > LIMIT
    assert figures["installations"] == 1 and figures["used"]["memory_bytes"] == used["memory_bytes"]
    assert site.api.admin.get("/api/servers/box").json()["resources"] == figures

    admin = site.admin()
    table = admin.get("/installed?view=table").text
    row = re.search(rf'<tr>\s*<td data-label="App"><a href="/installed/{web}".*?</tr>', table, re.S)
    assert row, table
    assert re.search(r'data-label="Memory"[^>]*>[\d.]+ (KiB|MiB) / 64.0 MiB<meter', row.group(0))
    assert "—" not in text_of_html(row.group(0))
    assert re.search(r'class="tile-usage hint">.*CPU [\d.]+%.*/ 64.0 MiB',
                     admin.get("/installed").text)  # fmt: skip
    page = text_of(admin.get(f"/installed/{web}"))
    assert re.search(r"Resources CPU [\d.]+% \(100% is one CPU fully busy\) Memory [\d.]+ \w+ / "
                     r"64.0 MiB used / limit", page), page  # fmt: skip
    assert "over 1 running container" in page
    servers = text_of(admin.get("/servers"))
    assert re.search(
        r"Apps' CPU [\d.]+% of \d+00% \(\d+ CPUs?\) Apps' memory [\d.]+ \w+ / ", servers
    )
    assert "1 installation, measured" in servers


def text_of_html(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


async def test_an_app_of_several_containers_is_their_sum(deploy: Deploy, site: Web) -> None:
    app = await deploy.publish("duo", **two_services(deploy))
    service = deploy.runtime.deployment
    from tomo.deployment.spec import InstallConfig

    started = await service.install_app("box", app, InstallConfig(name="duo"))
    assert (await service.run_job(started.job_id)).status == "done"
    served_pass(site)
    used = one(site, started.installation.id)["resources"]
    assert used["running"] == 2 and used["memory_bytes"] > 0
    alone = [docker("stats", "--no-stream", "--format", "{{.MemUsage}}", name).strip()
             for name in ("duo", "duo-api")]  # fmt: skip
    assert all(" / " in figure for figure in alone), alone


async def test_a_server_too_slow_for_the_figures_is_still_judged(deploy: Deploy) -> None:
    """`docker stats` takes Docker about two seconds, `docker inspect` far less: with a
    time limit of one second the health check answers and the figures do not."""
    web = await installed(deploy, "web", restart_policy="no")
    monitor = monitor_of(deploy)
    monitor.time_limit = 1.0
    await monitor.run_pass()  # takes note: the app runs
    await monitor.figures_read()
    assert deploy.runtime.deployment.resources.of_installation(web) is None  # not in time
    docker("kill", "web")
    await monitor.run_pass()
    await deploy.runtime.events.flush()
    listed = await deploy.runtime.events.list_events(user_id="nobody", limit=50)
    assert [e.title for e in listed.events if e.installation_id == web] == ["web on box is down"]


async def test_the_figures_of_an_uninstalled_app_go_with_it(deploy: Deploy, site: Web) -> None:
    web = await installed(deploy, "web")
    served_pass(site)
    assert one(site, web)["resources"]["running"] == 1
    assert site.api.admin.delete(f"/api/installations/{web}").status_code in (200, 202)
    await wait_until_gone(site, web)
    served_pass(site)  # no installation watched on box any more
    assert site.api.admin.get("/api/servers/box").json()["resources"] is None
    assert "Apps use —" in text_of(site.admin().get("/servers"))


async def wait_until_gone(site: Web, installation: str) -> None:
    for _ in range(300):
        if site.api.admin.get(f"/api/installations/{installation}").status_code == 404:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{installation} still there")


async def test_ps_stats_reads_the_servers_now(deploy: Deploy, tomo: Tomo) -> None:
    web = await installed(deploy, "web")
    (row,) = json.loads(tomo.run("ps", "--stats", "--json").stdout)
    assert row["id"] == web and row["status"] == "running"
    assert row["resources"]["memory_bytes"] > 0 and row["resources"]["running"] == 1
    table = tomo.run("ps", "--stats").stdout
    assert re.search(r"web .*running .*[\d.]+% .*[\d.]+ (KiB|MiB) / [\d.]+ GiB", table), table
    assert "CPU" in table and "block IO (read / write)" in table
    plain = tomo.run("ps").stdout  # without --stats: no figures, no server asked for them
    assert "CPU" not in plain


@contextmanager
def serving_with_monitor(tomo: Tomo, tmp_path: Path) -> Iterator[str]:
    """`tomo serve` on the deploy fixture's data, its health monitor passing every
    second; its URL. Its admin: ADMIN."""
    tomo.run("user", "create", ADMIN[0], "--admin", "--password-stdin", stdin=f"{ADMIN[1]}\n")
    url = f"http://127.0.0.1:{free_port()}"
    env = {**tomo.env, "TOMO_SYNC_INTERVAL": "0", "TOMO_MONITOR_INTERVAL": "1"}
    with (tmp_path / "serve.log").open("w") as log:
        served = subprocess.Popen([*tomo.tomo, "serve", "--port", url.rsplit(":", 1)[1]],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until_serving(url, served)
        yield url
    finally:
        served.terminate()
        served.wait(timeout=30)


async def test_ps_stats_logged_in_shows_the_served_tomos_last_measure(
    deploy: Deploy, tomo: Tomo, tmp_path: Path
) -> None:
    web = await installed(deploy, "web")
    with serving_with_monitor(tomo, tmp_path) as url:
        laptop = Laptop(tmp_path / "home", tmp_path / "laptop")
        laptop.login(url, ADMIN[1], ADMIN[0])
        for _ in range(150):  # a pass a second; its figures about two seconds later
            (row,) = json.loads(laptop.run("ps", "--stats", "--json").stdout)
            if row["resources"] is not None:
                break
            await asyncio.sleep(0.2)
        assert row["id"] == web and row["resources"]["memory_bytes"] > 0, row
        table = laptop.run("ps", "--stats").stdout
        assert re.search(r"web .*running .*[\d.]+% .*[\d.]+ (KiB|MiB) / [\d.]+ GiB", table), table


async def test_the_figures_in_a_browser(
    deploy: Deploy, tomo: Tomo, tmp_path: Path, browser: Browser, watched: Watched
) -> None:
    web = await installed(deploy, "web")
    with serving_with_monitor(tomo, tmp_path) as url:
        page = await new_page(browser, watched)
        await log_in(page, url, ADMIN)
        await page.goto(f"{url}/installed?view=table")
        memory = page.locator("td[data-label=Memory]")
        await expect(memory).to_have_text(re.compile(r"[\d.]+ (KiB|MiB) / [\d.]+ GiB"),
                                          timeout=30_000)  # the page refreshes itself  # fmt: skip
        await look(page, "stats-installed-table")
        await page.goto(f"{url}/installed/{web}")
        await expect(page.locator(".resources-section")).to_contain_text("Measured")
        await look(page, "stats-installation")
        await page.goto(f"{url}/servers")
        await expect(page.locator(".server-card")).to_contain_text("Apps' memory")
        await look(page, "stats-servers")
