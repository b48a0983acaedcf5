"""From definition and install config to the container spec and its `docker run` argv.

Pure: no Docker, no SSH, no database. The end-to-end behaviour is in test_install*.py.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from tests.gitrepo import app_definition
from tomo.deployment.app_spec import build_app_spec
from tomo.deployment.spec import (
    ContainerSpec,
    InstallConfig,
    Mount,
    PortOverride,
    PublishedPort,
    VolumeOverride,
    build_docker_run_command,
    env_file_content,
)
from tomo.errors import InvalidInput, Refusal
from tomo.marketplace.definition import AppDefinition

DATA_ROOT = "/srv/tomo-apps"
PUBLISH = "127.0.0.1"
LABELS = ["--label", "tomo.app=web", "--label", "tomo.repo=main", "--label", "tomo.installation=i1",
          "--label", "tomo.service=app"]  # fmt: skip
HOSTILE = "$(touch /tmp/pwned); `id` 'single' \"double\" second; rm -rf / # \\ $HOME"
HOSTILE_ONE_LINE = "s3cr$(id)t;'\"`x` && echo \\ $PATH # end"
RISK_HINT = " (accept each with --accept-risk FLAG)"


def definition(app_id: str = "web", **docker: Any) -> AppDefinition:
    """tests.gitrepo's definition; `docker` replaces keys of its docker section."""
    base = app_definition(app_id)
    return AppDefinition.model_validate({**base, "docker": {**base["docker"], **docker}})


def spec_of(
    app: AppDefinition | None = None, config: InstallConfig | None = None, **kwargs: Any
) -> ContainerSpec:
    return build_app_spec(
        app or definition(),
        config or InstallConfig(),
        repo_id="main",
        installation_id="i1",
        data_root=kwargs.pop("data_root", DATA_ROOT),
        **kwargs,
    ).main


def argv_of(spec: ContainerSpec) -> list[str]:
    return build_docker_run_command(spec, PUBLISH)


def refusal(
    app: AppDefinition | None = None, config: InstallConfig | None = None, **kwargs: Any
) -> str:
    """The refusal as the command line says it."""
    with pytest.raises(InvalidInput) as caught:
        spec_of(app, config, **kwargs)
    return caught.value.message


def refusals(
    app: AppDefinition | None = None, config: InstallConfig | None = None
) -> tuple[Refusal, ...]:
    """The refusal as data: what each face renders."""
    with pytest.raises(InvalidInput) as caught:
        spec_of(app, config)
    return caught.value.problems


def values_of(argv: list[str], option: str) -> list[str]:
    """Every argument that follows `option` in argv."""
    return [argv[i + 1] for i, item in enumerate(argv[:-1]) if item == option]


def validation_messages(caught: pytest.ExceptionInfo[ValidationError]) -> list[str]:
    return [error["msg"] for error in caught.value.errors()]


# -- the argv ---------------------------------------------------------------------


def test_full_argv_of_a_rich_app_is_exact() -> None:
    app = definition(
        ports=[{"container": 80, "host": 8080}, {"container": 53, "host": 5353, "protocol": "udp"}],
        volumes=[
            {"host_path": "./data", "container_path": "/data"},
            {"host_path": "/srv/media", "container_path": "/media", "readonly": True},
            {"container_path": "/var/cache/app"},
        ],
        environment=[
            {"name": "TZ", "default": "UTC"},
            {"name": "DB_PASSWORD", "secret": True, "required": True},
        ],
        restart_policy="on-failure:3",
        network_mode="appnet",
        capabilities=["SYS_ADMIN"],
        devices=["/dev/dri:/dev/dri"],
        command="serve --port 80",
    )
    config = InstallConfig(
        env={"DB_PASSWORD": "hunter2"},
        accept_risks=["cap:SYS_ADMIN", "device:/dev/dri", "network:appnet"],
    )
    assert argv_of(spec_of(app, config)) == [
        "container", "run", "--detach", "--name", "web",
        *LABELS,
        "--publish", "127.0.0.1:8080:80/tcp",
        "--publish", "127.0.0.1:5353:53/udp",
        "--volume", "/srv/tomo-apps/web/data:/data",
        "--volume", "/srv/media:/media:ro",
        "--volume", "/srv/tomo-apps/web/app:/var/cache/app",
        "--env-file", "/srv/tomo-apps/web/.tomo.env",
        "--restart", "on-failure:3",
        "--network", "appnet",
        "--cap-add", "SYS_ADMIN",
        "--device", "/dev/dri:/dev/dri",
        "example/web:1.0.0", "serve", "--port", "80",
    ]  # fmt: skip


def test_minimal_app_has_only_name_labels_restart_isolation_and_image() -> None:
    app = definition(ports=[], volumes=[], environment=[])
    assert argv_of(spec_of(app)) == [
        "container", "run", "--detach", "--name", "web", *LABELS, "--restart", "unless-stopped",
        "--network", "tomo-isolated", "example/web:1.0.0",
    ]  # fmt: skip


