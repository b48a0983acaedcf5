"""How an app is reached, as its values are told (pure: no Docker, no SSH): the
built-ins of its name through the front door, else of the server's address and its
port, and the definition's `proxy` block that says where a name goes. The real
install of an app served by name is in tests/proxy/test_catalog_names.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from tomo.deployment.app_spec import AppSpec, Named, build_app_spec, named_on, user_variables
from tomo.deployment.spec import InstallConfig, PortOverride
from tomo.errors import InvalidInput
from tomo.marketplace.definition import AppDefinition
from tomo.servers.schemas import ServerPublic

NAME_VALUES = {
    "HOST": "${TOMO_HOSTNAME}",
    "ADDRESS": "${TOMO_ADDRESS}",
    "SCHEME": "${TOMO_SCHEME}",
    "URL": "${TOMO_URL}",
    "EXPOSED": "${TOMO_EXPOSED}",
}


def app(proxy: dict[str, Any] | None = None, **docker: Any) -> AppDefinition:
    """One container without settings whose values say how it is reached."""
    environment = [{"name": name, "default": value} for name, value in NAME_VALUES.items()]
    data: dict[str, Any] = {
        "id": "notes", "name": "Notes", "version": "1", "templated": True,
        "docker": {"image": "example/notes:1", "ports": ["8080:80", "8443:443"],
                   "environment": environment, **docker},
    }  # fmt: skip
    if proxy is not None:
        data["proxy"] = proxy
    return AppDefinition.model_validate(data)


def build(
    definition: AppDefinition, named: Named | None = None, *, host: str = "nas.local",
    config: InstallConfig | None = None,
) -> AppSpec:  # fmt: skip
    return build_app_spec(definition, config or InstallConfig(), repo_id="main",
                          installation_id="i1", data_root="/srv/apps", server_host=host,
                          named=named)  # fmt: skip


def told(spec: AppSpec) -> dict[str, str]:
    return {name: spec.main.env[name] for name in NAME_VALUES}


def server(tls: str = "internal", http: int = 80, https: int = 443) -> ServerPublic:
    return ServerPublic(
        id="s1", name="box", host="192.0.2.10", port=22, username="tomo", auth_type="key",
        host_key_fingerprint=None, trusted=True, data_root="/srv/apps", use_sudo=False,
        status="online", last_error=None, last_seen=None, facts=None, facts_at=None,
        domain="home.example", tls_mode=tls, proxy_http_port=http, proxy_https_port=https,
    )  # fmt: skip


# --- the built-ins ---------------------------------------------------------------------------


def test_an_app_with_a_name_is_told_its_https_address() -> None:
    named = named_on(server(), ["notes.home.example", "n.home.example"])
    assert told(build(app(), named)) == {
        "HOST": "notes.home.example", "ADDRESS": "notes.home.example", "SCHEME": "https",
        "URL": "https://notes.home.example", "EXPOSED": "true",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("tls", "address", "url"),
    [
        ("internal", "notes.home.example:8443", "https://notes.home.example:8443"),
        ("acme", "notes.home.example:8443", "https://notes.home.example:8443"),
        ("off", "notes.home.example:8080", "http://notes.home.example:8080"),
    ],
)
def test_the_front_doors_port_is_in_the_address_when_it_is_not_the_schemes_own(
    tls: str, address: str, url: str
) -> None:
    named = named_on(server(tls, http=8080, https=8443), ["notes.home.example"])
    values = told(build(app(), named))
    assert (values["ADDRESS"], values["URL"]) == (address, url)


def test_with_tls_off_on_port_80_the_address_is_the_bare_name() -> None:
    named = named_on(server("off", http=80, https=8443), ["notes.home.example"])
    assert told(build(app(), named))["URL"] == "http://notes.home.example"


def test_an_app_without_a_name_is_told_the_servers_address_and_its_port() -> None:
    assert named_on(server(), []) is None
    assert told(build(app())) == {
        "HOST": "nas.local", "ADDRESS": "nas.local:8080", "SCHEME": "http",
        "URL": "http://nas.local:8080", "EXPOSED": "false",
    }  # fmt: skip


def test_without_a_name_the_port_is_the_one_the_user_chose_for_the_proxied_port() -> None:
    definition = app(proxy={"port": 443})
    chosen = InstallConfig(ports=[PortOverride(host=9443, container=443)])
    assert told(build(definition, config=chosen))["ADDRESS"] == "nas.local:9443"
    assert told(build(definition))["ADDRESS"] == "nas.local:8443"


def test_an_ipv6_server_address_is_bracketed_before_its_port() -> None:
    values = told(build(app(), host="2001:db8::10"))
    assert (values["HOST"], values["URL"]) == ("2001:db8::10", "http://[2001:db8::10]:8080")


def test_values_made_of_the_name_are_never_kept_as_the_users() -> None:
    definition = app()
    spec = build(definition, named_on(server(), ["notes.home.example"]))
    # Not asked of the user, not kept: an update works them out from its names then.
    assert [v.name for v in user_variables(definition)] == []
    assert spec.env == {} and spec.secret_env == {}


# --- served by name only ---------------------------------------------------------------------


def test_an_app_served_by_name_only_is_refused_without_one() -> None:
    definition = app(proxy={"hostname": "required"})
    with pytest.raises(InvalidInput) as refused:
        build(definition)
    assert refused.value.problems[0].fields == ("hostnames",)
    assert "notes is served by its name only" in refused.value.message
    assert "tomo hostname add notes NAME" in refused.value.message
    assert build(definition, named_on(server(), ["notes.home.example"])).main.name == "notes"


# --- the definition's proxy block ------------------------------------------------------------


def test_the_proxy_block_defaults_to_the_main_services_first_tcp_port() -> None:
    definition = app(proxy={})
    assert definition.routed == ("app", 80)
    assert (definition.proxy is not None and definition.proxy.hostname) == "optional"
    assert not definition.needs_hostname
    assert app().routed == ("app", 80) and app().proxy is None


def test_the_proxy_block_names_a_service_and_any_port_it_listens_on() -> None:
    definition = AppDefinition.model_validate({
        "id": "pair", "name": "Pair", "version": "1",
        "services": {"web": {"image": "example/web:1", "ports": ["8080:80"]},
                     "api": {"image": "example/api:1"}},
        "proxy": {"service": "api", "port": "3000", "hostname": "required", "login": "true",
                  "open_paths": "/api/*", "closed_paths": ["/api/admin/*", "/api/admin/*"]},
    })  # fmt: skip
    proxy = definition.proxy
    assert proxy is not None and definition.routed == ("api", 3000)
    assert (proxy.login, proxy.open_paths, proxy.closed_paths) == (
        True, ["/api/*"], ["/api/admin/*"])  # fmt: skip
    assert definition.needs_hostname


@pytest.mark.parametrize(
    ("proxy", "docker", "message"),
    [
        ({"service": "db"}, {}, "proxy.service: 'db' is not a service of this app (app)"),
        ({}, {"ports": ["53:53/udp"]}, "proxy.port: service app publishes no TCP port"),
        ({"port": 70000}, {}, "proxy.port"),
        ({"hostname": "always"}, {}, "proxy.hostname"),
        ({"open_paths": ["api/*"]}, {}, "proxy.open_paths.0\n  Value error, 'api/*' is not a"),
        ({"closed_paths": ["/a b"]}, {}, "proxy.closed_paths.0\n  Value error, '/a b' is not a"),
        ({"open_paths": ["/%41"]}, {}, "'/%41' is not a path pattern"),
        ({"open_paths": ["/" + "a" * 256]}, {}, "is not a path pattern"),
        ({"open_paths": [f"/{i}" for i in range(65)]}, {}, "proxy.open_paths"),
    ],
)
def test_a_proxy_block_that_cannot_be_served_is_refused_naming_the_field(
    proxy: dict[str, Any], docker: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        app(proxy=proxy, **docker)
