"""Runtipi app stores: `apps/<id>/config.json` with a dynamic compose file
(docker-compose.json) or a plain one (docker-compose.yml).

fixtures/runtipi/ is a repository laid out as Runtipi publishes its stores; each
app folder there shows one part of the mapping or one failure."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition, AppEnvVar
from tomo.marketplace.formats.base import Parsed
from tomo.marketplace.formats.runtipi import RuntipiFormat, config_paths

from .catalogs import fixture_tree, keyed, parse_source

MAX_BYTES = 256 * 1024


def tree() -> dict[str, bytes]:
    return fixture_tree("runtipi")


def parse_tree(files: dict[str, bytes], app: str, *, max_bytes: int = MAX_BYTES) -> Parsed:
    """What a sync does for one app: find it, read its members, parse."""
    key = f"apps/{app}/config.json"
    return parse_source(RuntipiFormat(), files, keyed(key), max_bytes=max_bytes)


def parse(app: str) -> Parsed:
    return parse_tree(tree(), app)


def app_files(
    config: dict[str, Any], *, dynamic: Any = None, compose: str | None = None, app: str = "demo"
) -> dict[str, bytes]:
    """One app's files, written inline."""
    files = {f"apps/{app}/config.json": json.dumps({"id": app, **config}).encode()}
    if dynamic is not None:
        files[f"apps/{app}/docker-compose.json"] = json.dumps(dynamic).encode()
    if compose is not None:
        files[f"apps/{app}/docker-compose.yml"] = compose.encode()
    return files


def one_service(**service: Any) -> dict[str, Any]:
    main = {"name": "demo", "image": "example/demo:1", "isMain": True, "internalPort": 80}
    return {"schemaVersion": 2, "services": [{**main, **service}]}


def settings(app: AppDefinition) -> dict[str, AppEnvVar]:
    return {setting.name: setting for setting in app.settings}


def environment(app: AppDefinition, service: str | None = None) -> dict[str, str | None]:
    config = app.all_services[service or app.main_service]
    return {variable.name: variable.default for variable in config.environment}


def error_of(files: dict[str, bytes], app: str = "demo") -> InvalidDefinition:
    with pytest.raises(InvalidDefinition) as caught:
        parse_tree(files, app)
    return caught.value


# --- Finding apps ------------------------------------------------------------------------


def test_apps_are_the_config_files_of_apps_folders() -> None:
    paths = [
        "apps/notely/config.json",
        "apps/notely/docker-compose.json",
        "apps/.template/config.json",
        "apps/notely/data/config.json",
        "config.json",
        "README.md",
    ]
    assert config_paths(paths) == ["apps/notely/config.json"]
    fmt = RuntipiFormat()
    assert fmt.detect(paths)
    assert fmt.index_files(paths) == []
    # tomo's own layout holds YAML files under apps/, no config.json
    assert not fmt.detect(["apps/media/jellyfin.yaml", "apps/tools/it-tools/app.yaml"])


def test_each_app_reads_its_config_compose_files_logo_and_description() -> None:
    found = RuntipiFormat().find_sources(list(tree()), {})
    assert found.errors == {
        "apps/no-compose/config.json": "no docker-compose.json or docker-compose.yml beside it"
    }
    specs = {spec.key: spec for spec in found.sources}
    assert len(specs) == 12
    notely = specs["apps/notely/config.json"]
    assert notely.members == ("apps/notely/config.json", "apps/notely/docker-compose.json")
    assert notely.optional == ("apps/notely/metadata/logo.jpg",
                               "apps/notely/metadata/description.md")  # fmt: skip
    assert specs["apps/v1-board/config.json"].members == (
        "apps/v1-board/config.json",
        "apps/v1-board/docker-compose.json",
        "apps/v1-board/docker-compose.yml",
    )
    assert specs["apps/notely/config.json"].part is None
    # Files Runtipi copies into the data directory are read too (placeholders are not).
    assert specs["apps/seeded/config.json"].optional == (
        "apps/seeded/metadata/logo.jpg",
        "apps/seeded/metadata/description.md",
        "apps/seeded/data/config/seeded.conf.template",
    )