@pytest.mark.parametrize("mode", ["bridge", "default"])
def test_a_store_asking_for_the_bridge_gets_the_isolated_network(mode: str) -> None:
    """Docker's default bridge would let the app reach every container on it."""
    app = definition(ports=[], volumes=[], environment=[], network_mode=mode)
    argv = argv_of(spec_of(app))
    assert argv[argv.index("--network") + 1] == "tomo-isolated"
    assert argv.count("--network") == 1


def test_labels_name_app_repo_and_installation() -> None:
    spec = spec_of()
    assert spec.labels == {"tomo.app": "web", "tomo.repo": "main", "tomo.installation": "i1",
                           "tomo.service": "app"}  # fmt: skip
    assert values_of(argv_of(spec), "--label") == [
        "tomo.app=web",
        "tomo.repo=main",
        "tomo.installation=i1",
        "tomo.service=app",
    ]


def test_publish_uses_the_given_address_and_protocol() -> None:
    app = definition(ports=[{"container": 80}, {"container": 514, "protocol": "udp"}])
    spec = spec_of(app)
    assert spec.ports == [PublishedPort(80, 80, "tcp"), PublishedPort(514, 514, "udp")]
    assert values_of(build_docker_run_command(spec, "192.0.2.10"), "--publish") == [
        "192.0.2.10:80:80/tcp",
        "192.0.2.10:514:514/udp",
    ]


def test_host_network_publishes_nothing() -> None:
    app = definition(network_mode="host")
    argv = argv_of(spec_of(app, InstallConfig(accept_risks=["host-network"])))
    assert "--publish" not in argv
    assert values_of(argv, "--network") == ["host"]


def test_relative_volumes_live_under_the_instance_directory() -> None:
    app = definition(
        volumes=[
            {"host_path": "./config/nested", "container_path": "/config"},
            {"container_path": "/var/lib/postgresql/data/"},
        ]
    )
    spec = spec_of(app)
    assert spec.instance_dir == "/srv/tomo-apps/web"
    assert spec.mounts == [
        Mount("/srv/tomo-apps/web/config/nested", "/config", readonly=False, owned=True),
        Mount("/srv/tomo-apps/web/data", "/var/lib/postgresql/data", readonly=False, owned=True),
    ]
    assert spec.owned_dirs == [
        "/srv/tomo-apps/web",
        "/srv/tomo-apps/web/config/nested",
        "/srv/tomo-apps/web/data",
    ]


def test_absolute_host_paths_are_kept_and_not_owned() -> None:
    app = definition(volumes=[{"host_path": "/mnt/nas/photos/", "container_path": "/photos"}])
    spec = spec_of(app)
    assert spec.mounts == [Mount("/mnt/nas/photos", "/photos", readonly=False, owned=False)]
    assert spec.owned_dirs == ["/srv/tomo-apps/web"]
    assert values_of(argv_of(spec), "--volume") == ["/mnt/nas/photos:/photos"]


def test_readonly_volumes_get_ro_and_the_others_nothing() -> None:
    app = definition(
        volumes=[
            {"host_path": "./conf", "container_path": "/conf", "readonly": True},
            {"host": "/mnt/media", "container": "/media", "mode": "ro"},
            {"host_path": "./data", "container_path": "/data", "readonly": False},
        ]
    )
    assert values_of(argv_of(spec_of(app)), "--volume") == [
        "/srv/tomo-apps/web/conf:/conf:ro",
        "/mnt/media:/media:ro",
        "/srv/tomo-apps/web/data:/data",
    ]


def test_carried_volumes_are_mounted_by_name_after_the_mounts() -> None:
    spec = dataclasses.replace(
        spec_of(), carried_volumes=[("3f2a9c", "/var/lib/app"), ("cache-vol", "/cache")]
    )
    argv = argv_of(spec)
    assert values_of(argv, "--volume") == [
        "/srv/tomo-apps/web/data:/data",
        "3f2a9c:/var/lib/app",
        "cache-vol:/cache",
    ]
    assert argv.index("cache-vol:/cache") < argv.index("--env-file")


def test_env_values_go_only_in_the_env_file_never_in_argv() -> None:
    app = definition(
        environment=[
            {"name": "TZ", "default": "UTC"},
            {"name": "API_KEY", "secret": True},
            {"name": "DB_PASSWORD", "secret": True, "default": "catalog-default"},
        ]
    )
    spec = spec_of(app, InstallConfig(env={"API_KEY": "key-1234", "EXTRA": "yes"}))
    argv = argv_of(spec)
    assert spec.env == {"TZ": "UTC", "EXTRA": "yes"}
    assert spec.secret_env == {"API_KEY": "key-1234", "DB_PASSWORD": "catalog-default"}
    assert "--env" not in argv
    assert values_of(argv, "--env-file") == ["/srv/tomo-apps/web/.tomo.env"]
    assert env_file_content(spec) == (
        "TZ=UTC\nEXTRA=yes\nAPI_KEY=key-1234\nDB_PASSWORD=catalog-default\n"
    )
    for value in ("UTC", "yes", "key-1234", "catalog-default"):
        assert not any(value in item for item in argv)


def test_no_env_file_without_env() -> None:
    spec = spec_of(definition(environment=[]))
    assert "--env-file" not in argv_of(spec)
    assert env_file_content(spec) == ""


