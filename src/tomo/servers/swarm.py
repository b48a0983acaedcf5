"""A server whose Docker engine is in a Swarm: what its check learns of the cluster
(`docker info`'s Swarm part, kept with the facts) and its nodes, read live from a
manager (`docker node ls` and `docker node inspect`).

tomo reaches a Swarm through one manager node over SSH, as any server: only a
manager can answer for the cluster, so a worker is told apart and the way to its
manager said.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, computed_field

from tomo.architectures import normalize_architecture
from tomo.errors import Conflict, RemoteError

if TYPE_CHECKING:
    from tomo.servers.ssh import CommandResult, SSHTarget


class RunsCommands(Protocol):
    """What runs commands on a server: SSHService, or what a deployment runs them with."""

    async def run(
        self, target: SSHTarget, argv: Sequence[str], *, check: bool = ...
    ) -> CommandResult: ...


# Appended to `docker info --format` after the runtimes (one round trip): its own line.
SWARM_FORMAT = "{{json .Swarm}}"
# `docker node inspect` of every node, in one round trip; $1: use sudo. Docker's
# complaint (no manager, no sudo) on stderr, with its exit code.
NODES_SCRIPT = r"""
d=docker; [ "$1" = yes ] && d="sudo -n docker"
ids=$($d node ls --quiet) || exit $?
[ -z "$ids" ] && echo "[]" && exit 0
exec $d node inspect $ids
"""
# What Docker says on `docker node …` asked of an engine that is no manager.
NO_MANAGER = ("not a swarm manager", "swarm is not initialized")
NANO = 1_000_000_000


class SwarmFacts(BaseModel):
    """A server's engine in a Swarm, as its last check found it (`docker info`).

    `nodes` and `managers` are known on a manager only; a worker knows the
    addresses of the managers it talks to instead."""

    role: Literal["manager", "worker"]
    state: str = "active"  # Docker's LocalNodeState: active, pending, error, locked
    node_id: str | None = None
    cluster_id: str | None = None
    nodes: int | None = None
    managers: int | None = None
    manager_addresses: list[str] = []  # a worker's: host:port of the Swarm's managers
    error: str | None = None  # what Docker says is wrong with the node's Swarm


def swarm_facts_of(said: str) -> SwarmFacts | None:
    """SwarmFacts from `docker info --format '{{json .Swarm}}'`; None for an engine
    in no Swarm (or output that is no Swarm's)."""
    try:
        info = json.loads(said)
    except ValueError:
        return None
    if not isinstance(info, dict) or info.get("LocalNodeState") in (None, "", "inactive"):
        return None
    cluster = info.get("Cluster") or {}
    remote = [m for m in info.get("RemoteManagers") or [] if isinstance(m, dict)]
    return SwarmFacts(
        role="manager" if info.get("ControlAvailable") else "worker",
        state=str(info["LocalNodeState"]),
        node_id=info.get("NodeID") or None, cluster_id=cluster.get("ID") or None,
        nodes=info.get("Nodes") or None, managers=info.get("Managers") or None,
        manager_addresses=[str(m["Addr"]) for m in remote if m.get("Addr")],
        error=info.get("Error") or None,
    )  # fmt: skip


def swarm_summary(swarm: SwarmFacts) -> str:
    """One line on a server's Swarm, as `tomo server add|test` and the pages say it."""
    if swarm.role == "manager":
        nodes, managers = swarm.nodes or 0, swarm.managers or 0
        said = (f"Docker Swarm manager of a cluster of {nodes} node{_s(nodes)} "
                f"({managers} manager{_s(managers)})")  # fmt: skip
    else:
        said = f"Docker Swarm worker: tomo needs a manager to see the cluster; {_managers(swarm)}"
    if swarm.state != "active":
        said += f"; its Swarm state is {swarm.state}"
    return f"{said}: {swarm.error}" if swarm.error else said


def _managers(swarm: SwarmFacts) -> str:
    hosts = sorted({address.rsplit(":", 1)[0] for address in swarm.manager_addresses})
    if not hosts:
        return "add a manager node of the Swarm instead"
    return f"add the manager instead ({', '.join(hosts)})"


def _s(count: int) -> str:
    return "" if count == 1 else "s"


class SwarmNode(BaseModel):
    """One node of a Swarm, as its managers see it now (`docker node inspect`)."""

    id: str
    hostname: str
    role: Literal["manager", "worker"]
    leader: bool = False  # the managers' leader (Raft)
    reachability: str | None = None  # a manager's: reachable, unreachable, unknown
    availability: str  # active, pause, drain
    state: str  # ready, down, unknown, disconnected
    message: str | None = None  # why it is in that state, as Docker says it
    address: str | None = None
    architecture: str | None = None
    os: str | None = None
    cpus: float | None = None
    memory_mb: int | None = None
    labels: dict[str, str] = {}
    engine_version: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def trouble(self) -> str | None:
        """What keeps it from running tasks as it should, in words; None if nothing."""
        said = []
        if self.state != "ready":
            said.append(self.state + (f" ({self.message})" if self.message else ""))
        if self.availability == "drain":
            said.append("drained: its tasks move to other nodes")
        elif self.availability == "pause":
            said.append("paused: no new tasks")
        if self.reachability not in (None, "reachable"):
            said.append(f"manager {self.reachability}")
        return "; ".join(said) or None


def nodes_of(inspected: str) -> list[SwarmNode]:
    """SwarmNodes from `docker node inspect`'s JSON, managers first, then by name."""
    nodes = [node_of(raw) for raw in json.loads(inspected)]
    return sorted(nodes, key=lambda node: (node.role != "manager", node.hostname, node.id))


def node_of(raw: dict[str, Any]) -> SwarmNode:
    """One node of `docker node inspect`'s answer."""
    spec, status = raw.get("Spec") or {}, raw.get("Status") or {}
    described = raw.get("Description") or {}
    resources, manager = described.get("Resources") or {}, raw.get("ManagerStatus") or {}
    platform = described.get("Platform") or {}
    memory = resources.get("MemoryBytes")
    return SwarmNode(
        id=raw["ID"], hostname=described.get("Hostname") or raw["ID"][:12],
        role=spec.get("Role", "worker"), leader=bool(manager.get("Leader")),
        reachability=manager.get("Reachability"),
        availability=spec.get("Availability", "active"), state=status.get("State", "unknown"),
        message=status.get("Message") or None, address=status.get("Addr") or None,
        architecture=normalize_architecture(platform.get("Architecture")),
        os=platform.get("OS") or None,
        cpus=resources["NanoCPUs"] / NANO if resources.get("NanoCPUs") else None,
        memory_mb=memory // (1024 * 1024) if memory else None,
        labels=spec.get("Labels") or {},
        engine_version=(described.get("Engine") or {}).get("EngineVersion") or None,
    )  # fmt: skip


async def read_nodes(ssh: RunsCommands, target: SSHTarget) -> list[SwarmNode]:
    """The Swarm's nodes, asked of the manager `target` (one command)."""
    sudo = "yes" if target.use_sudo else "no"
    result = await ssh.run(target, ["sh", "-c", NODES_SCRIPT, "tomo-nodes", sudo], check=False)
    if result.exit_code == 0:
        return nodes_of(result.stdout)
    said = result.stderr.strip()
    if any(words in said.lower() for words in NO_MANAGER):
        raise Conflict(f"server '{target.name}' is no longer a Docker Swarm manager ({said}): "
                       f"run `tomo server test {target.key}` to learn what it is now")  # fmt: skip
    raise RemoteError(target.name, f"`docker node inspect` failed: {said}")
