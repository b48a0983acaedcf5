"""Swarm services: the `docker service create` of a container spec, what a service
cannot be, the services' states from their tasks, and scaling and removing them."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from tomo.deployment.app_spec import AppSpec
from tomo.deployment.remote import Docker
from tomo.deployment.spec import (
    ContainerSpec,
    PublishedPort,
    hardening_options,
    run_arguments,
    service_options,
)
from tomo.deployment.statuses import InstallationStatus
from tomo.errors import InstallFailed, Refusal, RemoteError

POLL_SECONDS = 0.5
# How long a service's tasks may take to be gone once it is removed (its network
# can go only then).
GONE_SECONDS = 30.0
# restart_policy -> Swarm's restart condition.
RESTART_CONDITION = {"no": "none", "on-failure": "on-failure", "always": "any",
                     "unless-stopped": "any"}  # fmt: skip
UPDATE_LABEL = "tomo.update"  # the job whose update made the spec (on its tasks too)
ROLLED_BACK = ("rollback_completed", "rollback_paused", "paused")
REPLICAS_LABEL = "tomo.replicas"  # what start scales a stopped service back to
# How long a task may wait to be placed, with Docker's reason, before that reason is
# taken as final (a rolling restart waits for the old task to free its host port).
PENDING_GRACE = 10.0
# Task states in which its container may be running (Docker's words).
ALIVE = ("assigned", "accepted", "preparing", "ready", "starting", "running")

# `docker service inspect` of the named services, then a line `--tasks--`, then
# `docker inspect` of their tasks, then (when $2 is yes) `--nodes--` and the Swarm's
# nodes (whether the one a service's data is on is up): one round trip. $1: use
# sudo; then the names.
# Docker's complaints come with the output: those of a service or task that is not
# there are an answer; any other (no manager, no quorum, no sudo) is an error.
STATE_SCRIPT = r"""
d=docker; [ "$1" = yes ] && d="sudo -n docker"; nodes="$2"; shift 2
$d service inspect --format '{{json .}}' "$@" 2>&1
echo --tasks--
ids=$($d service ps --quiet --no-trunc "$@" 2>&1 | grep -v ' ')
[ -n "$ids" ] && $d inspect --type task --format '{{json .}}' $ids 2>&1
[ "$nodes" = yes ] && echo --nodes-- && $d node ls --format '{{json .}}' 2>&1
exit 0
"""


def swarm_problems(app: AppSpec) -> list[Refusal]:
    """What the app asks that a Swarm service cannot be, by service."""
    problems = []
    for container in app.containers:
        unable = _unable(container)
        if unable:
            where = container.service if len(app.containers) > 1 else container.name
            problems.append(Refusal(
                f"{where}: a Swarm service cannot have {', '.join(unable)}",
                hint="install it as plain containers on the manager with --no-swarm",
                page_hint="choose Plain containers under Runs as"))  # fmt: skip
    if app.hooks:
        names = ", ".join(hook.name for hook in app.hooks)
        problems.append(Refusal(f"the app's hook scripts ({names}) are not run on a Swarm yet",
                                hint="install it as plain containers with --no-swarm"))  # fmt: skip
    return problems


def _unable(spec: ContainerSpec) -> list[str]:
    checks = [
        (spec.privileged, "privileged mode"),
        (bool(spec.devices), f"devices ({', '.join(spec.devices)})"),
        (bool(spec.gpus), "GPUs"),
        (bool(spec.network_mode), f"network_mode {spec.network_mode}"),
        (bool(spec.pid_mode), f"pid {spec.pid_mode}"),
        (bool(spec.ipc_mode), f"ipc {spec.ipc_mode}"),
        (bool(spec.security_opt), f"security options ({', '.join(spec.security_opt)})"),
        (spec.one_shot, "a one-shot step others wait for"),
        (bool(spec.extra_networks), "other apps' networks"),
        # Not given to a Swarm service yet (the engines tomo is tested with take no
        # `--ulimit` for services; the others would need updates of their own).
        (spec.shm_size is not None, "a /dev/shm size (shm_size)"),
        (bool(spec.ulimits), "ulimits"),
        (bool(spec.extra_hosts), "extra host names (extra_hosts)"),
        (bool(spec.tmpfs), "tmpfs folders"),
        (bool(spec.store_env_files), "the store's environment files (env_file)"),
    ]
    return [what for asked, what in checks if asked]


def on_overlay(app: AppSpec) -> AppSpec:
    """The app with its own network on every service: on a Swarm every installation
    has one, even a single service (which is then alone on it)."""
    network = app.network or f"tomo-{app.name}"
    containers = [dataclasses.replace(c, network=network) for c in app.containers]
    return dataclasses.replace(app, network=network, containers=containers)


def pinned(spec: ContainerSpec) -> bool:
    """Its data is on one node's disk: it must run there."""
    return bool(spec.mounts or spec.named_volumes or spec.carried_volumes)


