"""Risk flags name exactly what gives a container power over its host."""

from __future__ import annotations

from typing import Any

import pytest

from tomo.marketplace.definition import AppDefinition, DockerConfig
from tomo.marketplace.risk import (
    HostMount,
    app_risks,
    assess_risks,
    nested_mount_risks,
    risk_flag_problem,
    volume_risks,
)


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
        "/etc",
        "/etc/ssl",
        "/usr/lib",
        "/var/lib/docker",
        "/boot",
    ],
)
def test_system_paths_mounted_writable_are_flagged(path: str) -> None:
    assert risks(volumes=[volume(path)]) == [f"system-path:{path}"]


@pytest.mark.parametrize(
    "path",
    ["/etc", "/etc/shadow", "/proc", "/var/lib/docker", "/var/lib/docker/volumes", "/boot",
     "/var", "/var/backups", "/root/notes", "/sys/firmware"],
)  # fmt: skip
def test_secret_paths_read_only_are_flagged(path: str) -> None:
    """Host keys, password hashes, every container's data: reading is enough."""
    assert f"host-read:{path}" in risks(volumes=[volume(path, readonly=True)])


@pytest.mark.parametrize(
    "path", ["/usr/lib", "/usr/share/fonts", "/etc/localtime", "/etc/timezone", "/srv/media"]
)
def test_public_paths_read_only_are_not_flagged(path: str) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == []


@pytest.mark.parametrize("path", ["/home/alice/Music", "/srv/media", "/opt/media", "/var/media"])
def test_ordinary_data_paths_are_not_flagged(path: str) -> None:
    assert risks(volumes=[volume(path)]) == []


@pytest.mark.parametrize(
    "path", ["/opt/tomo/apps", "/opt/tomo/apps/other/data", "/opt/tomo", "/opt", "/"]
)
def test_the_data_root_above_at_or_inside_is_flagged_even_read_only(path: str) -> None:
    """Every installation's folder, with its secret env file, lies there."""
    for readonly in (True, False):
        assert f"tomo-data:{path}" in risks(volumes=[volume(path, readonly)])


def test_the_servers_own_data_root_is_the_one_judged() -> None:
    assert volume_risks("/srv/tomo/web", readonly=True, data_root="/srv/tomo") == {
        "tomo-data:/srv/tomo/web"
    }
    assert volume_risks("/opt/tomo/apps", readonly=True, data_root="/srv/tomo") == set()


@pytest.mark.parametrize(
    "path",
    ["/run/k3s/containerd/containerd.sock", "/var/snap/lxd/common/lxd/unix.socket",
     "/srv/app/api.sock", "/tmp/mysqld.socket"],
)  # fmt: skip
def test_any_socket_by_its_name_is_flagged_even_read_only(path: str) -> None:
    assert f"socket:{path}" in risks(volumes=[volume(path, readonly=True)])


ALL_RUNTIME_SOCKETS = [
    "docker-socket",
    "runtime-socket:containerd",
    "runtime-socket:crio",
    "runtime-socket:podman",
]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", [*ALL_RUNTIME_SOCKETS, "ssh-keys:/", "system-path:/", "tomo-data:/"]),
        ("/root", ["ssh-keys:/root", "system-path:/root"]),
        ("/home", ["ssh-keys:/home", "system-path:/home"]),
        ("/home/alice", ["ssh-keys:/home/alice", "system-path:/home/alice"]),
    ],
)
def test_writable_system_paths_that_hold_more_carry_every_flag(
    path: str, expected: list[str]
) -> None:
    assert risks(volumes=[volume(path)]) == expected


@pytest.mark.parametrize(
    "path",
    [
        "//var/run/docker.sock",
        "///run/docker.sock",
        "/var//run/docker.sock",
        "/var/run/./docker.sock",
        "/var/run/docker.sock/",
    ],
)
def test_socket_paths_are_recognised_however_they_are_spelled(path: str) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == ["docker-socket"]


def test_a_definition_stores_host_paths_with_one_leading_slash() -> None:
    config = DockerConfig.model_validate(
        {"image": "a/b:1", "volumes": [volume("//var/run/docker.sock")]}
    )
    assert config.volumes[0].host_path == "/var/run/docker.sock"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/srv/../var/run/docker.sock", {"docker-socket"}),
        ("//etc", {"system-path:/etc"}),
        ("/etc/ssl/..", {"system-path:/etc"}),
        ("/srv/media/../../root/.ssh", {"ssh-keys:/root/.ssh", "system-path:/root/.ssh"}),
    ],
)
def test_volume_risks_judges_the_normalised_path(path: str, expected: set[str]) -> None:
    assert volume_risks(path, readonly=False) == expected