def test_spec_repr_hides_secret_values() -> None:
    app = definition(environment=[{"name": "TOKEN", "secret": True}])
    spec = spec_of(app, InstallConfig(env={"TOKEN": "do-not-print-me"}))
    assert "do-not-print-me" not in repr(spec)


def test_restart_policy_network_pid_ipc_privileged_in_order() -> None:
    app = definition(
        ports=[],
        volumes=[],
        environment=[],
        restart="always",
        network_mode="none",
        pid_mode="host",
        ipc_mode="host",
        privileged=True,
        capabilities=["cap_net_admin", "CHOWN"],
        devices="/dev/ttyUSB0",
    )
    config = InstallConfig(
        accept_risks=["privileged", "host-pid", "host-ipc", "cap:NET_ADMIN", "device:/dev/ttyUSB0"]
    )
    assert argv_of(spec_of(app, config))[13:] == [
        "--restart", "always",
        "--network", "none",
        "--pid", "host",
        "--ipc", "host",
        "--privileged",
        "--cap-add", "NET_ADMIN",
        "--cap-add", "CHOWN",
        "--device", "/dev/ttyUSB0",
        "example/web:1.0.0",
    ]  # fmt: skip


def test_command_items_follow_the_image_unchanged() -> None:
    app = definition(command=["sh", "-c", "echo $(id); `whoami` 'q' \"d\" > /dev/null"])
    argv = argv_of(spec_of(app))
    assert argv[argv.index("example/web:1.0.0") :] == [
        "example/web:1.0.0",
        "sh",
        "-c",
        "echo $(id); `whoami` 'q' \"d\" > /dev/null",
    ]


def test_image_argument_replaces_the_definition_image() -> None:
    spec = spec_of(images={"app": "registry.local:5000/example/web:2.0.0"})
    assert spec.image == "registry.local:5000/example/web:2.0.0"
    assert argv_of(spec)[-1] == "registry.local:5000/example/web:2.0.0"


# -- instance name ------------------------------------------------------------------


def test_instance_name_defaults_to_the_app_id() -> None:
    spec = spec_of(definition("my-app"))
    assert (spec.name, spec.instance_dir) == ("my-app", "/srv/tomo-apps/my-app")
    assert argv_of(spec)[:5] == ["container", "run", "--detach", "--name", "my-app"]


def test_explicit_name_names_the_container_and_its_directories() -> None:
    app = definition(environment=[{"name": "S", "secret": True, "default": "x"}])
    spec = spec_of(app, InstallConfig(name="web-2.test_b"))
    argv = argv_of(spec)
    assert argv[:5] == ["container", "run", "--detach", "--name", "web-2.test_b"]
    assert spec.labels["tomo.app"] == "web"
    assert values_of(argv, "--volume") == ["/srv/tomo-apps/web-2.test_b/data:/data"]
    assert values_of(argv, "--env-file") == ["/srv/tomo-apps/web-2.test_b/.tomo.env"]


@pytest.mark.parametrize("name", ["Web", "-web", ".web", "web/x", "we b", "a" * 64, "", "a"])
def test_invalid_instance_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        InstallConfig(name=name)
    assert validation_messages(caught) == [
        f"Value error, '{name}' is not a valid instance name (lowercase letters, digits, '_', "
        "'.', '-'; starting with a letter or digit; 2 to 63 characters)"
    ]


def test_a_63_character_instance_name_is_accepted() -> None:
    assert InstallConfig(name="a" * 63).name == "a" * 63


def test_an_app_id_that_cannot_name_a_container_needs_an_explicit_name() -> None:
    app = definition("a" * 64)
    (problem,) = refusals(app)
    assert (problem.fields, problem.hint) == (("name",), "give the instance a name with --name")
    assert problem.text.startswith(f"the app id '{'a' * 64}' cannot name a container")
    assert spec_of(app, InstallConfig(name="short")).name == "short"


# -- port overrides -----------------------------------------------------------------


def test_port_override_changes_the_host_port() -> None:
    app = definition(ports=[{"container": 80, "host": 8080}, {"container": 443}])
    spec = spec_of(app, InstallConfig(ports=[PortOverride(host=9443, container=443)]))
    assert spec.ports == [PublishedPort(8080, 80, "tcp"), PublishedPort(9443, 443, "tcp")]
    assert values_of(argv_of(spec), "--publish") == [
        "127.0.0.1:8080:80/tcp",
        "127.0.0.1:9443:443/tcp",
    ]


def test_port_overrides_may_swap_host_ports() -> None:
    app = definition(ports=[{"container": 80, "host": 8080}, {"container": 81, "host": 8081}])
    config = InstallConfig(
        ports=[PortOverride(host=8081, container=80), PortOverride(host=8080, container=81)]
    )
    assert spec_of(app, config).ports == [
        PublishedPort(8081, 80, "tcp"),
        PublishedPort(8080, 81, "tcp"),
    ]


def test_same_host_port_on_tcp_and_udp_is_no_clash() -> None:
    app = definition(ports=[{"container": 53}, {"container": 53, "protocol": "udp"}])
    config = InstallConfig(ports=[PortOverride(host=5353, container=53, protocol="udp")])
    assert spec_of(app, config).ports == [
        PublishedPort(53, 53, "tcp"),
        PublishedPort(5353, 53, "udp"),
    ]


