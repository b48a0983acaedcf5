"""tomo's login in front of an app, the whole way: a real front door (Debian's Caddy
on the test server) asks a real tomo (served on the address its network reaches
this machine at) about each request; a browser's requests are made as a browser
makes them (its cookies, its Accept header), over TLS trusting tomo's root only."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
import uvicorn

from tests.deployment.conftest import Deploy
from tests.proxy.test_door import served
from tests.proxy.test_service import install
from tests.services import free_port
from tomo.app import create_app
from tomo.auth.schemas import UserCreate
from tomo.config import Settings
from tomo.deployment.schemas import JobPublic
from tomo.deployment.spec import InstallConfig
from tomo.errors import InvalidInput
from tomo.proxy.door import NETWORK, FrontDoor
from tomo.proxy.schemas import DomainSettings
from tomo.runtime import Runtime, open_runtime

NAME = "web.test.lan"
PASSWORD = "a long enough password"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, list[str]]  # lowercase names
    body: str

    def header(self, name: str) -> str:
        return self.headers[name.lower()][0]


def ask(port: int, root: str, path: str, *, to: str = NAME, **headers: str) -> Answer:
    """GET `path` from the name `to` through the front door on 127.0.0.1:`port`, over
    TLS trusting `root` only, with these request headers."""
    context = ssl.create_default_context(cadata=root)
    lines = [f"GET {path} HTTP/1.1", f"Host: {to}:{port}", "Connection: close",
             *(f"{name.replace('_', '-')}: {value}" for name, value in headers.items())]  # fmt: skip
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=to) as tls,
    ):
        tls.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        while chunk := tls.recv(65536):
            received += chunk
    head, _, body = received.decode(errors="replace").partition("\r\n\r\n")
    status, *fields = head.split("\r\n")
    found: dict[str, list[str]] = {}
    for field in fields:
        name, _, value = field.partition(":")
        found.setdefault(name.strip().lower(), []).append(value.strip())
    return Answer(int(status.split()[1]), found, body)


def gateway(network: str) -> str:
    """The address containers on `network` reach this machine at: its gateway, which
    an engine given --default-address-pool does not list for its default bridge (then
    the subnet's first address, where Docker puts it)."""
    done = subprocess.run(
        ["docker", "network", "inspect", network, "--format", "{{json .IPAM.Config}}"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    config = json.loads(done.stdout)[0]
    if config.get("Gateway"):
        return str(config["Gateway"])
    return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))


@contextlib.asynccontextmanager
async def tomo_served(settings: Settings, host: str, port: int) -> AsyncIterator[None]:
    """tomo's HTTP app on host:port in this event loop, until the block ends."""
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host=host, port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                assert not task.done(), "tomo serve ended before it answered"
                await asyncio.sleep(0.05)
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def test_only_signed_in_tomo_users_get_through_to_an_app_behind_its_login(
    deploy: Deploy, caddy_image: str, door: FrontDoor, ports: tuple[int, int]
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app(),
                               proxy={"login": True, "open_paths": ["/api/*"]})  # fmt: skip
    before = deploy.runtime.settings.model_copy(update={"proxy_image": caddy_image})
    async with open_runtime(before) as runtime:  # tomo's address not set yet
        await runtime.proxy.set_domain(deploy.server, DomainSettings(
            domain="test.lan", tls="internal", http_port=ports[0], https_port=ports[1]))  # fmt: skip
        job = await install(runtime, web, "web", NAME)
        assert job.status == "done", job.error
        said = " ".join(job.summary)
        assert "it asks for a login in front of it, which tomo could not put there" in said
        assert "set TOMO_PUBLIC_URL" in said
        root = await runtime.proxy.root_certificate("box")
    assert "web v1" in (await asyncio.to_thread(served, NAME, ports[1], root))[0]

    tomo = f"http://{gateway(NETWORK)}:{free_port()}"
    settings = before.model_copy(update={"public_url": tomo, "door_url": tomo})
    host, port = tomo.removeprefix("http://").split(":")
    async with tomo_served(settings, host, int(port)), open_runtime(settings) as runtime:
        await runtime.auth.create_user(UserCreate(username="ann", password=PASSWORD))
        done = await runtime.proxy.set_login("web", "viewer", None)
        assert done.login == "viewer"
        assert done.said.startswith(f"only signed-in tomo users get through to web by {NAME}")

        # Anonymous: a browser is sent to log in, anything else refused.
        page = await asyncio.to_thread(ask, ports[1], root, "/", Accept="text/html")
        there = quote(f"https://{NAME}:{ports[1]}/", safe="")
        assert (page.status, page.header("Location")) == (302, f"{tomo}/door?to={there}")
        assert "web v1" not in page.body
        script = await asyncio.to_thread(ask, ports[1], root, "/")
        assert script.status == 401
        # An open path reaches the app with no login, and with no Remote-User of the
        # client's own making (the app's own answer: busybox has no /api/x).
        opened = await asyncio.to_thread(ask, ports[1], root, "/api/x", Remote_User="admin")
        assert opened.status == 404

        # Signed in to tomo: its door page sends the browser back with a code, which
        # the front door turns into a pass for this host.
        async with httpx.AsyncClient(base_url=tomo, timeout=30) as browser:
            logged = await browser.post("/api/auth/login",
                                        json={"username": "ann", "password": PASSWORD})  # fmt: skip
            assert logged.status_code == 200, logged.text
            back = await browser.get(page.header("Location").removeprefix(tomo))
        assert back.status_code == 303, back.text
        entry = back.headers["location"].removeprefix(f"https://{NAME}:{ports[1]}")
        taken = await asyncio.to_thread(ask, ports[1], root, entry, Accept="text/html")
        assert (taken.status, taken.header("Location")) == (303, f"https://{NAME}:{ports[1]}/")
        cookie = taken.header("Set-Cookie").split(";")[0]
        assert cookie.startswith("__Host-tomo_door=")
        assert "HttpOnly" in taken.header("Set-Cookie") and "Secure" in taken.header("Set-Cookie")

        through = await asyncio.to_thread(ask, ports[1], root, "/", Cookie=cookie)
        assert (through.status, "web v1" in through.body) == (200, True)
        again = await asyncio.to_thread(ask, ports[1], root, entry, Accept="text/html")
        assert again.status == 302  # a code is good once

        done = await runtime.proxy.set_login("web", None, None)
        assert done.said == f"web asks for no login by {NAME}"
    open_again = await asyncio.to_thread(ask, ports[1], root, "/")
    assert (open_again.status, "web v1" in open_again.body) == (200, True)


async def test_a_login_without_tomos_address_is_refused_naming_the_setting(
    deploy: Deploy,
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    job = await install(deploy.runtime, web, "web")
    assert job.status == "done", job.error
    with pytest.raises(InvalidInput, match="set TOMO_PUBLIC_URL"):
        await deploy.runtime.proxy.set_login("web", "viewer", None)
    assert (await deploy.runtime.proxy.get_hostnames("web", None)).login is None


async def run_install(runtime: Runtime, app: str, config: InstallConfig) -> JobPublic:
    started = await runtime.deployment.install_app("box", app, config)
    return await runtime.deployment.run_job(started.job_id)


async def test_the_login_chosen_at_the_install_stands_before_the_app_from_the_start(
    deploy: Deploy, caddy_image: str, door: FrontDoor, ports: tuple[int, int]
) -> None:
    """`--login admins` on an app that asks for none, `--login off` on one that asks
    for one; a login with no name to guard, or without tomo's address, is refused
    before anything is made."""
    plain = await deploy.publish("plain", docker=deploy.web_app())
    asks = await deploy.publish("asks", docker=deploy.web_app(), proxy={"login": True})
    before = deploy.runtime.settings.model_copy(update={"proxy_image": caddy_image})
    async with open_runtime(before) as runtime:  # tomo's address not set
        await runtime.proxy.set_domain(deploy.server, DomainSettings(
            domain="test.lan", tls="internal", http_port=ports[0], https_port=ports[1]))  # fmt: skip
        with pytest.raises(InvalidInput, match="a login in front of plain guards its names, "
                                               "and it is given none"):  # fmt: skip
            await runtime.deployment.install_app("box", plain, InstallConfig(login="users"))
        unset = await run_install(runtime, plain, InstallConfig(
            hostnames=["plain.test.lan"], login="users"))  # fmt: skip
        assert unset.status == "failed" and "set TOMO_PUBLIC_URL" in (unset.error or "")
        assert [s.name for s in unset.steps] == ["validate", "preflight"]

    tomo = f"http://{gateway('bridge')}:{free_port()}"  # this machine; nothing answers there
    settings = before.model_copy(update={"public_url": tomo, "door_url": tomo})
    async with open_runtime(settings) as runtime:
        guarded = await run_install(runtime, plain, InstallConfig(
            hostnames=["plain.test.lan"], login="admins"))  # fmt: skip
        assert guarded.status == "done", guarded.error
        assert "; only tomo's admins get through" in " ".join(guarded.summary)
        assert (await runtime.proxy.get_hostnames("plain", None)).login == "admin"
        opened = await run_install(runtime, asks, InstallConfig(
            hostnames=["asks.test.lan"], login="off"))  # fmt: skip
        assert opened.status == "done", opened.error
        assert (await runtime.proxy.get_hostnames("asks", None)).login is None
        root = await runtime.proxy.root_certificate("box")

    refused = await asyncio.to_thread(ask, ports[1], root, "/", to="plain.test.lan")
    assert refused.status != 200 and "web v1" not in refused.body
    assert "web v1" in (await asyncio.to_thread(served, "asks.test.lan", ports[1], root))[0]