@pytest.mark.parametrize(
    ("path", "flag"),
    [
        ("/run/containerd/containerd.sock", "runtime-socket:containerd"),
        ("/var/run/containerd/containerd.sock", "runtime-socket:containerd"),
        ("/run/podman/podman.sock", "runtime-socket:podman"),
        ("/var/run/podman/podman.sock", "runtime-socket:podman"),
        ("/run/user/1000/podman/podman.sock", "runtime-socket:podman"),
        ("/run/crio/crio.sock", "runtime-socket:crio"),
        ("/var/run/crio/crio.sock", "runtime-socket:crio"),
        ("/run/user/1000/docker.sock", "docker-socket"),  # rootless Docker
    ],
)
def test_container_runtime_sockets_are_flagged_even_read_only(path: str, flag: str) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == [flag]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/run", ALL_RUNTIME_SOCKETS),
        ("/var/run", ALL_RUNTIME_SOCKETS),
        ("/var", ALL_RUNTIME_SOCKETS),
        ("/run/containerd", ["runtime-socket:containerd"]),
        ("/var/run/crio", ["runtime-socket:crio"]),
        ("/run/podman", ["runtime-socket:podman"]),
        ("/run/user", ["docker-socket", "runtime-socket:podman"]),
        ("/run/user/1000", ["docker-socket", "runtime-socket:podman"]),
        ("/run/user/1000/podman", ["runtime-socket:podman"]),
    ],
)
def test_a_directory_holding_a_socket_reaches_it_even_read_only(
    path: str, expected: list[str]
) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == sorted([*expected, f"host-read:{path}"])


@pytest.mark.parametrize("path", ["/run/systemd", "/run/user/alice", "/run/containerd-data"])
def test_directories_without_a_socket_read_only_carry_only_the_read_flag(path: str) -> None:
    assert risks(volumes=[volume(path, readonly=True)]) == [f"host-read:{path}"]


@pytest.mark.parametrize(
    "path",
    [
        "/home/alice/.ssh",
        "/home/alice/.ssh/id_ed25519",
        "/root/.ssh",
        "/root/.ssh/authorized_keys",
        "/root",
        "/home/alice",
        "/home",
    ],
)
def test_ssh_keys_are_flagged_even_read_only(path: str) -> None:
    flags = risks(volumes=[volume(path, readonly=True)])
    assert f"ssh-keys:{path}" in flags
    assert set(flags) <= {f"ssh-keys:{path}", f"host-read:{path}"}


def test_a_folder_beside_the_ssh_keys_is_not_flagged() -> None:
    assert risks(volumes=[volume("/home/alice/Music"), volume("/home/alice/.sshfs", True)]) == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("bridge", []),
        ("default", []),
        ("none", []),
        ("host", ["host-network"]),
        ("container:vpn", ["network:container:vpn"]),
        ("traefik_proxy", ["network:traefik_proxy"]),
    ],
)
def test_network_modes_other_than_the_defaults_are_flagged(mode: str, expected: list[str]) -> None:
    assert risks(network_mode=mode) == expected


def test_every_flag_assess_risks_gives_is_well_formed() -> None:
    flags = risks(
        privileged=True,
        network_mode="container:vpn",
        pid_mode="host",
        ipc_mode="host",
        capabilities=["SYS_ADMIN", "ALL"],
        devices=["/dev/dri:/dev/dri"],
        gpus="all",
        volumes=[volume("/"), volume("/home/alice/.ssh", True)],
    )
    assert len(flags) > 10 and "gpu" in flags
    assert {flag: risk_flag_problem(flag) for flag in flags} == dict.fromkeys(flags)


