"""Risk flags name exactly what gives a container power over its host."""

from __future__ import annotations

from typing import Any

import pytest

from tomo.marketplace.definition import DockerConfig
from tomo.marketplace.risk import assess_risks


def risks(**docker: Any) -> list[str]:
    return assess_risks(DockerConfig.model_validate({"image": "a/b:1", **docker}))


def volume(host: str, readonly: bool = False) -> dict[str, Any]:
    return {"host_path": host, "container_path": f"/mnt{host}", "readonly": readonly}


def test_plain_app_has_no_flags() -> None:
    assert risks(volumes=[volume("./data"), volume("/srv/media"), volume("/mnt/nas")]) == []


def test_each_power_gets_its_own_flag() -> None:
    assert risks(
        privileged=True,
        network_mode="host",
        pid_mode="host",
        ipc_mode="host",
        capabilities=["NET_ADMIN", "CHOWN", "SYS_ADMIN"],
        devices=["/dev/dri:/dev/dri", "/dev/ttyUSB0"],
    ) == [
        "cap:NET_ADMIN",
        "cap:SYS_ADMIN",
        "device:/dev/dri",
        "device:/dev/ttyUSB0",
        "host-ipc",
        "host-network",
        "host-pid",
        "privileged",
    ]


def test_default_docker_capabilities_are_not_flagged() -> None:
    assert risks(capabilities=["CHOWN", "NET_BIND_SERVICE", "SETUID"]) == []


@pytest.mark.parametrize("socket", ["/var/run/docker.sock", "/run/docker.sock"])
def test_docker_socket_is_flagged_even_read_only(socket: str) -> None:
    assert risks(volumes=[volume(socket, readonly=True)]) == ["docker-socket"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/etc",
        "/etc/ssl",
        "/root",
        "/home",
        "/home/alice",
        "/usr/lib",
        "/var/lib/docker",
        "/boot",
    ],
)
def test_system_paths_mounted_writable_are_flagged(path: str) -> None:
    assert risks(volumes=[volume(path)]) == [f"system-path:{path}"]


@pytest.mark.parametrize("path", ["/etc", "/", "/home/alice"])
def test_system_paths_read_only_are_not_flagged(path: str) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == []


@pytest.mark.parametrize(
    "path", ["/home/alice/Music", "/srv/media", "/opt/tomo/apps/x", "/var/media"]
)
def test_ordinary_data_paths_are_not_flagged(path: str) -> None:
    assert risks(volumes=[volume(path)]) == []
