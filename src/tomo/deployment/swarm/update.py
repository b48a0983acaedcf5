"""Updating an app on a Swarm: a rolling update of each service that the Swarm
rolls back by itself when the new task fails (`--update-failure-action rollback`,
watched for the stable window), tomo waiting for the update's end to say which way
it went. A service already updated when a later one fails is rolled back too (its
journal entry), so the app runs the previous version whole or the new one whole.

Each service's spec is replaced field by field (`docker service update` takes
additions and removals): the image, the environment, ports, mounts, placement and
how it runs. A changed secret value travels on stdin into the Docker CLI's own
environment (`--env-add NAME` reads it there), never on a command line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import shlex
import time
from typing import Any

from tomo.deployment.app_spec import AppSpec
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.remote import Docker
from tomo.deployment.spec import ContainerSpec, health_options, run_arguments
from tomo.deployment.steps import WaitLimits
from tomo.deployment.swarm.install import create_secrets
from tomo.deployment.swarm.secrets import SwarmSecret
from tomo.deployment.swarm.services import (
    POLL_SECONDS,
    REPLICAS_LABEL,
    RESTART_CONDITION,
    ROLLED_BACK,
    UPDATE_LABEL,
    ServiceState,
    fields,
    mount_value,
    mount_values,
    pinned,
    published,
    replicas_of,
    resource_options,
    service_states,
    until_rolled_back,
    wait_until_up,
)
from tomo.errors import InstallFailed, PreflightFailed, Refusal

# Exports each `NAME=value` line of stdin, then runs the rest: the values reach the
# Docker CLI's environment, where `--env-add NAME` reads them, and no command line.
ENV_FROM_STDIN = 'while IFS= read -r line; do export "$line" || exit 3; done; exec "$@"'
SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


async def current_specs(docker: Docker, names: list[str]) -> dict[str, dict[str, Any]]:
    """name -> Spec of the services there are."""
    argv = ["service", "inspect", "--format", "{{json .Spec}}", *names]
    result = await docker.ssh.run_docker(docker.target, argv, check=False)
    specs = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return {spec["Name"]: spec for spec in specs}


def update_problems(
    app: AppSpec, current: dict[str, dict[str, Any]], use_sudo: bool
) -> list[Refusal]:
    """What an update of these services cannot do on a Swarm."""
    wanted, there = {c.name for c in app.containers}, set(current)
    problems = []
    if wanted != there:
        added, gone = sorted(wanted - there), sorted(there - wanted)
        said = "; ".join([*(f"adds {', '.join(added)}" for _ in added[:1]),
                          *(f"lacks {', '.join(gone)}" for _ in gone[:1])])  # fmt: skip
        problems.append(Refusal(
            f"the new version has other services than the Swarm runs ({said})",
            hint="uninstall it keeping its data, then install it again"))  # fmt: skip
    for container in app.containers:
        changed = _secrets_changed(container, current.get(container.name))
        unsafe = [n for n in changed if use_sudo or not SHELL_NAME.fullmatch(n)]
        if unsafe:
            problems.append(Refusal(
                f"{container.name}: the new value of {', '.join(unsafe)} could only reach the "
                "Swarm on a command line on the manager", ("env",),
                "keep its value, or install the app again with it"))  # fmt: skip
    return problems


def _env_of(spec: dict[str, Any] | None) -> dict[str, str]:
    listed = (((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Env")
    return dict(item.partition("=")[::2] for item in listed or [])


def _secrets_changed(container: ContainerSpec, spec: dict[str, Any] | None) -> list[str]:
    before = _env_of(spec)
    return [k for k, v in container.secret_env.items() if before.get(k) != v]


def update_argv(
    spec: ContainerSpec, old: dict[str, Any], node_id: str | None, update_id: str,
    monitor: float,
) -> tuple[list[str], str]:  # fmt: skip
    """`docker service update` replacing `old` with `spec`, and what goes on stdin
    (the changed secret values, as `NAME=value` lines)."""
    task = old.get("TaskTemplate") or {}
    container = task.get("ContainerSpec") or {}
    argv = ["service", "update", "--detach", "--no-resolve-image", "--image", spec.image,
            "--update-failure-action", "rollback", "--update-monitor", f"{max(monitor, 1):g}s",
            "--update-order", "stop-first",
            "--container-label-add", f"{UPDATE_LABEL}={update_id}",
            "--label-add", f"{UPDATE_LABEL}={update_id}",
            "--restart-condition", RESTART_CONDITION.get(spec.restart_policy, "any"),
            "--args", shlex.join(run_arguments(spec)),
            "--user", spec.user or "", "--workdir", spec.working_dir or "",
            f"--read-only={'true' if spec.read_only else 'false'}"]  # fmt: skip
    for key, value in spec.labels.items():
        argv += ["--label-add", f"{key}={value}", "--container-label-add", f"{key}={value}"]
    env, stdin = _env_changes(spec, _env_of(old))
    argv += env
    argv += _ports_changed(old, spec)
    argv += _mounts_changed(container, spec)
    constraints = (task.get("Placement") or {}).get("Constraints") or []
    argv += _changed([c for c in constraints if c.startswith("node.id==")], "--constraint-rm",
                     [f"node.id=={node_id}"] if pinned(spec) and node_id else [],
                     "--constraint-add")  # fmt: skip
    argv += _changed(_secrets_of(old), "--secret-rm", [], "")  # new ones: always new names
    argv += [arg for name, target in spec.swarm_secrets
             for arg in ("--secret-add", fields(f"source={name}", f"target={target}"))]  # fmt: skip
    sysctls = container.get("Sysctls") or {}
    argv += _changed(list(sysctls), "--sysctl-rm", list(spec.sysctls), "")
    argv += [arg for k, v in spec.sysctls.items() if sysctls.get(k) != v
             for arg in ("--sysctl-add", f"{k}={v}")]  # fmt: skip
    argv += _how_it_runs(spec, container)
    argv += _replicas_changed(old, spec)
    return argv, "".join(f"{line}\n" for line in stdin)


def _replicas_changed(old: dict[str, Any], spec: ContainerSpec) -> list[str]:
    """The new version's count of tasks: a running service's set, a stopped one's
    kept for its start (services.REPLICAS_LABEL)."""
    running = int(((old.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
    wanted = replicas_of(spec)
    if running == 0:
        return ["--label-add", f"{REPLICAS_LABEL}={wanted}"]
    return ["--replicas", str(wanted)] if running != wanted else []


def _env_changes(spec: ContainerSpec, before: dict[str, str]) -> tuple[list[str], list[str]]:
    """--env-rm for what went, --env-add for what is new or changed (a secret's value
    by name only: its value goes on stdin)."""
    argv = []
    for key in before:
        if key not in spec.all_env:
            argv += ["--env-rm", key]
    stdin = []
    for key, value in spec.all_env.items():
        if before.get(key) == value:
            continue
        if key in spec.secret_env:
            argv += ["--env-add", key]
            stdin.append(f"{key}={value}")
        else:
            argv += ["--env-add", f"{key}={value}"]
    return argv, stdin


def _changed(old: list[str], remove: str, new: list[str], add: str) -> list[str]:
    """What went removed and what is new added, nothing else: Docker applies a
    removal to what the same command adds too, and skips an addition it has."""
    return [*(arg for value in old if value not in new for arg in (remove, value)),
            *(arg for value in new if value not in old for arg in (add, value))]  # fmt: skip


def _ports_changed(old: dict[str, Any], spec: ContainerSpec) -> list[str]:
    """Ports as whole entries (a removal matches its target, protocol and mode)."""
    ports = (old.get("EndpointSpec") or {}).get("Ports") or []
    before = [fields(f"mode={p.get('PublishMode', 'ingress')}", f"published={p['PublishedPort']}",
                     f"target={p['TargetPort']}", f"protocol={p.get('Protocol', 'tcp')}")
              for p in ports]  # fmt: skip
    wanted = [published(p, spec.publish_mode) for p in spec.ports]
    return _changed(before, "--publish-rm", wanted, "--publish-add")


def _mounts_changed(container: dict[str, Any], spec: ContainerSpec) -> list[str]:
    """Mounts by target: one added replaces the one at its target, one removed is a
    target nothing is mounted at any more."""
    before = {m["Target"]: mount_value(m.get("Type", "bind"), m.get("Source", ""), m["Target"],
                                       bool(m.get("ReadOnly")))
              for m in container.get("Mounts") or []}  # fmt: skip
    after = mount_values(spec)
    targets = {target for target, _ in after}
    return [*(arg for target in before if target not in targets for arg in ("--mount-rm", target)),
            *(arg for target, value in after if before.get(target) != value
              for arg in ("--mount-add", value))]  # fmt: skip


def _how_it_runs(spec: ContainerSpec, container: dict[str, Any]) -> list[str]:
    """Entrypoint, health check, capabilities, stopping and limits, each set or taken
    back."""
    argv = ["--entrypoint", shlex.quote(spec.entrypoint[0]) if spec.entrypoint else ""]
    argv += resource_options(spec)
    if spec.health is not None and spec.health.test is not None:
        argv += health_options(spec.health)
    elif (container.get("Healthcheck") or {}).get("Test"):
        argv += ["--health-cmd", ""]  # back to the image's own
    for capability in spec.capabilities:
        argv += ["--cap-add", capability]
    for capability in spec.cap_drop:
        argv += ["--cap-drop", capability]
    if spec.stop_signal:
        argv += ["--stop-signal", spec.stop_signal]
    if spec.stop_timeout is not None:
        argv += ["--stop-grace-period", f"{spec.stop_timeout}s"]
    return argv


async def preflight(docker: Docker, app: AppSpec) -> dict[str, dict[str, Any]]:
    """The services' current specs, or PreflightFailed with what cannot be updated."""
    current = await current_specs(docker, [c.name for c in app.containers])
    problems = update_problems(app, current, docker.target.use_sudo)
    if problems:
        raise PreflightFailed(docker.server, problems)
    return current


