"""The front door through the real `tomo` command: a server's domain, an install with
--hostname reached with curl trusting the root `tomo server root-cert` wrote, the
status with its DNS records, `tomo hostname …`, a conflict refused, an uninstall."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Laptop, Tomo
from tests.deployment.conftest import Deploy, tomo  # noqa: F401 - a fixture
from tests.services import free_port
from tomo.deployment.spec import InstallConfig
from tomo.proxy.door import FrontDoor

WAIT_SECONDS = 15  # for Caddy to sign a new name's certificate
PASSWORD = "correct horse battery staple"


def curl(name: str, port: int, root: Path) -> subprocess.CompletedProcess[str]:
    """GET https://NAME:PORT/ resolved to 127.0.0.1, trusting only `root`."""
    return subprocess.run(
        ["curl", "--silent", "--show-error", "--max-time", "5", "--retry", str(WAIT_SECONDS),
         "--retry-delay", "1", "--retry-all-errors", "--cacert", str(root),
         "--resolve", f"{name}:{port}:127.0.0.1", f"https://{name}:{port}/"],
        capture_output=True, text=True, timeout=WAIT_SECONDS * 7, check=False,
    )  # fmt: skip


async def test_the_front_door_from_the_command_line(
    tomo: Tomo,  # noqa: F811
    deploy: Deploy, caddy_image: str, door: FrontDoor, ports: tuple[int, int], tmp_path: Path,
) -> None:  # fmt: skip
    tomo.env["TOMO_PROXY_IMAGE"] = caddy_image
    http, https = ports
    app = await deploy.publish("web", docker=deploy.web_app())
    updated = tomo.run("server", "update", "box", "--domain", "test.lan", "--tls", "internal",
                       "--proxy-ports", f"{http},{https}", "--json")  # fmt: skip
    assert json.loads(updated.stdout)["domain"] == "test.lan"

    installed = tomo.run("install", "--server", "box", app, "--name", "web",
                         "--hostname", "web.test.lan")  # fmt: skip
    assert "routed https://web.test.lan to web:80" in installed.stderr + installed.stdout
    root = tmp_path / "root.crt"
    tomo.run("server", "root-cert", "box", "-o", str(root))
    assert root.read_text().startswith("-----BEGIN CERTIFICATE-----")
    fetched = curl("web.test.lan", https, root)
    assert fetched.returncode == 0, fetched.stderr
    assert "web v1" in fetched.stdout

    status = json.loads(tomo.run("server", "proxy", "box", "--json").stdout)
    assert (status["running"], status["current"]) == (True, True)
    assert status["dns_records"] == ["*.test.lan A 127.0.0.1"]
    shown = tomo.run("server", "proxy", "box").stdout
    assert "*.test.lan A 127.0.0.1" in shown and "web.test.lan" in shown

    added = tomo.run("hostname", "add", "web", "photos")
    assert "routed https://web.test.lan, https://photos.test.lan to web:80" in added.stderr
    assert "web v1" in curl("photos.test.lan", https, root).stdout
    listed = tomo.run("hostname", "list", "web").stdout.split()
    assert listed == ["web.test.lan", "photos.test.lan"]
    refused = tomo.error("hostname", "remove", "web", "nope.test.lan", expect=2)
    assert refused == ("error: web has no hostname nope.test.lan (it has: web.test.lan, "
                       "photos.test.lan)")  # fmt: skip
    tomo.run("hostname", "remove", "web", "photos.test.lan")

    taken = tomo.run("install", "--server", "box", app, "--name", "again", "--hostname",
                     "web.test.lan", expect=8)  # fmt: skip
    assert "hostname 'web.test.lan' is routed to installation 'web' already" in taken.stderr
    gone = subprocess.run(["docker", "container", "inspect", "again"], capture_output=True,
                          check=False)  # fmt: skip
    assert gone.returncode != 0

    uninstalled = tomo.run("uninstall", "web", "--json")
    assert (
        "removed the route for web.test.lan from the front door"
        in json.loads(uninstalled.stdout)["summary"]
    )
    assert json.loads(tomo.run("server", "proxy", "box", "--json").stdout)["routes"] == []
    refused_name = tomo.error("server", "update", "box", "--domain", "Home.lan", expect=2)
    assert refused_name == "error: base domain 'Home.lan' must be lowercase"


@pytest.fixture
def serving(tomo: Tomo, caddy_image: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    """`tomo serve` on the deploy fixture's data directory (its proxy image the test
    Caddy), with an admin: its URL."""
    tomo.run("user", "create", "admin", "--admin", "--password-stdin", stdin=f"{PASSWORD}\n")
    port = free_port()
    env = {**tomo.env, "TOMO_PROXY_IMAGE": caddy_image, "TOMO_SYNC_INTERVAL": "0",
           "TOMO_MONITOR_INTERVAL": "0"}  # fmt: skip
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([*tomo.tomo, "serve", "--port", str(port)], stdout=log,
                                  stderr=subprocess.STDOUT, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "tomo serve did not answer within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


async def test_the_same_commands_on_a_remote_tomo(
    serving: str, deploy: Deploy, door: FrontDoor, ports: tuple[int, int], tmp_path: Path
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    started = await deploy.runtime.deployment.install_app("box", app, InstallConfig(name="web"))
    assert (await deploy.runtime.deployment.run_job(started.job_id)).status == "done"
    laptop = Laptop(tmp_path / "home", tmp_path / "laptop")
    laptop.login(serving, PASSWORD)

    laptop.run("server", "update", "box", "--domain", "test.lan", "--proxy-ports",
               f"{ports[0]},{ports[1]}")  # fmt: skip
    added = laptop.run("hostname", "add", "web", "auto")
    assert "routed https://web.test.lan to web:80" in added.stderr
    root = tmp_path / "root.crt"
    laptop.run("server", "root-cert", "box", "-o", str(root))
    fetched = curl("web.test.lan", ports[1], root)

    assert fetched.returncode == 0, fetched.stderr
    assert "web v1" in fetched.stdout
    status = json.loads(laptop.run("server", "proxy", "box", "--json").stdout)
    assert [route["hostnames"] for route in status["routes"]] == [["web.test.lan"]]
    refused = laptop.error("hostname", "add", "web", "UPPER.lan", expect=2)
    assert refused.startswith("error: hostname 'UPPER.lan' must be lowercase")
