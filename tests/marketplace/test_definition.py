"""Definitions: both dialects load into one model; bad fields get precise errors."""

from __future__ import annotations

import pytest
import yaml

from tests.gitrepo import app_definition
from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import AppDefinition, image_repository, parse_megabytes
from tomo.marketplace.parse import parse_definition

SEED = """
id: jellyfin
name: Jellyfin
description: Free media server
version: "10.9.11"
category: media
tags: [media, streaming]
author: Jellyfin Contributors
license: GPL-2.0
repository: https://github.com/jellyfin/jellyfin
icon: https://jellyfin.org/images/logo.svg
docker:
  image: jellyfin/jellyfin:10.9.11
  ports:
    - container: 8096
      host: 8096
  volumes:
    - host_path: ./config
      container_path: /config
    - host_path: /media
      container_path: /media
      readonly: true
  environment:
    - name: TZ
      description: Timezone
      required: false
      default: UTC
  restart_policy: unless-stopped
  command: ["--ffmpeg", "/usr/lib/ffmpeg"]
  healthcheck: {endpoint: /health, port: 8096, protocol: http}
requirements:
  min_ram: 1024
  min_storage: 2048
  min_cpu: 0.5
  architectures: [amd64, arm64]
"""

WILD = """
id: jellyfin
name: Jellyfin
description: Free media server
version: "10.9.11"
tags: [media, streaming]
author: Jellyfin Contributors
license: GPL-2.0
repository: https://github.com/jellyfin/jellyfin
icon: https://jellyfin.org/images/logo.svg
featured: true
maintainers: [alice, bob]
documentation: https://jellyfin.org/docs
command: "--ffmpeg /usr/lib/ffmpeg"
healthcheck:
  endpoint: /health
  port: 8096
docker:
  image: jellyfin/jellyfin:10.9.11
  ports:
    - container: 8096
      host: 8096
      protocol: tcp
  volumes:
    - container: /config
      host: ./config
      mode: rw
    - container: /media
      host: /media
      mode: ro
  environment:
    - name: TZ
      description: Timezone
      value: UTC
  restart: unless-stopped
requirements:
  memory: "1GB"
  storage: "2GB"
  cpu: "0.5"
  arch: [x86_64, aarch64]
"""


def parse(text: str, path: str = "apps/media/jellyfin.yaml") -> AppDefinition:
    return parse_definition(path, text.encode(), max_bytes=1 << 20)


def problems(text: str, path: str = "apps/tools/x.yaml") -> str:
    with pytest.raises(InvalidDefinition) as caught:
        parse(text, path)
    assert caught.value.path == path
    return caught.value.reason


def with_docker(**docker: object) -> str:
    definition = app_definition("x")
    definition["docker"] = {**definition["docker"], **docker}
    return yaml.safe_dump(definition)


def test_both_dialects_load_into_the_same_model() -> None:
    seed = parse(SEED)
    wild = parse(WILD, "apps/media/jellyfin/app.yaml")
    ignore = {"featured", "maintainers", "documentation"}
    assert seed.model_dump(exclude=ignore) == wild.model_dump(exclude=ignore)
    assert wild.featured is True
    assert wild.maintainers == ["alice", "bob"]
    assert wild.documentation == "https://jellyfin.org/docs"


def test_wild_dialect_fields_are_converted() -> None:
    wild = parse(WILD, "apps/media/jellyfin/app.yaml")
    assert wild.category == "media"  # from the folder, as the file gives none
    assert [v.readonly for v in wild.docker.volumes] == [False, True]
    assert wild.docker.volumes[0].host_path == "./config"
    assert wild.docker.environment[0].default == "UTC"
    assert wild.docker.restart_policy == "unless-stopped"
    assert wild.docker.command == ["--ffmpeg", "/usr/lib/ffmpeg"]
    assert wild.docker.healthcheck is not None and wild.docker.healthcheck.port == 8096
    assert wild.requirements.min_ram == 1024
    assert wild.requirements.min_storage == 2048
    assert wild.requirements.min_cpu == 0.5
    assert wild.requirements.architectures == ["amd64", "arm64"]


@pytest.mark.parametrize(
    ("given", "megabytes"),
    [(2048, 2048), ("512MB", 512), ("1GB", 1024), ("1.5 GiB", 1536), ("2g", 2048), ("300", 300)],
)
def test_sizes_convert_to_megabytes(given: object, megabytes: int) -> None:
    assert parse_megabytes(given) == megabytes


