"""Apps that want a name: Runtipi's exposed apps and Umbrel's `app_proxy` become the
definition's `proxy` block, and the stores' variables of how an app is reached
become tomo's built-ins of its name."""

from __future__ import annotations

from typing import Any

import pytest

from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.formats.runtipi import RuntipiConfig, runtipi_table
from tomo.marketplace.formats.variables import Builtin, Fixed, Interpolator, Unsupported

from .test_runtipi import app_files, one_service, parse, parse_tree
from .test_umbrel import COMPOSE, parse_texts

# --- Runtipi -------------------------------------------------------------------------------


def runtipi(config: dict[str, Any], dynamic: Any = None, compose: str | None = None) -> Any:
    files = app_files({"name": "Demo", "port": 8500, **config}, dynamic=dynamic, compose=compose)
    return parse_tree(files, "demo")


def test_an_app_runtipi_may_expose_gets_an_optional_name_on_its_internal_port() -> None:
    app = runtipi({"exposable": True}, dynamic=one_service(internalPort=3000)).definition
    assert app.proxy is not None
    assert (app.proxy.port, app.proxy.hostname, app.proxy.login) == (3000, "optional", False)
    assert [(p.container, p.host) for p in app.docker.ports] == [(3000, 8500)]
    assert app.not_installable is None and not app.needs_hostname


def test_an_app_runtipi_does_not_expose_gets_no_proxy_block() -> None:
    assert runtipi({}, dynamic=one_service()).definition.proxy is None


def test_the_proxied_port_of_a_plain_file_is_the_one_app_port_publishes() -> None:
    compose = ("services:\n  demo:\n    image: example/demo:1\n    ports:\n"
               "      - 9999:9000\n      - ${APP_PORT}:8080\n")  # fmt: skip
    app = runtipi({"force_expose": True}, compose=compose).definition
    assert app.proxy is not None and (app.proxy.port, app.proxy.hostname) == (8080, "required")


def test_an_app_always_exposed_with_no_tcp_port_is_not_installable() -> None:
    dynamic = one_service(internalPort=None, addPorts=[{"containerPort": 53, "hostPort": 53,
                                                        "udp": True}])  # fmt: skip
    app = runtipi({"force_expose": True}, dynamic=dynamic).definition
    assert app.proxy is None
    assert app.not_installable == (
        "it is reached through Runtipi's reverse proxy only, and its main service publishes "
        "no TCP port to send requests to"
    )
    # Only exposable: it keeps its ports and needs no name.
    assert runtipi({"exposable": True}, dynamic=dynamic).definition.not_installable is None


def test_the_fixture_store_has_its_always_exposed_app_installable() -> None:
    app = parse("exposed-only").definition
    assert app.not_installable is None and app.needs_hostname


@pytest.mark.parametrize(
    ("name", "meaning"),
    [
        ("APP_HOST", Builtin("TOMO_HOSTNAME")),
        ("APP_DOMAIN", Builtin("TOMO_ADDRESS")),
        ("APP_URL", Builtin("TOMO_URL")),
        ("APP_PROTOCOL", Builtin("TOMO_SCHEME")),
        ("APP_SCHEME", Builtin("TOMO_SCHEME")),
        ("APP_EXPOSED", Builtin("TOMO_EXPOSED")),
        ("INTERNAL_IP", Builtin("TOMO_SERVER_HOST")),
        ("APP_PORT", Fixed("8500")),
    ],
)
def test_runtipis_variables_of_how_an_app_is_reached(name: str, meaning: object) -> None:
    table = runtipi_table(RuntipiConfig(name="Demo", port=8500), "demo", [])
    assert table.meaning(name) == meaning


def test_without_a_port_only_app_port_is_unknown() -> None:
    table = runtipi_table(RuntipiConfig(name="Demo"), "demo", [])
    assert isinstance(table.meaning("APP_PORT"), Unsupported)
    assert table.meaning("APP_DOMAIN") == Builtin("TOMO_ADDRESS")