# --- A dynamic compose app -----------------------------------------------------------------


def test_config_json_maps_to_the_catalog_fields() -> None:
    app = parse("notely").definition
    assert (app.id, app.name, app.version, app.author) == (
        "notely", "Notely", "2.7.0", "Notely Team")  # fmt: skip
    assert app.tagline == "Shared notes for a household"
    assert app.description.startswith("# Notely\n\nNotely keeps a household's notes")
    assert (app.category, app.tags) == ("utilities", ["utilities", "data"])
    assert app.repository == "https://git.example.org/notely/notely"
    assert app.icon == "apps/notely/metadata/logo.jpg"
    assert app.requirements.architectures == ["arm64", "amd64"]
    assert app.not_installable is None


def test_the_main_service_publishes_its_internal_port_on_the_app_port() -> None:
    app = parse("notely").definition
    assert (app.main, list(app.services)) == ("notely", ["notely-db"])
    main = app.docker
    assert main.image == "example/notely:2.7.0"
    assert [(p.container, p.host, p.protocol) for p in main.ports] == [
        (3000, 8230, "tcp"),  # internalPort on config.json's port
        (7000, 7000, "tcp"),  # addPorts with tcp and udp: both
        (7000, 7000, "udp"),
    ]
    assert main.restart_policy == "unless-stopped"


def test_every_dynamic_service_key_reaches_the_model() -> None:
    app = parse("notely").definition
    main, db = app.docker, app.services["notely-db"]
    assert [(v.container_path, v.host_path, v.readonly) for v in main.volumes] == [
        ("/app/uploads", "./data/uploads", False),
        ("/app/config", "./data/config", True),
    ]
    assert environment(app) == {
        "SITE_NAME": "${NOTELY_SITE_NAME}",
        "DATABASE_URL": "postgres://notely:${NOTELY_DB_PASSWORD}@notely-db:5432/notely",
        "UPLOAD_LIMIT": "25",
        "SIGNUPS": "false",
        "TZ": "${TZ}",
    }
    assert main.healthcheck is not None
    assert main.healthcheck.test == ["CMD-SHELL", "wget -q -O- http://localhost:3000/health"]
    assert (main.healthcheck.interval, main.healthcheck.retries) == ("30s", 3)
    assert main.healthcheck.start_period == "20s"
    assert main.depends_on == {"notely-db": "healthy"}
    assert main.command == ["node", "server.js", "--port", "3000"]
    assert main.entrypoint == ["/sbin/tini", "--"]
    assert (main.user, main.working_dir) == ("1000:1000", "/app")
    assert (main.capabilities, main.devices) == (["NET_BIND_SERVICE"], ["/dev/dri:/dev/dri"])
    assert [(v.container_path, v.host_path) for v in db.volumes] == [
        ("/var/lib/postgresql/data", "./data/db")
    ]
    assert environment(app, "notely-db")["POSTGRES_PASSWORD"] == "${NOTELY_DB_PASSWORD}"


def test_form_fields_the_compose_file_uses_become_settings() -> None:
    given = settings(parse("notely").definition)
    assert list(given) == ["NOTELY_SITE_NAME", "NOTELY_DB_PASSWORD", "TZ"]
    site = given["NOTELY_SITE_NAME"]
    assert (site.description, site.default, site.required) == (
        "Site name — Shown in the title bar", "Our notes", False)  # fmt: skip
    password = given["NOTELY_DB_PASSWORD"]  # a `random` field: tomo generates it
    assert (password.secret, password.generate, password.required) == (True, "hex", False)
    assert given["TZ"].default == "UTC"