def test_compose_style_ports_and_env_mapping() -> None:
    text = with_docker(
        ports=["8080:80", "53:53/udp", "9000"], environment={"TZ": "UTC", "X": "0022"}
    )
    docker = parse(text).docker
    assert [(p.host, p.container, p.protocol) for p in docker.ports] == [
        (8080, 80, "tcp"), (53, 53, "udp"), (None, 9000, "tcp"),
    ]  # fmt: skip
    assert [(e.name, e.default) for e in docker.environment] == [("TZ", "UTC"), ("X", "0022")]


def test_env_values_keep_yaml_11_words_as_text() -> None:
    text = "id: x\nname: X\nversion: '1'\ndocker:\n  image: a/b:1\n  environment:\n" \
           "    - {name: A, default: no}\n    - {name: B, default: 0755}\n    - {name: C, default: 1:30}\n"  # fmt: skip
    defaults = [e.default for e in parse(text).docker.environment]
    assert defaults == ["no", "0755", "1:30"]


def test_sexagesimal_port_is_refused_not_converted() -> None:
    text = (
        "id: x\nname: X\nversion: '1'\ndocker:\n  image: a/b:1\n  ports:\n    - container: 22:22\n"
    )
    assert problems(text) == "docker.ports[0].container: expected a whole number, got '22:22'"


def test_octal_looking_port_is_refused() -> None:
    text = (
        "id: x\nname: X\nversion: '1'\ndocker:\n  image: a/b:1\n  ports:\n    - container: 0755\n"
    )
    assert "docker.ports[0].container: '0755' has a leading zero" in problems(text)


def test_yes_no_are_not_booleans() -> None:
    text = with_docker(volumes=[{"host_path": "./d", "container_path": "/d", "readonly": "yes"}])
    assert problems(text) == (
        "docker.volumes[0].readonly: expected true or false, got 'yes' "
        "(yes/no/on/off are not booleans here)"
    )


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "nginx:1.27",
        "library/nginx:1.27-alpine",
        "ghcr.io/home-assistant/home-assistant:2024.12.5",
        "localhost:5000/team/app:v1",
        "127.0.0.1:5000/busybox:1",
        "[::1]:5000/app:1",
        "registry.example.com/a/b/c@sha256:" + "a" * 64,
        "my_app__x-y.z:tag_1.0",
    ],
)
def test_valid_image_references(image: str) -> None:
    assert parse(with_docker(image=image)).docker.image == image


@pytest.mark.parametrize(
    "image",
    [
        "nginx;rm -rf /",
        "$(id)/app:1",
        "`id`",
        "nginx:1.0 --privileged",
        "-v/:/host",
        "nginx:",
        "Nginx/App:1",
        "nginx@sha256:short",
        "a/b:" + "x" * 200,
        "nginx\n:1",
    ],
)
def test_invalid_image_references(image: str) -> None:
    assert "docker.image:" in problems(with_docker(image=image))
    assert "not a valid image reference" in problems(with_docker(image=image))


def test_lowercase_path_image_with_uppercase_registry_is_docker_valid() -> None:
    # Docker reads a first component with an uppercase letter as a registry host.
    assert parse(with_docker(image="Registry/app:1")).docker.image == "Registry/app:1"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("id", "Jelly Fin", "id: 'Jelly Fin' is not a valid id"),
        ("id", "-x", "id: '-x' is not a valid id"),
        ("tags", ["ok", "Not OK"], "tags[1]: 'Not OK' is not a valid id"),
        ("version", "", "version: must not be empty"),
        ("name", "n" * 200, "name: is too long (at most 128 characters/items)"),
        ("icon", "javascript:alert(1)", "icon: 'javascript:alert(1)' is neither an http(s) URL"),
        ("version", "1\n2", "version: must be one line without control characters"),
    ],
)
def test_top_level_fields_are_checked(field: str, value: object, expected: str) -> None:
    text = yaml.safe_dump(app_definition("x", **{field: value}))
    assert expected in problems(text)


