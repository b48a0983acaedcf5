"""The shared compose converter: every mapped key, every judged key, names and
variables, and the definition it makes validated by the real model."""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tomo.errors import InvalidDefinition
from tomo.marketplace.formats.compose import (
    BLOCKED,
    WARNED,
    ComposeApp,
    build_definition,
    convert_compose,
)
from tomo.marketplace.formats.variables import BASE_TABLE, Builtin, DataDir, VariableTable
from tomo.marketplace.risk import app_risks
from tomo.marketplace.safe_yaml import load_yaml

TABLE = BASE_TABLE.extend({"DATA": DataDir(), "HOST": Builtin("TOMO_SERVER_HOST")})


def convert(text: str, *, table: VariableTable = TABLE, **options: Any) -> ComposeApp:
    return convert_compose(load_yaml(text.encode(), max_bytes=65536), where="", table=table,
                           **options)  # fmt: skip


def one(text: str, **options: Any) -> tuple[dict[str, Any], ComposeApp]:
    """The only service of a document, and the whole result."""
    app = convert(text, **options)
    return next(iter(app.fields["services"].values())), app


def service(body: str) -> str:
    """A one-service document whose service `web` has these extra lines."""
    indented = "\n".join(f"    {line}" for line in body.strip("\n").splitlines())
    return f"services:\n  web:\n    image: example/web:1.0\n{indented}\n"


def validated(app: ComposeApp) -> Any:
    data = {"id": "app", "name": "App", "version": "1", **app.fields,
            "not_installable": app.not_installable}  # fmt: skip
    return build_definition("Apps/App/docker-compose.yml", data)


# --- not a compose file ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (["a", "list"], "the top level must be a mapping"),
        ({"version": "3"}, "'services' must map service names to services"),
        ({"services": ["web"]}, "'services' must map service names to services"),
        ({"services": {}}, "'services' must map service names to services"),
        ({"services": {"web": "nginx"}}, "services.web: must be a mapping of settings"),
        ({"services": {"web": {"ports": ["80"]}}}, "services.web.image: is required"),
        ({"services": {"web": {"build": "."}}}, "is required (compose builds it, tomo does not)"),
    ],
)
def test_documents_that_are_not_usable_compose_files(doc: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        convert_compose(doc, where="", table=TABLE)


# --- ports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        ('"80"', [{"container": "80", "protocol": "tcp"}]),
        ('"8080:80"', [{"container": "80", "host": "8080", "protocol": "tcp"}]),
        ('"8080:80/udp"', [{"container": "80", "host": "8080", "protocol": "udp"}]),
        ('"127.0.0.1:8080:80"', [{"container": "80", "host": "8080", "protocol": "tcp"}]),
        ('"[::1]:8080:80"', [{"container": "80", "host": "8080", "protocol": "tcp"}]),
        ('"127.0.0.1::80"', [{"container": "80", "protocol": "tcp"}]),
        ('"9000-9001:8000-8001"', [{"container": "8000", "host": "9000", "protocol": "tcp"},
                                   {"container": "8001", "host": "9001", "protocol": "tcp"}]),
        ('"7000-7001/udp"', [{"container": "7000", "protocol": "udp"},
                             {"container": "7001", "protocol": "udp"}]),
        ('"${PORT:-8097}:8096"', [{"container": "8096", "host": "8097", "protocol": "tcp"}]),
        ("{target: 80, published: '8080', protocol: udp}",
         [{"container": "80", "host": "8080", "protocol": "udp"}]),
        ("{target: 80}", [{"container": "80", "protocol": "tcp"}]),
        ("{target: 80, published: '8000-8001'}", "mismatch"),
    ],
)  # fmt: skip
def test_ports(port: str, expected: object) -> None:
    if expected == "mismatch":
        with pytest.raises(ValueError, match="differ in length"):
            convert(service(f"ports:\n  - {port}"))
        return
    web, _ = one(service(f"ports:\n  - {port}"))
    assert web["ports"] == expected


def test_an_address_is_ignored_with_a_warning() -> None:
    _, app = one(service('ports:\n  - "127.0.0.1:8080:80"\n  - {target: 81, host_ip: 0.0.0.0}'))
    assert app.warnings == [
        "services.web.ports[0]: the address 127.0.0.1 is ignored: tomo publishes ports on the "
        "address it is set up with",
        "services.web.ports[1]: the address 0.0.0.0 is ignored: tomo publishes ports on the "
        "address it is set up with",
    ]


def test_a_host_port_from_an_unknown_variable_is_left_to_tomo() -> None:
    web, app = one(service('ports:\n  - "${WEBUI_PORT}:80"'))
    assert web["ports"] == [{"container": "80", "protocol": "tcp"}]
    assert "the host port '${WEBUI_PORT}' depends on a value tomo does not know" in app.warnings[0]
    assert app.fields["settings"] == []


@pytest.mark.parametrize(
    ("port", "blocker"),
    [
        ('"20000-20100:20000-20100"', "publishes 101 ports (tomo publishes ranges of at most 16)"),
        ('"5000:5000/sctp"', "the protocol sctp is not supported (tcp and udp are)"),
        ('"${CPORT}"', "${CPORT} has no value tomo could write here"),
    ],
)
def test_ports_tomo_cannot_publish_block_the_app(port: str, blocker: str) -> None:
    web, app = one(service(f"ports:\n  - {port}"))
    assert web["ports"] == []
    assert app.blockers[0].startswith(f"services.web.ports[0]: {blocker}")


