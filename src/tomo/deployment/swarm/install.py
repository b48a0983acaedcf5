"""Installing an app as Swarm services: its overlay network, volumes and services,
each journaled before it is made, then the wait until every task runs."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

from tomo.deployment import steps
from tomo.deployment.app_spec import AppSpec
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.journal import on_node as undone_on_node
from tomo.deployment.remote import Docker
from tomo.deployment.swarm import secrets as swarm_secrets
from tomo.deployment.swarm.nodes import (
    Placement,
    choose_node,
    node_problems,
    on_node,
)
from tomo.deployment.swarm.secrets import SwarmSecret
from tomo.deployment.swarm.services import (
    pinned,
    service_create_argv,
    service_states,
    swarm_problems,
    wait_until_up,
)
from tomo.errors import InstallFailed, InvalidInput, PreflightFailed, Refusal
from tomo.marketplace.definition import AppDefinition
from tomo.servers.schemas import ServerPublic
from tomo.servers.swarm import SwarmNode, read_nodes


async def create_secrets(
    docker: Docker, app: AppSpec, job: JobRecorder, secrets: list[SwarmSecret]
) -> None:
    """Its Swarm secrets (see secrets.py), each journaled before it is made."""
    for secret in secrets:
        job.journal.undo.append({"remove_secret": secret.name})
        await job.save_journal()
        await swarm_secrets.create(docker, secret, app.labels)


async def create_services(
    docker: Docker, app: AppSpec, job: JobRecorder, node_id: str | None,
    limits: steps.WaitLimits, secrets: list[SwarmSecret], *, elsewhere: bool = False,
) -> str:  # fmt: skip
    """The app's overlay network, volumes and Swarm secrets, then its services, each journaled
    before it is made and once those it depends on run (healthy where they have a
    check). Returns the main service's id."""
    await steps.create_network(docker, app, job, driver="overlay")
    if not elsewhere:  # else the node's engine makes them there (services.mount_options)
        for volume in app.volumes:
            await steps.create_volume(docker, app, volume, job)
    await create_secrets(docker, app, job, secrets)
    made = {}
    for container in app.containers:
        if container.depends_on:  # Swarm starts services in no order: tomo waits
            await wait_until_up(docker, list(container.depends_on), limits.timeout, 0)
        job.journal.undo.append({"remove_service": container.name})
        await job.save_journal()
        result = await docker.ssh.run_docker(
            docker.target, service_create_argv(container, node_id), check=False
        )
        if result.exit_code != 0:
            raise InstallFailed(f"the Swarm service {container.name} could not be created: "
                                f"{result.stderr.strip() or 'no output'}")  # fmt: skip
        made[container.name] = result.stdout.strip()
    return made[app.name]


async def wait_until_running(docker: Docker, app: AppSpec, limits: steps.WaitLimits) -> str:
    """Every service's tasks running and still so `limits.stable` seconds later
    (see services.wait_until_up); what was seen, in words."""
    names = [c.name for c in app.containers]
    states = await wait_until_up(docker, names, limits.timeout, limits.stable)
    shown = [f"{states[n].running}/{states[n].replicas} running" for n in names]
    if len(app.containers) == 1:
        return f"Swarm service {shown[0]}"
    return "; ".join(f"{c.service}: {s}" for c, s in zip(app.containers, shown, strict=True))


def on_swarm(server: ServerPublic, asked: bool | None) -> bool:
    """Whether an install on `server` goes to its Swarm: as asked, else when the
    server's last check found a Swarm manager. InvalidInput when asked of a server
    that is none."""
    swarm = server.facts.swarm if server.facts is not None else None
    manager = swarm is not None and swarm.role == "manager"
    if asked and not manager:
        raise InvalidInput([Refusal(
            f"{server.id} is not a Docker Swarm manager (as its last check found)",
            ("swarm",), f"run `tomo server test {server.id}` if it joined a Swarm since",
            page_hint="test the server again if it joined a Swarm since")])  # fmt: skip
    return manager if asked is None else asked


def node_of(server: ServerPublic) -> str | None:
    """The node tomo reaches, as the server's last check found it."""
    swarm = server.facts.swarm if server.facts is not None else None
    return swarm.node_id if swarm is not None else None


def data_node(config: dict[str, Any], server: ServerPublic) -> str | None:
    """The node an installation's data is on: the one chosen at its install (see
    nodes.py), else (installed before tomo chose) the node tomo reaches."""
    return config.get("swarm_node") or node_of(server)


