"""Portainer app templates: each template of a templates file becomes one app.

The fixtures under fixtures/portainer/ are repository roots laid out as people
publish templates: v2/ (`{"version": "2", "templates": [...]}` with stacks in
the same repository), v1/ (the first format, a bare list), v3/ (numeric ids)
and malformed/."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition, AppEnvVar
from tomo.marketplace.formats.base import Parsed
from tomo.marketplace.formats.portainer import (
    PLACEHOLDER_IMAGE,
    PortainerFormat,
    TemplateCache,
    candidate_files,
    settle_ids,
)

from .catalogs import discover, fixture_tree, parse_source

MAX_BYTES = 256 * 1024


def tree(name: str) -> dict[str, bytes]:
    return fixture_tree("portainer", name)


def parse_tree(files: dict[str, bytes], index: int, *, max_bytes: int = MAX_BYTES) -> Parsed:
    fmt = PortainerFormat()
    return parse_source(fmt, files, lambda spec: spec.part == index, max_bytes=max_bytes)


def parse(name: str, index: int, *, max_bytes: int = MAX_BYTES) -> Parsed:
    return parse_tree(tree(name), index, max_bytes=max_bytes)


def parse_templates(*templates: Any) -> Parsed:
    """The first template of a version 2 templates file given inline."""
    document = {"version": "2", "templates": list(templates)}
    return parse_tree({"templates.json": json.dumps(document).encode()}, 0)


def container(**fields: Any) -> dict[str, Any]:
    return {"type": 1, "title": "Thing", "description": "A thing", "image": "x/thing:1", **fields}


def definition(name: str, index: int) -> AppDefinition:
    return parse(name, index).definition


def settings(app: AppDefinition) -> dict[str, AppEnvVar]:
    return {setting.name: setting for setting in app.settings}


def environment(app: AppDefinition) -> dict[str, str | None]:
    return {variable.name: variable.default for variable in app.docker.environment}


# --- Finding templates files and templates ---------------------------------------------


def test_templates_files_are_found_at_the_root_or_one_folder_down() -> None:
    paths = [
        "templates.json",
        "templates-2.0.json",
        "Template/template.json",
        "template/portainer-v2-amd64.json",
        "README.md",
        "package.json",
        "stacks/wiki/docker-compose.yml",
        "deep/er/templates.json",
        ".github/templates.json",
        "apps/notely/config.json",
        "templates/settings.json",
    ]
    expected = [
        "Template/template.json",
        "template/portainer-v2-amd64.json",
        "templates-2.0.json",
        "templates.json",
    ]
    fmt = PortainerFormat()
    assert candidate_files(paths) == expected
    assert fmt.index_files(paths) == expected
    assert fmt.detect(paths)
    assert not fmt.detect(["apps/notely/config.json", "deep/er/templates.json", "README.md"])


def test_each_template_is_a_source_keyed_by_file_and_index() -> None:
    found = discover(PortainerFormat(), tree("v2"))
    assert found.errors == {}
    assert [(s.key, s.part) for s in found.sources] == [
        (f"templates.json#{index}", index) for index in range(13)
    ]
    members = {s.part: s.members for s in found.sources}
    assert members[0] == ("templates.json",)
    # A stack's compose file in this repository is read with the templates file
    # (`./` and a leading slash mean the repository's root)...
    assert members[3] == ("templates.json", "stacks/pastebin/docker-compose.yml")
    assert members[4] == ("templates.json", "stacks/relay-swarm/docker-stack.yml")
    # ...one in another repository is not: the tree does not have it.
    assert members[5] == ("templates.json",)


def test_a_file_that_is_not_a_templates_file_is_an_error_of_that_file() -> None:
    fmt = PortainerFormat()
    files = {
        "templates.json": tree("malformed")["templates.json"],
        "portainer-settings.json": b'{"theme": "dark"}',
        "templates-v1.json": b'{"version": "1", "templates": []}',
        "templates-dup.json": b'{"version": "2", "version": "3", "templates": []}',
        "template/ok.json": json.dumps([container()]).encode(),
    }
    found = fmt.find_sources(list(files), files)
    assert [s.key for s in found.sources] == ["template/ok.json#0"]
    assert found.errors["templates.json"].startswith("invalid JSON, line 5 column 1")
    assert "not a Portainer templates file" in found.errors["portainer-settings.json"]
    assert found.errors["templates-v1.json"] == (
        "version: '1' is not a templates version tomo reads (2 or 3)"
    )
    assert found.errors["templates-dup.json"] == "invalid JSON: duplicate key 'version'"


# --- Container templates ---------------------------------------------------------------


def test_a_container_template_maps_every_key() -> None:
    parsed = parse("v2", 0)
    app = parsed.definition
    assert (app.id, app.name, app.main) == ("quiet-web", "Quiet Web", "quiet-web")
    assert app.tagline == "A small static web server"
    assert app.description == (
        'A small static web server\n\nServes files from /srv.\nChange the "index" as you like.'
    )
    assert (app.category, app.tags) == ("web-server", ["web-server", "tools"])
    assert app.icon == "https://images.example.org/quiet-web.png"
    assert app.version == "2.4.1"  # the image's tag
    assert app.not_installable is None
    assert not app.is_multi_container
    docker = app.docker
    assert docker.image == "quietweb/server:2.4.1"
    assert docker.command == ["serve", "--root", "/srv", "--gzip", "on"]
    assert [(p.container, p.host, p.protocol) for p in docker.ports] == [
        (80, 8088, "tcp"),
        (443, 8443, "tcp"),
        (9090, None, "udp"),  # no host port: tomo publishes the same number
    ]
    assert [(v.container_path, v.host_path, v.volume, v.readonly) for v in docker.volumes] == [
        ("/srv", "/srv/quiet-web", None, True),
        ("/var/cache/quiet", None, None, False),  # no bind: tomo chooses a folder
        ("/config", None, "quiet-config", False),  # a bare name: a named volume
    ]
    assert docker.restart_policy == "unless-stopped"
    assert docker.network_mode == "host"
    assert docker.privileged is True
    assert [w.split(": ", 2)[1] for w in parsed.warnings] == [
        "services.quiet-web.hostname",
        "services.quiet-web.labels",
        "services.quiet-web.tty",
        "services.quiet-web.stdin_open",
    ]
    assert parsed.warnings[0] == (
        "templates[0]: services.quiet-web.hostname: not supported, ignored (the container "
        "keeps Docker's default host name)"
    )


def test_env_inputs_become_settings_and_presets_fixed_values() -> None:
    app = definition("v2", 0)
    assert environment(app) == {
        "QW_ADMIN_PASSWORD": "${QW_ADMIN_PASSWORD}",
        "QW_THEME": "${QW_THEME}",
        "QW_MODE": "production",  # preset: no input, the value itself
        "QW_LOG": "${QW_LOG}",
    }
    given = settings(app)
    assert list(given) == ["QW_ADMIN_PASSWORD", "QW_THEME", "QW_LOG"]
    password = given["QW_ADMIN_PASSWORD"]
    assert password.description == "Admin password — Password of the admin page"
    assert (password.required, password.default, password.secret) == (True, None, True)
    assert (given["QW_THEME"].default, given["QW_THEME"].required) == ("dark", False)
    log = given["QW_LOG"]
    assert log.default == "debug"  # the option marked default
    assert log.description == (
        "Log level — How much to log (one of: error (Errors only), debug (Everything))"
    )
    assert (log.choices, given["QW_THEME"].choices) == (["error", "debug"], [])


def test_a_preset_keeps_a_dollar_literal() -> None:
    price = {"name": "PRICE", "default": "$5", "preset": True}
    parsed = parse_templates(container(env=[price, {"name": "NAME", "label": "Name"}]))
    assert environment(parsed.definition) == {"PRICE": "$$5", "NAME": "${NAME}"}


def test_a_template_without_inputs_takes_its_values_as_written() -> None:
    app = parse_templates(container(env=[{"name": "PRICE", "set": "$5"}])).definition
    assert app.settings == []
    assert environment(app) == {"PRICE": "$5"}


def test_registry_network_and_defaults_of_a_bare_template() -> None:
    parsed = parse("v2", 1)
    app = parsed.definition
    assert app.docker.image == "registry.example.org/mirror/quietweb"
    assert app.version == "latest"
    assert app.docker.restart_policy == "always"  # Portainer's default
    assert app.docker.network_mode is None
    assert "network 'frontend': tomo attaches the container to its own network" in (parsed.warnings)


def test_a_windows_template_is_listed_but_not_installable() -> None:
    parsed = parse("v2", 2)
    app = parsed.definition
    assert app.not_installable == "it is a Windows container; tomo installs Linux containers"
    assert app.docker.image == "example/win-reporter:1.0"
    assert app.icon is None
    assert "logo: 'logos/win-reporter.png' is not an http(s) URL, ignored" in parsed.warnings


def test_a_windows_templates_paths_are_never_read_as_linux_ones() -> None:
    """`C:/temp:C:/temp` is a Windows volume: the template is listed as not
    installable, not refused for a volume Linux has no name for."""
    raw = {"type": 1, "title": "SQL Server", "platform": "windows",
           "image": "example/sql-server:2019", "volumes": [{"container": "C:/temp",
                                                             "bind": "C:/temp"}]}  # fmt: skip
    app = parse_templates(raw).definition
    assert app.not_installable == "it is a Windows container; tomo installs Linux containers"
    assert app.docker.image == "example/sql-server:2019"


def test_ids_that_clash_get_a_number_and_a_warning() -> None:
    # Template 1 is also titled "Quiet Web"; template 10 asks for "quiet-web-2"
    # (its title), so template 1 skips that number.
    one, ten = parse("v2", 1), parse("v2", 10)
    assert one.definition.id == "quiet-web-3"
    assert one.warnings[0] == (
        "id 'quiet-web' is taken by an earlier template; listed as 'quiet-web-3'"
    )
    assert ten.definition.id == "quiet-web-2"
    assert ten.warnings == []


def test_settling_ids_is_deterministic() -> None:
    ids, clashes = settle_ids(["a", "b", "a", "a-2", "a", "b"])
    assert ids == ["a", "b", "a-3", "a-2", "a-4", "b-2"]
    assert sorted(clashes) == [2, 4, 5]


def test_a_port_range_is_published_up_to_compose_s_limit() -> None:
    ports = parse_templates(container(ports=["7000-7002:7000-7002/udp"])).definition.docker.ports
    assert [(p.container, p.host, p.protocol) for p in ports] == [
        (7000, 7000, "udp"), (7001, 7001, "udp"), (7002, 7002, "udp")]  # fmt: skip
    app = definition("v2", 9)  # 31 ports
    assert app.not_installable == (
        "templates[9]: services.range-ports.ports[0]: publishes 31 ports (tomo publishes "
        "ranges of at most 16)"
    )


def test_a_host_address_in_a_port_is_reported() -> None:
    parsed = parse_templates(container(ports=["127.0.0.1:81:80"]))
    assert [(p.container, p.host) for p in parsed.definition.docker.ports] == [(80, 81)]
    assert parsed.warnings == [
        "templates[0]: services.thing.ports[0]: the address 127.0.0.1 is ignored: tomo "
        "publishes ports on the address it is set up with"
    ]


# --- The first format and version 3 ----------------------------------------------------


def test_the_first_format_a_bare_list() -> None:
    parsed = parse("v1", 0)
    app = parsed.definition
    assert (app.id, app.version) == ("tiny-notes", "0.3")
    assert [(p.container, p.host) for p in app.docker.ports] == [(3000, None)]
    assert [(v.container_path, v.host_path, v.readonly) for v in app.docker.volumes] == [
        ("/notes", None, False),
        ("/backups", "/srv/backups", True),
    ]
    assert environment(app)["NOTES_LANG"] == "en"  # `set`: the first format's preset
    assert list(settings(app)) == ["NOTES_USER", "NOTES_DB_HOST"]
    assert parsed.warnings == [
        "env.NOTES_DB_HOST: Portainer's container picker is not supported; give the "
        "container's name yourself"
    ]
    assert definition("v1", 1).category == "toys"


def test_the_first_format_stack_in_another_repository() -> None:
    app = definition("v1", 2)
    assert app.docker.image == PLACEHOLDER_IMAGE
    assert app.not_installable == (
        "its compose file is in another repository (https://git.example.org/boards: "
        "board/docker-stack.yml), which tomo does not fetch"
    )


def test_version_3_templates() -> None:
    app = definition("v3", 0)
    assert (app.id, app.name, app.version, app.category) == (
        "metric-sink",
        "Metric Sink",
        "5.0.2",
        "monitoring",
    )
    assert [(p.container, p.host, p.protocol) for p in app.docker.ports] == [(8125, 8125, "udp")]
    assert settings(app)["SINK_RETENTION"].default == "7d"


# --- Stacks ------------------------------------------------------------------------------


def test_a_compose_stack_of_this_repository_is_read_through_compose() -> None:
    parsed = parse("v2", 3)
    app = parsed.definition
    assert (app.id, app.name, app.version) == ("pastebin-cache", "Pastebin & Cache", "3.2.0")
    assert app.not_installable is None
    assert (app.main, list(app.services)) == ("web", ["cache"])
    web = app.docker
    assert web.image == "example/pastebin:3.2.0"
    assert [(p.container, p.host) for p in web.ports] == [(7700, 7700)]
    assert [(v.container_path, v.volume) for v in web.volumes] == [("/var/lib/pastebin", "pastes")]
    assert web.depends_on == {"cache": "started"}
    assert environment(app) == {
        "TITLE": "${PASTE_TITLE}",
        "SECRET": "${PASTE_SECRET}",
        "WORKERS": "4",  # a preset env value is fixed
        "CACHE_URL": "redis://cache:6379",
    }
    given = settings(app)
    assert list(given) == ["PASTE_TITLE", "PASTE_SECRET"]
    assert (given["PASTE_TITLE"].default, given["PASTE_TITLE"].required) == ("My pastes", False)
    assert given["PASTE_SECRET"].description == "Signing secret — Signs session cookies"
    assert (given["PASTE_SECRET"].required, given["PASTE_SECRET"].secret) == (True, True)
    assert parsed.warnings == []


def test_a_swarm_stack_is_installable_on_any_server() -> None:
    """On a Swarm manager as Swarm services (tests/deployment/test_swarm_apps.py),
    with the replicas its `deploy` asks for."""
    parsed = parse("v2", 4)
    assert parsed.definition.docker.image == "example/relay:0.9"
    assert parsed.definition.docker.replicas == 2
    assert parsed.definition.not_installable is None
    assert parsed.warnings == [
        "a Swarm stack: as Swarm services on a Swarm manager, as plain containers on any "
        "other server",
    ]


def test_a_stack_in_another_repository_is_listed_but_not_installable() -> None:
    app = definition("v2", 5)  # its type is the string "3", as the 2.x documentation spells it
    assert app.id == "remote-wiki"
    assert app.docker.image == PLACEHOLDER_IMAGE
    assert app.not_installable == (
        "its compose file is in another repository (https://git.example.org/other-stacks: "
        "wiki/docker-compose.yml), which tomo does not fetch"
    )


def test_an_edge_stack_whose_compose_file_is_here_installs_as_its_edge_agent_runs_it() -> None:
    """Portainer's edge agent runs an Edge stack's compose file with Compose; tomo does
    the same when the repository holds the file, named by `repository.stackfile` or by
    a raw.githubusercontent.com `stackfile` address (as Portainer's own templates do)."""
    for index in (6, 11):
        parsed = parse("v2", index)
        assert parsed.definition.not_installable is None
        assert parsed.definition.docker.image == "example/pastebin:3.2.0"
        assert "an Edge stack: installed as its edge agent runs it" in parsed.warnings[0]
    assert definition("v2", 11).id == "edge-pastebin"


def test_an_edge_stack_whose_compose_file_is_not_here_is_listed_with_why() -> None:
    app = definition("v2", 12)
    assert app.docker.image == PLACEHOLDER_IMAGE
    assert app.not_installable == (
        "it is an Edge stack template whose compose file (https://raw.githubusercontent.com/"
        "example/templates/master/stacks/gone/docker-stack.yml) is not in this repository, "
        "which tomo does not fetch"
    )


def test_a_stack_file_that_is_not_compose_is_an_error() -> None:
    files = tree("v2")
    files["stacks/pastebin/docker-compose.yml"] = b"services: [web]\n"
    with pytest.raises(InvalidDefinition) as caught:
        parse_tree(files, 3)
    assert caught.value.reason == (
        "stacks/pastebin/docker-compose.yml: not a compose file: 'services' must map service "
        "names to services"
    )
    files["stacks/pastebin/docker-compose.yml"] = b"services:\n  web: {image: a}\n  web: {}\n"
    with pytest.raises(InvalidDefinition, match="duplicate key 'web'"):
        parse_tree(files, 3)


# --- Bad templates are errors of their own key ---------------------------------------------


def test_an_unknown_type_is_an_error_of_that_template() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse("v2", 7)
    assert caught.value.path == "templates.json#7"
    assert caught.value.reason == (
        "templates[7].type: 7 is not a template type (1 container, 2 Swarm stack, "
        "3 Compose stack, 4 Edge stack)"
    )


def test_a_wrong_type_names_the_field() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse("v2", 8)
    assert caught.value.reason == "templates[8]: ports: must be a list"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (container(privileged="true"), "templates[0]: privileged: Input should be a valid boolean"),
        (container(image=""), "templates[0].image: is required"),
        ({"type": 1, "image": "x/y:1"}, "templates[0]: title: is required"),
        ("just text", "templates[0]: must be an object of fields"),
        (container(volumes=[{"container": "/data", "bind": "Data Dir"}]),
         "templates[0].volumes[0].bind: 'Data Dir' is neither an absolute path nor a volume name"),
        (container(env=[{"name": "BAD NAME", "label": "x"}]),
         "templates[0].env[0].name: 'BAD NAME' is not a valid environment variable name"),
        (container(image="Not An Image"),
         "services.thing.image: 'Not An Image' is not a valid image reference ([registry/]name[:tag]"
         "[@digest])"),
    ],
)  # fmt: skip
def test_bad_templates(template: Any, message: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse_templates(template)
    assert caught.value.reason == message


def test_the_templates_file_is_not_bound_by_the_per_definition_limit() -> None:
    """A whole catalog in one file: the sync bounds it by its own limit (see
    sync.MAX_INDEX_BYTES and test_sync_formats)."""
    assert parse("v2", 0, max_bytes=100).definition.id


def test_a_templates_file_is_parsed_once_per_content() -> None:
    cache = TemplateCache()
    data = tree("v2")["templates.json"]
    first = cache.get("templates.json", data, max_bytes=MAX_BYTES)
    assert cache.get("templates.json", data, max_bytes=MAX_BYTES) is first
    changed = cache.get("templates.json", data.replace(b"Quiet", b"Loud"), max_bytes=MAX_BYTES)
    assert changed is not first
    assert changed.ids[:2] == ["quiet-web", "loud-web"]  # `name` wins over the title


def test_a_default_outside_the_options_leaves_any_value_open() -> None:
    odd = {"name": "LEVEL", "default": "trace", "select": [{"value": "info"}, {"value": "warn"}]}
    level = settings(parse_templates(container(env=[odd])).definition)["LEVEL"]
    assert (level.default, level.choices) == ("trace", [])