@pytest.mark.parametrize("port", ['"http:80"', '"1:2:3:4"', '"90-80"', '""'])
def test_unreadable_ports_are_errors(port: str) -> None:
    with pytest.raises(ValueError, match=r"services\.web\.ports\[0\]"):
        convert(service(f"ports:\n  - {port}"))


# --- volumes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ("./config:/config", {"container_path": "/config", "host_path": "./config"}),
        ("./a/../b:/b", {"container_path": "/b", "host_path": "./b"}),
        ("${DATA}/db:/var/lib/db", {"container_path": "/var/lib/db", "host_path": "./db"}),
        ("/srv/media:/media:ro", {"container_path": "/media", "host_path": "/srv/media",
                                  "readonly": True}),
        ("/var/run/docker.sock:/var/run/docker.sock",
         {"container_path": "/var/run/docker.sock", "host_path": "/var/run/docker.sock"}),
        ("/cache", {"container_path": "/cache"}),
        ("./x:/x:rw,nocopy", {"container_path": "/x", "host_path": "./x"}),
        ("{type: bind, source: ./conf, target: /conf, read_only: 'true'}",
         {"container_path": "/conf", "host_path": "./conf", "readonly": True}),
        ("{type: bind, source: conf, target: /conf}",
         {"container_path": "/conf", "host_path": "./conf"}),
        ("{type: volume, target: /anon}", {"container_path": "/anon"}),
        ("${MEDIA:-/srv/media}:/media", {"container_path": "/media", "host_path": "/srv/media"}),
    ],
)  # fmt: skip
def test_volumes(volume: str, expected: dict[str, Any]) -> None:
    web, app = one(service(f"volumes:\n  - {volume}"))
    assert web["volumes"] == [expected]
    assert app.blockers == []


def test_named_volumes_are_shared_and_made_ids() -> None:
    app = convert(
        "services:\n"
        "  db:\n    image: postgres:16\n    volumes: [db_data:/var/lib/postgresql/data]\n"
        "  backup:\n    image: example/backup:1\n    volumes: ['db_data:/source:ro']\n"
        "volumes:\n  db_data:\n    name: my_db\n"
    )
    services = app.fields["services"]
    assert services["db"]["volumes"] == [{"container_path": "/var/lib/postgresql/data",
                                          "volume": "db-data"}]  # fmt: skip
    assert services["backup"]["volumes"] == [{"container_path": "/source", "readonly": True,
                                              "volume": "db-data"}]  # fmt: skip
    assert app.warnings == ["volumes.db_data.name: tomo names and labels the volume itself"]
    validated(app)


def test_an_undeclared_named_volume_is_an_error() -> None:
    with pytest.raises(ValueError, match="the volume 'data' is not declared"):
        convert(service("volumes: ['data:/data']"))


@pytest.mark.parametrize(
    ("declared", "blocker"),
    [
        ("external: true", "volumes.data: an external volume, made outside the app"),
        ("driver: nfs", "volumes.data.driver: the volume driver 'nfs' is not supported"),
        ("driver_opts: {type: nfs, o: addr=10.0.0.2}",
         "volumes.data.driver_opts: tomo makes plain local volumes"),
    ],
)  # fmt: skip
def test_volumes_made_outside_the_app_block_it(declared: str, blocker: str) -> None:
    app = convert(service("volumes: ['data:/data']") + f"volumes:\n  data:\n    {declared}\n")
    assert app.blockers == [blocker]


@pytest.mark.parametrize(
    ("volume", "blocker"),
    [
        ("../shared:/shared", "'../shared' reaches outside the app's folder"),
        ("${DATA}/../other:/x", "'../other' reaches outside the app's folder"),
        ("~/music:/music", "'~/music' is in a user's home folder"),
        ("/:/host:ro", "mounts the server's whole filesystem"),
        ("{type: npipe, source: x, target: /x}", "a volume of type 'npipe' is not supported"),
        ("{type: bind, source: /mnt, target: /mnt, bind: {propagation: rshared}}",
         "tomo does not share mounts with the host"),
        ("{type: volume, source: data, target: /x, volume: {subpath: sub}}",
         "tomo mounts whole volumes only"),
        ("${HOST}/x:/x", "${HOST} is one of tomo's own values"),
    ],
)  # fmt: skip
def test_volumes_tomo_cannot_mount_block_the_app(volume: str, blocker: str) -> None:
    text = service(f"volumes:\n  - {volume}") + "volumes:\n  data: {}\n"
    _, app = one(text)
    assert any(blocker in b for b in app.blockers), app.blockers


def test_tmpfs_and_selinux_modes_are_warnings() -> None:
    web, app = one(service("volumes:\n  - ./a:/a:z\n  - {type: tmpfs, target: /run}"))
    assert web["volumes"] == [{"container_path": "/a", "host_path": "./a"}]
    assert app.warnings == [
        "services.web.volumes[0]: the mode 'z' is ignored",
        "services.web.volumes[1]: a tmpfs mount is left out: the path stays in the container's "
        "own filesystem",
    ]


