"""The nodes of a Swarm and an app: which node holds its data, whether the nodes
can run it, and commands run on a node tomo does not reach.

A service with data on a node's disk runs on that node only (services.pinned).
The node is chosen at install — the admin's (`--node`, the install form), else the
one tomo suggests: a ready, active node of the right architecture with the
fewest apps' data on it, the node tomo reaches first among equals, then the one
with the most memory — and kept with the installation (InstallConfig.swarm_node).

tomo reaches one manager over SSH. On any other node its folders are made (and,
when asked, removed) by a one-off Swarm job pinned there (NodeHost): the helper
image with the node's root folder mounted runs the same shell scripts as SSH
would, in the node's own file system (`chroot`), as the SSH user's uid and gid
(`setpriv`, from util-linux, when that user is not root).
"""

from __future__ import annotations

import secrets
import shlex
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from tomo.deployment.app_spec import AppSpec
from tomo.deployment.remote import Docker, Host
from tomo.deployment.spec import ContainerSpec
from tomo.deployment.swarm.services import pinned, replicas_of
from tomo.errors import CommandFailed, PreflightFailed, Refusal, RemoteError
from tomo.marketplace.definition import AppDefinition
from tomo.servers.ssh import CommandResult, SSHTarget
from tomo.servers.swarm import SwarmNode

HELPER_LABEL = "tomo.helper"
JOB_SECONDS = 120  # how long a helper job may take, from its creation to its end

# Runs one helper job and waits for its end: $1 sudo (yes/no), $2 its name, $3 the
# polls allowed (half a second each), the rest `docker service create`'s arguments.
# Prints the job's output (its stdout and stderr as such) and exits with its exit
# code: 124 when it did not end in time, 125 when it could not be made or run.
RUN_JOB = r"""
d=docker; [ "$1" = yes ] && d="sudo -n docker"; name="$2"; polls="$3"; shift 3
$d service create --detach --quiet --name "$name" "$@" >/dev/null || exit 125
code=124; n=0
while [ "$n" -lt "$polls" ]; do
  task=$($d service ps --quiet --no-trunc "$name" 2>/dev/null | head -n 1)
  if [ -n "$task" ]; then
    set -- $($d inspect --type task --format \
      '{{.Status.State}} {{with .Status.ContainerStatus}}{{.ExitCode}}{{else}}0{{end}}' "$task")
    case "$1" in
      complete) code="$2"; break ;;
      failed|rejected)
        $d inspect --type task --format '{{.Status.Err}}' "$task" >&2
        [ "$1" = failed ] && [ "$2" != 0 ] && code="$2" || code=125; break ;;
    esac
  fi
  sleep 0.5; n=$((n + 1))
done
[ "$code" -le 123 ] && $d service logs --raw "$name"
[ "$code" = 124 ] && echo "the helper job $name did not end within $((polls / 2))s" >&2
$d service rm "$name" >/dev/null 2>&1
exit "$code"
"""


# Runs "$3"… in the node's own file system as uid "$1", gid "$2": the node's own
# shell and tools (a path with a slash: busybox's chroot would run its own applet
# of a bare name, and busybox's setpriv lacks --reuid).
AS_OWNER = r"""
u="$1"; g="$2"; shift 2
[ "$u" = 0 ] && exec "$@"
exec setpriv --reuid="$u" --regid="$g" --clear-groups "$@"
"""


@dataclass(frozen=True)
class Placement:
    """The node an app's data is on, how it was chosen (in words), and the id of the
    node tomo reaches (as the Swarm says now)."""

    node: SwarmNode
    why: str
    reached: str | None = None

    @property
    def elsewhere(self) -> bool:
        """Its data is on a node tomo does not reach."""
        return self.node.id != self.reached

    @property
    def said(self) -> str:
        return f"{self.node.hostname} ({self.node.id[:12]}): {self.why}"


def unusable(node: SwarmNode) -> str | None:
    """Why no new task can go to the node, in words; None if one can."""
    if node.state != "ready":
        return f"it is {node.state}"
    if node.availability != "active":
        return "it is drained" if node.availability == "drain" else "it is paused"
    return None