def test_port_override_for_an_unknown_port_names_the_ports_the_app_has() -> None:
    app = definition(ports=[{"container": 80}, {"container": 53, "protocol": "udp"}])
    config = InstallConfig(ports=[PortOverride(host=9053, container=53)])
    assert refusals(app, config) == (Refusal(
        "port 9053:53/tcp: the app has no container port 53/tcp (it has: 80/tcp, 53/udp)",
        ("ports",)),)  # fmt: skip


def test_port_override_on_an_app_without_ports_says_none() -> None:
    config = InstallConfig(ports=[PortOverride(host=8000, container=80, protocol="udp")])
    assert refusal(definition(ports=[]), config) == (
        "port 8000:80/udp: the app has no container port 80/udp (it has: none)"
    )


def test_override_onto_a_host_port_already_in_use_by_the_app_is_refused() -> None:
    app = definition(ports=[{"container": 80, "host": 8080}, {"container": 81, "host": 8081}])
    config = InstallConfig(ports=[PortOverride(host=8080, container=81)])
    assert refusal(app, config) == "host port 8080/tcp is given to container ports 80 and 81"


def test_a_container_port_published_on_two_host_ports_keeps_both() -> None:
    app = definition(ports=[{"container": 80, "host": 8080}, {"container": 80, "host": 8081}])
    assert spec_of(app).ports == [PublishedPort(8080, 80, "tcp"), PublishedPort(8081, 80, "tcp")]
    moved = spec_of(app, InstallConfig(ports=[PortOverride(host=9000, container=80),
                                              PortOverride(host=9001, container=80)]))  # fmt: skip
    assert moved.ports == [PublishedPort(9000, 80, "tcp"), PublishedPort(9001, 80, "tcp")]


def test_more_port_overrides_than_the_app_publishes_are_refused() -> None:
    app = definition(ports=[{"container": 80, "host": 8080}])
    overrides = [PortOverride(host=9000, container=80), PortOverride(host=9001, container=80)]
    assert refusal(app, InstallConfig(ports=overrides)) == (
        "port 9001:80/tcp: the app publishes 80/tcp 1 time(s), and more ports than that name it"
    )


def test_port_override_model_accepts_udp_and_defaults_to_tcp() -> None:
    assert PortOverride(host=1, container=65535).protocol == "tcp"
    assert PortOverride(host=1, container=1, protocol="udp").protocol == "udp"


