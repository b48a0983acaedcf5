"""A server whose Docker engine manages a Swarm, reached over the test sshd: `add` and
`test` notice it; its nodes are listed (role, state, availability, architecture,
CPUs, memory, labels, engine) by the service, the API, the CLI and its page; a node
drained shows; an engine in no Swarm, or one that left it, is told apart.

The Swarm is a single node on a Docker engine of its own (tests/dockerhost.py),
advertised on the engine's bridge address; a second engine joins it as a worker
for one test. No routing mesh (the CI kernel has no IPVS) is needed to list nodes.
"""

from __future__ import annotations

import asyncio
import json
import platform
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.api.conftest import users_of
from tests.cli.tomo_cli import Tomo, table_rows
from tests.dockerhost import DockerHost
from tests.sshd import Sshd, SshUsers
from tests.web.conftest import Web, text_of
from tomo.app import create_app
from tomo.architectures import normalize_architecture
from tomo.config import Settings
from tomo.errors import Conflict
from tomo.runtime import Runtime
from tomo.servers.schemas import ServerCreate
from tomo.servers.swarm import SwarmNode, swarm_summary

ENGINE = 202  # tests/dockerhost.py: 200 and 201 are other tests' engines


@dataclass
class Swarm:
    engine: DockerHost
    sshd: Sshd
    node_id: str

    @property
    def address(self) -> str:
        return advertised(self.engine)

    def info(self, template: str) -> str:
        return self.engine.docker("info", "--format", template).stdout.decode().strip()


@pytest.fixture(scope="module")
def swarm(ssh_users: SshUsers) -> Iterator[Swarm]:
    bridge_before = _links_of(GATEWAY_BRIDGE)
    engine = DockerHost(ENGINE).start()
    sshd = Sshd(ssh_users, f"swarm-{uuid.uuid4().hex[:6]}", extra_config=engine.sshd_config())
    try:
        sshd.start()
        init(engine)
        node_id = engine.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.decode().strip()
        yield Swarm(engine, sshd, node_id)
    finally:
        engine.docker("swarm", "leave", "--force")
        sshd.stop()
        engine.remove()
        if not bridge_before:
            _remove_gateway_bridge()


def advertised(engine: DockerHost) -> str:
    """The address an engine's Swarm is advertised on: its own bridge's (so that two
    engines on this machine listen apart)."""
    return f"10.213.{engine.number}.1"


def init(engine: DockerHost) -> None:
    """A single-node Swarm, its manager's API on the engine's bridge address."""
    address = advertised(engine)
    done = engine.docker("swarm", "init", "--advertise-addr", address,
                         "--listen-addr", f"{address}:2377")  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()


# The bridge an engine in a Swarm makes in the machine's network namespace; the
# engine leaves it when it stops (it outlives the engine's data: see the fixture).
GATEWAY_BRIDGE = "docker_gwbridge"


def _links_of(bridge: str) -> list[str]:
    """The bridge and the links attached to it; [] when there is no such bridge."""
    shown = subprocess.run(["ip", "-o", "link", "show", "master", bridge],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode != 0:
        return []
    return [
        bridge,
        *(line.split(":")[1].strip().split("@")[0] for line in shown.stdout.splitlines()),
    ]


def _remove_gateway_bridge() -> None:
    for link in reversed(_links_of(GATEWAY_BRIDGE)):
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)


def manager(swarm: Swarm, users: SshUsers, name: str = "cluster") -> ServerCreate:
    return reached_by(swarm.sshd, users, name)


def reached_by(sshd: Sshd, users: SshUsers, name: str) -> ServerCreate:
    return ServerCreate(
        name=name, host="127.0.0.1", port=sshd.port, username=users.user,
        private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
    )  # fmt: skip


def availability(swarm: Swarm, value: str) -> None:
    done = swarm.engine.docker("node", "update", "--availability", value, swarm.node_id)
    assert done.returncode == 0, done.stderr.decode()


async def test_add_and_test_notice_a_swarm_manager(
    runtime: Runtime, swarm: Swarm, ssh_users: SshUsers
) -> None:
    added = await runtime.servers.add_server(manager(swarm, ssh_users))
    facts = added.server.facts
    assert facts is not None and facts.swarm is not None
    assert (facts.swarm.role, facts.swarm.state) == ("manager", "active")
    assert (facts.swarm.nodes, facts.swarm.managers) == (1, 1)
    assert facts.swarm.node_id == swarm.node_id
    assert facts.swarm.cluster_id == swarm.info("{{.Swarm.Cluster.ID}}")
    assert facts.docker_runtimes and "runc" in facts.docker_runtimes  # same `docker info`

    tested = await runtime.servers.test_server("cluster")
    assert tested.facts is not None and tested.facts.swarm == facts.swarm


