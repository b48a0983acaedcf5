"""Apps by name through tomo's records: installs with hostnames routed by the server's
front door (Debian's Caddy on the test server), their routes gone with them, the
server's domain and TLS mode, and every refusal before anything is made."""

from __future__ import annotations

import asyncio
import base64
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.api.conftest import users_of
from tests.deployment.conftest import Deploy, carried_out
from tests.proxy.test_door import https_get, plain_get, served
from tests.services import free_port
from tomo.app import create_app
from tomo.deployment.schemas import JobPublic
from tomo.deployment.spec import InstallConfig
from tomo.errors import FrontDoorFailed, InvalidInput
from tomo.proxy.door import CONTAINER, FrontDoor
from tomo.proxy.schemas import DomainSettings
from tomo.runtime import Runtime, open_runtime


@pytest.fixture
async def proxied(
    deploy: Deploy, caddy_image: str, door: FrontDoor, ports: tuple[int, int]
) -> AsyncIterator[Runtime]:
    """tomo with the test Caddy as its proxy image; the server named under test.lan
    with tls internal, its front door on free loopback ports (made by the first
    route; the `door` fixture removes it afterwards)."""
    settings = deploy.runtime.settings.model_copy(update={"proxy_image": caddy_image})
    async with open_runtime(settings) as runtime:
        await runtime.proxy.set_domain(deploy.server, DomainSettings(
            domain="test.lan", tls="internal", http_port=ports[0], https_port=ports[1]))  # fmt: skip
        yield runtime


async def install(runtime: Runtime, app: str, name: str, *hostnames: str) -> JobPublic:
    started = await runtime.deployment.install_app(
        "box", app, InstallConfig(name=name, hostnames=list(hostnames))
    )
    return await runtime.deployment.run_job(started.job_id)


def networks_of(container: str) -> set[str]:
    shown = subprocess.run(["docker", "container", "inspect", "--format",
                            "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
                            container], capture_output=True, text=True, check=True)  # fmt: skip
    return set(shown.stdout.split())


def container_exists(name: str) -> bool:
    done = subprocess.run(["docker", "container", "inspect", name], capture_output=True,
                          check=False)  # fmt: skip
    return done.returncode == 0