@pytest.mark.parametrize("protocol", ["TCP", "sctp", "", "tcp "])
def test_port_override_model_refuses_other_protocols(protocol: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PortOverride(host=80, container=80, protocol=protocol)
    assert validation_messages(caught) == [
        f"Value error, protocol must be tcp or udp, got {protocol!r}"
    ]


@pytest.mark.parametrize(
    ("host", "container", "field", "kind"),
    [
        (0, 80, "host", "greater_than_equal"),
        (80, 0, "container", "greater_than_equal"),
        (65536, 80, "host", "less_than_equal"),
        (80, 65536, "container", "less_than_equal"),
    ],
)
def test_port_override_model_refuses_ports_outside_the_range(
    host: int, container: int, field: str, kind: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        PortOverride(host=host, container=container)
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((field,), kind)]


# -- volume overrides ---------------------------------------------------------------


def test_relative_volume_override_stays_under_the_instance_directory() -> None:
    config = InstallConfig(volumes=[VolumeOverride(host_path="store/db", container_path="/data")])
    spec = spec_of(definition(), config)
    assert spec.mounts == [Mount("/srv/tomo-apps/web/store/db", "/data", False, owned=True)]
    assert spec.owned_dirs == ["/srv/tomo-apps/web", "/srv/tomo-apps/web/store/db"]


def test_absolute_volume_override_is_kept_and_keeps_readonly() -> None:
    app = definition(volumes=[{"container_path": "/media", "readonly": True}])
    config = InstallConfig(
        volumes=[VolumeOverride(host_path="/mnt/nas/media", container_path="/media/")]
    )
    spec = spec_of(app, config)
    assert spec.mounts == [Mount("/mnt/nas/media", "/media", readonly=True, owned=False)]
    assert values_of(argv_of(spec), "--volume") == ["/mnt/nas/media:/media:ro"]


def test_volume_override_for_an_unknown_path_names_the_volumes_the_app_has() -> None:
    app = definition(
        volumes=[{"container_path": "/data"}, {"container_path": "/config"}],
    )
    config = InstallConfig(volumes=[VolumeOverride(host_path="/mnt/x", container_path="/srv")])
    assert refusals(app, config) == (
        Refusal("the app has no volume at /srv (it has: /config, /data)", ("volumes",)),
    )


def test_volume_override_on_an_app_without_volumes_says_none() -> None:
    config = InstallConfig(volumes=[VolumeOverride(host_path="./x", container_path="/data")])
    assert refusal(definition(volumes=[]), config) == (
        "the app has no volume at /data (it has: none)"
    )


@pytest.mark.parametrize(
    ("given", "normalized"),
    [("data", "./data"), ("./a//b/", "./a/b"), ("/srv//media/", "/srv/media"), ("/", "/")],
)
def test_volume_override_model_normalizes_host_paths(given: str, normalized: str) -> None:
    assert VolumeOverride(host_path=given, container_path="/data").host_path == normalized


@pytest.mark.parametrize(
    ("host_path", "container_path", "message"),
    [
        ("./a/../../etc", "/data", "path './a/../../etc' contains '..'"),
        ("~/data", "/data", "path '~/data' uses '~'; give an absolute path or ./relative one"),
        ("/srv/a:b", "/data", "path '/srv/a:b' contains ':' or ','"),
        ("/srv/a,b", "/data", "path '/srv/a,b' contains ':' or ','"),
        ("/srv/a\nb", "/data", "path contains control characters"),
        (".", "/data", "relative path must name a directory under the data directory"),
        ("./data", "data", "path 'data' must be absolute (start with /)"),
        ("./data", "/data:ro", "path '/data:ro' contains ':' or ','"),
        ("./data", "/", "path '/' is the whole filesystem; name a directory"),
        ("./data", "//", "path '/' is the whole filesystem; name a directory"),
    ],
)
def test_volume_override_model_refuses_unsafe_paths(
    host_path: str, container_path: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        VolumeOverride(host_path=host_path, container_path=container_path)
    assert validation_messages(caught) == [f"Value error, {message}"]


def test_volumes_without_host_path_get_distinct_directories() -> None:
    app = definition(volumes=[{"container_path": "/a/data"}, {"container_path": "/b/data"},
                              {"container_path": "/config"}, {"host_path": "./b-data",
                                                              "container_path": "/other"}])  # fmt: skip
    instance = f"{DATA_ROOT}/web"
    assert [m.host_path for m in spec_of(app).mounts] == [
        f"{instance}/data", f"{instance}/b-data-2", f"{instance}/config", f"{instance}/b-data",
    ]  # fmt: skip


def test_a_volume_override_given_twice_is_refused() -> None:
    app = definition(volumes=[{"container_path": "/data"}])
    config = InstallConfig(volumes=[VolumeOverride(host_path="/srv/a", container_path="/data"),
                                    VolumeOverride(host_path="/srv/b", container_path="/data")])  # fmt: skip
    assert refusal(app, config) == "the folder for /data is given more than once"


@pytest.mark.parametrize("host_path", ["./.tomo.env", "./.tomo.env/inner"])
def test_a_volume_cannot_take_the_env_file_path(host_path: str) -> None:
    app = definition(volumes=[{"host_path": host_path, "container_path": "/secrets"}])
    assert refusal(app) == (
        f"volume /secrets: {host_path} is where tomo keeps the installation's secret "
        "environment file"
    )


def test_a_required_variable_set_to_nothing_is_missing() -> None:
    app = definition(environment=[{"name": "DB_HOST", "required": True}])
    assert refusal(app, InstallConfig(env={"DB_HOST": ""})) == (
        "required environment variables missing: DB_HOST (give each with --env NAME=VALUE)"
    )


# -- environment --------------------------------------------------------------------


def test_missing_required_env_names_are_all_listed_in_definition_order() -> None:
    app = definition(
        environment=[
            {"name": "DB_USER", "required": True},
            {"name": "TZ", "default": "UTC", "required": True},
            {"name": "DB_PASSWORD", "required": True, "secret": True},
            {"name": "OPTIONAL"},
            {"name": "DB_HOST", "required": True},
        ]
    )
    assert refusal(app, InstallConfig(env={"DB_HOST": "db"})) == (
        "required environment variables missing: DB_USER, DB_PASSWORD"
        " (give each with --env NAME=VALUE)"
    )


def test_optional_env_without_a_value_is_left_out() -> None:
    app = definition(environment=[{"name": "OPTIONAL"}, {"name": "S", "secret": True}])
    spec = spec_of(app)
    assert (spec.env, spec.secret_env) == ({}, {})
    assert "--env-file" not in argv_of(spec)


def test_user_value_wins_over_the_default() -> None:
    spec = spec_of(definition(), InstallConfig(env={"TZ": "Europe/Berlin"}))
    assert env_file_content(spec) == "TZ=Europe/Berlin\n"


@pytest.mark.parametrize("name", ["A B", "", "ÄPFEL", "#COMMENT", "A\tB", "A=B"])
def test_invalid_user_env_names_are_refused(name: str) -> None:
    assert refusal(config=InstallConfig(env={name: "x"})) == (
        f"'{name}' is not a valid environment variable name"
    )


@pytest.mark.parametrize("name", ["discovery.type", "xpack.security.enabled", "1ST", "A-B"])
def test_env_names_follow_dockers_rule_not_the_shells(name: str) -> None:
    spec = spec_of(config=InstallConfig(env={name: "x"}))
    assert f"{name}=x\n" in env_file_content(spec)


def test_nul_bytes_are_refused_in_plain_and_secret_values() -> None:
    app = definition(environment=[{"name": "PLAIN"}, {"name": "S", "secret": True}])
    config = InstallConfig(env={"PLAIN": "a\x00b", "S": "c\x00d"})
    assert refusal(app, config) == (
        "environment variable PLAIN contains a NUL byte; environment variable S contains a NUL byte"
    )


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "trailing\n", "\r\n"])
@pytest.mark.parametrize("secret", [True, False])
def test_a_value_with_a_line_break_is_refused(value: str, secret: bool) -> None:
    # Every value goes through the env file, one line per variable.
    app = definition(environment=[{"name": "S", "secret": secret}])
    assert refusal(app, InstallConfig(env={"S": value})) == (
        "environment variable S may not contain a line break"
    )