def fields(*values: str) -> str:
    """One value of a CSV-read option (--mount, --network, --publish), quoted as
    Docker's reader needs for a comma or a quote in a path."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values)
    return out.getvalue()


def service_create_argv(spec: ContainerSpec, node_id: str | None) -> list[str]:
    """`docker service create` for a spec; `node_id` is the node its data is on.
    Environment values go through the env file, read by the manager's CLI."""
    assert spec.network is not None  # see on_overlay
    argv = ["service", "create", "--detach", "--name", spec.name, "--no-resolve-image",
            "--endpoint-mode", "vip" if spec.publish_mode == "ingress" else "dnsrr",
            "--replicas", str(replicas_of(spec)),
            "--network", fields(f"name={spec.network}", f"alias={spec.service or spec.name}"),
            "--restart-condition", RESTART_CONDITION.get(spec.restart_policy, "any")]  # fmt: skip
    for key, value in spec.labels.items():
        argv += ["--label", f"{key}={value}", "--container-label", f"{key}={value}"]
    for port in spec.ports:
        argv += ["--publish", published(port, spec.publish_mode)]
    argv += mount_options(spec)
    if pinned(spec) and node_id:
        argv += ["--constraint", f"node.id=={node_id}"]
    if spec.all_env:
        argv += ["--env-file", spec.env_file]
    for name, target in spec.swarm_secrets:
        argv += ["--secret", fields(f"source={name}", f"target={target}")]
    argv += _limits(spec)
    return [*argv, spec.image, *run_arguments(spec)]


def replicas_of(spec: ContainerSpec) -> int:
    """The tasks it runs: as asked, but one for a service with data (its folders are
    on one node, and two tasks writing them would wreck them)."""
    return 1 if pinned(spec) else spec.replicas


def how_it_runs(spec: ContainerSpec) -> str:
    """Its tasks and where its ports open, in words (an install's preview)."""
    from tomo.deployment.schemas import INGRESS_PORT_SAID, SWARM_PORT_SAID

    count = replicas_of(spec)
    said = f"{count} task{'s' if count != 1 else ''}"
    if count < spec.replicas:
        said += f" (not {spec.replicas}: its data is on one node)"
    if spec.ports:
        where = INGRESS_PORT_SAID if spec.publish_mode == "ingress" else SWARM_PORT_SAID
        said += f"; its ports {where}"
    return said


def published(port: PublishedPort, mode: str = "host") -> str:
    """A port in host mode (bound by the node that runs the task, see the module) or
    ingress mode (by every node, routed to a task by the Swarm)."""
    return fields(
        f"mode={mode}",
        f"published={port.host}",
        f"target={port.container}",
        f"protocol={port.protocol}",
    )


def mount_options(spec: ContainerSpec) -> list[str]:
    """--mount for each folder and volume it mounts. A volume carries the
    installation's label: the engine of the node that runs the task makes it there
    when it lacks it (a node other than the one tomo reaches)."""
    label = f"volume-label=tomo.installation={spec.labels.get('tomo.installation', '')}"
    values = [f"{v},{label}" if v.startswith("type=volume") else v for _, v in mount_values(spec)]
    return [arg for value in values for arg in ("--mount", value)]