async def update_services(
    docker: Docker, app: AppSpec, job: JobRecorder, current: dict[str, dict[str, Any]],
    node_id: str | None, limits: WaitLimits, secrets: list[SwarmSecret],
) -> tuple[str, list[str]]:  # fmt: skip
    """Each service updated in start order, each journaled first and waited for: the
    main service's id, and the Swarm secrets the previous version used (they go once
    the update is committed)."""
    await create_secrets(docker, app, job, secrets)
    for container in app.containers:
        name = container.name
        before = (await service_states(docker, [name]))[name]
        job.journal.undo.append({"roll_back_service": {"name": name, "update": job.job_id}})
        await job.save_journal()
        argv, stdin = update_argv(container, current[name], node_id, job.job_id, limits.stable)
        command = [*(["sh", "-c", ENV_FROM_STDIN, "tomo-env"] if stdin else []),
                   *_docker(docker), *argv, name]  # fmt: skip
        await docker.ssh.run(docker.target, command, stdin=stdin or None)
        await wait_for_update(docker, name, before, limits.timeout, limits.stable)
    ids = await docker.run(["service", "inspect", "--format", "{{.ID}}", app.name])
    return ids.strip(), [name for spec in current.values() for name in _secrets_of(spec)]


def _secrets_of(spec: dict[str, Any]) -> list[str]:
    """The names of the Swarm secrets a service's spec gives its tasks."""
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    return [str(secret["SecretName"]) for secret in container.get("Secrets") or []]


