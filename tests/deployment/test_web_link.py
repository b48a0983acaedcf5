"""Where an installation's link opens: its web port as published, the scheme that
port speaks and the app's page (InstallationPublic.web), from its definition and
config, without a server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.gitrepo import app_definition
from tomo.deployment.context import web_link
from tomo.deployment.schemas import WebLink
from tomo.marketplace.definition import AppDefinition


def link(
    docker: dict[str, Any], config: dict[str, Any] | None = None, **fields: Any
) -> WebLink | None:
    definition = AppDefinition.model_validate(app_definition("site", docker=docker, **fields))
    return web_link(SimpleNamespace(config=config or {}), definition)  # type: ignore[arg-type]


def docker(*ports: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"image": "example/site:1", "ports": list(ports), **more}


def test_the_first_tcp_port_as_published_the_page_and_the_scheme() -> None:
    web = link(docker({"container": 53, "host": 5353, "protocol": "udp"},
                      {"container": 80, "host": 8080}, {"container": 53, "host": 5300}),
               web_path="/admin?tab=1")  # fmt: skip
    assert web == WebLink(port=8080, scheme="http", path="/admin?tab=1")
    assert web.url("192.0.2.7") == "http://192.0.2.7:8080/admin?tab=1"
    assert WebLink(port=80).url("fd00::1") == "http://[fd00::1]:80"


def test_a_port_the_user_chose_at_install_and_one_that_speaks_tls() -> None:
    config = {"ports": [{"container": 443, "host": 9443, "protocol": "tcp"}]}
    web = link(docker({"container": 443, "host": 443}), config, proxy={"tls": True})
    assert web == WebLink(port=9443, scheme="https", path="/")
    other = link(docker({"container": 80, "host": 80}), proxy={"tls": True, "port": 8443})
    assert other is not None and other.scheme == "http"  # TLS is another port's


def test_no_tcp_port_or_host_networking_gives_no_link() -> None:
    assert link(docker({"container": 53, "host": 53, "protocol": "udp"})) is None
    assert link(docker({"container": 80, "host": 80}, network_mode="host")) is None