def test_a_random_field_is_generated_as_long_as_its_min_asks() -> None:
    """Runtipi generates `min` characters; an app may refuse a shorter secret."""
    fields: list[dict[str, Any]] = [
        {"type": "random", "label": "Key", "env_variable": "KEY", "min": 48},
        {"type": "random", "label": "Salt", "env_variable": "SALT"},
        {"type": "random", "label": "Huge", "env_variable": "HUGE_KEY", "min": 1000},
    ]
    environment = [{"key": f["env_variable"], "value": f"${{{f['env_variable']}}}"} for f in fields]
    parsed = parse_tree(app_files({"name": "Demo", "port": 9000, "form_fields": fields},
                                  dynamic=one_service(environment=environment)), "demo")  # fmt: skip
    given = settings(parsed.definition)
    assert (given["KEY"].generate, given["KEY"].length) == ("hex", 48)
    assert given["SALT"].length is None  # no `min`: tomo's 32, as Runtipi's
    assert given["HUGE_KEY"].length == 256
    assert parsed.warnings == [
        "form_fields.HUGE_KEY: a random value of 1000 characters is asked; tomo generates 256"
    ]


def test_the_url_suffix_is_the_page_tomo_s_link_opens() -> None:
    assert parse("notely").definition.web_path == "/app"
    query = app_files({"name": "Demo", "port": 9000, "url_suffix": "?offline=1"},
                      dynamic=one_service())  # fmt: skip
    assert parse_tree(query, "demo").definition.web_path == "/?offline=1"


def test_what_tomo_leaves_out_is_reported() -> None:
    assert parse("notely").warnings == [
        "uid/gid: the files of data/ are given to them where tomo logs in as root; the rest "
        "of the data directory keeps its owner",
        "docker-compose.json: overrides: ignored; tomo installs the same services on every "
        "architecture",
        "form_fields.NOTELY_VOLUME: type 'slider' is unknown; taken as text",
    ]


FIELDS: list[dict[str, Any]] = [
    {"type": "text", "label": "Name", "env_variable": "F_TEXT", "required": True},
    {"type": "text", "label": "Nickname", "env_variable": "F_OPTIONAL"},
    {"type": "password", "label": "Password", "env_variable": "F_PASSWORD", "required": True},
    {"type": "random", "label": "Key", "env_variable": "F_RANDOM", "encoding": "base64"},
    {"type": "email", "label": "Mail", "hint": "For alerts", "env_variable": "F_EMAIL"},
    {"type": "number", "label": "Workers", "env_variable": "F_NUMBER", "default": 4},
    {"type": "boolean", "label": "Debug", "env_variable": "F_BOOL", "default": True},
    {"type": "fqdn", "label": "Domain", "env_variable": "F_FQDN", "required": True},
    {"type": "ip", "label": "Address", "env_variable": "F_IP", "default": "10.0.0.1"},
    {"type": "url", "label": "Hook", "env_variable": "F_URL"},
    {"type": "text", "label": "Mode", "env_variable": "F_SELECT", "default": "b",
     "options": [{"label": "A", "value": "a"}, {"label": "b", "value": "b"}]},
    {"type": "text", "label": "Token", "env_variable": "F_API_TOKEN"},
]  # fmt: skip


def test_every_kind_of_form_field() -> None:
    environment = [{"key": f["env_variable"], "value": f"${{{f['env_variable']}}}"} for f in FIELDS]
    files = app_files({"name": "Demo", "port": 9000, "form_fields": FIELDS},
                      dynamic=one_service(environment=environment))  # fmt: skip
    given = {name: (s.description, s.required, s.default, s.secret, s.generate)
             for name, s in settings(parse_tree(files, "demo").definition).items()}  # fmt: skip
    assert given == {
        "F_TEXT": ("Name", True, None, False, None),
        "F_OPTIONAL": ("Nickname", False, "", False, None),  # Runtipi leaves it empty
        "F_PASSWORD": ("Password", True, None, True, None),
        "F_RANDOM": ("Key", False, None, True, "password"),
        "F_EMAIL": ("Mail — For alerts (an email address)", False, "", False, None),
        "F_NUMBER": ("Workers (a number)", False, "4", False, None),
        "F_BOOL": ("Debug (true or false)", False, "true", False, None),
        "F_FQDN": ("Domain (a domain name)", True, None, False, None),
        "F_IP": ("Address (an IP address)", False, "10.0.0.1", False, None),
        "F_URL": ("Hook (a URL)", False, "", False, None),
        "F_SELECT": ("Mode (one of: a (A), b)", False, "b", False, None),
        "F_API_TOKEN": ("Token", False, "", True, None),  # its name says it is a secret
    }
    offered = {name: s.choices for name, s in settings(parse_tree(files, "demo").definition).items()
               if s.choices}  # fmt: skip
    assert offered == {"F_BOOL": ["true", "false"], "F_SELECT": ["a", "b"]}  # as lists in forms