async def test_apps_get_names_over_https_and_an_uninstall_takes_its_route_away(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    other = await deploy.publish("other", docker=deploy.web_app(image=deploy.images.web_v2))

    first = await install(proxied, web, "web", "web.test.lan")
    assert first.status == "done", first.error
    assert first.steps[-1].name == "route"
    assert "routed https://web.test.lan to web:80 through the front door" in first.summary
    root = await proxied.proxy.root_certificate("box")
    answer, names = await asyncio.to_thread(served, "web.test.lan", ports[1], root)
    assert answer.startswith("HTTP/1.1 200") and "web v1" in answer
    assert names == ["web.test.lan"]

    second = await install(proxied, other, "other", "auto")  # other.test.lan
    assert second.status == "done", second.error
    assert "web v2" in (await asyncio.to_thread(served, "other.test.lan", ports[1], root))[0]
    assert "web v1" in (await asyncio.to_thread(https_get, "web.test.lan", ports[1], root))[0]
    status = await proxied.proxy.status("box")
    assert (status.running, status.current, status.tls_mode) == (True, True, "internal")
    assert [(r.installation, r.hostnames, r.upstream) for r in status.routes] == [
        ("other", ["other.test.lan"], "other:80"),
        ("web", ["web.test.lan"], "web:80"),
    ]
    assert status.dns_records == ["*.test.lan A 127.0.0.1"]
    assert status.root_expires_at is not None
    assert status.root_expires_at > datetime.now(UTC) + timedelta(days=300)
    held = {c.hostname: (c.issuer, c.expires_at > datetime.now(UTC)) for c in status.certificates}
    assert held == {"web.test.lan": ("internal", True), "other.test.lan": ("internal", True)}

    # Each is on a network of its own, with the front door: on no other app's.
    assert networks_of("web") == {"tomo-web"} and networks_of("other") == {"tomo-other"}
    assert {"tomo-proxy", "tomo-web", "tomo-other"} == networks_of(CONTAINER)
    done = await carried_out(proxied.deployment.prepare_uninstall("web"))
    assert "removed the route for web.test.lan from the front door" in done.summary
    assert "removed network 'tomo-web'" in done.summary
    assert {"tomo-proxy", "tomo-other"} == networks_of(CONTAINER)
    status = await proxied.proxy.status("box")
    assert [r.installation for r in status.routes] == ["other"] and status.current
    # Caddy keeps no route for the name: the handshake finds no certificate for it.
    with pytest.raises(ssl.SSLError, match="TLSV1_ALERT_INTERNAL_ERROR"):
        await asyncio.to_thread(https_get, "web.test.lan", ports[1], root)
    assert "web v2" in (await asyncio.to_thread(https_get, "other.test.lan", ports[1], root))[0]


async def test_an_updated_app_answers_by_its_name_from_its_new_container(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web", "web.test.lan")).status == "done"
    root = await proxied.proxy.root_certificate("box")
    assert "web v1" in (await asyncio.to_thread(https_get, "web.test.lan", ports[1], root))[0]

    updated = await carried_out(proxied.deployment.prepare_update("web", tag="2"))
    assert "routed https://web.test.lan to web:80 through the front door" in updated.summary
    assert "web v2" in (await asyncio.to_thread(https_get, "web.test.lan", ports[1], root))[0]


def as_an_older_tomo_made_it(container: str) -> None:
    """The container on Docker's default bridge instead of tomo's isolated network."""
    for args in (["network", "connect", "bridge", container],
                 ["network", "disconnect", "tomo-isolated", container]):  # fmt: skip
        subprocess.run(["docker", *args], check=True, capture_output=True, timeout=30)
    assert networks_of(container) == {"bridge"}


async def test_an_app_named_after_its_install_gets_a_network_of_its_own_at_its_update(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    """Named later, a one-container app shares a network with the front door alone
    (on tomo's isolated network nothing else reaches it; on Docker's default bridge,
    where an older tomo put it, every container does, and the change says so); its
    update puts it on its own, where the front door joins it, and a front door made
    anew joins it again."""
    other = await deploy.publish("other", docker=deploy.web_app())
    assert (await install(proxied, other, "other")).status == "done"
    assert networks_of("other") == {"tomo-isolated"}
    named = await proxied.proxy.set_hostnames("other", ["other.test.lan"], None)
    assert named.said == "routed https://other.test.lan to other:80 through the front door"
    assert networks_of("other") == {"tomo-isolated", "tomo-door-other"}

    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web")).status == "done"
    as_an_older_tomo_made_it(container="web")
    named = await proxied.proxy.set_hostnames("web", ["web.test.lan"], None)
    assert named.said == (
        "routed https://web.test.lan to web:80 through the front door; web is also on Docker's "
        "default bridge, where other containers reach it without the front door (until its "
        "next update, tomo update web, puts it on a network of its own)"
    )
    assert networks_of("web") == {"bridge", "tomo-door-web"}
    root = await proxied.proxy.root_certificate("box")
    assert "web v1" in (await asyncio.to_thread(served, "web.test.lan", ports[1], root))[0]

    updated = await carried_out(proxied.deployment.prepare_update("web", tag="2"))
    assert "routed https://web.test.lan to web:80 through the front door" in updated.summary
    assert networks_of("web") == {"tomo-web"}
    # tomo-door-web is gone; other's stays until its own update
    assert networks_of(CONTAINER) == {"tomo-proxy", "tomo-web", "tomo-door-other"}
    assert "web v2" in (await asyncio.to_thread(served, "web.test.lan", ports[1], root))[0]

    moved = (free_port(), free_port())
    await proxied.proxy.set_domain("box", DomainSettings(
        domain="test.lan", tls="internal", http_port=moved[0], https_port=moved[1]))  # fmt: skip
    made_anew = networks_of(CONTAINER)  # and joined again
    assert made_anew == {"tomo-proxy", "tomo-web", "tomo-door-other"}
    assert "web v2" in (await asyncio.to_thread(served, "web.test.lan", moved[1], root))[0]


async def test_a_hostname_taken_or_unnamed_is_refused_before_anything_is_made(
    proxied: Runtime, deploy: Deploy
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web", "web.test.lan")).status == "done"
    # The preview says so first, as the install's preflight will.
    config = InstallConfig(name="again", hostnames=["web.test.lan"])
    looked = await proxied.deployment.preview_install("box", web, config)
    said = [(p.text, p.fields) for p in looked.problems or []]
    assert ("hostname 'web.test.lan' is routed to installation 'web' already",
            ["hostnames[0]"]) in said  # fmt: skip

    taken = await install(proxied, web, "again", "web.test.lan", "Bad.lan")

    assert taken.status == "failed"
    assert [s.name for s in taken.steps] == ["validate", "preflight"]
    assert taken.error is not None
    assert "hostname 'web.test.lan' is routed to installation 'web' already" in taken.error
    assert "hostname 'Bad.lan' must be lowercase" in taken.error
    assert not container_exists("again")
    assert [i.name for i in await proxied.deployment.list_installations()] == ["web"]
    await proxied.proxy.set_domain("box", DomainSettings(tls="internal"))  # no domain now
    unnamed = await install(proxied, web, "third", "auto")
    assert unnamed.error is not None
    assert "hostname 'auto' needs server 'box' to have a base domain" in unnamed.error
    assert not container_exists("third")


async def test_hostnames_change_later_and_a_refused_change_keeps_them(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web")).status == "done"  # no name: no route
    assert (await proxied.proxy.status("box")).exists is False

    added = await proxied.proxy.set_hostnames("web", ["photos", "web.other.lan"], None)

    assert added.hostnames == ["photos.test.lan", "web.other.lan"]
    root = await proxied.proxy.root_certificate("box")
    assert "web v1" in (await asyncio.to_thread(served, "web.other.lan", ports[1], root))[0]
    status = await proxied.proxy.status("box")
    assert status.dns_records == ["*.test.lan A 127.0.0.1", "web.other.lan A 127.0.0.1"]
    with pytest.raises(InvalidInput) as refused:
        await proxied.proxy.set_hostnames("web", ["web.other.lan", "-x.lan"], None)
    assert [p.fields for p in refused.value.problems] == [("hostnames[1]",)]
    assert (await proxied.proxy.get_hostnames("web", None)).hostnames == added.hostnames
    removed = await proxied.proxy.set_hostnames("web", [], None)
    assert removed.said == "the front door routes no name to web"
    assert (await proxied.proxy.status("box")).routes == []


async def test_the_app_runs_on_its_port_when_the_front_door_cannot_start(
    proxied: Runtime, deploy: Deploy, busy_port: int
) -> None:
    await proxied.proxy.set_domain("box", DomainSettings(
        domain="test.lan", http_port=busy_port, https_port=free_port()))  # fmt: skip
    port = free_port()
    web = await deploy.publish("web", docker=deploy.web_app(port=port))

    job = await install(proxied, web, "web", "web.test.lan")

    assert job.status == "done", job.error
    said = job.summary[-1]
    assert said.startswith("the route for web.test.lan was not made: ") and str(busy_port) in said
    assert said.endswith("web still answers on its ports (`tomo hostname add` tries again)")
    assert "web v1" in await asyncio.to_thread(plain_get, "anything", port)


async def test_tls_off_serves_plain_http_and_bad_settings_are_refused_by_field(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await proxied.proxy.set_domain("box", DomainSettings(
            domain="Home..lan", tls="internal", acme_email="me@example.com"))  # fmt: skip
    assert [p.fields for p in refused.value.problems] == [("domain",), ("acme_email",)]
    with pytest.raises(InvalidInput, match="HTTP and HTTPS cannot share port 8080"):
        await proxied.proxy.set_domain("box", DomainSettings(http_port=8080, https_port=8080))
    server = await proxied.proxy.set_domain("box", DomainSettings(domain="test.lan", tls="off"))
    assert (server.domain, server.tls_mode, server.proxy_https_port) == ("test.lan", "off",
                                                                          ports[1])  # fmt: skip
    web = await deploy.publish("web", docker=deploy.web_app())

    job = await install(proxied, web, "web", "plain")

    assert "routed http://plain.test.lan to web:80 through the front door" in job.summary
    assert "web v1" in await asyncio.to_thread(plain_get, "plain.test.lan", ports[0])


async def test_a_dns_provider_the_front_door_lacks_is_refused_and_the_routes_keep_working(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    """Debian's Caddy has no DNS provider module: the change to DNS-01 is refused with
    what to do, and the front door, the server's settings and the routes stay."""
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web", "named")).status == "done"
    before = await proxied.servers.get_server("box")

    with pytest.raises(FrontDoorFailed) as refused:
        await proxied.proxy.set_domain("box", DomainSettings(
            domain="test.lan", tls="acme", dns_provider="cloudflare",
            dns_credentials={"api_token": SecretStr("s3cret-token")},
            http_port=ports[0], https_port=ports[1]))  # fmt: skip

    said = refused.value.message
    assert "has no DNS provider module dns.providers.cloudflare" in said, said
    assert "TOMO_PROXY_IMAGE" in said and "s3cret" not in said
    after = await proxied.servers.get_server("box")
    assert after == before  # tls internal, no provider, no credentials
    status = await proxied.proxy.status("box")
    assert (status.running, status.current, status.dns_provider) == (True, True, None)
    root = await proxied.proxy.root_certificate("box")
    assert "web v1" in (await asyncio.to_thread(served, "named.test.lan", ports[1], root))[0]


async def test_the_api_sets_the_domain_and_hostnames_for_admins_and_shows_them_to_viewers(
    deploy: Deploy, caddy_image: str, door: FrontDoor, ports: tuple[int, int]
) -> None:
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(deploy.runtime, web, "web")).status == "done"
    settings = deploy.runtime.settings.model_copy(update={"proxy_image": caddy_image})

    def through_the_api() -> None:
        with TestClient(create_app(settings)) as client:
            api = users_of(client)
            domain = {"domain": "test.lan", "tls": "internal", "http_port": ports[0],
                      "https_port": ports[1]}  # fmt: skip
            assert api.viewer.put("/api/servers/box/domain", json=domain).status_code == 403
            server = api.admin.put("/api/servers/box/domain", json=domain)
            assert server.status_code == 200, server.text
            assert server.json()["domain"] == "test.lan"
            bad = api.admin.put("/api/installations/web/hostnames", json={"hostnames": ["-x"]})
            assert bad.status_code == 422, bad.text
            assert [error["field"] for error in bad.json()["errors"]] == ["hostnames[0]"]
            named = api.admin.put("/api/installations/web/hostnames",
                                  json={"hostnames": ["auto"]})  # fmt: skip
            assert named.status_code == 200, named.text
            assert named.json()["hostnames"] == ["web.test.lan"]
            assert api.viewer.get("/api/installations/web/hostnames").json()["hostnames"] == [
                "web.test.lan"
            ]
            status = api.viewer.get("/api/servers/box/proxy").json()
            assert [route["upstream"] for route in status["routes"]] == ["web:80"]
            root = api.viewer.get("/api/servers/box/proxy/root-certificate")
            assert root.headers["content-type"] == "application/x-pem-file"
            answer, names = served("web.test.lan", ports[1], root.text)
            assert "web v1" in answer and names == ["web.test.lan"]

    await asyncio.to_thread(through_the_api)


# An app serving HTTPS only, with a certificate of its own for whatever name it is
# asked by (Caddy's internal CA here, as an app's self-signed certificate would be).
SECURE_APP = """{
	admin off
	auto_https disable_redirects
}
https://:8443 {
	tls internal {
		on_demand
	}
	respond "secure app"
}
"""


async def test_an_app_whose_port_speaks_https_is_reached_over_tls(
    proxied: Runtime, deploy: Deploy, caddy_image: str, ports: tuple[int, int]
) -> None:
    """The front door talks TLS to the app's port without checking the app's own
    certificate; the certificate the browser sees is the front door's, for the name."""
    secure = await deploy.publish("secure", docker={
        "image": caddy_image,
        "command": ["caddy", "run", "--adapter", "caddyfile", "--config", "/conf/Caddyfile"],
        "volumes": [{"host_path": "./conf", "container_path": "/conf", "readonly": True}],
    }, files=[{"path": "./conf/Caddyfile",
               "content": base64.b64encode(SECURE_APP.encode()).decode()}],
       proxy={"port": 8443, "tls": True})  # fmt: skip

    assert (await install(proxied, secure, "secure", "secure.test.lan")).status == "done"

    root = await proxied.proxy.root_certificate("box")
    page, names = await asyncio.to_thread(served, "secure.test.lan", ports[1], root)
    assert page.startswith("HTTP/1.1 200") and page.endswith("secure app"), page
    assert names == ["secure.test.lan"]


async def test_an_update_that_routes_another_service_leaves_no_network_behind(
    proxied: Runtime, deploy: Deploy, ports: tuple[int, int]
) -> None:
    """Named after its install, a one-container app shares a network with the front
    door alone; an update to a version of two services that routes the other one
    puts both on the app's own network, and that shared network goes."""
    web = await deploy.publish("web", docker=deploy.web_app())
    assert (await install(proxied, web, "web")).status == "done"
    await proxied.proxy.set_hostnames("web", ["web.test.lan"], None)
    assert networks_of(CONTAINER) == {"tomo-proxy", "tomo-door-web"}

    await deploy.publish("web", version="2.0.0", main="web", services={
        "web": {"image": deploy.images.web_v1},
        "api": {"image": deploy.images.web_v2},
    }, proxy={"service": "api", "port": 80})  # fmt: skip
    updated = await carried_out(proxied.deployment.prepare_update("web"))

    assert (
        "routed https://web.test.lan to web-api:80 through the front door; removed the "
        "network tomo-door-web, which no container uses"
    ) in updated.summary
    assert networks_of(CONTAINER) == {"tomo-proxy", "tomo-web"}
    assert "tomo-door-web" not in subprocess.run(
        ["docker", "network", "ls", "--format", "{{.Name}}"], capture_output=True, text=True,
        check=True).stdout.split()  # fmt: skip
    root = await proxied.proxy.root_certificate("box")
    assert "web v2" in (await asyncio.to_thread(served, "web.test.lan", ports[1], root))[0]