def test_control_characters_in_shown_texts_are_normalised_not_refused() -> None:
    """A store's stray character (Runtipi has some in descriptions) never drops an app:
    a one-line text gets a space for a line break or tab, a long one keeps its lines."""
    data = app_definition("x", name="Two\nlines\x07", tagline="a\tb\x00c",
                          description="one\r\ntwo\x1b[31m\rthree\tfour")  # fmt: skip
    data["docker"]["environment"] = [{"name": "A", "description": "what\nit is"}]
    app = parse(yaml.safe_dump(data))
    assert (app.name, app.tagline) == ("Two lines", "a bc")
    assert app.description == "one\ntwo[31m\nthree\tfour"
    assert app.docker.environment[0].description == "what it is"


@pytest.mark.parametrize(
    ("docker", "expected"),
    [
        (
            {"ports": [{"container": 70000}]},
            "docker.ports[0].container: port 70000 is outside 1-65535",
        ),
        ({"ports": [{"container": 0}]}, "docker.ports[0].container: port 0 is outside 1-65535"),
        (
            {"ports": [{"container": 80, "protocol": "sctp"}]},
            "docker.ports[0].protocol: must be 'tcp' or 'udp', got 'sctp'",
        ),
        (
            {"ports": [{"container": 80}, {"container": 81, "host": 80}]},
            "docker: ports: 80/tcp is given twice",
        ),
        (
            {"volumes": [{"container_path": "data"}]},
            "docker.volumes[0].container_path: path 'data' must be absolute",
        ),
        (
            {"volumes": [{"container_path": "/a/../../etc"}]},
            "docker.volumes[0].container_path: path '/a/../../etc' contains '..'",
        ),
        (
            {"volumes": [{"container_path": "/d", "host_path": "/x:/y"}]},
            "docker.volumes[0].host_path: path '/x:/y' contains ':' or ','",
        ),
        (
            {"volumes": [{"container_path": "/d", "host_path": "./$(id)\n"}]},
            "docker.volumes[0].host_path: path contains control characters",
        ),
        ({"volumes": [{"container_path": "/d", "host_path": "~/x"}]}, "uses '~'"),
        (
            {"volumes": [{"container_path": "/d", "mode": "rx"}]},
            "mode must be 'rw' or 'ro', got 'rx'",
        ),
        (
            {"environment": [{"name": "A B"}]},
            "docker.environment[0].name: 'A B' is not a valid environment variable name",
        ),
        ({"environment": [{"name": "A"}, {"name": "A"}]}, "docker: environment: A is given twice"),
        (
            {"environment": [{"name": "P", "generate": "password"}]},
            "P has 'generate' but not 'secret: true'",
        ),
        (
            {"restart_policy": "sometimes"},
            "docker.restart_policy: 'sometimes' is not a restart policy",
        ),
        (
            {"restart_policy": "always", "restart": "no"},
            "give only one of restart_policy / restart",
        ),
        (
            {"network_mode": "container:-db"},
            "docker.network_mode: '-db' in 'container:-db' is not a container name",
        ),
        ({"network_mode": "container:"}, "'' in 'container:' is not a container name"),
        ({"network_mode": "host;id"}, "'host;id' is not a network mode"),
        (
            {"capabilities": ["NET_ADMIN", "MAKE_COFFEE"]},
            "docker.capabilities[1]: 'MAKE_COFFEE' is not a Linux capability",
        ),
        ({"devices": ["/dev/../etc/shadow"]}, "is not a device mapping"),
        ({"command": "run 'unbalanced"}, "cannot split command into arguments"),
        ({"privileged": "on"}, "docker.privileged: expected true or false, got 'on'"),
        (
            {"environment": [{"name": "M", "choices": ["a", "b"], "default": "c"}]},
            "docker.environment[0]: default: 'c' is not one of the choices",
        ),
        (
            {"environment": [{"name": "M", "choices": ["a", "a"]}]},
            "docker.environment[0]: choices: each value once",
        ),
        (
            {"environment": [{"name": "P", "secret": True, "generate": "hex", "choices": ["a"]}]},
            "choices: a generated value cannot be one of a list",
        ),
    ],
)
def test_docker_fields_are_checked(docker: dict[str, object], expected: str) -> None:
    assert expected in problems(with_docker(**docker))


def test_missing_required_fields_are_all_listed() -> None:
    reason = problems("id: x\ndocker: {}\n")
    assert "name: is required" in reason
    assert "version: is required" in reason
    assert "docker.image: is required" in reason