def choose_node(
    server: str, nodes: list[SwarmNode], asked: str | None, data_on: dict[str, int],
    reached: str | None, architectures: Sequence[str],
) -> Placement:  # fmt: skip
    """The node asked for (an id, a unique id prefix of 6 or more, or a unique
    hostname), else the suggestion (see the module). PreflightFailed naming the
    nodes when none fits."""
    if asked:
        return Placement(_named(server, nodes, asked), "as asked")
    fits = [n for n in nodes if unusable(n) is None and _runs(n, architectures)]
    if not fits:
        said = f"no node of the Swarm can take the app's data now: {_listed(nodes)}"
        raise PreflightFailed(server, [_refused(said, None)])
    best = min(fits, key=lambda n: (data_on.get(n.id, 0), n.id != reached, -(n.memory_mb or 0)))
    held = data_on.get(best.id, 0)
    return Placement(best, f"suggested: the ready node with the fewest apps' data ({held})")


def _named(server: str, nodes: list[SwarmNode], asked: str) -> SwarmNode:
    exact = [n for n in nodes if asked in (n.id, n.hostname)]
    prefixed = [n for n in nodes if len(asked) >= 6 and n.id.startswith(asked)]
    found = exact or prefixed
    if len(found) == 1:
        return found[0]
    if found:
        said = (f"'{asked}' names {len(found)} nodes of the Swarm: give the node's id "
                f"({', '.join(n.id[:12] for n in found)})")  # fmt: skip
    else:
        said = f"the Swarm has no node '{asked}': {_listed(nodes)}"
    raise PreflightFailed(server, [_refused(said, asked)])


def _listed(nodes: list[SwarmNode]) -> str:
    return "; ".join(f"{n.hostname} ({n.id[:12]}, {unusable(n) or 'ready'})" for n in nodes)


def _refused(message: str, asked: str | None) -> Refusal:
    hint = "choose another with --node" if asked else "make a node ready, or choose one with --node"
    return Refusal(message, ("swarm_node",), hint, page_hint="choose another node under Data on")


def _runs(node: SwarmNode, architectures: Sequence[str]) -> bool:
    return not architectures or node.architecture in architectures


def node_problems(
    app: AppSpec, definition: AppDefinition, nodes: list[SwarmNode],
    placement: Placement | None, reached: str | None,
) -> list[Refusal]:  # fmt: skip
    """What keeps the Swarm's nodes from running the app as asked: the data's node
    not ready, of another architecture or with too little memory; no node able to
    run a service without data; more tasks binding a host port than nodes to bind
    it; the store's files on a node tomo does not reach."""
    needs = definition.requirements
    problems = []
    with_data = [c for c in app.containers if pinned(c)]
    if placement is not None and with_data:
        node = placement.node
        where = f"the data's node {node.hostname} ({node.id[:12]})"
        for trouble in _cannot_hold(node, needs.architectures, needs.min_ram):
            said = f"{where} cannot run {_names(app, with_data)}: {trouble}"
            problems.append(_refused(said, node.id))
        if app.files and node.id != reached:
            problems.append(_refused(
                f"the store's files can be placed only on the node tomo reaches; the data's "
                f"node is {node.hostname} ({node.id[:12]})", node.id))  # fmt: skip
    free = [c for c in app.containers if not pinned(c)]
    able = [n for n in nodes if not _cannot_hold(n, needs.architectures, needs.min_ram)]
    if free and not able:
        problems.append(Refusal(f"no node of the Swarm can run {_names(app, free)}: "
                                f"{_listed(nodes)}"))  # fmt: skip
    for container in free:
        host_ports = container.ports and container.publish_mode == "host"
        if host_ports and able and replicas_of(container) > len(able):
            problems.append(_too_many(_names(app, [container]), container, len(able)))
    return problems


def _too_many(name: str, container: ContainerSpec, able: int) -> Refusal:
    port = container.ports[0]
    return Refusal(
        f"{name} asks for {replicas_of(container)} replicas, "
        f"each binding port {port.host}/{port.protocol} on its node, and {able} "
        f"node{'s' if able != 1 else ''} can run it", ("replicas",),
        "ask for fewer with --replicas, or publish through the routing mesh with "
        "--publish-mode ingress",
        page_hint="ask for fewer Replicas, or choose On every node under Ports open")  # fmt: skip


def _cannot_hold(node: SwarmNode, architectures: Sequence[str], min_ram: int | None) -> list[str]:
    """Why no task of the app can go to the node, in words."""
    said = [trouble for trouble in [unusable(node)] if trouble]
    if not _runs(node, architectures):
        said.append(f"it is {node.architecture}, the app runs on {', '.join(architectures)}")
    if min_ram and node.memory_mb is not None and node.memory_mb < min_ram:
        said.append(f"it has {node.memory_mb} MB of memory, the app needs {min_ram} MB")
    return said