def _docker(docker: Docker) -> list[str]:
    return ["sudo", "-n", "docker"] if docker.target.use_sudo else ["docker"]


async def wait_for_update(
    docker: Docker, name: str, before: ServiceState, within: float, stable: float
) -> None:
    """Until the Swarm has finished the update: new tasks up (and still so `stable`
    seconds on), or rolled back (InstallFailed, with the new task's error)."""
    deadline = time.monotonic() + within + stable
    while True:
        state = (await service_states(docker, [name])).get(name)
        if state is None:
            raise InstallFailed(f"the Swarm service {name} disappeared during its update")
        if state.update_state in ROLLED_BACK or state.update_state == "rollback_started":
            await until_rolled_back(docker, name, deadline)
            after = (await service_states(docker, [name])).get(name, state)
            runs = await _up_again(docker, name, after, within, stable)
            why = f" ({state.error})" if state.error else ""
            raise InstallFailed(f"{name}: the new version did not keep running{why}; the "
                                f"Swarm put the previous one back{runs}")  # fmt: skip
        if state.update_state == "completed" and state.up and not state.task_ids & before.task_ids:
            await wait_until_up(docker, [name], within, stable, {name: before})
            return
        if time.monotonic() > deadline:
            raise InstallFailed(f"{name}: the update did not end within {within:g}s "
                                f"(Docker says: {state.update_state or 'nothing'})")  # fmt: skip
        await asyncio.sleep(POLL_SECONDS)


async def _up_again(
    docker: Docker, name: str, failed: ServiceState, within: float, stable: float
) -> str:
    """ "" once the previous version's task runs again; else what is wrong, as the end
    of a sentence. The new version's failures are not the previous one's. Docker
    20.10 can leave the task it puts back `ready` behind one of the new version's that
    never started (seen in tests): one forced update starts it afresh."""
    seen = {name: dataclasses.replace(failed, task_ids=frozenset())}
    for nudge in (False, True):
        if nudge:
            await docker.run(["service", "update", "--detach", "--force", name])
        try:
            await wait_until_up(docker, [name], within / 2, stable, seen)
        except InstallFailed as exc:
            problem = exc.message
        else:
            return ""
    return f", but it does not run ({problem})"