def test_runtipis_addresses_in_values_are_the_built_ins_no_setting() -> None:
    table = runtipi_table(RuntipiConfig(name="Demo", port=8500), "demo", [])
    values = Interpolator(table)
    assert values.value("${APP_PROTOCOL:-http}://${APP_DOMAIN}/", "e.URL") == (
        "${TOMO_SCHEME}://${TOMO_ADDRESS}/")  # fmt: skip
    assert values.value("$APP_EXPOSED", "e.X") == "${TOMO_EXPOSED}"
    assert values.settings == {} and values.blockers == []


def test_an_app_that_only_used_app_domain_asks_nothing_now() -> None:
    dynamic = one_service(environment=[{"key": "BASE", "value": "${APP_URL}"}])
    parsed = runtipi({"exposable": True}, dynamic=dynamic)
    app: AppDefinition = parsed.definition
    assert app.settings == [] and app.templated and app.not_installable is None
    assert app.docker.environment[0].default == "${TOMO_URL}"


# --- Umbrel --------------------------------------------------------------------------------


def proxied(**environment: str) -> str:
    lines = "".join(f'      {name}: "{value}"\n' for name, value in environment.items())
    return COMPOSE.replace("      APP_PORT: 80\n", "      APP_PORT: 80\n" + lines)


def test_umbrels_proxy_becomes_the_front_doors_port_login_and_paths() -> None:
    compose = proxied(PROXY_AUTH_WHITELIST="/api/*, /public/*,/api/*",
                      PROXY_AUTH_BLACKLIST="/api/admin/*")  # fmt: skip
    parsed = parse_texts(compose=compose)
    proxy = parsed.definition.proxy
    assert proxy is not None
    assert (proxy.service, proxy.port, proxy.hostname, proxy.login) == (None, 80, "optional",
                                                                       True)  # fmt: skip
    assert (proxy.open_paths, proxy.closed_paths) == (["/api/*", "/public/*"], ["/api/admin/*"])
    # Still published on the manifest's port, as Umbrel's proxy does.
    assert [(p.container, p.host) for p in parsed.definition.docker.ports] == [(80, 5000)]


def test_an_app_umbrel_adds_no_login_to_has_none_and_no_warning() -> None:
    parsed = parse_texts(compose=proxied(PROXY_AUTH_ADD="false"))
    assert parsed.definition.proxy is not None and not parsed.definition.proxy.login
    assert parsed.warnings == []


def test_a_whitelist_of_everything_is_every_path() -> None:
    parsed = parse_texts(compose=proxied(PROXY_AUTH_WHITELIST="*",
                                         PROXY_AUTH_BLACKLIST="/admin/*"))  # fmt: skip
    proxy = parsed.definition.proxy
    assert proxy is not None
    assert (proxy.open_paths, proxy.closed_paths) == (["/*"], ["/admin/*"])


def test_an_open_path_tomo_cannot_take_is_left_out() -> None:
    parsed = parse_texts(compose=proxied(PROXY_AUTH_WHITELIST="/api/*,api/%20x"))
    proxy = parsed.definition.proxy
    assert proxy is not None and proxy.open_paths == ["/api/*"]
    where = "docker-compose.yml: services.app_proxy.environment.PROXY_AUTH_WHITELIST"
    assert f"{where}: 'api/%20x' is not a path pattern (it starts with '/' and holds no space " \
           "or '%'), left out" in parsed.warnings  # fmt: skip


def test_a_closed_path_left_out_leaves_nothing_open() -> None:
    parsed = parse_texts(compose=proxied(PROXY_AUTH_WHITELIST="/*",
                                         PROXY_AUTH_BLACKLIST="/admin/*,/secret file"))  # fmt: skip
    proxy = parsed.definition.proxy
    assert proxy is not None
    assert (proxy.open_paths, proxy.closed_paths) == ([], ["/admin/*"])
    assert ("docker-compose.yml: services.app_proxy.environment.PROXY_AUTH_WHITELIST: ignored "
            "too; the login stands before every path") in parsed.warnings  # fmt: skip


def test_an_umbrel_app_without_the_proxy_has_no_proxy_block() -> None:
    compose = "services:\n  web:\n    image: example/web:1.0\n    ports: ['5000:80']\n"
    assert parse_texts(compose=compose).definition.proxy is None