def mount_values(spec: ContainerSpec) -> list[tuple[str, str]]:
    """(target, --mount's value) of each folder and volume it mounts."""
    found = [(m.container_path, mount_value("bind", m.host_path, m.container_path, m.readonly))
             for m in spec.mounts]  # fmt: skip
    found += [(n.container_path, mount_value("volume", n.volume, n.container_path, n.readonly))
              for n in spec.named_volumes]  # fmt: skip
    found += [(path, mount_value("volume", volume, path, False))
              for volume, path in spec.carried_volumes]  # fmt: skip
    return found


def mount_value(kind: str, source: str, target: str, readonly: bool) -> str:
    return fields(f"type={kind}", f"source={source}", f"target={target}",
                  *(("readonly",) if readonly else ()))  # fmt: skip


def _limits(spec: ContainerSpec) -> list[str]:
    """User, entrypoint, health check, capabilities, how it stops, its memory and CPU
    limits and its init process."""
    argv = service_options(spec, split_entrypoint=True) + resource_options(spec)
    for capability in spec.capabilities:
        argv += ["--cap-add", capability]
    argv += hardening_options(spec)
    if spec.stop_signal:
        argv += ["--stop-signal", spec.stop_signal]
    if spec.stop_timeout is not None:
        argv += ["--stop-grace-period", f"{spec.stop_timeout}s"]
    return argv


def resource_options(spec: ContainerSpec) -> list[str]:
    """Memory and CPU limits, the memory reservation and the init process, by
    `docker service create`'s names. Each is given, 0 or false when not asked, so
    that `docker service update` takes back what an earlier version asked."""
    return ["--limit-memory", str(spec.mem_limit or 0),
            "--reserve-memory", str(spec.mem_reservation or 0),
            "--limit-cpu", f"{spec.cpus or 0:g}", f"--init={str(spec.init).lower()}"]  # fmt: skip


@dataclass(frozen=True)
class ServiceState:
    """One Swarm service as its manager sees it."""

    name: str
    installation: str  # its tomo.installation label
    replicas: int  # wanted
    running: int  # tasks running now
    error: str | None  # the newest task's error, if it has one
    pending: str | None  # why a task waits to be placed (Docker's words)
    since: str | None  # when the newest running task started (Docker's stamp)
    kept_replicas: int  # what start scales it back to
    task_ids: frozenset[str] = frozenset()  # of the tasks running now
    alive: int = 0  # tasks whose container may run, wanted or on their way out
    failed_ids: frozenset[str] = frozenset()  # of the tasks that ended with an error
    update_state: str | None = None  # Docker's UpdateStatus.State: updating, completed…
    update_id: str | None = None  # the update job whose spec runs (update.UPDATE_LABEL)
    node_trouble: str | None = None  # the node it is pinned to, when that cannot run it

    @property
    def up(self) -> bool:
        return self.replicas > 0 and self.running >= self.replicas


def parse_states(output: str) -> dict[str, ServiceState]:
    """STATE_SCRIPT's output: the services found, by name. ValueError with Docker's
    words when it could not answer for the Swarm."""
    services_part, _, rest = output.partition("--tasks--")
    tasks_part, _, nodes_part = rest.partition("--nodes--")
    services, tasks = _documents(services_part), _documents(tasks_part)
    nodes = {str(n.get("ID")): n for n in _documents(nodes_part)}
    by_service: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_service.setdefault(task.get("ServiceID", ""), []).append(task)
    found = {}
    for service in services:
        state = _state_of(service, by_service.get(service["ID"], []))
        found[state.name] = dataclasses.replace(state, node_trouble=_node_trouble(service, nodes))
    return found


def pinned_node(service: dict[str, Any]) -> str | None:
    """The node id a service's placement pins it to (its data is there), if any."""
    placement = (service["Spec"].get("TaskTemplate") or {}).get("Placement") or {}
    for constraint in placement.get("Constraints") or []:
        key, _, value = str(constraint).replace(" ", "").partition("==")
        if key == "node.id":
            return value
    return None