def test_a_schema_version_1_file_with_an_environment_map() -> None:
    parsed = parse("v1-board")
    app = parsed.definition
    assert app.docker.image == "example/board:1.2.0"  # dynamic_config: the JSON file wins
    assert environment(app) == {"BOARD_PORT": "8080", "BOARD_TITLE": "Board of v1-board"}
    # Runtipi publishes no port for a service in a network mode.
    assert (app.docker.network_mode, app.docker.ports) == ("host", [])
    assert app.docker.depends_on == {"board-cache": "started"}
    assert parsed.warnings == [
        "docker-compose.json: services.board-cache.unknownKey: not a dynamic compose key, ignored"
    ]


# --- A plain compose app -------------------------------------------------------------------


def test_a_plain_compose_file_and_runtipi_s_variables() -> None:
    parsed = parse("lanterns")
    app = parsed.definition
    assert (app.id, app.main, app.version) == ("lanterns", "lanterns", "0.9.3")
    assert app.icon == "apps/lanterns/metadata/logo.jpg"
    assert app.description == "Lanterns shows whether your services answer."
    assert [(p.container, p.host) for p in app.docker.ports] == [(8080, 8412)]  # ${APP_PORT}
    assert [(v.container_path, v.host_path) for v in app.docker.volumes] == [("/data", "./data")]
    # How it is reached: tomo's built-ins (its name through the front door, else host:port).
    assert environment(app) == {"TZ": "${TZ}", "BASE_URL": "${TOMO_SCHEME}://${TOMO_ADDRESS}"}
    assert list(settings(app)) == ["TZ"]
    # exposable: the front door may send a name to the port config.json's port publishes
    assert app.proxy is not None
    assert (app.proxy.service, app.proxy.port, app.proxy.hostname) == (None, 8080, "optional")
    # Runtipi's external proxy network is left out, not refused.
    assert app.not_installable is None
    assert parsed.warnings == [
        "docker-compose.yml: services.lanterns.container_name: not supported, ignored (tomo "
        "names containers itself)",
        "docker-compose.yml: services.lanterns.labels: not supported, ignored (tomo sets its "
        "own labels)",
    ]


def test_an_app_whose_port_speaks_https_is_reached_over_tls_by_the_front_door() -> None:
    config = {"name": "Demo", "port": 8443, "exposable": True, "https": True}
    compose = "services:\n  demo:\n    image: example/demo:1\n    ports: ['${APP_PORT}:8443']\n"
    app = parse_tree(app_files(config, compose=compose), "demo").definition
    assert app.proxy is not None and (app.proxy.port, app.proxy.tls) == (8443, True)

    plain = parse_tree(app_files({**config, "https": False}, compose=compose), "demo")
    assert plain.definition.proxy is not None and plain.definition.proxy.tls is False


LEGACY = """
services:
  db:
    image: example/db:5
    volumes:
      - ${APP_DATA_DIR}/data/db:/var/lib/db
  web:
    image: example/web:2
    ports:
      - ${APP_PORT}:3000
    networks:
      - tipi_main_network
      - backend
networks:
  tipi_main_network:
    external: true
    name: runtipi_tipi_main_network
  backend: {}
"""


def test_the_main_service_of_a_plain_file_publishes_the_app_port() -> None:
    parsed = parse_tree(app_files({"name": "Demo", "port": 9000}, compose=LEGACY), "demo")
    app = parsed.definition
    assert (app.main, list(app.services)) == ("web", ["db"])
    assert [(p.container, p.host) for p in app.docker.ports] == [(3000, 9000)]
    assert app.not_installable is None
    assert parsed.warnings == [
        "docker-compose.yml: services.web.networks: tomo puts every service on the "
        "installation's own network"
    ]