def test_top_level_must_be_a_mapping() -> None:
    assert problems("- a\n- b\n") == "the top level must be a mapping of fields"


def test_shell_metacharacters_in_env_defaults_are_kept_verbatim() -> None:
    value = "$(touch /tmp/pwned); `id` && echo 'x' \"y\""
    text = with_docker(environment=[{"name": "EVIL", "default": value}])
    assert parse(text).docker.environment[0].default == value


def test_capabilities_are_normalised() -> None:
    text = with_docker(capabilities=["cap_net_admin", "NET_ADMIN", "sys_time"])
    assert parse(text).docker.capabilities == ["NET_ADMIN", "SYS_TIME"]


def test_unknown_architecture_is_named() -> None:
    text = yaml.safe_dump(app_definition("x", requirements={"architectures": ["amd64", "z80"]}))
    assert "requirements.architectures[1]: 'z80' is not a known architecture" in problems(text)


def test_bad_size_string_is_named() -> None:
    text = yaml.safe_dump(app_definition("x", requirements={"memory": "lots"}))
    assert "requirements.memory: expected a size such as 512 (MB)" in problems(text)


def test_sharing_a_named_containers_network_is_accepted() -> None:
    assert parse(with_docker(network_mode="container:vpn")).docker.network_mode == "container:vpn"


@pytest.mark.parametrize(
    "endpoint", ["/", "/health", "/api/v1/status?full=1&x=%2F", "/a:b@c/~x_y-z.(1)!$'*+,;="]
)
def test_health_check_endpoints_that_are_url_paths_load(endpoint: str) -> None:
    text = with_docker(healthcheck={"endpoint": endpoint, "port": 8080, "protocol": "https"})
    healthcheck = parse(text).docker.healthcheck
    assert healthcheck is not None and healthcheck.endpoint == endpoint


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("@127.0.0.1:18999/x", "must start with '/'"),
        ("health", "must start with '/'"),
        ("", "must start with '/'"),
        ("//127.0.0.1:18999/x", "must not start with '//'"),
        ("/a b", "' ' is not allowed"),
        ("/a\\b", "'\\\\' is not allowed"),
        ("/a#frag", "'#' is not allowed"),
        ("/a\tb", "'\\t' is not allowed"),
        ("/caf\u00e9", "'\u00e9' is not allowed"),
        ("/100%", "'%' must start a %XX escape"),
        ("/%zz", "'%' must start a %XX escape"),
        ("/" + "a" * 600, "is longer than 512 characters"),
    ],
)
def test_health_check_endpoint_must_be_a_plain_url_path(endpoint: str, reason: str) -> None:
    reported = problems(with_docker(healthcheck={"endpoint": endpoint, "port": 8080}))
    assert reported.startswith("docker.healthcheck.endpoint: "), reported
    assert reason in reported


def test_top_level_health_check_errors_name_the_field_where_it_was_written() -> None:
    definition = app_definition("x", healthcheck={"endpoint": "@evil:1/x"})
    assert problems(yaml.safe_dump(definition)).startswith("docker.healthcheck.endpoint: ")


def test_health_check_protocol_is_one_of_three() -> None:
    reported = problems(with_docker(healthcheck={"protocol": "ftp"}))
    assert reported == "docker.healthcheck.protocol: must be 'http', 'https' or 'tcp', got 'ftp'"


@pytest.mark.parametrize(
    ("reference", "repository"),
    [
        ("nginx", "nginx"), ("nginx:1.27", "nginx"), ("docker.io/library/nginx:1.27", "nginx"),
        ("library/nginx", "nginx"), ("docker.io/jellyfin/jellyfin:10.9", "jellyfin/jellyfin"),
        ("lscr.io/linuxserver/sonarr:latest", "lscr.io/linuxserver/sonarr"),
        ("127.0.0.1:5000/tomo-test/web:1", "127.0.0.1:5000/tomo-test/web"),
        ("ghcr.io/a/b@sha256:" + "0" * 64, "ghcr.io/a/b"),
    ],
)  # fmt: skip
def test_an_image_repository_is_the_image_without_tag_digest_or_hubs_prefix(
    reference: str, repository: str
) -> None:
    assert image_repository(reference) == repository