@pytest.mark.parametrize(
    "flag",
    [
        "privileged",
        "host-network",
        "host-pid",
        "host-ipc",
        "docker-socket",
        "gpu",
        "cap:NET_ADMIN",
        "device:/dev/ttyUSB0",
        "system-path:/etc",
        "runtime-socket:podman",
        "ssh-keys:/home/alice",
        "network:container:vpn",
        "network:traefik_proxy",
        "tomo-data:/opt/tomo",
        "host-read:/etc",
        "socket:/srv/app.sock",
        "nested-mount:./data/cache",
        "nested-mount:/srv/media/tv",
    ],
)
def test_well_formed_flag_names_have_no_problem(flag: str) -> None:
    assert risk_flag_problem(flag) is None


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        ("docker-sockt", "'docker-sockt' is not a risk flag (did you mean 'docker-socket'?)"),
        ("PRIVILEGED", "'PRIVILEGED' is not a risk flag (did you mean 'privileged'?)"),
        ("root", "'root' is not a risk flag"),
        ("", "'' is not a risk flag"),
        ("sytem-path:/etc", "'sytem-path:/etc' is not a risk flag (did you mean 'system-path:/etc'?)"),
        ("cap:net_admin", "'cap:net_admin' is not a risk flag (did you mean 'cap:NET_ADMIN'?)"),
        ("cap:MAKE_COFFEE", "'cap:MAKE_COFFEE' is not a risk flag: 'MAKE_COFFEE' is not a Linux capability"),
        ("device:/etc/passwd", "'device:/etc/passwd' is not a risk flag: 'device:' names a path under /dev/"),
        ("system-path:etc", "'system-path:etc' is not a risk flag: 'system-path:' names an absolute path"),
        ("system-path://etc", "'system-path://etc' is not a risk flag (did you mean 'system-path:/etc'?)"),
        ("ssh-keys:/root/../root", "'ssh-keys:/root/../root' is not a risk flag (did you mean 'ssh-keys:/root'?)"),
        ("runtime-socket:docker", "'runtime-socket:docker' is not a risk flag (did you mean 'docker-socket'?)"),
        ("runtime-socket:lxd", "'runtime-socket:lxd' is not a risk flag: the runtime is one of containerd, crio, podman"),
        ("network:host", "'network:host' is not a risk flag (did you mean 'host-network'?)"),
        ("network:bridge", "'network:bridge' is not a risk flag: the network mode 'bridge' is no risk"),
        ("network:a b", "'network:a b' is not a risk flag: 'a b' is not a network mode "
                        "(bridge, host, none, container:NAME or a network name)"),
        ("network:container:-x", "'network:container:-x' is not a risk flag: "
                                 "'-x' in 'container:-x' is not a container name"),
    ],
)  # fmt: skip
def test_malformed_flag_names_get_a_precise_problem(flag: str, problem: str) -> None:
    assert risk_flag_problem(flag) == problem


def app(*services: dict[str, Any]) -> AppDefinition:
    every = {f"s{i}": {"image": "a/b:1", **svc} for i, svc in enumerate(services)}
    return AppDefinition.model_validate(
        {"id": "nest", "name": "Nest", "version": "1", "description": "d", "category": "x",
         "services": every, "main": "s0"}
    )  # fmt: skip


def test_a_folder_inside_one_the_app_writes_is_flagged_in_the_catalog() -> None:
    """The container writing ./data can make ./data/cache a link to /: Docker
    follows it at the next start, and the app has the host's root."""
    nested = app({"volumes": [volume("./data"), {"host_path": "./data/cache",
                                                 "container_path": "/host"}]})  # fmt: skip
    assert app_risks(nested) == ["nested-mount:./data/cache"]


def test_folders_nested_across_services_are_flagged_too() -> None:
    nested = app({"volumes": [volume("/srv/media")]},
                 {"volumes": [volume("/srv/media/tv", readonly=True)]})  # fmt: skip
    assert app_risks(nested) == ["nested-mount:/srv/media/tv"]


def test_a_folder_inside_a_read_only_one_or_beside_another_is_no_risk() -> None:
    assert app_risks(app({"volumes": [volume("/srv/media", True), volume("/srv/media/tv")]})) == []
    assert app_risks(app({"volumes": [volume("./data"), volume("./database")]})) == []
    assert app_risks(app({"volumes": [volume("./data")]}, {"volumes": [volume("./data")]})) == []


def test_other_installations_folders_count_both_ways() -> None:
    mine = [HostMount("/srv/media/tv", "/srv/media/tv", True)]
    theirs = [HostMount("/srv/media", "/srv/media", False)]
    assert nested_mount_risks(mine, theirs) == {"nested-mount:/srv/media/tv"}
    writer = [HostMount("/srv", "/srv", False)]
    reader = [HostMount("/srv/media/tv", "/srv/media/tv", True)]
    assert nested_mount_risks(writer, reader) == {"nested-mount:/srv/media/tv"}