def test_a_folder_the_store_leaves_to_the_user_is_tomos_own_until_chosen() -> None:
    web, app = one(service("volumes: ['${MEDIA_DIR}/films:/films']"))
    assert web["volumes"] == [{"container_path": "/films",
                               "description": "the store's folder ${MEDIA_DIR}/films"}]  # fmt: skip
    assert app.warnings == [
        "services.web.volumes[0]: '${MEDIA_DIR}/films' is a folder ${MEDIA_DIR} leaves to the "
        "user: tomo gives the installation a folder of its own, the user may choose another at "
        "install"
    ]


def test_mounting_the_whole_data_directory_moves_the_apps_data_down() -> None:
    web, app = one(service(
        "volumes: ['${DATA}:/srv', '${DATA}/cache:/cache', './logs:/logs', '.:/app']\n"
        "environment: {ROOT: '${DATA}/cache', TZ: $TZ}"))  # fmt: skip
    assert [v["host_path"] for v in web["volumes"]] == ["./data", "./data/cache", "./data/logs",
                                                        "./data"]  # fmt: skip
    assert web["environment"][0] == {"name": "ROOT", "default": "${TOMO_DATA_DIR}/data/cache"}
    assert app.data_prefix == "data/"
    assert app.warnings[-1].startswith("volumes: the app mounts its whole data directory")


# --- environment ---------------------------------------------------------------------------


def test_environment_as_a_list_and_as_a_mapping() -> None:
    listed, _ = one(service("environment:\n  - A=1\n  - B=x=y\n  - C=\n  - FROM_USER"))
    mapped, _ = one(service("environment:\n  A: '1'\n  B: x=y\n  C: ''\n  FROM_USER:"))
    expected = [{"name": "A", "default": "1"}, {"name": "B", "default": "x=y"},
                {"name": "C", "default": ""}, {"name": "FROM_USER"}]  # fmt: skip
    assert listed["environment"] == mapped["environment"] == expected