def test_which_compose_file_is_read() -> None:
    dynamic = one_service(image="example/from-json:1")
    plain = "services:\n  demo:\n    image: example/from-yaml:1\n"
    both: dict[str, Any] = {"dynamic": dynamic, "compose": plain}
    chosen = {
        "json, asked for": app_files({"name": "D", "dynamic_config": True}, **both),
        "yaml, json not asked for": app_files({"name": "D"}, **both),
        "json, the only one": app_files({"name": "D"}, dynamic=dynamic),
        "yaml, json asked for but missing": app_files(
            {"name": "D", "dynamic_config": True}, compose=plain
        ),
    }
    images = {case: parse_tree(files, "demo").definition.docker.image
              for case, files in chosen.items()}  # fmt: skip
    assert images == {
        "json, asked for": "example/from-json:1",
        "yaml, json not asked for": "example/from-yaml:1",
        "json, the only one": "example/from-json:1",
        "yaml, json asked for but missing": "example/from-yaml:1",
    }
    parsed = parse_tree(chosen["yaml, json asked for but missing"], "demo")
    assert parsed.warnings == [
        "dynamic_config is set but there is no docker-compose.json; docker-compose.yml is used"
    ]


# --- Listed but not installable --------------------------------------------------------------


def test_an_unavailable_deprecated_app_is_listed_but_not_installable() -> None:
    app = parse("old-gallery").definition
    assert app.not_installable == (
        "its store marks it unavailable; its store marks it deprecated (no longer maintained)"
    )
    assert [(p.container, p.host) for p in app.docker.ports] == [(80, 8501)]


def test_an_app_runtipi_always_exposes_is_installable_with_a_name() -> None:
    app = parse("exposed-only").definition
    assert app.not_installable is None
    assert app.proxy is not None
    assert (app.proxy.port, app.proxy.hostname, app.proxy.login) == (3000, "required", False)
    assert app.needs_hostname
    vapid = settings(app)
    assert (vapid["VAPID_PUBLIC_KEY"].required, vapid["VAPID_PRIVATE_KEY"].secret) == (True, True)


def test_the_data_folder_the_store_ships_is_placed_in_the_data_directory() -> None:
    app = parse("shipped").definition
    assert app.not_installable is None
    assert [(f.path, f.data, f.mode, f.owner) for f in app.files] == [
        ("./data/config/shipped.conf", b"greeting = hello\n", "0644", "1000:1000"),
        ("./data/scripts/init.sh", b"#!/bin/sh\necho ready\n", "0755", "1000:1000"),
    ]  # .gitkeep is a placeholder, not a file to place


def test_the_templates_of_the_data_folder_are_filled_in_as_they_are_placed() -> None:
    """Runtipi fills `{{NAME}}` with the app's values as it copies data/: tomo places
    the file without `.template`, filled in at install (its form field a setting)."""
    app = parse("seeded").definition
    assert app.not_installable is None
    assert [(v.container_path, v.host_path) for v in app.docker.volumes] == [
        ("/etc/seeded", "./data/config")
    ]
    [placed] = [f for f in app.files if f.template]
    assert placed.path == "./data/config/seeded.conf"
    assert placed.data == b"greeting = ${SEEDED_GREETING}\n"
    assert {s.name: s.default for s in app.settings} == {"SEEDED_GREETING": "hello"}


def test_runtipi_s_media_folder_and_a_shared_mount() -> None:
    parsed = parse("pushy")
    volume = parsed.definition.docker.volumes[0]
    # Runtipi's media folder: tomo gives the installation a folder the user may change.
    assert (volume.container_path, volume.host_path) == ("/media", None)
    assert "ROOT_FOLDER_HOST" in volume.description or "media" in volume.description
    assert any(w.startswith("docker-compose.json: services.pushy.volumes[0]: ")
               for w in parsed.warnings)  # fmt: skip
    # A mount shared with the host blocks the app.
    assert parsed.definition.not_installable is not None
    assert parsed.definition.not_installable.startswith(
        "docker-compose.json: services.pushy.volumes[0].bind.propagation: "
    )