def _names(app: AppSpec, containers: Sequence[ContainerSpec]) -> str:
    """The services by their definition's names; the app's own one by the app's name."""
    return ", ".join(c.service if len(app.containers) > 1 else c.name for c in containers)


class NodeHost:
    """Host (see remote.py) on one node of a Swarm, through its manager: each
    command a Swarm job pinned to the node (RUN_JOB), run in the node's own file
    system as `owner` (the SSH user's "uid:gid"; see the module)."""

    def __init__(
        self, manager: Host, node_id: str, image: str, owner: str, installation: str = ""
    ) -> None:
        self.manager = manager
        self.node_id = node_id
        self.image = image
        self.owner = owner
        self.installation = installation

    async def run(
        self, target: SSHTarget, argv: Sequence[str], *, check: bool = True,
        time_limit: float | None = None, stdin: str | None = None,
    ) -> CommandResult:  # fmt: skip
        if stdin is not None:  # a job has no stdin: nothing that needs one runs here
            raise RemoteError(target.name, "a command with input cannot run on another node")
        name = f"tomo-helper-{secrets.token_hex(4)}"
        polls = int(2 * (time_limit or JOB_SECONDS))
        sudo = "yes" if target.use_sudo else "no"
        script = ["sh", "-c", RUN_JOB, "tomo-node-job", sudo, name, str(polls), *self._job(argv)]
        result = await self.manager.run(target, script, check=False,
                                        time_limit=(time_limit or JOB_SECONDS) + 60)  # fmt: skip
        if check and result.exit_code != 0:
            raise CommandFailed(f"{target.name}, node {self.node_id[:12]}", shlex.join(argv),
                                result.exit_code, result.stderr)  # fmt: skip
        return result

    def _job(self, argv: Sequence[str]) -> list[str]:
        """`docker service create`'s arguments for argv on the node."""
        uid, _, gid = self.owner.partition(":")
        return ["--mode", "replicated-job", "--restart-condition", "none", "--no-resolve-image",
                "--constraint", f"node.id=={self.node_id}",
                "--label", f"{HELPER_LABEL}={self.installation}",
                "--mount", "type=bind,source=/,target=/host",
                self.image, "chroot", "/host", "/bin/sh", "-c", AS_OWNER, "tomo-as", uid, gid,
                *argv]  # fmt: skip

    async def run_docker(
        self, target: SSHTarget, args: Sequence[str], *, check: bool = True,
        time_limit: float | None = None, stdin: str | None = None,
    ) -> CommandResult:  # fmt: skip
        raise RemoteError(target.name, "Docker commands go to the Swarm's manager, not a node")

    def stream(
        self, target: SSHTarget, argv: Sequence[str], *, time_limit: float | None = None,
        lane: str = "",
    ) -> AsyncIterator[str]:  # fmt: skip
        raise RemoteError(target.name, "a command's output is not streamed from another node")


async def owner_of(docker: Docker) -> str:
    """The SSH user's "uid:gid" on the node tomo reaches (what it makes is theirs)."""
    out = await docker.ssh.run(docker.target, ["sh", "-c", 'echo "$(id -u):$(id -g)"'])
    return out.stdout.strip()


async def remove_helper_jobs(docker: Docker, installation: str) -> list[str]:
    """The helper jobs of an installation still there (a tomo stopped while one ran
    leaves it), removed."""
    listed = await docker.run(["service", "ls", "--quiet", "--filter",
                               f"label={HELPER_LABEL}={installation}"])  # fmt: skip
    jobs = listed.split()
    if jobs:
        await docker.run(["service", "rm", *jobs])
    return [f"removed {len(jobs)} helper job{'s' if len(jobs) != 1 else ''}"] if jobs else []


async def reached_node(docker: Docker) -> str:
    """The id of the Swarm node tomo reaches."""
    return (await docker.run(["info", "--format", "{{.Swarm.NodeID}}"])).strip()


async def on_node(
    docker: Docker, node_id: str, image: str, installation: str = "", reached: str | None = None
) -> Docker:
    """A Docker whose commands run on the node `node_id` (the manager's own when it
    is the node tomo reaches, `reached` when known, else asked)."""
    if node_id == (reached or await reached_node(docker)):
        return docker
    host = NodeHost(docker.ssh, node_id, image, await owner_of(docker), installation)
    return Docker(host, docker.target)
