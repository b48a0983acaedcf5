"""The steps that put a container on a server, and the rollback when one fails.

validate → preflight → pull → create (data dirs, env file, docker run) → wait.
Anything created after the pull by this attempt is removed again on failure:
the container, the env file, and the directories this attempt made (only
those, and only when empty).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from tomo.deployment.jobs import JobRecorder
from tomo.deployment.remote import ContainerState, Docker
from tomo.deployment.spec import ContainerSpec, build_docker_run_command, env_file_content
from tomo.errors import InstallFailed, PreflightFailed, RemoteError
from tomo.marketplace.definition import AppDefinition
from tomo.servers.facts import ServerFacts, gather_facts

POLL_SECONDS = 0.1


@dataclass
class Created:
    """What one attempt made on the server, so a failure can take it back."""

    dirs: list[str] = field(default_factory=list)
    env_file: str | None = None
    container: str | None = None


@dataclass
class Preflight:
    definition: AppDefinition
    spec: ContainerSpec
    data_root: str
    claimed_ports: set[tuple[int, str]]  # by other installations on this server


async def preflight(docker: Docker, check: Preflight) -> ServerFacts:
    """Every problem that would make the install fail, reported together."""
    facts = await gather_facts(docker.ssh, docker.target, check.data_root)
    if facts.docker_access == "no":
        raise PreflightFailed(f"{docker.target.name}: {facts.docker_problem}")
    problems = _host_problems(check.definition, facts)
    if facts.data_root_writable is False and (check.spec.owned_dirs or check.spec.secret_env):
        problems.append(
            f"the data root {check.data_root} is not writable by user "
            f"'{docker.target.username}' (create it and give it to that user, or choose "
            f"another with `tomo server update {docker.target.name} --data-root PATH`)"
        )
    used, name_taken = await asyncio.gather(
        docker.used_ports(), docker.container_exists(check.spec.name)
    )
    for port in check.spec.ports:
        key = (port.host, port.protocol)
        if key in check.claimed_ports:
            problems.append(
                f"host port {port.host}/{port.protocol} is claimed by another installation"
            )
        elif key in used:
            problems.append(
                f"host port {port.host}/{port.protocol} is already in use on the server"
            )
    if name_taken:
        problems.append(f"a container named '{check.spec.name}' already exists on the server")
    if problems:
        raise PreflightFailed(f"{docker.target.name}: " + "; ".join(problems))
    return facts


def _host_problems(definition: AppDefinition, facts: ServerFacts) -> list[str]:
    needs = definition.requirements
    problems = []
    if needs.architectures and facts.architecture not in needs.architectures:
        problems.append(f"architecture {facts.architecture} is not among the app's "
                        f"{', '.join(needs.architectures)}")  # fmt: skip
    if (
        needs.min_ram
        and facts.memory_total_mb is not None
        and facts.memory_total_mb < needs.min_ram
    ):
        problems.append(f"the app needs {needs.min_ram} MB of memory, the server has "
                        f"{facts.memory_total_mb} MB")  # fmt: skip
    free = facts.disk_free_mb
    if needs.min_storage and free is not None and free < needs.min_storage:
        problems.append(f"the app needs {needs.min_storage} MB of disk, {free} MB are free")
    return problems


async def pull(docker: Docker, recorder: JobRecorder, image: str) -> None:
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Task[None]] = []

    def progress(done: int, total: int) -> None:
        pending.append(loop.create_task(recorder.progress(done, total)))

    try:
        await docker.pull(image, progress)
    except RemoteError as exc:
        raise InstallFailed(f"pulling {image} failed: {exc.message}") from None
    finally:
        await asyncio.gather(*pending, return_exceptions=True)


async def create(
    docker: Docker, spec: ContainerSpec, publish_address: str, created: Created
) -> str:
    await docker.make_dirs(spec.owned_dirs, created.dirs)
    if spec.secret_env:
        await docker.write_private_file(spec.env_file, env_file_content(spec))
        created.env_file = spec.env_file
    argv = build_docker_run_command(spec, publish_address)
    result = await docker.ssh.run_docker(docker.target, argv, check=False)
    if result.exit_code != 0:
        # docker may have created the container before failing to start it.
        created.container = spec.name
        lines = [line for line in result.stderr.strip().splitlines()
                 if line.strip() and not line.startswith("Run 'docker run --help'")]  # fmt: skip
        raise InstallFailed(f"docker run failed: {' | '.join(lines[-3:]) or 'no output'}")
    created.container = result.stdout.strip()
    return created.container


async def wait_until_up(
    docker: Docker,
    spec: ContainerSpec,
    definition: AppDefinition,
    time_limit: float,
    settle: float = 0.3,
) -> str:
    """Running (and healthy where checked) within the limit, and still up, never
    restarted, `settle` seconds later (a container that dies at once is caught
    by Docker's restart count or its exit); else the log tail."""
    deadline = time.monotonic() + time_limit
    up_since: float | None = None
    while True:
        state = await docker.state(spec.name)
        verdict = await _judge(docker, spec, definition, state)
        if verdict is None and up_since is None:
            up_since = time.monotonic()
        if verdict is not None:
            up_since = None
            if verdict.startswith("failed:"):
                raise InstallFailed(await _with_logs(docker, spec.name, verdict[8:]))
        elif time.monotonic() - up_since >= settle:  # type: ignore[operator]
            return "healthy" if _has_health(state, definition) else "running"
        if time.monotonic() > deadline:
            reason = verdict or "did not settle"
            raise InstallFailed(await _with_logs(
                docker, spec.name, f"not up within {time_limit:g}s ({reason})"
            ))  # fmt: skip
        await asyncio.sleep(POLL_SECONDS)


async def _judge(
    docker: Docker, spec: ContainerSpec, definition: AppDefinition, state: ContainerState | None
) -> str | None:
    """None when the container looks up; 'failed: …' when it never will; else why not yet."""
    if state is None:
        return "failed: the container disappeared"
    if state.status in ("exited", "dead"):
        return f"failed: the container exited with code {state.exit_code}"
    if state.restart_count > 0 or state.status == "restarting":
        return f"failed: the container keeps restarting (restarted {state.restart_count} times)"
    if state.status != "running":
        return f"container is {state.status}"
    if state.health == "unhealthy":
        return "failed: the image's health check reports unhealthy"
    if state.health == "starting":
        return "the image's health check is starting"
    return await _probe(docker, spec, definition, state.pid)


async def _probe(
    docker: Docker, spec: ContainerSpec, definition: AppDefinition, pid: int
) -> str | None:
    """The definition's health check, from the server itself: an HTTP request to the
    published port, or for TCP, a listening socket inside the container."""
    check = definition.docker.healthcheck
    if check is None:
        return None
    if check.protocol == "tcp":
        return await _probe_tcp(docker, spec, check.port, pid)
    port = next((p for p in spec.ports if p.container == (check.port or p.container)), None)
    host_port = port.host if port else check.port
    if host_port is None:
        return None
    url = f"{check.protocol}://127.0.0.1:{host_port}{check.endpoint}"
    code = await docker.http_probe(url)
    if code in (0, 127):  # 127: no curl or wget on the server, nothing to check with
        return None
    return f"health check {url} does not answer yet"


async def _probe_tcp(docker: Docker, spec: ContainerSpec, port: int | None, pid: int) -> str | None:
    tcp_ports = [p.container for p in spec.ports if p.protocol == "tcp"]
    container_port = port or (tcp_ports[0] if tcp_ports else None)
    if container_port is None or not pid:
        return None
    if await docker.listens_in_container(pid, container_port) in (0, 127):
        return None
    return f"health check: nothing listens on {container_port}/tcp in the container yet"


def _has_health(state: ContainerState | None, definition: AppDefinition) -> bool:
    return bool(state and state.health) or definition.docker.healthcheck is not None


async def _with_logs(docker: Docker, container: str, reason: str) -> str:
    lines = [line for line in (await docker.logs_tail(container, 5)).splitlines() if line.strip()]
    return f"{reason}; last log lines: {' | '.join(lines)}" if lines else f"{reason}; no log output"


async def roll_back(docker: Docker, created: Created) -> None:
    """Remove what this attempt created; never anything else."""
    if created.container:
        await docker.remove_container(created.container, with_volumes=True)
    if created.env_file:
        await docker.remove_paths([created.env_file])
    await docker.remove_empty_dirs(created.dirs)