def test_runtipi_s_user_ids_are_settings_written_out_as_1000_where_they_must_be() -> None:
    """recyclarr runs as `user: ${TIPI_UID}:${TIPI_GID}`, Runtipi's own user."""
    files = app_files({"name": "Demo", "port": 9000},
                      dynamic=one_service(user="${TIPI_UID}:${TIPI_GID}"))  # fmt: skip
    parsed = parse_tree(files, "demo")
    assert parsed.definition.not_installable is None
    assert parsed.definition.docker.user == "1000:1000"
    assert any("${TIPI_UID} is fixed to its default '1000'" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("host_path", "value", "where", "why"),
    [
        ("${ROOT_FOLDER_HOST}/app-data/other", "x", "services.demo.volumes[0]",
         "reaches Runtipi's own files"),
        ("${APP_DATA_DIR}/data", "${JWT_SECRET}", "services.demo.environment.VALUE",
         "belongs to Runtipi itself"),
    ],
)  # fmt: skip
def test_runtipi_s_own_files_and_values_block_the_app(
    host_path: str, value: str, where: str, why: str
) -> None:
    dynamic = one_service(volumes=[{"hostPath": host_path, "containerPath": "/data"}],
                          environment=[{"key": "VALUE", "value": value}])  # fmt: skip
    app = parse_tree(app_files({"name": "Demo", "port": 9000}, dynamic=dynamic), "demo").definition
    assert app.not_installable is not None
    assert app.not_installable.startswith(f"docker-compose.json: {where}: ")
    assert app.not_installable.endswith(why)


def test_an_id_that_is_not_a_slug_is_made_one() -> None:
    parsed = parse("Mixed_Case")
    assert parsed.definition.id == "mixed-case"
    assert parsed.warnings == ["id 'Mixed_Case' is not a valid tomo id; listed as 'mixed-case'"]


def test_an_id_unlike_its_folder_is_reported() -> None:
    files = app_files({"name": "Demo", "id": "other"}, dynamic=one_service())
    parsed = parse_tree(files, "demo")
    assert parsed.definition.id == "other"
    assert parsed.warnings == ["id 'other' differs from the folder name 'demo'"]


def test_long_texts_are_cut_not_refused() -> None:
    files = app_files({"name": "Demo", "short_desc": "word " * 80}, dynamic=one_service())
    parsed = parse_tree(files, "demo")
    assert len(parsed.definition.tagline) <= 256
    assert parsed.definition.tagline.endswith("word…")
    assert parsed.warnings == ["short_desc: longer than 256 characters, shortened"]


def test_a_source_that_is_not_a_url_is_left_out() -> None:
    files = app_files({"name": "Demo", "source": "github: someone"}, dynamic=one_service())
    parsed = parse_tree(files, "demo")
    assert parsed.definition.repository is None
    assert parsed.warnings == ["source: 'github: someone' is not an http(s) URL, ignored"]


def test_a_description_that_is_not_utf8_falls_back_to_config_json() -> None:
    files = app_files({"name": "Demo", "description": "From config."}, dynamic=one_service())
    files["apps/demo/metadata/description.md"] = b"\xff\xfe broken"
    parsed = parse_tree(files, "demo")
    assert parsed.definition.description == "From config."
    assert parsed.warnings == [
        "metadata/description.md: not valid UTF-8; config.json's description is shown"
    ]


# --- Errors ----------------------------------------------------------------------------------


def test_malformed_config_json() -> None:
    error = error_of(tree(), "broken-json")
    assert error.path == "apps/broken-json/config.json"
    assert error.reason == (
        "invalid JSON, line 5 column 1: Expecting property name enclosed in double quotes"
    )


def test_wrong_types_in_config_json_name_each_field() -> None:
    assert error_of(tree(), "wrong-types").reason == (
        "available: Input should be a valid boolean; categories: must be a list; "
        "port: Input should be a valid integer; form_fields[0].env_variable: is required"
    )


def test_two_main_services_are_an_error() -> None:
    assert error_of(tree(), "two-mains").reason == (
        "docker-compose.json: services: only one may be isMain (front, back)"
    )


