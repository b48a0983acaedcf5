"""Limits and options Docker gives a container as compose asks (memory, CPUs,
/dev/shm, init, ulimits, extra hosts, tmpfs), on the sshd + Docker test server:
what Docker records, and what the container sees, after the install and after an
update that takes some of them back."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.services import free_port

OPTIONS = {
    "mem_limit": "64m", "mem_reservation": "32m", "cpus": 0.5, "shm_size": "16m",
    "init": True, "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
    "extra_hosts": {"gateway.test": "host-gateway", "db.test": "10.1.2.3"},
    "tmpfs": ["/scratch:size=8m,mode=1777"],
}  # fmt: skip


def host_config(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(docker("container", "inspect", name))[0]["HostConfig"]
    return found


async def test_the_container_runs_with_the_limits_and_options_asked(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    app = await deploy.publish("boxed", docker=deploy.web_app(port=port, **OPTIONS))
    preview = tomo.json("install", app, "--server", "box", "--preview")
    assert {"--init", "--shm-size", "--add-host", "--ulimit", "--tmpfs"} <= set(preview["argv"])
    tomo.json("install", app, "--server", "box")

    host = host_config("boxed")
    assert (host["Memory"], host["MemoryReservation"], host["NanoCpus"]) == (
        64 << 20, 32 << 20, 500_000_000)  # fmt: skip
    assert (host["ShmSize"], host["Init"]) == (16 << 20, True)
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert sorted(host["ExtraHosts"]) == ["db.test:10.1.2.3", "gateway.test:host-gateway"]
    assert host["Tmpfs"] == {"/scratch": "size=8m,mode=1777"}
    # As the container sees it: its own hosts file, limits and memory folders.
    hosts = docker("exec", "boxed", "cat", "/etc/hosts")
    assert "10.1.2.3\tdb.test" in hosts and "gateway.test" in hosts
    assert docker("exec", "boxed", "sh", "-c", "ulimit -n").strip() == "1024"
    mounts = docker("exec", "boxed", "cat", "/proc/mounts")
    assert any(line.split()[1:3] == ["/scratch", "tmpfs"] for line in mounts.splitlines())
    assert docker("exec", "boxed", "cat", "/proc/1/comm").strip() == "docker-init"

    # An update to a version that asks for none of them: the new container has none.
    plain = await deploy.publish("boxed", version="2.0", docker=deploy.web_app(port=port))
    assert plain == app
    tomo.json("update", "boxed")
    host = host_config("boxed")
    assert (host["Memory"], host["NanoCpus"], host.get("Init"), host.get("Tmpfs")) == (
        0,
        0,
        None,
        None,
    )
    assert host["ShmSize"] == 64 << 20  # Docker's own
    tomo.json("uninstall", "boxed")


async def test_an_env_file_the_app_ships_is_read_at_each_start_and_environment_wins(
    deploy: Deploy, tomo: Tomo
) -> None:
    """Umbrel's `env_file: ${APP_DATA_DIR}/settings.env`: the file is placed in the
    data directory at install, where the user edits it; Docker reads it whenever the
    container is made, and a value `environment` gives wins, as in compose."""
    shipped = base64.b64encode(b"# the user adds keys here\nFROM_FILE=1\nTZ=Asia/Tokyo\n")
    app = await deploy.publish(
        "keeper", docker=deploy.web_app(env_file="./settings.env"),
        files=[{"path": "./settings.env", "content": shipped.decode()}],
    )  # fmt: skip
    tomo.json("install", app, "--server", "box")
    env = docker("exec", "keeper", "env").splitlines()
    assert "FROM_FILE=1" in env and "TZ=UTC" in env  # the definition's TZ wins
    # The user adds a key; the next container made (a restart does not remake it,
    # an update does) reads it.
    settings = deploy.data_root / "keeper" / "settings.env"
    settings.write_text(settings.read_text() + "ADDED=yes\n")
    await deploy.publish(
        "keeper",
        version="2.0",
        docker=deploy.web_app(env_file="./settings.env"),
        files=[{"path": "./settings.env", "content": shipped.decode()}],
    )
    tomo.json("update", "keeper")
    assert "ADDED=yes" in docker("exec", "keeper", "env").splitlines()
    tomo.json("uninstall", "keeper")