def _node_trouble(service: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> str | None:
    """Why the node a service is pinned to cannot run it now, in words."""
    node_id = pinned_node(service)
    if node_id is None or not nodes:
        return None
    node = nodes.get(node_id)
    if node is None:
        return f"its data is on node {node_id[:12]}, which left the Swarm"
    state, availability = str(node.get("Status", "")).lower(), str(node.get("Availability", ""))
    where = f"its data is on node {node.get('Hostname') or '?'} ({node_id[:12]})"
    if state != "ready":
        return f"{where}, which is {state or 'unknown'}"
    if availability.lower() != "active":
        return f"{where}, which is {'drained' if availability.lower() == 'drain' else 'paused'}"
    return None


# What docker says of a service or task gone between its listing and its inspection
# (the Swarm prunes a service's old tasks as it replaces them): gone, not an error.
GONE_MEANWHILE = re.compile(r"no such|\btask \w+ not found", re.IGNORECASE)


def _documents(part: str) -> list[dict[str, Any]]:
    found = []
    for line in part.splitlines():
        if line.startswith("{"):
            found.append(json.loads(line))
        elif line.strip() and not GONE_MEANWHILE.search(line):
            raise ValueError(
                line.strip().removeprefix("Error: ").removeprefix("Error response from daemon: ")
            )
    return found


def _state_of(service: dict[str, Any], tasks: list[dict[str, Any]]) -> ServiceState:
    spec = service["Spec"]
    labels = spec.get("Labels") or {}
    replicas = int(((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
    newest = sorted(tasks, key=lambda t: t.get("UpdatedAt") or t.get("CreatedAt") or "")
    running = _wanted_and(newest, "running")
    ended = [t for t in newest if (t.get("Status") or {}).get("State") in ("failed", "rejected")]
    with_error = [t for t in ended if t["Status"].get("Err")]
    waiting = _wanted_and(newest, "pending")
    return ServiceState(
        name=spec["Name"], installation=labels.get("tomo.installation", ""),
        replicas=replicas, running=len(running),
        error=with_error[-1]["Status"]["Err"] if with_error else None,
        pending=waiting[-1]["Status"].get("Err") if waiting else None,
        since=running[-1]["Status"].get("Timestamp") if running else None,
        kept_replicas=int(labels.get(REPLICAS_LABEL, replicas or 1)),
        task_ids=frozenset(str(t.get("ID")) for t in running),
        alive=sum((t.get("Status") or {}).get("State") in ALIVE for t in tasks),
        failed_ids=frozenset(str(t.get("ID")) for t in with_error),
        update_state=(service.get("UpdateStatus") or {}).get("State"),
        update_id=labels.get("tomo.update"),
    )  # fmt: skip


def _wanted_and(tasks: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    """The tasks meant to run that are in `state` now."""
    wanted = [t for t in tasks if t.get("DesiredState") == "running"]
    return [t for t in wanted if (t.get("Status") or {}).get("State") == state]


async def service_states(
    docker: Docker, names: list[str], *, nodes: bool = False
) -> dict[str, ServiceState]:
    """The named services that exist, with their tasks (and, with `nodes`, whether
    the node each is pinned to can run it: ServiceState.node_trouble): one command."""
    sudo = "yes" if docker.target.use_sudo else "no"
    out = await docker.ssh.run(docker.target, ["sh", "-c", STATE_SCRIPT, "tomo-swarm", sudo,
                                               "yes" if nodes else "no", *names])  # fmt: skip
    try:
        return parse_states(out.stdout)
    except ValueError as exc:
        raise RemoteError(docker.server, f"the Swarm could not be read: {exc}") from None


def status_of(
    names: dict[str, str], states: dict[str, ServiceState]
) -> tuple[InstallationStatus, str | None]:
    """One status for an installation's services (service -> Swarm service name)."""
    notes = []
    statuses = set()
    for service, name in names.items():
        state = states.get(name)
        said = f"{service}: " if len(names) > 1 else ""  # which one, of several
        if state is None:
            statuses.add(InstallationStatus.MISSING)
            notes.append(f"{said}the Swarm service is gone (removed outside tomo?)")
        elif state.replicas == 0:
            statuses.add(InstallationStatus.STOPPED)
        elif not state.up:
            statuses.add(InstallationStatus.ERROR)
            why = state.node_trouble or state.pending or state.error or "starting"
            notes.append(f"{said}{state.running}/{state.replicas} running ({why})")
        else:
            statuses.add(InstallationStatus.RUNNING)
    for worst in (InstallationStatus.MISSING, InstallationStatus.ERROR):
        if worst in statuses:
            return worst, "; ".join(notes)
    if statuses == {InstallationStatus.STOPPED}:
        return InstallationStatus.STOPPED, None
    if InstallationStatus.STOPPED in statuses:
        stopped = [s for s, n in names.items() if states[n].replicas == 0]
        return InstallationStatus.ERROR, f"stopped: {', '.join(stopped)}"
    return InstallationStatus.RUNNING, None


async def scale(docker: Docker, names: list[str], replicas: int | None) -> None:
    """Scale the services to `replicas`, or (None) back to what each had when stopped.
    The count to come back to is kept on the service itself (REPLICAS_LABEL)."""
    states = await service_states(docker, names)
    for name in names:
        state = states.get(name)
        if state is None:
            raise RemoteError(docker.server, f"the Swarm service {name} is gone")
        wanted = state.kept_replicas if replicas is None else replicas
        argv = ["service", "update", "--detach", "--replicas", str(wanted)]
        if replicas == 0 and state.replicas > 0:
            argv += ["--label-add", f"{REPLICAS_LABEL}={state.replicas}"]
        await docker.run([*argv, name])


async def restart(docker: Docker, names: list[str]) -> None:
    for name in names:
        await docker.run(["service", "update", "--detach", "--force", name])


async def remove_service(docker: Docker, name: str, installation_id: str) -> list[str]:
    """Remove one of this installation's services and wait until its tasks are gone
    (its network can only go then); another's namesake is kept."""
    state = (await service_states(docker, [name])).get(name)
    if state is None:
        return []
    if state.installation != installation_id:
        return [f"kept Swarm service '{name}' (it is not this installation's)"]
    await docker.run(["service", "rm", name])
    deadline = time.monotonic() + GONE_SECONDS
    while await task_containers(docker, name):
        if time.monotonic() > deadline:
            break  # its network's removal says what still uses it
        await asyncio.sleep(POLL_SECONDS)
    return [f"removed Swarm service '{name}'"]


async def wait_until_up(
    docker: Docker, names: list[str], within: float, stable: float,
    before: dict[str, ServiceState] | None = None,
) -> dict[str, ServiceState]:  # fmt: skip
    """Every service's tasks running (healthy where a check exists: Swarm holds a task
    in `starting` until then), none of those running `before` (a restart replaces
    them), and still so `stable` seconds later; else InstallFailed with Docker's
    reason. A task that fails from now on fails the wait at once (the Swarm would
    retry it without end), and so does one that cannot be placed for PENDING_GRACE."""
    before = before or {}
    replaced = frozenset(i for s in before.values() for i in s.task_ids)
    started = time.monotonic()
    up_since: float | None = None
    pending_since: float | None = None
    while True:
        states = await service_states(docker, names)
        pending_since = (pending_since or time.monotonic()) if _pending(states) else None
        problem = _failing(names, states, before, pending_since)
        if problem and pending_since is not None:  # why it waits: its node, if that is it
            states = await service_states(docker, names, nodes=True)
            problem = _failing(names, states, before, pending_since) or problem
        if problem:
            raise InstallFailed(problem)
        if all(states[n].up and not states[n].task_ids & replaced for n in names):
            up_since = up_since or time.monotonic()
            if time.monotonic() - up_since >= stable:
                return states
        else:
            up_since = None
        if time.monotonic() - started > within:
            waiting = [f"{n}: {states[n].running}/{states[n].replicas} running" for n in names
                       if not states[n].up]  # fmt: skip
            waiting = waiting or ["the tasks before it still run"]
            raise InstallFailed(f"not running within {within:g}s ({'; '.join(waiting)})")
        await asyncio.sleep(POLL_SECONDS)


def _pending(states: dict[str, ServiceState]) -> bool:
    return any(state.pending for state in states.values())


def _failing(
    names: list[str], states: dict[str, ServiceState], before: dict[str, ServiceState],
    pending_since: float | None,
) -> str | None:  # fmt: skip
    for name in names:
        state = states.get(name)
        if state is None:
            return f"the Swarm service {name} disappeared"
        waited = pending_since is not None and time.monotonic() - pending_since >= PENDING_GRACE
        if state.pending and waited:
            trouble = f" ({state.node_trouble})" if state.node_trouble else ""
            return f"{name} cannot be placed on any node: {state.pending}{trouble}"
        earlier = before[name].failed_ids if name in before else frozenset()
        if state.error and state.failed_ids - earlier and not state.up:
            return f"{name}'s task failed: {state.error}"
    return None


async def wait_until_stopped(docker: Docker, names: list[str], within: float) -> None:
    """No task of the services running any more."""
    deadline = time.monotonic() + within
    while any(s.alive for s in (await service_states(docker, names)).values()):
        if time.monotonic() > deadline:
            raise RemoteError(docker.server, f"the tasks of {', '.join(names)} still run "
                                             f"after {within:g}s")  # fmt: skip
        await asyncio.sleep(POLL_SECONDS)


async def change(docker: Docker, verb: str, names: list[str], within: float, stable: float) -> str:
    """start, stop or restart the services (`names` in start order), and wait until
    the Swarm has done it. One service at a time, as on one host: each started once
    those before it run (what it needs is among them), stopped the other way round."""
    if verb == "stop":
        for name in reversed(names):
            await scale(docker, [name], 0)
            await wait_until_stopped(docker, [name], within)
        return "scaled to 0"
    try:
        for name in names:
            before = (await service_states(docker, [name])).get(name)
            if verb == "start":
                await scale(docker, [name], None)
            else:
                await restart(docker, [name])
            if before is not None and verb == "start":  # its stopped tasks are not replaced
                before = dataclasses.replace(before, task_ids=frozenset())
            await wait_until_up(docker, [name], within, 0, {name: before} if before else None)
        states = await wait_until_up(docker, names, within, stable)
    except InstallFailed as exc:  # the app is not up: the server's fault, not an install's
        raise RemoteError(docker.server, exc.message) from None
    return "; ".join(f"{n}: {states[n].running}/{states[n].replicas} running" for n in names)


async def task_containers(docker: Docker, name: str) -> list[str]:
    """The ids of the containers of a service's tasks on the node tomo reaches."""
    filters = ["--filter", f"label=com.docker.swarm.service.name={name}"]
    return (
        await docker.run(["container", "ls", "--all", "--quiet", "--no-trunc", *filters])
    ).split()


async def until_rolled_back(docker: Docker, name: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        state = (await service_states(docker, [name])).get(name)
        if state is None or state.update_state in ROLLED_BACK:
            return
        await asyncio.sleep(POLL_SECONDS)


async def roll_back(docker: Docker, name: str, update: str, installation_id: str) -> list[str]:
    """The previous spec back, if the one there is this update's (the Swarm may have
    put it back itself): undoing an update of an app's services."""
    state = (await service_states(docker, [name])).get(name)
    if state is None or state.installation != installation_id or state.update_id != update:
        return []
    await docker.run(["service", "rollback", "--detach", name])
    deadline = time.monotonic() + 120
    await until_rolled_back(docker, name, deadline)
    after = (await service_states(docker, [name])).get(name)
    if after is None or after.update_id == update:
        raise RemoteError(docker.server, f"the Swarm did not put {name}'s previous version back")
    return [f"put the previous version of Swarm service '{name}' back"]