def test_several_problems_are_reported_together_in_order() -> None:
    app = definition(
        ports=[{"container": 80, "host": 8080}],
        volumes=[{"container_path": "/data"}],
        environment=[
            {"name": "DB_HOST", "required": True},
            {"name": "DB_USER", "required": True},
            {"name": "S", "secret": True},
        ],
        privileged=True,
    )
    config = InstallConfig(
        env={"S": "a\nb", "bad name": "x"},
        ports=[PortOverride(host=9000, container=81)],
        volumes=[VolumeOverride(host_path="./c", container_path="/config")],
    )
    assert [(p.fields, p.values) for p in refusals(app, config)] == [
        (("ports",), ()),
        (("volumes",), ()),
        (("env.DB_HOST", "env.DB_USER"), ("DB_HOST", "DB_USER")),
        (("env.S",), ()),
        (("env.bad name",), ()),
        (("accept_risks",), ("privileged",)),
    ]
    assert refusal(app, config).split("; ")[2] == (
        "required environment variables missing: DB_HOST, DB_USER (give each with --env NAME=VALUE)"
    )


# -- generated secrets --------------------------------------------------------------


def generating_app() -> AppDefinition:
    return definition(
        environment=[
            {"name": "TZ", "default": "UTC"},
            {"name": "DB_PASSWORD", "secret": True, "generate": "password", "required": True},
            {"name": "SESSION_KEY", "secret": True, "generate": "hex"},
            {"name": "INSTANCE_ID", "secret": True, "generate": "uuid"},
        ]
    )