def test_values_keep_yaml_11_words_and_numbers_as_text() -> None:
    web, _ = one(service("environment:\n  ENABLED: no\n  MODE: 0755\n  TIME: 22:22"))
    assert [v["default"] for v in web["environment"]] == ["no", "0755", "22:22"]


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ("environment: {A: [1, 2]}", r"services\.web\.environment\.A: must be text"),
        ("environment: [{A: 1}]", r"services\.web\.environment\[0\]: must be NAME=value"),
        ("environment: text", r"services\.web\.environment: must be a mapping or a list"),
        ("environment: {A: 'costs $5'}", "'\\$' must start a variable"),
    ],
)
def test_malformed_environment_is_an_error(environment: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(service(environment))


def test_a_value_naming_a_secret_setting_is_secret() -> None:
    web, app = one(service("environment:\n  URL: postgres://u:${DB_PASSWORD}@db\n  MODE: $MODE"))
    assert web["environment"] == [
        {"name": "URL", "default": "postgres://u:${DB_PASSWORD}@db", "secret": True},
        {"name": "MODE", "default": "${MODE}"},
    ]
    assert [s["name"] for s in app.fields["settings"]] == ["DB_PASSWORD", "MODE"]
    assert all(s["required"] for s in app.fields["settings"])


def test_settings_are_declared_once_for_the_whole_app() -> None:
    app = convert(
        "services:\n"
        "  app:\n    image: example/app:1\n    environment: {DB_PASS: $DB_PASSWORD, TZ: $TZ}\n"
        "  db:\n    image: postgres:16\n    environment: {POSTGRES_PASSWORD: $DB_PASSWORD}\n"
    )
    assert [s["name"] for s in app.fields["settings"]] == ["DB_PASSWORD", "TZ"]
    definition = validated(app)
    assert definition.services["db"].environment[0].default == "${DB_PASSWORD}"


# --- keys: mapped, warned, blocking ----------------------------------------------------------


def test_every_mapped_key() -> None:
    web, app = one(
        service("""
command: ["serve", "--port", "80"]
entrypoint: /entry.sh --verbose
restart: unless-stopped
network_mode: bridge
pid: host
ipc: shareable
privileged: "true"
cap_add: [NET_ADMIN, SYS_TIME]
devices: [/dev/dri:/dev/dri, {source: /dev/ttyUSB0, target: /dev/ttyUSB0, permissions: rwm}]
user: "1000:1000"
working_dir: /srv
healthcheck:
  test: [CMD, curl, -f, http://localhost/]
  interval: 30s
  timeout: 5s
  retries: "3"
  start_period: 1m
""")
    )
    assert web == {
        "image": "example/web:1.0",
        "command": ["serve", "--port", "80"],
        "entrypoint": "/entry.sh --verbose",
        "restart_policy": "unless-stopped",
        "network_mode": "bridge",
        "pid_mode": "host",
        "ipc_mode": "shareable",
        "privileged": "true",
        "capabilities": ["NET_ADMIN", "SYS_TIME"],
        "devices": ["/dev/dri:/dev/dri", "/dev/ttyUSB0:/dev/ttyUSB0:rwm"],
        "user": "1000:1000",
        "working_dir": "/srv",
        "healthcheck": {"test": ["CMD", "curl", "-f", "http://localhost/"], "interval": "30s",
                        "timeout": "5s", "retries": "3", "start_period": "1m"},
    }  # fmt: skip
    assert app.warnings == app.blockers == []
    docker = validated(app).docker
    assert docker.entrypoint == ["/entry.sh", "--verbose"]
    assert docker.privileged is True
    assert docker.healthcheck is not None and docker.healthcheck.retries == 3


def test_limits_and_options_docker_gives_a_container_are_kept() -> None:
    """What compose gives the container beyond its image: memory and CPU limits
    (also as `deploy.resources`), /dev/shm, init, ulimits, extra hosts, tmpfs."""
    web, app = one(service("\n".join([
        "mem_reservation: 64M", "cpus: 0.5", "shm_size: '1gb'", "init: true",
        "ulimits: {nofile: {soft: 20000, hard: 40000}, nproc: 65535}",
        "extra_hosts: ['host.docker.internal:host-gateway', 'db.lan=10.0.0.5']",
        "tmpfs: /run", "deploy: {resources: {limits: {memory: 512M}}}"])))  # fmt: skip
    assert app.warnings == app.blockers == []
    docker = validated(app).docker
    assert (docker.mem_limit, docker.mem_reservation, docker.cpus, docker.shm_size) == (
        512 << 20, 64 << 20, 0.5, 1 << 30)  # fmt: skip
    assert docker.init is True
    assert docker.ulimits == {"nofile": [20000, 40000], "nproc": [65535, 65535]}
    assert docker.extra_hosts == {"host.docker.internal": "host-gateway", "db.lan": "10.0.0.5"}
    assert docker.tmpfs == ["/run"]
    assert "deploy" not in web


def test_an_env_file_the_store_ships_is_read_by_docker_from_the_data_directory() -> None:
    """Kept when the app's files hold it (the format adds them); one they do not keeps
    the app not installable, unless compose's `required: false` lets it be missing."""
    web, app = one(service("env_file: [settings.env, {path: ./extra.env, required: false}]"))
    assert web["env_file"] == [{"path": "./settings.env", "required": True},
                               {"path": "./extra.env", "required": False}]  # fmt: skip
    shipped = {"path": "./settings.env", "content": "QT0x"}  # base64 of A=1
    data = {"id": "app", "name": "App", "version": "1", **app.fields, "files": [shipped]}
    assert build_definition("app", data).docker.env_file == ["./settings.env"]
    bare = {"id": "app", "name": "App", "version": "1", **one(service("env_file: a.env"))[1].fields}
    assert build_definition("app", bare).not_installable == (
        "services.web.env_file: ./a.env is not a file the store ships with the app"
    )
    _, outside = one(service("env_file: /etc/app.env"))
    assert outside.blockers == [
        "services.web.env_file: '/etc/app.env' is a file of the store's own system, not one "
        "of the app's folder"
    ]


def test_a_limit_docker_would_refuse_is_left_out_with_a_warning_not_the_app() -> None:
    _, app = one(service("mem_limit: 1k\nextra_hosts: ['db:somewhere']\ncpus: 2"))
    assert app.blockers == []
    assert app.warnings == [
        "services.web.mem_limit: not applied: 1024 bytes is less than the 6 MiB Docker allows "
        "a container",
        "services.web.extra_hosts: not applied: db: 'somewhere' is not an IP address or "
        "'host-gateway'",
    ]
    assert validated(app).docker.cpus == 2


@pytest.mark.parametrize("key", sorted(WARNED))
def test_keys_that_change_nothing_that_matters_are_warnings(key: str) -> None:
    web, app = one(service(f"{key}: something"))
    assert app.blockers == []
    assert app.warnings == [f"services.web.{key}: not supported, ignored ({WARNED[key]})"]
    assert key not in web


@pytest.mark.parametrize("key", sorted(BLOCKED))
def test_keys_whose_absence_changes_what_runs_block_the_app(key: str) -> None:
    value = "'true'" if key == "read_only" else "[something]"
    _, app = one(service(f"{key}: {value}"))
    assert app.blockers == [f"services.web.{key}: not supported ({BLOCKED[key]})"]
    assert app.not_installable == app.blockers[0]


@pytest.mark.parametrize(
    ("lines", "warnings", "blockers"),
    [
        ("read_only: false", [], []),
        ("read_only: 'true'", [], []),
        ("cap_drop: []", [], []),
        ("x-custom: anything", ["services.web.x-custom: extension, ignored"], []),
        ("restart_policy: always", ["services.web.restart_policy: not a compose key, ignored"], []),
        ("deploy: {resources: {reservations: {devices: [{capabilities: [gpu]}]}}}", [], []),
        ("deploy: {resources: {limits: {cpus: '1'}, reservations: {devices: [{driver: nvidia}]}}}",
         [], []),
        ("deploy: {resources: {limits: {cpus: '1', pids: 100}}}",
         ["services.web.deploy: not supported, ignored"], []),
        ("deploy: {resources: {reservations: {devices: [{driver: intel.com/gpu}]}}}", [],
         ["services.web.deploy.resources.reservations.devices: devices of driver 'intel.com/gpu'"]),
        ("deploy: {mode: replicated, replicas: 3}", [], []),
        ("deploy: {replicas: 2, placement: {constraints: [node.role==manager]}}",
         ["services.web.deploy: not supported, ignored"], []),
        ("deploy: {mode: global}", ["services.web.deploy: not supported, ignored"], []),
        ("deploy: {replicas: 0}", ["services.web.deploy.replicas: '0' is not from 1 to 64"], []),
        ("runtime: sysbox-runc", [], ["services.web.runtime: not supported"]),
        ("pid: 'service:other'", [], ["services.web.pid: the process namespace 'service:other'"]),
        ("ipc: 'container:x'", [], ["services.web.ipc: the IPC namespace 'container:x'"]),
        ("network_mode: 'container:vpn'",
         [], ["services.web.network_mode: shares the network of a container outside the app"]),
        ("healthcheck: {disable: true}", ["services.web.healthcheck: disabled here"], []),
        ("healthcheck: {test: [NONE]}", ["services.web.healthcheck: disabled here"], []),
        ("healthcheck: {test: [CMD, x], start_interval: 5s}",
         ["services.web.healthcheck.start_interval: not supported, ignored"], []),
        ("links: [db]",
         ["services.web.links: ignored"], ["services.web.links: links to 'db', which is not"]),
    ],
)  # fmt: skip
def test_keys_judged_by_their_value(lines: str, warnings: list[str], blockers: list[str]) -> None:
    _, app = one(service(lines))
    assert len(app.warnings) == len(warnings)
    assert all(w.startswith(p) for w, p in zip(app.warnings, warnings, strict=True))
    assert len(app.blockers) == len(blockers)
    assert all(b.startswith(p) for b, p in zip(app.blockers, blockers, strict=True))


def test_a_string_health_check_runs_through_the_shell() -> None:
    web, _ = one(service("healthcheck:\n  test: curl -f http://localhost/ || exit 1"))
    assert web["healthcheck"] == {"test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}


@pytest.mark.parametrize(
    ("top", "warnings", "blockers"),
    [
        ("version: '3.8'\nname: app\nx-meta: {a: 1}", [], []),
        ("include: [other.yml]", [], ["include: not supported"]),
        ("secrets: {token: {file: ./t}}", ["secrets: not supported, ignored"], []),
        ("configs: {c: {file: ./c}}", ["configs.c: only a config written out in the file"], []),
        (
            "networks: {front: {driver: bridge}}",
            ["networks.front: tomo gives each installation"],
            [],
        ),
        ("networks: {outside: {external: true}}", [], ["networks.outside: an external network"]),
        ("volumes:", [], []),
        ("bogus: 1", ["bogus: not a compose key, ignored"], []),
    ],
)
def test_top_level_keys(top: str, warnings: list[str], blockers: list[str]) -> None:
    app = convert(service("") + top + "\n")
    assert all(w.startswith(p) for w, p in zip(app.warnings, warnings, strict=True))
    assert all(b.startswith(p) for b, p in zip(app.blockers, blockers, strict=True))
    assert (len(app.warnings), len(app.blockers)) == (len(warnings), len(blockers))


# --- images and variables ------------------------------------------------------------------


def test_an_image_takes_its_default_with_a_warning() -> None:
    web, app = one("services:\n  web:\n    image: example/web:${TAG:-2.1}\n")
    assert web["image"] == "example/web:2.1"
    assert app.warnings[0].startswith("services.web.image: ${TAG} is fixed to its default '2.1'")


def test_an_image_that_names_an_unknown_value_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"services\.web\.image: 'example/web:\$\{TAG\}' must"):
        convert("services:\n  web:\n    image: example/web:${TAG}\n")


def test_commands_keep_settings_to_be_put_in_at_install() -> None:
    web, app = one(service("command: [serve, '--tz=$TZ', 'costs $$1']"))
    assert web["command"] == ["serve", "--tz=${TZ}", "costs $$1"]
    assert [s["name"] for s in app.fields["settings"]] == ["TZ"]


def test_hardening_is_kept_and_other_security_options_are_refused() -> None:
    web, app = one(service(
        "cap_drop: [ALL]\nread_only: true\nsecurity_opt: ['no-new-privileges:true']"
    ))  # fmt: skip
    assert (web["cap_drop"], web["read_only"], web["security_opt"], app.blockers) == (
        ["ALL"], True, ["no-new-privileges:true"], [],
    )  # fmt: skip
    _, loose = one(service("security_opt: ['seccomp:unconfined']"))
    assert loose.blockers == ["services.web.security_opt: not supported (options other than "
                              "no-new-privileges can switch protections off)"]  # fmt: skip


# --- several services ------------------------------------------------------------------------

APP = """
services:
  web_ui:
    image: example/ui:1
    depends_on:
      api:
        condition: service_healthy
      proxy:
        condition: service_started
    environment:
      API: http://api_server:8080
    ports: ["8080:80"]
  api:
    image: example/api:1
    container_name: api_server
    network_mode: "service:web_ui"
    depends_on: [db, proxy]
    environment:
      DB: postgres://u@10.5.0.9:5432/app
      CACHE: redis://cache:6379
      TEMPLATE: ${X:-api_server}
  db:
    image: postgres:16
    networks:
      default:
        ipv4_address: 10.5.0.9
        aliases: [database]
  proxy:
    image: example/proxy:1
    environment:
      UPSTREAM: api_server.internal
      ALSO: database
"""


def test_names_other_services_reach_a_service_by_become_its_name() -> None:
    app = convert(APP, skip=("proxy",))
    services = app.fields["services"]
    assert list(services) == ["web-ui", "api", "db"]
    assert services["web-ui"]["environment"] == [{"name": "API", "default": "http://api:8080"}]
    assert services["web-ui"]["depends_on"] == {"api": "healthy"}
    assert services["api"]["network_mode"] == "service:web-ui"
    assert services["api"]["depends_on"] == {"db": "started"}
    assert services["api"]["environment"] == [
        {"name": "DB", "default": "postgres://u@db:5432/app"},
        {"name": "CACHE", "default": "redis://cache:6379"},
        {"name": "TEMPLATE", "default": "${X}"},
    ]
    assert app.fields["main"] == "web-ui"
    told = [w for w in app.warnings if w.startswith("services: values that name")]
    assert told == [
        "services: values that name '10.5.0.9' now name the service 'db' (tomo's network knows "
        "services by their names)",
        "services: values that name 'api_server' now name the service 'api' (tomo's network knows "
        "services by their names)",
    ]
    definition = validated(app)
    assert definition.main == "web-ui"
    assert set(definition.services) == {"api", "db"}


def test_a_host_name_inside_a_longer_name_or_a_scheme_is_not_rewritten() -> None:
    app = convert(APP)
    proxy = app.fields["services"]["proxy"]
    assert proxy["environment"] == [{"name": "UPSTREAM", "default": "api_server.internal"},
                                    {"name": "ALSO", "default": "db"}]  # fmt: skip


def test_aliases_given_by_the_store_are_rewritten_silently() -> None:
    app = convert(
        "services:\n  web:\n    image: example/web:1\n    environment: {DB: myapp_db_1}\n"
        "  db:\n    image: postgres:16\n",
        aliases={"myapp_db_1": "db"},
    )
    assert app.fields["services"]["web"]["environment"][0]["default"] == "db"
    assert app.warnings == []


def test_sharing_the_network_of_a_left_out_service_blocks_the_app() -> None:
    app = convert(
        "services:\n  vpn:\n    image: example/vpn:1\n"
        "  web:\n    image: example/web:1\n    network_mode: 'service:vpn'\n",
        skip=("vpn",),
    )
    assert app.blockers == ["services.web.network_mode: shares the network of 'vpn', which tomo "
                            "leaves out"]  # fmt: skip


def test_the_main_service() -> None:
    two = "services:\n  db:\n    image: postgres:16\n  web:\n    image: example/web:1\n"
    assert convert(two).fields["main"] == "db"
    assert convert(two.replace("example/web:1", "example/web:1\n    ports: ['80']")).fields[
        "main"] == "web"  # fmt: skip
    assert convert(two, main="web").fields["main"] == "web"
    with pytest.raises(ValueError, match=r"main: 'api' is not one of the services \(db, web\)"):
        convert(two, main="api")
    with pytest.raises(ValueError, match="no service is left to run"):
        convert(two, skip=("db", "web"))


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (
            "  Web:\n    image: a:1\n  web:\n    image: b:1\n",
            "its name and 'Web' both become 'web'",
        ),
        ("  ___:\n    image: a:1\n", "services.___: cannot name a service of tomo"),
    ],
)
def test_service_names_tomo_cannot_use(services: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        convert(f"services:\n{services}")


# --- one container without settings ----------------------------------------------------------


def test_one_container_without_settings_takes_its_values_as_written() -> None:
    web, app = one(service("environment: {PRICE: costs $$5}"))
    assert web["environment"] == [{"name": "PRICE", "default": "costs $5"}]
    assert validated(app).docker.environment[0].default == "costs $5"


def test_one_container_without_settings_that_uses_a_built_in_is_read_as_templates() -> None:
    """n8n's `N8N_HOST: $DEVICE_DOMAIN_NAME`: the definition says its values are
    templates, so the built-in is put in and `$$` stays a `$`."""
    _, app = one(service("environment: {URL: 'http://${HOST}/', PRICE: $$5}"))
    assert app.blockers == []
    definition = validated(app)
    assert definition.templated and definition.is_templated
    assert [v.default for v in definition.docker.environment] == [
        "http://${TOMO_SERVER_HOST}/", "$$5"]  # fmt: skip
    without = validated(one(service("environment: {PRICE: $$5}"))[1])
    assert not without.templated  # no built-in: taken as written, `$5`
    assert without.docker.environment[0].default == "$5"


def test_a_built_in_works_once_the_app_has_settings() -> None:
    web, app = one(service("environment: {URL: 'http://${HOST}/', TZ: $TZ, PRICE: $$5}"))
    assert app.blockers == []
    assert web["environment"][2]["default"] == "$$5"
    assert validated(app).docker.environment[0].default == "http://${TOMO_SERVER_HOST}/"


# --- documents loaded from JSON (Runtipi) ----------------------------------------------------


def test_json_numbers_and_booleans_read_as_compose_reads_them() -> None:
    doc = {"services": {"web": {
        "image": "example/web:1", "privileged": True, "ports": [8080, {"target": 80,
        "published": 8081}], "environment": {"WORKERS": 4, "DEBUG": False},
        "volumes": [{"type": "bind", "source": "./a", "target": "/a", "read_only": True}],
        "healthcheck": {"test": ["CMD", "true"], "retries": 3}}}}  # fmt: skip
    app = convert_compose(doc, where="docker-compose.json", table=TABLE)
    docker = validated(app).docker
    assert docker.privileged is True
    assert [(p.container, p.host) for p in docker.ports] == [(8080, None), (80, 8081)]
    assert [e.default for e in docker.environment] == ["4", "false"]
    assert docker.volumes[0].readonly is True


def test_messages_name_the_file_when_asked() -> None:
    app = convert_compose({"services": {"web": {"image": "a:1", "logging": {}}}},
                          where="docker-compose.yml", table=TABLE)  # fmt: skip
    assert app.warnings == ["docker-compose.yml: services.web.logging: not supported, ignored "
                            "(tomo keeps Docker's default logging)"]  # fmt: skip


# --- the definition ------------------------------------------------------------------------


def test_model_errors_name_the_service_and_the_field() -> None:
    app = convert(service("cap_add: [FLY]\nports: ['99999']"))
    with pytest.raises(InvalidDefinition) as caught:
        validated(app)
    assert caught.value.path == "Apps/App/docker-compose.yml"
    assert "services.web.ports[0].container: port 99999 is outside 1-65535" in caught.value.reason
    assert "services.web.capabilities[0]: 'FLY' is not a Linux capability" in caught.value.reason


def test_a_dependency_circle_is_a_model_error() -> None:
    app = convert("services:\n  a:\n    image: a:1\n    depends_on: [b]\n"
                  "  b:\n    image: b:1\n    depends_on: [a]\n")  # fmt: skip
    with pytest.raises(InvalidDefinition, match="services depend on each other in a circle"):
        validated(app)


def test_not_installable_text_lists_each_reason_once() -> None:
    app = ComposeApp({}, blockers=["a: x", "b: y", "a: x"])
    assert app.not_installable == "a: x; b: y"
    assert ComposeApp({}).not_installable is None


def test_environment_names_with_dots_are_dockers_and_install() -> None:
    body = "environment:\n  discovery.type: single-node\n  xpack.security.enabled: 'false'"
    web, app = one(service(body))
    assert [v["name"] for v in web["environment"]] == ["discovery.type", "xpack.security.enabled"]
    assert app.not_installable is None
    assert [v.name for v in validated(app).docker.environment] == [
        "discovery.type", "xpack.security.enabled",
    ]  # fmt: skip


def test_anchors_and_merge_keys_build_services_as_compose_does() -> None:
    """immich's and plane's style: shared settings in an `x-` key, merged into each."""
    app = convert(
        "x-common: &common\n"
        "  image: example/app:2\n"
        "  environment: {TZ: UTC}\n"
        "  restart: always\n"
        "services:\n"
        "  api:\n    <<: *common\n    ports: ['8080:3000']\n"
        "  worker:\n    <<: *common\n    restart: on-failure\n"
    )
    services = app.fields["services"]
    assert (services["api"]["image"], services["worker"]["image"]) == ("example/app:2",) * 2
    assert services["worker"]["restart_policy"] == "on-failure"  # its own key won
    assert app.not_installable is None


@pytest.mark.parametrize(
    ("lines", "gpus"),
    [
        # CasaOS's and compose's GPU apps, as written in the stores
        ("deploy:\n  resources:\n    reservations:\n      devices:\n"
         "        - {driver: nvidia, count: all, capabilities: [gpu]}", "all"),
        ("deploy:\n  resources:\n    reservations:\n      devices:\n"
         "        - {driver: nvidia, count: 1, capabilities: [gpu]}", "1"),
        ("deploy:\n  resources:\n    reservations:\n      devices:\n"
         "        - {driver: nvidia, device_ids: ['0', '3'], capabilities: [gpu]}", "device=0,3"),
        ("gpus: all", "all"),
        ("runtime: nvidia\nenvironment: {NVIDIA_VISIBLE_DEVICES: all}", "all"),
    ],
)  # fmt: skip
def test_nvidia_gpus_are_given_with_their_risk_flag(lines: str, gpus: str) -> None:
    web, app = one(service(lines))
    assert web["gpus"] == gpus
    assert app.blockers == []
    definition = validated(app)
    assert definition.docker.gpus == gpus
    assert "gpu" in app_risks(definition)


def test_a_conversion_leaves_no_garbage_in_cycles() -> None:
    """A sync pauses the cyclic collector: a conversion that kept its key handlers as
    bound methods of itself was a cycle per app, alive with the document it read
    until the sync's end, and made its one collection walk every app's."""
    doc = load_yaml(
        service("command: [serve, --port, '80']\nrestart: always\ncap_add: [NET_ADMIN]").encode(),
        max_bytes=65536,
    )
    gc.collect()
    gc.disable()
    try:
        convert_compose(doc, where="", table=TABLE)
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize("body", [
    "devices:\n  - /dev/${SERIAL}",
    "cap_add:\n  - ${CAPABILITY}",
    "user: ${RUN_AS}",
])  # fmt: skip
def test_a_value_only_the_user_knows_outside_the_environment_lists_the_app_as_not_installable(
    body: str,
) -> None:
    """Left out, with the reason, rather than made empty: an empty device mapping
    would make the whole file be refused (Runtipi's zigbee2mqtt)."""
    app = validated(convert(service(body)))
    assert app.not_installable is not None
    assert "has no value tomo could write here" in app.not_installable
    assert (app.docker.devices, app.docker.capabilities, app.docker.user) == ([], [], None)


def test_a_grace_longer_than_tomo_waits_is_capped_with_a_warning() -> None:
    web, app = one(service("stop_grace_period: 15m30s"))
    assert web["stop_grace_period"] == "10m"
    assert ("services.web.stop_grace_period: '15m30s' is capped at 10m, the longest tomo waits "
            "for an app to stop before Docker kills it") in app.warnings  # fmt: skip
    assert one(service("stop_grace_period: 1m30s"))[0]["stop_grace_period"] == "1m30s"


def test_kernel_parameters_of_the_containers_own_namespaces_are_set() -> None:
    """wg-easy's `net.ipv4.ip_forward=1`: the container's own network, not the server's."""
    _, app = one(service("sysctls:\n  - net.ipv4.ip_forward=1\n  - kernel.shmmax=65536"))
    assert app.blockers == []
    definition = validated(app)
    assert definition.docker.sysctls == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"}
    assert app_risks(definition) == []
    blocked = one(service("sysctls:\n  vm.overcommit_memory: '1'"))[1]
    assert blocked.blockers[0].startswith("services.web.sysctls.vm.overcommit_memory: "
                                          "'vm.overcommit_memory' is not a kernel parameter")  # fmt: skip


def test_a_device_the_store_lets_the_user_choose_is_chosen_at_install() -> None:
    """Runtipi's zigbee2mqtt: `${Z2M_DEVICE}:/dev/ttyACM0`, its form field a setting."""
    _, app = one(service("devices:\n  - ${SERIAL}:/dev/ttyACM0\n  - /dev/dri"))
    assert app.blockers == []
    definition = validated(app)
    assert definition.docker.devices == ["${SERIAL}:/dev/ttyACM0", "/dev/dri"]
    assert [s.name for s in definition.settings] == ["SERIAL"]
    assert app_risks(definition) == ["device-setting:SERIAL", "device:/dev/dri"]


# --- configs ----------------------------------------------------------------------------------

CONFIGS = """
configs:
  runner:
    content: |
      host: ${HOST}
      price: $$5
  elsewhere:
    file: ./runner.yaml
services:
  web:
    image: example/web:1.0
    environment: {PRICE: costs $$5}
    volumes: ["./state:/state"]
    configs:
      - runner
      - source: runner
        target: /etc/runner.yaml
        mode: 0440
        uid: "1000"
        gid: "1000"
"""


def test_a_config_written_out_is_a_file_placed_and_mounted_read_only() -> None:
    """GiteaRunner (CasaOS) writes its runner's settings inline: a file of the app's,
    filled in at install like a store's template, mounted where each use asks (compose's
    default target is /<name>); the first use's mode and owner are the file's."""
    web, app = one(CONFIGS)
    assert app.blockers == []
    assert web["volumes"][1:] == [
        {"host_path": "./compose-configs/runner", "container_path": "/runner", "readonly": True},
        {"host_path": "./compose-configs/runner", "container_path": "/etc/runner.yaml",
         "readonly": True},
    ]  # fmt: skip
    definition = validated(app)
    [placed] = definition.files
    assert (placed.path, placed.mode, placed.owner, placed.template) == (
        "./compose-configs/runner", "0444", None, True)  # fmt: skip
    assert placed.data == b"host: ${TOMO_SERVER_HOST}\nprice: $$5\n"
    # a file filled in as a template: the app's values are templates too ($$ stays $$)
    assert definition.is_templated and definition.docker.environment[0].default == "costs $$5"


def test_a_config_with_its_own_mode_and_owner_and_one_not_written_out() -> None:
    _, app = one(CONFIGS.replace("      - runner\n", "", 1))  # the long form's use only
    [placed] = validated(app).files
    assert (placed.mode, placed.owner) == ("0440", "1000:1000")
    _, elsewhere = one(CONFIGS.replace("- runner\n", "- elsewhere\n", 1))
    assert elsewhere.blockers == [
        "services.web.configs[0]: the config 'elsewhere' is not written out in the file"
    ]
    _, unknown = one(CONFIGS.replace("- runner\n", "- nothing\n", 1))
    assert unknown.blockers == ["services.web.configs[0]: the config 'nothing' is not declared "
                                "under the top level's configs"]  # fmt: skip
