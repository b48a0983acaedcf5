"""A container's `docker container inspect` as the compose file that makes it again
(what an adoption puts into the personal catalog). The documents are shaped as
Docker 20.10 prints them (the fields the reading uses, with Docker's own values)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tomo.marketplace.docker_inspect import compose_of_inspect
from tomo.marketplace.personal import read_personal_app

IMAGE: dict[str, Any] = {
    "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
    "Cmd": ["/bin/sh", "-c", "httpd -f"],
    "Entrypoint": None,
    "Labels": {"org.opencontainers.image.version": "1.2"},
    "User": "",
    "WorkingDir": "",
}


def container(**changes: Any) -> dict[str, Any]:
    config = {
        "Image": "ghcr.io/acme/web:1.2", "Env": [*IMAGE["Env"], "TZ=Europe/Paris",
        "DB_PASSWORD=p$ss", "discovery.type=single-node"], "Cmd": IMAGE["Cmd"],
        "Entrypoint": None, "User": "", "WorkingDir": "", "Healthcheck": None,
        "Labels": {"org.opencontainers.image.version": "1.2", "made.by": "hand",
                   "com.docker.compose.project": "web"},
    }  # fmt: skip
    host = {
        "PortBindings": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],  # noqa: S104
                         "53/udp": [{"HostIp": "", "HostPort": "5353"}]},
        "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
        "CapAdd": ["CAP_NET_ADMIN"], "NetworkMode": "default", "ShmSize": 67108864,
        "LogConfig": {"Type": "json-file", "Config": {}},
    }  # fmt: skip
    inspected: dict[str, Any] = {
        "Id": "40e0bc654ad8" + "0" * 52, "Name": "/web", "Image": "sha256:" + "8" * 64,
        "Config": config, "HostConfig": host,
        "Mounts": [
            {"Type": "bind", "Source": "/srv/web", "Destination": "/www", "RW": False},
            {"Type": "volume", "Name": "webdata", "Destination": "/data", "RW": True},
            {"Type": "volume", "Name": "f" * 64, "Destination": "/store", "RW": True},
        ],
        "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
    }  # fmt: skip
    for key, value in changes.items():
        section, _, field = key.partition("__")
        if field:
            inspected[section][field] = value
        else:
            inspected[section] = value
    return inspected


def service(made_compose: str) -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load(made_compose)["services"]
    assert list(services) == ["web"]
    return dict(services["web"])


def test_what_the_container_was_given_beyond_its_image_is_written() -> None:
    made = compose_of_inspect(container(), IMAGE, "web")
    assert service(made.compose) == {
        "image": "ghcr.io/acme/web:1.2",
        "environment": {"TZ": "${TZ}", "DB_PASSWORD": "${DB_PASSWORD}",
                        "discovery.type": "single-node"},
        "ports": ["8080:80", "5353:53/udp"],
        "restart": "on-failure:3",
        "cap_add": ["NET_ADMIN"],
        "volumes": ["/srv/web:/www:ro"],
    }  # fmt: skip
    # Values go to the config, never into the file (a secret would sit in git).
    assert made.env == {"TZ": "Europe/Paris", "DB_PASSWORD": "p$ss"}
    assert made.volumes == ["webdata", "f" * 64]
    assert made.left_out == ["its labels made.by (tomo sets its own)"]


def test_the_file_reads_as_an_installable_app_with_the_secret_a_secret() -> None:
    made = compose_of_inspect(container(), IMAGE, "web")
    definition = read_personal_app("web", made.compose).definition
    assert definition.not_installable is None
    secret = {s.name: s.secret for s in definition.settings}
    assert secret == {"TZ": False, "DB_PASSWORD": True}


def test_its_limits_and_options_are_written_and_read_back_as_given() -> None:
    """An adopted container is made again with them at its update."""
    made = compose_of_inspect(container(
        HostConfig__Memory=512 << 20, HostConfig__MemoryReservation=64 << 20,
        HostConfig__NanoCpus=1_500_000_000, HostConfig__ShmSize=256 << 20, HostConfig__Init=True,
        HostConfig__Ulimits=[{"Name": "nofile", "Soft": 1024, "Hard": 4096}],
        HostConfig__ExtraHosts=["gw.lan:host-gateway"],
        HostConfig__Tmpfs={"/run": "size=8m", "/scratch": ""}), IMAGE, "web")  # fmt: skip
    docker = read_personal_app("web", made.compose).definition.docker
    assert (docker.mem_limit, docker.mem_reservation, docker.cpus, docker.shm_size) == (
        512 << 20, 64 << 20, 1.5, 256 << 20)  # fmt: skip
    assert (docker.init, docker.ulimits, docker.extra_hosts, docker.tmpfs) == (
        True,
        {"nofile": [1024, 4096]},
        {"gw.lan": "host-gateway"},
        ["/run:size=8m", "/scratch"],
    )


def test_text_of_the_container_is_never_read_as_a_variable() -> None:
    made = compose_of_inspect(
        container(Config__Env=["GREETING.text=cost $5", "PLAIN=$HOME"],
                  Config__Cmd=["sh", "-c", "echo $HOME"]), IMAGE, "web",
    )  # fmt: skip
    written = service(made.compose)
    assert written["environment"] == {"GREETING.text": "cost $$5", "PLAIN": "${PLAIN}"}
    assert written["command"] == ["sh", "-c", "echo $$HOME"]
    assert made.env == {"PLAIN": "$HOME"}


def test_host_networking_is_kept_and_a_network_of_its_own_is_said_to_be_left() -> None:
    host = container(HostConfig__NetworkMode="host", HostConfig__PortBindings={})
    assert service(compose_of_inspect(host, IMAGE, "web").compose)["network_mode"] == "host"
    project = container(NetworkSettings={"Networks": {"web_default": {}}},
                        HostConfig__NetworkMode="web_default")  # fmt: skip
    made = compose_of_inspect(project, IMAGE, "web")
    assert "network_mode" not in service(made.compose)
    assert any(
        note.startswith("its network web_default: after an update") for note in made.left_out
    )


def test_an_image_known_only_by_its_id_cannot_be_made_again() -> None:
    with pytest.raises(ValueError, match="known only by its id"):
        compose_of_inspect(container(Config__Image="sha256:" + "8" * 64), IMAGE, "web")


def test_a_health_check_of_its_own_is_written_in_compose_durations() -> None:
    check = {"Test": ["CMD-SHELL", "wget -q -O- localhost"], "Interval": 30_000_000_000,
             "Retries": 3}  # fmt: skip
    written = service(
        compose_of_inspect(container(Config__Healthcheck=check), IMAGE, "web").compose
    )
    assert written["healthcheck"] == {"test": ["CMD-SHELL", "wget -q -O- localhost"],
                                      "interval": "30000ms", "retries": 3}  # fmt: skip