async def place(
    docker: Docker, server: ServerPublic, app: AppSpec, definition: AppDefinition,
    asked: str | None, data_on: dict[str, int],
) -> Placement | None:  # fmt: skip
    """The preflight (see `preflight`), then the node for the app's data, chosen (see
    nodes.py) and checked with the rest of the app against the Swarm's nodes as they
    are now; None when it has no data (the Swarm places its services). PreflightFailed
    with every reason it cannot run. Two commands, at once."""
    looked = await asyncio.gather(preflight(docker, app), read_nodes(docker.ssh, docker.target),
                                  return_exceptions=True)  # fmt: skip
    for failed in looked:  # the preflight's reason first: it says the most
        if isinstance(failed, BaseException):
            raise failed
    reached, nodes = cast(tuple[str, list[SwarmNode]], tuple(looked))
    placement = None
    with_data = any(pinned(c) for c in app.containers)
    if asked or with_data:  # a node asked for is checked even for an app without data
        chosen = choose_node(docker.server, nodes, asked, data_on, reached,
                             definition.requirements.architectures)  # fmt: skip
        placement = dataclasses.replace(chosen, reached=reached) if with_data else None
    problems = node_problems(app, definition, nodes, placement, reached)
    if problems:
        raise PreflightFailed(docker.server, problems)
    return placement


async def pull_and_prepare(
    docker: Docker, app: AppSpec, job: JobRecorder, node: str | None, helper_image: str,
    *, reached: str | None = None, env_file_is_new: bool = True,
) -> None:  # fmt: skip
    """As steps.pull_and_prepare, the data's folders made on its node when that is
    not the one tomo reaches (`reached`, when known; a helper job there; its undoing
    journaled to run there too). The env files stay where tomo reaches: the
    manager's Docker CLI reads them."""
    installation = app.labels.get("tomo.installation", "")
    there = await on_node(docker, node, helper_image, installation, reached) if node else docker
    if there is docker:
        await steps.pull_and_prepare(docker, app, job, env_file_is_new=env_file_is_new)
        return

    def undo_there(action: dict[str, Any]) -> dict[str, Any]:
        assert node is not None
        return undone_on_node(node, helper_image, action)

    job.journal.undo.append({"remove_helper_jobs": installation})  # undone last
    await job.save_journal()

    async def pulls() -> None:  # where tomo reaches: a pull that fails says so early
        for image in app.images:
            await steps.pull(docker, job, image)

    async def files() -> None:
        for container in app.containers:
            await steps.prepare(docker, dataclasses.replace(
                container, mounts=[m for m in container.mounts if not m.owned]), job,
                env_file_is_new=env_file_is_new)  # fmt: skip
            await steps.prepare(there, dataclasses.replace(container, env={}, secret_env={}),
                                job, undo_as=undo_there)  # fmt: skip

    for result in await asyncio.gather(pulls(), files(), return_exceptions=True):
        if isinstance(result, BaseException):
            raise result


def refuse_unswarmable(app: AppSpec, hostnames: list[str]) -> None:
    """InvalidInput for what the app asks that tomo cannot give a Swarm service."""
    problems = swarm_problems(app)
    if hostnames:
        problems.append(Refusal(
            "names through the front door are not given to apps on a Swarm yet",
            ("hostnames",), "install it without --hostname, or as plain containers with "
            "--no-swarm",
            page_hint="leave Names empty, or choose Plain containers under Runs as"))  # fmt: skip
    if problems:
        raise InvalidInput(problems)


async def preflight(docker: Docker, app: AppSpec) -> str:
    """The engine still a Swarm manager, and no Swarm service by the app's names; the
    id of the node tomo reaches."""
    said = await docker.run(["info", "--format", "{{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}"])
    control, _, reached = said.strip().partition(" ")
    if control != "true":
        raise PreflightFailed(docker.server, [Refusal(
            "Docker there is no longer a Swarm manager", hint="run `tomo server test "
            f"{docker.server}`, then install it again")])  # fmt: skip
    taken = await service_states(docker, [c.name for c in app.containers])
    if taken:
        raise PreflightFailed(docker.server, [Refusal(
            f"a Swarm service named {name} exists already", ("name",),
            "choose another name with --name", page_hint="choose another Instance name")
            for name in taken])  # fmt: skip
    return reached