def test_generated_secrets_have_their_kind_and_land_only_in_the_env_file() -> None:
    spec = spec_of(generating_app())
    password = spec.secret_env["DB_PASSWORD"]
    hex_key = spec.secret_env["SESSION_KEY"]
    instance_id = spec.secret_env["INSTANCE_ID"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", password)
    assert re.fullmatch(r"[0-9a-f]{32}", hex_key)
    assert uuid.UUID(instance_id).version == 4 and str(uuid.UUID(instance_id)) == instance_id
    assert spec.env == {"TZ": "UTC"}
    assert env_file_content(spec) == (
        f"TZ=UTC\nDB_PASSWORD={password}\nSESSION_KEY={hex_key}\nINSTANCE_ID={instance_id}\n"
    )
    argv = argv_of(spec)
    for secret in (password, hex_key, instance_id):
        assert not any(secret in item for item in argv)


def test_a_generated_secret_is_as_long_as_the_definition_asks() -> None:
    app = definition(environment=[
        {"name": "KEY", "secret": True, "generate": "hex", "length": 47},
        {"name": "PASS", "secret": True, "generate": "password", "length": 50},
        {"name": "PIN", "secret": True, "generate": "hex", "length": 4},
    ])  # fmt: skip
    spec = spec_of(app)
    assert re.fullmatch(r"[0-9a-f]{47}", spec.secret_env["KEY"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{50}", spec.secret_env["PASS"])
    assert re.fullmatch(r"[0-9a-f]{4}", spec.secret_env["PIN"])


@pytest.mark.parametrize(("variable", "reason"), [
    ({"generate": "uuid", "length": 40}, "length: only for a generated password or hex"),
    ({"length": 40}, "length: only for a generated password or hex"),
    ({"generate": "hex", "length": 3}, "greater than or equal to 4"),
    ({"generate": "hex", "length": 257}, "less than or equal to 256"),
])  # fmt: skip
def test_a_length_needs_a_generated_password_or_hex_of_4_to_256(
    variable: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason):
        definition(environment=[{"name": "KEY", "secret": True, **variable}])


def test_each_build_generates_fresh_secrets() -> None:
    first, second = spec_of(generating_app()), spec_of(generating_app())
    for name in ("DB_PASSWORD", "SESSION_KEY", "INSTANCE_ID"):
        assert first.secret_env[name] != second.secret_env[name]


def test_secrets_generated_earlier_are_reused() -> None:
    generated = {"DB_PASSWORD": "pw-from-install", "SESSION_KEY": "ab" * 16}
    spec = spec_of(generating_app(), generated=generated)
    assert spec.secret_env["DB_PASSWORD"] == "pw-from-install"
    assert spec.secret_env["SESSION_KEY"] == "ab" * 16
    assert uuid.UUID(spec.secret_env["INSTANCE_ID"]).version == 4
    assert env_file_content(spec).startswith(
        f"TZ=UTC\nDB_PASSWORD=pw-from-install\nSESSION_KEY={'ab' * 16}\nINSTANCE_ID="
    )


def test_user_value_wins_over_a_generated_one() -> None:
    config = InstallConfig(env={"DB_PASSWORD": "chosen"})
    spec = spec_of(generating_app(), config, generated={"DB_PASSWORD": "old"})
    assert spec.secret_env["DB_PASSWORD"] == "chosen"


def test_stored_secret_satisfies_a_required_secret_on_update() -> None:
    app = definition(environment=[{"name": "API_KEY", "secret": True, "required": True}])
    spec = spec_of(app, generated={"API_KEY": "stored"})
    assert env_file_content(spec) == "API_KEY=stored\n"


def test_a_default_is_used_instead_of_generating() -> None:
    app = definition(
        environment=[{"name": "S", "secret": True, "generate": "hex", "default": "fixed"}]
    )
    assert spec_of(app).secret_env == {"S": "fixed"}


# -- risk flags ---------------------------------------------------------------------


def test_unaccepted_risks_are_refused_and_named() -> None:
    app = definition(privileged=True, capabilities=["NET_ADMIN", "CHOWN"])
    assert refusal(app) == (
        "this app needs risk flags you have not accepted: cap:NET_ADMIN, privileged" + RISK_HINT
    )


def test_partly_accepted_risks_name_only_the_rest() -> None:
    app = definition(privileged=True, capabilities=["NET_ADMIN"])
    config = InstallConfig(accept_risks=["cap:NET_ADMIN", "host-network"])
    assert refusal(app, config) == (
        "this app needs risk flags you have not accepted: privileged" + RISK_HINT
    )


def test_accepted_risks_pass_and_are_recorded() -> None:
    app = definition(privileged=True, capabilities=["NET_ADMIN"])
    spec = spec_of(app, InstallConfig(accept_risks=["privileged", "cap:NET_ADMIN"]))
    assert spec.risks == ["cap:NET_ADMIN", "privileged"]
    assert spec.privileged is True


def test_a_plain_app_has_no_risks() -> None:
    assert spec_of().risks == []


def test_a_volume_override_onto_a_system_path_is_a_risk() -> None:
    config = InstallConfig(volumes=[VolumeOverride(host_path="/etc", container_path="/data")])
    assert refusal(definition(), config) == (
        "this app needs risk flags you have not accepted: system-path:/etc" + RISK_HINT
    )
    accepted = config.model_copy(update={"accept_risks": ["system-path:/etc"]})
    spec = spec_of(definition(), accepted)
    assert spec.risks == ["system-path:/etc"]
    assert values_of(argv_of(spec), "--volume") == ["/etc:/data"]


def test_a_volume_override_onto_the_docker_socket_is_a_risk() -> None:
    path = "/var/run/docker.sock"
    config = InstallConfig(volumes=[VolumeOverride(host_path=path, container_path="/data")])
    assert refusal(definition(), config) == (
        "this app needs risk flags you have not accepted: docker-socket" + RISK_HINT
    )


def test_a_read_only_volume_overridden_onto_etc_needs_the_read_flag() -> None:
    """/etc holds the host's keys and password hashes: reading it is a risk."""
    app = definition(volumes=[{"container_path": "/config", "readonly": True}])
    config = InstallConfig(volumes=[VolumeOverride(host_path="/etc", container_path="/config")])
    assert refusal(app, config) == (
        "this app needs risk flags you have not accepted: host-read:/etc" + RISK_HINT
    )
    accepted = config.model_copy(update={"accept_risks": ["host-read:/etc"]})
    assert spec_of(app, accepted).risks == ["host-read:/etc"]


def test_a_folder_tomo_places_inside_another_one_the_app_writes_is_flagged() -> None:
    """./data/cache inside ./data: the container can swap cache for a link to /."""
    app = definition(volumes=[{"host_path": "./data", "container_path": "/data"},
                              {"host_path": "./data/cache", "container_path": "/host"}])  # fmt: skip
    assert refusal(app) == (
        "this app needs risk flags you have not accepted: nested-mount:./data/cache" + RISK_HINT
    )


def test_an_override_inside_a_written_folder_is_flagged() -> None:
    app = definition(volumes=[{"host_path": "/srv/media", "container_path": "/media"},
                              {"container_path": "/tv", "readonly": True}])  # fmt: skip
    config = InstallConfig(volumes=[VolumeOverride(host_path="/srv/media/tv",
                                                   container_path="/tv")])  # fmt: skip
    assert "nested-mount:/srv/media/tv" in refusal(app, config)


def test_a_volume_reaching_the_servers_data_root_is_flagged() -> None:
    """Every other installation's folder (and secret env file) lies there."""
    app = definition(volumes=[{"container_path": "/all", "readonly": True}])
    config = InstallConfig(volumes=[VolumeOverride(host_path="/srv/tomo",
                                                   container_path="/all")])  # fmt: skip
    flags = refusal(app, config, data_root="/srv/tomo")
    assert "tomo-data:/srv/tomo" in flags


def test_overriding_a_system_path_away_removes_its_risk() -> None:
    app = definition(volumes=[{"host_path": "/etc", "container_path": "/host-etc"}])
    assert refusal(app) == (
        "this app needs risk flags you have not accepted: system-path:/etc" + RISK_HINT
    )
    config = InstallConfig(volumes=[VolumeOverride(host_path="./etc", container_path="/host-etc")])
    assert spec_of(app, config).risks == []


def test_relative_volumes_are_never_risks_whatever_their_name() -> None:
    app = definition(volumes=[{"host_path": "./etc", "container_path": "/etc"}])
    assert spec_of(app).risks == []


# -- hostile values -----------------------------------------------------------------


def test_hostile_plain_env_value_is_one_env_file_line_byte_for_byte() -> None:
    spec = spec_of(definition(), InstallConfig(env={"TZ": HOSTILE, "EXTRA": HOSTILE}))
    assert env_file_content(spec) == f"TZ={HOSTILE}\nEXTRA={HOSTILE}\n"
    assert not any(HOSTILE in item for item in argv_of(spec))


def test_hostile_secret_value_is_only_in_the_env_file_byte_for_byte() -> None:
    app = definition(environment=[{"name": "SECRET", "secret": True}])
    spec = spec_of(app, InstallConfig(env={"SECRET": HOSTILE_ONE_LINE}))
    assert env_file_content(spec) == f"SECRET={HOSTILE_ONE_LINE}\n"
    assert not any(HOSTILE_ONE_LINE in item for item in argv_of(spec))


def test_hostile_relative_path_is_one_volume_argument() -> None:
    weird = "./odd $(touch \"/tmp/pwned\") ;'dir' `id` & | <x>"
    config = InstallConfig(volumes=[VolumeOverride(host_path=weird, container_path="/data")])
    assert values_of(argv_of(spec_of(definition(), config)), "--volume") == [
        "/srv/tomo-apps/web/odd $(touch \"/tmp/pwned\") ;'dir' `id` & | <x>:/data"
    ]


def test_hostile_absolute_paths_are_kept_byte_for_byte() -> None:
    host = "/mnt/a b/$(id);`x`'\"/#!"
    container = "/in side/$(whoami)&'\""
    app = definition(volumes=[{"container_path": container, "readonly": True}])
    config = InstallConfig(volumes=[VolumeOverride(host_path=host, container_path=container)])
    assert values_of(argv_of(spec_of(app, config)), "--volume") == [f"{host}:{container}:ro"]


def test_hostile_values_add_no_arguments() -> None:
    plain = spec_of()
    hostile = spec_of(
        definition(),
        InstallConfig(
            env={"TZ": HOSTILE},
            volumes=[VolumeOverride(host_path="./$(x) `y`;z", container_path="/data")],
        ),
    )
    assert len(argv_of(hostile)) == len(argv_of(plain))


# -- spec properties ----------------------------------------------------------


def test_env_file_sits_in_the_instance_directory() -> None:
    assert spec_of().env_file == "/srv/tomo-apps/web/.tomo.env"


def test_non_host_ipc_mode_is_passed_without_a_risk() -> None:
    app = definition(network_mode="host", ipc_mode="shareable")
    spec = spec_of(app, InstallConfig(accept_risks=["host-network"]))
    assert spec.risks == ["host-network"]
    assert values_of(argv_of(spec), "--ipc") == ["shareable"]


def test_a_value_outside_a_variables_choices_is_refused() -> None:
    app = definition(environment=[{"name": "MODE", "choices": ["fast", "safe"], "default": "safe"}])

    assert spec_of(app, InstallConfig()).env == {"MODE": "safe"}
    assert spec_of(app, InstallConfig(env={"MODE": "fast"})).env == {"MODE": "fast"}
    assert refusal(app, InstallConfig(env={"MODE": "reckless"})) == (
        "environment variable MODE takes one of fast, safe, not 'reckless'"
    )


@pytest.mark.parametrize(("gpus", "given"), [("all", "all"), ("2", "2"),
                                             ("device=0,3", '"device=0,3"')])  # fmt: skip
def test_gpus_reach_docker_run_with_their_flag(gpus: str, given: str) -> None:
    app = definition(gpus=gpus)
    assert "risk flags you have not accepted: gpu" in refusal(app)
    argv = argv_of(spec_of(app, InstallConfig(accept_risks=["gpu"])))
    assert argv[argv.index("--gpus") + 1] == given  # Docker reads the value as CSV


def test_an_env_file_a_container_could_replace_with_a_link_is_refused() -> None:
    """Docker reads an env_file on the server: in a folder a container writes, the
    container could make it a link to /etc/shadow and get that into its environment."""
    files = [
        {"path": "./conf/app.env", "content": "QT0x"},
        {"path": "./app.env", "content": "QT0x"},
    ]
    mounted = {"host_path": "./conf", "container_path": "/conf"}
    with pytest.raises(ValidationError, match=(
        r"env_file: ./conf/app.env is in ./conf, which services.app mounts writable")):  # fmt: skip
        AppDefinition.model_validate(app_definition("app", files=files, docker={
            "image": "example/app:1", "volumes": [mounted], "env_file": "./conf/app.env"}))  # fmt: skip
    read_only = {**mounted, "readonly": True}
    fine = AppDefinition.model_validate(app_definition("app", files=files, docker={
        "image": "example/app:1", "volumes": [read_only], "env_file": ["./conf/app.env", "./app.env"]}))  # fmt: skip
    assert fine.docker.env_file == ["./conf/app.env", "./app.env"]


def test_ulimits_that_raise_scheduling_priority_are_refused() -> None:
    for name in ("nice", "rtprio", "rttime"):
        with pytest.raises(ValidationError, match=f"'{name}' is not a limit tomo sets"):
            definition(ulimits={name: 99})