async def test_a_managers_nodes_are_listed_as_docker_sees_them(
    runtime: Runtime, swarm: Swarm, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(manager(swarm, ssh_users))
    (node,) = await runtime.servers.swarm_nodes("cluster")
    assert (node.id, node.role, node.leader, node.reachability) == (
        swarm.node_id, "manager", True, "reachable")  # fmt: skip
    assert (node.state, node.availability, node.trouble) == ("ready", "active", None)
    assert node.hostname == platform.node()
    assert node.architecture == normalize_architecture(platform.machine())
    assert node.cpus == int(swarm.info("{{.NCPU}}"))
    assert node.memory_mb == int(swarm.info("{{.MemTotal}}")) // (1024 * 1024)
    assert node.engine_version == swarm.info("{{.ServerVersion}}")
    assert node.address == swarm.address


async def test_a_drained_node_shows_once_read_afresh(
    runtime: Runtime, swarm: Swarm, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(manager(swarm, ssh_users))
    assert [n.availability for n in await runtime.servers.swarm_nodes("cluster")] == ["active"]
    labelled = swarm.engine.docker("node", "update", "--label-add", "disk=ssd", swarm.node_id)
    assert labelled.returncode == 0
    availability(swarm, "drain")
    try:
        kept = await runtime.servers.swarm_nodes("cluster")
        assert [n.availability for n in kept] == ["active"]  # read at most every 30 s

        (node,) = await runtime.servers.swarm_nodes("cluster", fresh=True)
        assert (node.availability, node.state) == ("drain", "ready")
        assert node.trouble == "drained: its tasks move to other nodes"
        assert node.labels == {"disk": "ssd"}
    finally:
        availability(swarm, "active")
        swarm.engine.docker("node", "update", "--label-rm", "disk", swarm.node_id)


async def test_an_engine_in_no_swarm_says_so_and_lists_no_nodes(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, docker_engine: None
) -> None:
    added = await runtime.servers.add_server(reached_by(sshd, ssh_users, "plain"))
    assert added.server.facts is not None and added.server.facts.docker_version
    assert added.server.facts.swarm is None
    with pytest.raises(Conflict) as refused:
        await runtime.servers.swarm_nodes("plain")
    assert refused.value.message == (
        "server 'plain' is no Docker Swarm manager (its last check found an engine in no "
        "Swarm): if it is one now, run `tomo server test plain` first"
    )


async def test_a_manager_that_left_its_swarm_is_told_apart(
    runtime: Runtime, swarm: Swarm, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(manager(swarm, ssh_users))
    assert swarm.engine.docker("swarm", "leave", "--force").returncode == 0
    try:
        with pytest.raises(
            Conflict,
            match=r"server 'cluster' is no longer a Docker Swarm "
            r"manager \(.*\): run `tomo server test cluster`",
        ):
            await runtime.servers.swarm_nodes("cluster", fresh=True)
        tested = await runtime.servers.test_server("cluster")
        assert tested.facts is not None and tested.facts.swarm is None
    finally:
        init(swarm.engine)
        swarm.node_id = swarm.info("{{.Swarm.NodeID}}")


def test_the_cli_says_it_is_a_manager_and_shows_the_nodes(
    tmp_path: Path, swarm: Swarm, ssh_users: SshUsers
) -> None:
    tomo = Tomo(tmp_path / "data")
    added = tomo.run("server", "add", "cluster", "127.0.0.1", "--port", str(swarm.sshd.port),
                     "--user", ssh_users.user, "--key", str(ssh_users.key),
                     "--fingerprint", swarm.sshd.fingerprint)  # fmt: skip
    assert "Docker Swarm manager of a cluster of 1 node (1 manager)" in added.stderr
    tested = tomo.run("server", "test", "cluster").stdout
    assert "Docker Swarm manager of a cluster of 1 node (1 manager)" in tested

    availability(swarm, "drain")
    try:
        shown = tomo.run("server", "show", "cluster").stdout
        # The node's row starts with its hostname; the hostname may also appear
        # elsewhere (a short machine name such as "main" inside a path or word).
        (cells,) = [row for row in table_rows(shown) if row[0] == platform.node()]
        row = " ".join(cells)
        assert "manager (leader)" in row and "drain" in row and "ready" in row
        assert "drained: its tasks move to other nodes" in row
        as_json = json.loads(tomo.run("server", "show", "cluster", "--json").stdout)
        (node,) = as_json["swarm_nodes"]
        assert (node["id"], node["availability"]) == (swarm.node_id, "drain")
        assert as_json["swarm_nodes_problem"] is None
    finally:
        availability(swarm, "active")


def test_the_api_and_the_page_list_the_nodes(
    settings: Settings, swarm: Swarm, ssh_users: SshUsers
) -> None:
    with TestClient(create_app(settings)) as client:
        web = Web(users_of(client), client)
        web.api.run(lambda runtime: runtime.servers.add_server(manager(swarm, ssh_users)))
        answer = web.api.viewer.get("/api/servers/cluster/nodes")
        assert answer.status_code == 200, answer.text
        (node,) = answer.json()
        assert (node["id"], node["role"], node["state"]) == (swarm.node_id, "manager", "ready")
        assert node["trouble"] is None

        availability(swarm, "drain")
        try:
            page = text_of(web.viewer().get("/servers/cluster"))
            assert "Docker Swarm manager of a cluster of 1 node (1 manager)." in page
            assert "drained" not in page  # as read within the last 30 s
            fresh = web.api.admin.get("/api/servers/cluster/nodes", params={"fresh": True})
            assert fresh.json()[0]["availability"] == "drain"
            answer = web.viewer().get("/servers/cluster")
            badge = '<span class="dot" aria-hidden="true"></span>drained</span>'
            assert f'<span class="badge badge-warn">{badge}' in answer.text
            assert "drained: its tasks move to other nodes" in text_of(answer)
        finally:
            availability(swarm, "active")

        plain = web.api.viewer.get("/api/servers/nowhere/nodes")
        assert plain.status_code == 404


async def test_a_worker_is_told_apart_and_a_node_going_down_shows(
    runtime: Runtime, swarm: Swarm, ssh_users: SshUsers
) -> None:
    """A second engine joins as a worker (its own bridge address), then stops."""
    engine = DockerHost(ENGINE + 1).start()
    sshd = Sshd(ssh_users, f"worker-{uuid.uuid4().hex[:6]}", extra_config=engine.sshd_config())
    joined = ""
    try:
        sshd.start()
        token = swarm.engine.docker("swarm", "join-token", "-q", "worker").stdout.decode().strip()
        address = advertised(engine)
        join = engine.docker("swarm", "join", "--token", token, "--advertise-addr", address,
                             "--listen-addr", f"{address}:2377", f"{swarm.address}:2377")  # fmt: skip
        assert join.returncode == 0, join.stderr.decode()
        joined = engine.docker("info", "--format", "{{.Swarm.NodeID}}").stdout.decode().strip()

        worker = (await runtime.servers.add_server(reached_by(sshd, ssh_users, "worker"))).server
        assert worker.facts is not None and worker.facts.swarm is not None
        assert (worker.facts.swarm.role, worker.facts.swarm.node_id) == ("worker", joined)
        told = (f"Docker Swarm worker: tomo needs a manager to see the cluster; add the "
                f"manager instead ({swarm.address})")  # fmt: skip
        assert swarm_summary(worker.facts.swarm) == told
        with pytest.raises(Conflict) as refused:
            await runtime.servers.swarm_nodes("worker")
        assert refused.value.message == (
            f"server 'worker' is no Docker Swarm manager ({told}): if it is one now, run "
            "`tomo server test worker` first"
        )

        await runtime.servers.add_server(manager(swarm, ssh_users))
        listed = await runtime.servers.swarm_nodes("cluster")
        assert [(n.id, n.role, n.state) for n in listed] == [
            (swarm.node_id, "manager", "ready"), (joined, "worker", "ready")]  # fmt: skip

        engine.stop_daemon()  # the machine goes away: its manager notices in seconds
        down = await _until_down(runtime, joined)
        assert down.trouble is not None and down.trouble.startswith("down")
    finally:
        if joined:
            swarm.engine.docker("node", "rm", "--force", joined)
        sshd.stop()
        engine.remove()


async def _until_down(runtime: Runtime, node_id: str) -> SwarmNode:
    """The node as the manager lists it once it says it is down (within 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        nodes = await runtime.servers.swarm_nodes("cluster", fresh=True)
        (node,) = [n for n in nodes if n.id == node_id]
        if node.state == "down" or time.monotonic() > deadline:
            assert node.state == "down", node
            return node
        await asyncio.sleep(1)