@pytest.mark.parametrize(
    ("dynamic", "reason"),
    [
        ({"schemaVersion": 2, "services": []},
         "docker-compose.json: services: must not be empty"),
        ({"schemaVersion": 3, "services": [{"name": "a", "image": "b"}]},
         "docker-compose.json: schemaVersion: must be 2, got 3"),
        ({"schemaVersion": 2, "services": [{"name": "a"}]},
         "docker-compose.json: services[0].image: is required"),
        (one_service(addPorts=[{"containerPort": 1}]),
         "docker-compose.json: services[0].addPorts[0].hostPort: is required"),
        (one_service(volumes=[{"hostPath": "/a", "containerPath": "/b", "readOnly": "yes"}]),
         "docker-compose.json: services[0].volumes[0].readOnly: Input should be a valid boolean"),
        ({"schemaVersion": 2, "services": [{"name": "a", "image": "x:1"},
                                           {"name": "a", "image": "y:1"}]},
         "docker-compose.json: services: 'a' is given twice"),
        ([1, 2], "docker-compose.json: the top level must be an object with 'services'"),
        (one_service(name="web_ui", image="example/web:1", internalPort=80),
         None),
    ],
)  # fmt: skip
def test_bad_dynamic_compose_files(dynamic: Any, reason: str | None) -> None:
    files = app_files({"name": "Demo", "port": 9000}, dynamic=dynamic)
    if reason is None:  # `web_ui` is named `web-ui` in tomo, and stays the main service
        assert parse_tree(files, "demo").definition.main == "web-ui"
        return
    assert error_of(files).reason == reason


def test_bad_plain_compose_files() -> None:
    duplicate = "services:\n  demo:\n    image: a:1\n  demo:\n    image: b:1\n"
    assert error_of(app_files({"name": "D"}, compose=duplicate)).reason == (
        "docker-compose.yml: line 4: duplicate key 'demo' (first given on line 2)"
    )
    assert error_of(app_files({"name": "D"}, compose="services:\n  demo: {}\n")).reason == (
        "docker-compose.yml: services.demo.image: is required"
    )


def test_the_size_limit_holds() -> None:
    with pytest.raises(InvalidDefinition, match="larger than the 64-byte limit"):
        parse_tree(tree(), "notely", max_bytes=64)


def test_a_model_error_names_the_field() -> None:
    files = app_files({"name": "Demo", "version": ""}, dynamic=one_service(image="Bad Image"))
    assert error_of(files).reason.startswith(
        "services.demo.image: 'Bad Image' is not a valid image reference"
    )


def test_optional_fields_left_empty_are_absent_as_runtipi_reads_them() -> None:
    config: dict[str, Any] = {"name": "Demo", "port": "", "uid": None, "gid": "", "categories": [],
              "url_suffix": None, "supported_architectures": [], "dynamic_config": True,
              "form_fields": [{"type": "text", "env_variable": "DEMO_NAME", "label": "Name",
                               "min": "", "options": [], "hint": None}]}  # fmt: skip
    dynamic = one_service(command="", user="", workingDir=None, healthCheck={}, dependsOn=[],
                          addPorts=[{"containerPort": 53, "hostPort": 5353, "udp": None}],
                          environment=[{"key": "EMPTY", "value": ""}],
                          volumes=[{"hostPath": "${APP_DATA_DIR}/data", "containerPath": "/d",
                                    "readOnly": None}])  # fmt: skip

    app = parse_tree(app_files(config, dynamic=dynamic), "demo").definition

    docker = app.docker
    assert (docker.command, docker.user, docker.working_dir, docker.healthcheck) == (
        None, None, None, None,
    )  # fmt: skip
    assert environment(app)["EMPTY"] == ""  # an empty value is a value
    assert [(p.container, p.host) for p in docker.ports if p.container == 53] == [(53, 5353)]


def test_a_required_field_left_empty_is_still_refused() -> None:
    error = error_of(app_files({"name": "Demo"}, dynamic=one_service(image="")))
    assert "image" in error.reason, error.reason
