"""The steps that put a container on a server: preflight, pull, create, wait.

Each change `create` makes is written in the job's journal before it is made,
with the action that takes it back (see journal.py), so a failure, an
interruption or a restart after tomo died can undo exactly what this attempt
made: the container, the env file, and the directories it created (only those,
and only when empty).
"""

from __future__ import annotations

import asyncio
import io
import posixpath
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tomo.deployment.app_spec import AppSpec, ShippedFile, container_names, network_name
from tomo.deployment.jobs import JobRecorder
from tomo.deployment.remote import ContainerState, Docker, Survey
from tomo.deployment.spec import (
    ContainerSpec,
    Mount,
    PublishedPort,
    build_docker_run_command,
    build_hook_command,
    env_file_content,
    host_mounts,
    risk_problem,
)
from tomo.deployment.suggestions import free_name, free_port, name_in_use
from tomo.errors import InstallFailed, PreflightFailed, Refusal, RemoteError
from tomo.marketplace.definition import AppDefinition, AppHook, HealthCheck
from tomo.marketplace.risk import HostMount, nested_mount_risks, volume_risks
from tomo.servers.facts import ServerFacts

POLL_SECONDS = 0.1


@dataclass
class Preflight:
    definition: AppDefinition
    app: AppSpec
    data_root: str
    claimed_ports: set[tuple[int, str]]  # by other installations on this server
    # The folders other installations on this server mount (see mount_problems).
    others: list[HostMount] = field(default_factory=list)
    # The names of the other installations on this server (see name_problems).
    taken_names: set[str] = field(default_factory=set)


def every_mount(app: AppSpec) -> list[tuple[ContainerSpec, Mount]]:
    """Every bind mount of every container: tomo's own folders and the user's paths."""
    return [(c, m) for c in app.containers for m in c.mounts]


def survey_paths(app: AppSpec) -> list[str]:
    """The paths a preflight resolves: the instance folder, then every mount's source."""
    return [app.instance_dir, *(m.host_path for _, m in every_mount(app))]


def uses_gpus(app: AppSpec) -> bool:
    return any(c.gpus for c in app.containers)


def devices_of(app: AppSpec) -> list[str]:
    """The host side of every device the containers ask for."""
    return list(dict.fromkeys(d.split(":")[0] for c in app.containers for d in c.devices))


async def preflight(docker: Docker, check: Preflight) -> ServerFacts:
    """Every problem that would make the install fail, reported together; the server
    is asked once (see remote.SURVEY_SCRIPT)."""
    seen = await docker.survey(check.data_root, survey_paths(check.app), devices_of(check.app),
                               runtimes=uses_gpus(check.app))  # fmt: skip
    facts = seen.facts
    if facts.docker_access == "no":
        raise PreflightFailed(docker.server, [facts.docker_problem or "Docker cannot be used"])
    problems = [Refusal(text) for text in _host_problems(check.definition, facts)]
    if facts.data_root_writable is False:
        problems.append(Refusal(
            f"the data root {check.data_root} is not writable by user "
            f"'{docker.target.username}'", hint="create it and give it to that user, or "
            f"choose another with `tomo server update {docker.server} --data-root PATH`",
            page_hint="create it and give it to that user, or choose another data root on "
            "the server's Edit page",
        ))  # fmt: skip
    problems += device_problems(check.app, seen)
    problems += mount_problems(check.app, seen, check.data_root, check.others)
    problems += port_problems(check, seen.used_ports)
    problems += await name_problems(docker, check, seen)
    made_here = {c.name for c in check.app.containers}  # a sibling's network is fine
    for container in check.app.containers:
        problems += _network_problems(container, seen.containers | made_here)
    if problems:
        raise PreflightFailed(docker.server, problems)
    return facts


def device_problems(app: AppSpec, seen: Survey) -> list[Refusal]:
    """Devices the server lacks, and GPUs asked of a Docker without NVIDIA's runtime."""
    problems = [Refusal(f"device {device} does not exist on the server")
                for device in seen.missing_devices]  # fmt: skip
    runtimes = seen.facts.docker_runtimes
    if uses_gpus(app) and "nvidia" not in (runtimes or []):
        known = f" (it has: {', '.join(runtimes)})" if runtimes else ""
        problems.append(Refusal(
            f"the app uses the server's NVIDIA GPUs, but Docker there has no NVIDIA runtime"
            f"{known}: install the NVIDIA Container Toolkit and run `nvidia-ctk runtime "
            "configure --runtime=docker`, then restart Docker"))  # fmt: skip
    return problems


def port_problems(check: Preflight, used: set[tuple[int, str]]) -> list[Refusal]:
    """Host ports taken; the main container's name their field (`ports[i]`, in the
    definition's order) and offer a free port instead (one the user can choose)."""
    problems = []
    taken = check.claimed_ports | used | {(p.host, p.protocol) for _, _, p in _published(check)}
    for container, index, port in _published(check):
        key = (port.host, port.protocol)
        main = container.name == check.app.name
        fields = (f"ports[{index}]",) if main else ("ports",)
        if key in check.claimed_ports:
            text = f"host port {port.host}/{port.protocol} is claimed by another installation"
        elif key in used:
            text = f"host port {port.host}/{port.protocol} is already in use on the server"
        else:
            continue
        offered = free_port(port.host, port.protocol, taken) if main else None
        if offered is not None:
            taken.add((offered, port.protocol))  # offered once: two conflicts, two ports
        problems.append(Refusal(text, fields, suggestion=str(offered or "")))
    return problems


def _published(check: Preflight) -> list[tuple[ContainerSpec, int, PublishedPort]]:
    return [(c, index, port) for c in check.app.containers for index, port in enumerate(c.ports)]


async def name_problems(docker: Docker, check: Preflight, seen: Survey) -> list[Refusal]:
    """The instance name taken: by another installation tomo knows of, or on the
    server by a container or the app's network. Each offers one free name."""
    app = check.app
    if app.name in check.taken_names:
        found = [name_in_use(app.name, None)]
    else:
        found = [Refusal(f"a container named '{c.name}' already exists on the server", ("name",))
                 for c in app.containers if c.name in seen.containers]  # fmt: skip
        if app.network and await docker.network_owner(app.network) is not None:
            found.insert(0, Refusal(f"a network named '{app.network}' already exists on the "
                                    "server", ("name",)))  # fmt: skip
    if not found:
        return []
    offered = await _free_name(docker, check, seen) or ""
    return [replace(problem, suggestion=offered) for problem in found]


async def _free_name(docker: Docker, check: Preflight, seen: Survey) -> str | None:
    """`name-2`, `name-3`…: no installation of tomo's, no container of the server, and
    (for an app with a network of its own) no network of the server has it."""

    def known(candidate: str) -> bool:
        names = container_names(check.definition, candidate).values()
        return candidate in check.taken_names or any(n in seen.containers for n in names)

    networked: set[str] = set()  # the candidates whose network is on the server already
    for _ in range(NAME_TRIES):
        candidate = free_name(check.app.name, lambda c: c in networked or known(c))
        if candidate is None:
            return None
        network = network_name(check.definition, candidate, named=check.app.network is not None)
        if network is None or await docker.network_owner(network) is None:
            return candidate
        networked.add(candidate)
    return None


NAME_TRIES = 5  # networks asked about before no name is offered


def mount_problems(
    app: AppSpec, seen: Survey, data_root: str, others: list[HostMount]
) -> list[Refusal]:
    """The mounts as the server resolves them (Docker follows every symlink when it
    starts a container): a folder of tomo's that leads elsewhere is refused; a risk
    found only there — a link to /etc, a socket, another installation's folder, a
    folder inside one another container writes — must have been accepted too."""
    accepted = set(app.containers[0].accepted_risks) if app.containers else set()
    real_instance, *resolved = seen.resolved
    problems: list[Refusal] = []
    real_mounts = []
    for (spec, mount), real in zip(every_mount(app), resolved, strict=True):
        shown = host_mounts([mount], spec.instance_dir)[0].shown
        real_mounts.append(HostMount(shown, posixpath.normpath(real), mount.readonly))
        if mount.owned:
            expected = posixpath.join(real_instance, shown[2:])  # the data root may be a link
            if posixpath.normpath(real) != posixpath.normpath(expected):
                problems.append(Refusal(
                    f"volume {mount.container_path}: the folder {mount.host_path} leads to "
                    f"{real} on the server: a link tomo did not make, which a container may "
                    "have put there", hint="remove it, or uninstall the app with its data first",
                ))  # fmt: skip
            continue
        if mount.of_required_app:  # judged by its flag, app-data: there, or nowhere
            real_root = posixpath.dirname(real_instance)  # the data root, where it leads
            expected = posixpath.join(real_root, posixpath.relpath(mount.host_path, data_root))
            if posixpath.normpath(real) != posixpath.normpath(expected):
                problems.append(Refusal(
                    f"volume {mount.container_path}: the folder {mount.host_path} of the app "
                    f"it requires leads to {real} on the server: a link tomo did not make, "
                    "which a container of that app may have put there"))  # fmt: skip
            continue
        hidden = volume_risks(real, readonly=mount.readonly, data_root=data_root)
        if real in seen.sockets and not any("socket" in flag for flag in hidden):
            hidden.add(f"socket:{real}")  # a socket by any name (a runtime's has its flag)
        problems += _unaccepted_at(f"volume {mount.host_path} is {real} on the server",
                                   hidden - accepted)  # fmt: skip
    nested = nested_mount_risks(real_mounts, others) - accepted
    problems += _unaccepted_at("folders on the server lie inside folders containers write",
                               nested)  # fmt: skip
    return problems


def _unaccepted_at(where: str, flags: set[str]) -> list[Refusal]:
    if not flags:
        return []
    return [risk_problem(f"{where}, which carries risk flags you have not accepted",
                         sorted(flags))]  # fmt: skip


def _network_problems(spec: ContainerSpec, containers: set[str]) -> list[Refusal]:
    mode = spec.network_mode or ""
    if mode.startswith("container:") and mode[10:] not in containers:
        return [Refusal(f"network_mode {mode}: there is no container named '{mode[10:]}' on "
                        "the server")]  # fmt: skip
    return []


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
    cpus = facts.cpu_count
    if needs.min_cpu and cpus is not None and cpus < needs.min_cpu:
        problems.append(f"the app needs {needs.min_cpu:g} CPUs, the server has {cpus}")
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


async def prepare(
    docker: Docker, spec: ContainerSpec, job: JobRecorder, *, env_file_is_new: bool = True,
    undo_as: Callable[[dict[str, Any]], dict[str, Any]] = lambda action: action,
) -> None:  # fmt: skip
    """The directories and the env file, in one command; each change journaled (the
    file before it is written, the directories as the command reports them, placed
    before the file so that undoing removes the file first). Directories this
    attempt made go with what its containers wrote into them, if it is undone.
    `undo_as` records the undoing where it must run (journal.on_node)."""
    at = len(job.journal.undo)
    if spec.all_env:  # a new file goes; one rewritten (an update) is put back as it was
        undo = {"remove_files": [spec.env_file]} if env_file_is_new else {
            "put_back_file": spec.env_file}  # fmt: skip
        job.journal.undo.append(undo_as(undo))
        await job.save_journal()
    created: list[str] = []
    private = (spec.env_file, env_file_content(spec)) if spec.all_env else None
    try:
        await docker.prepare_files(spec.owned_dirs, created, private,
                                   keep_previous=not env_file_is_new)  # fmt: skip
    finally:  # the script reports what it made, even when a later part failed
        if created:
            # Nothing in them predates this attempt: undoing it removes them whole.
            job.journal.undo.insert(at, undo_as({"remove_created_dirs": {
                "instance_dir": spec.instance_dir, "dirs": created}}))  # fmt: skip
            await job.save_journal()


async def place_shipped_files(docker: Docker, app: AppSpec, job: JobRecorder) -> None:
    """The store's files, where the data directory has none yet (data kept from an
    earlier installation, or changed by the app, stays as it is); journaled like
    prepare's, so that undoing removes what was placed and the folders made for it."""
    if not app.files:
        return
    seen = await docker.look_before_placing(app.instance_dir, [f.host_path for f in app.files])
    refused = [path for path, verdict in seen.items() if verdict == "refused"]
    if refused:
        raise InstallFailed(f"{docker.server}: {refused[0]} lies in a folder that leads "
                            f"outside {app.instance_dir}; no file was placed")  # fmt: skip
    missing = [f for f in app.files if seen.get(f.host_path) == "missing"]
    if not missing:
        return
    at = len(job.journal.undo)
    job.journal.undo.append({"remove_files": [f.host_path for f in missing]})
    await job.save_journal()
    dirs = sorted({posixpath.dirname(f.host_path) for f in missing})
    created: list[str] = []
    try:
        await docker.place_files(app.instance_dir, dirs, shipped_archive(app.instance_dir, missing),
                                 created)  # fmt: skip
    finally:
        if created:
            job.journal.undo.insert(at, {"remove_created_dirs": {
                "instance_dir": app.instance_dir, "dirs": created}})  # fmt: skip
            await job.save_journal()


def shipped_archive(instance_dir: str, files: list[ShippedFile]) -> bytes:
    """A tar archive of the files, by their paths under the instance folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for shipped in files:
            info = tarfile.TarInfo(posixpath.relpath(shipped.host_path, instance_dir))
            info.size, info.mode, info.mtime = len(shipped.data), shipped.mode, int(time.time())
            info.uid, info.gid = shipped.owner or (0, 0)
            archive.addfile(info, io.BytesIO(shipped.data))
    return buffer.getvalue()


async def pull_and_prepare(
    docker: Docker, app: AppSpec, job: JobRecorder, *, env_file_is_new: bool = True
) -> None:
    """The pulls and the files overlap: neither needs the other."""

    async def pulls() -> None:
        for image in app.images:  # one at a time: they share the server's bandwidth
            await pull(docker, job, image)

    async def files() -> None:
        for container in app.containers:
            await prepare(docker, container, job, env_file_is_new=env_file_is_new)
        await place_shipped_files(docker, app, job)

    results = await asyncio.gather(pulls(), files(), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def create_containers(
    docker: Docker, app: AppSpec, publish_address: str, job: JobRecorder, limits: WaitLimits
) -> str:
    """The app's network and volumes, then each container once what it depends on
    is as it asks (started, healthy, completed). Returns the main container's id."""
    if app.network:
        await create_network(docker, app, job)
    await ensure_isolated_network(docker, app)
    for volume in app.volumes:
        await create_volume(docker, app, volume, job)
    created = {}
    for container in app.containers:
        await wait_for_dependencies(docker, app, container, limits)
        created[container.name] = await create(docker, container, publish_address, job)
    return created[app.name]


async def ensure_isolated_network(docker: Docker, app: AppSpec) -> None:
    """tomo's isolated network, when a container of the app goes on it. It is not
    undone with the app: it is the server's, shared by every such container."""
    if any(c.network is None and c.network_mode is None for c in app.containers):
        await docker.ensure_isolated_network()


async def create_network(
    docker: Docker, app: AppSpec, job: JobRecorder, *, driver: str = "bridge"
) -> None:
    assert app.network is not None
    job.journal.undo.append({"remove_network": app.network})
    await job.save_journal()
    labels = [arg for key, value in app.labels.items() for arg in ("--label", f"{key}={value}")]
    result = await docker.ssh.run_docker(
        docker.target, ["network", "create", "--driver", driver, *labels, app.network], check=False
    )
    if result.exit_code != 0:
        job.journal.undo.pop()  # not ours: it was there before
        await job.save_journal()
        raise InstallFailed(f"network {app.network} could not be created: "
                            f"{result.stderr.strip() or 'no output'}")  # fmt: skip


async def create_volume(docker: Docker, app: AppSpec, volume: str, job: JobRecorder) -> None:
    """A named volume, unless one is there already (kept by an uninstall that kept
    the data: the new installation finds it again, and it is not this one's to undo)."""
    if await docker.volume_exists(volume):
        return
    job.journal.undo.append({"remove_named_volumes": [volume]})
    await job.save_journal()
    labels = [arg for key, value in app.labels.items() for arg in ("--label", f"{key}={value}")]
    await docker.run(["volume", "create", *labels, volume])


async def wait_for_dependencies(
    docker: Docker, app: AppSpec, container: ContainerSpec, limits: WaitLimits
) -> None:
    for needed, condition in container.depends_on.items():
        dependency = app.named(needed)
        if condition == "completed":
            await _until_completed(docker, dependency, limits.timeout)
        elif condition == "healthy":
            await _until_healthy(docker, dependency, time.monotonic(), limits.timeout)
        else:
            await _until_started(docker, dependency, limits.timeout)


async def _until_started(docker: Docker, spec: ContainerSpec, time_limit: float) -> None:
    started = time.monotonic()
    pause = POLL_SECONDS
    while True:
        state = await docker.state(spec.name)
        if state is not None and state.status == "running":
            return
        problem = _fatal(state)
        if problem:
            raise InstallFailed(await _with_output(docker, spec, problem))
        if time.monotonic() - started > time_limit:
            raise InstallFailed(f"service {spec.service} did not start within {time_limit:g}s")
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)


async def _until_completed(docker: Docker, spec: ContainerSpec, time_limit: float) -> None:
    """A one-shot service (a migration, an init step) must end, and end well."""
    started = time.monotonic()
    pause = POLL_SECONDS
    while True:
        state = await docker.state(spec.name)
        if state is None:
            raise InstallFailed(f"service {spec.service}: the container disappeared")
        if state.status in ("exited", "dead"):
            if state.exit_code == 0:
                return
            raise InstallFailed(
                await _with_output(docker, spec, f"the container {state.describe_exit()}")
            )
        if time.monotonic() - started > time_limit:
            raise InstallFailed(f"service {spec.service} did not complete within {time_limit:g}s")
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)


async def wait_until_app_up(docker: Docker, app: AppSpec, limits: WaitLimits) -> str:
    """Every long-running container up as wait_until_up says, watched together;
    one-shot services must have completed. Returns what was seen, in words."""
    running = [c for c in app.containers if not c.one_shot]
    for container in app.containers:
        if container.one_shot:
            await _until_completed(docker, container, limits.timeout)
    states = await asyncio.gather(*(wait_until_up(docker, c, limits) for c in running))
    if len(app.containers) == 1:
        return states[0]
    return "; ".join(f"{c.service}: {state}" for c, state in zip(running, states, strict=True))


async def create(
    docker: Docker, spec: ContainerSpec, publish_address: str, job: JobRecorder
) -> str:
    """`docker container run`, journaled first (a container made by a run that then
    failed to start it is taken back too)."""
    job.journal.undo.append({"remove_container": spec.name})
    await job.save_journal()
    argv = build_docker_run_command(spec, publish_address)
    made = await _docker_or_fail(docker, argv, "docker run" if not spec.extra_networks
                                 else "docker create")  # fmt: skip
    if spec.extra_networks:  # made, not started: it joins the networks it needs first
        for network in spec.extra_networks:
            await _docker_or_fail(docker, ["network", "connect", network, spec.name],
                                  f"joining the network {network}")  # fmt: skip
        await _docker_or_fail(docker, ["container", "start", spec.name], "docker start")
    return made


# How long one hook script may run.
HOOK_TIME_LIMIT = 300.0


async def run_hooks(
    docker: Docker, app: AppSpec, hooks: list[AppHook], job: JobRecorder, app_id: str
) -> None:
    """Each hook in a one-shot container (see spec.build_hook_command), journaled so
    that an interrupted one is removed; one that fails fails the job, its output said."""
    if hooks and not app.network:
        await docker.ensure_isolated_network()
    for hook in hooks:
        name = f"{app.name}-hook-{hook.name}"
        job.journal.undo.append({"remove_container": name})
        await job.save_journal()
        argv = build_hook_command(
            name, hook, image=app.main.image, instance_dir=app.instance_dir, labels=app.labels,
            network=app.network, app_id=app_id,
        )  # fmt: skip
        result = await docker.ssh.run_docker(docker.target, argv, check=False,
                                             time_limit=HOOK_TIME_LIMIT)  # fmt: skip
        if result.exit_code != 0:
            said = [line for line in (result.stdout + result.stderr).strip().splitlines()
                    if line.strip()][-3:]  # fmt: skip
            raise InstallFailed(f"the hook {hook.name} failed with code {result.exit_code}: "
                                f"{' | '.join(said) or 'no output'}")  # fmt: skip
        await job.note(f"ran the hook {hook.name}")
    if hooks:
        await _check_after_hooks(docker, app)


async def _check_after_hooks(docker: Docker, app: AppSpec) -> None:
    """A hook may write the whole data directory, where the containers' folders and
    env files lie: one it turned into a link (to /, to the SSH user's keys) would be
    followed by Docker at the next create or start. They are resolved again, as
    preflight resolved them; any that now leads elsewhere fails the job (undone)."""
    data_root = posixpath.dirname(app.instance_dir)
    paths = survey_paths(app)
    env_files = list(dict.fromkeys(c.env_file for c in app.containers if c.all_env))
    seen = await docker.survey(data_root, [*paths, *env_files])
    mounts = replace(seen, resolved=seen.resolved[: len(paths)])
    problems = mount_problems(app, mounts, data_root, [])
    real_instance = seen.resolved[0]
    for path, real in zip(env_files, seen.resolved[len(paths) :], strict=True):
        expected = posixpath.join(real_instance, posixpath.relpath(path, app.instance_dir))
        if posixpath.normpath(real) != posixpath.normpath(expected):
            problems.append(Refusal(f"{path} leads to {real} on the server: a link a hook "
                                    "put there"))  # fmt: skip
    if problems:
        raise PreflightFailed(docker.server, problems)


async def _docker_or_fail(docker: Docker, argv: list[str], what: str) -> str:
    result = await docker.ssh.run_docker(docker.target, argv, check=False)
    if result.exit_code != 0:
        lines = [line for line in result.stderr.strip().splitlines()
                 if line.strip() and not line.startswith("Run 'docker")]  # fmt: skip
        raise InstallFailed(f"{what} failed: {' | '.join(lines[-3:]) or 'no output'}")
    return result.stdout.strip()


@dataclass(frozen=True)
class WaitLimits:
    timeout: float  # to be up (and healthy where checked) at all
    stable: float  # up, unrestarted, this long after it started


async def wait_until_up(docker: Docker, spec: ContainerSpec, limits: WaitLimits) -> str:
    """Running, healthy where a check exists, and still up and never restarted
    `limits.stable` seconds after it started; else why not, with its last output.
    The rest of the window is watched through Docker's events, not by polling."""
    started = time.monotonic()
    state = await _until_healthy(docker, spec, started, limits.timeout)
    remaining = limits.stable - (time.monotonic() - started)
    if remaining > 0 and await docker.watch_for_exit(spec.name, remaining):
        raise InstallFailed(await _with_output(docker, spec, "the container keeps crashing"))
    final = await docker.state(spec.name)
    problem = _fatal(final)
    if problem:
        raise InstallFailed(await _with_output(docker, spec, problem))
    return "healthy" if _has_health(final or state, spec) else "running"


async def _until_healthy(
    docker: Docker, spec: ContainerSpec, started: float, time_limit: float
) -> ContainerState:
    """Poll until it runs and its checks pass (the definition's probe once, Docker's
    own health until healthy); a container that will never be up fails at once."""
    pause = POLL_SECONDS
    while True:
        state = await docker.state(spec.name)
        problem = _fatal(state)
        if problem:
            raise InstallFailed(await _with_output(docker, spec, problem))
        assert state is not None
        waiting_for = _waiting_for(state)
        if waiting_for is None:
            waiting_for = await _probe(docker, spec, state.pid)
        if waiting_for is None:
            return state
        if time.monotonic() - started > time_limit:
            raise InstallFailed(await _with_output(
                docker, spec, f"not up within {time_limit:g}s ({waiting_for})"
            ))  # fmt: skip
        await asyncio.sleep(pause)
        pause = min(pause * 1.5, 1.0)  # quick for fast apps, gentle for slow ones


def _fatal(state: ContainerState | None) -> str | None:
    """Why the container will never be up, or None."""
    if state is None:
        return "the container disappeared"
    if state.status in ("exited", "dead"):
        return f"the container {state.describe_exit()}"
    if state.restart_count > 0 or state.status == "restarting":
        return "the container keeps crashing"  # the exit is told from Docker's events
    if state.health == "unhealthy":
        return "the image's health check reports unhealthy"
    return None


def _waiting_for(state: ContainerState) -> str | None:
    if state.status != "running":
        return f"the container is {state.status}"
    if state.health == "starting":
        return "the image's health check is starting"
    return None


async def _probe(docker: Docker, spec: ContainerSpec, pid: int) -> str | None:
    """The definition's health check, from the server itself: an HTTP request to the
    published port, or for TCP, a listening socket inside the container. (A check
    Docker runs itself shows in the container's health state instead.)"""
    check = spec.health
    if check is None or check.in_container:
        return None
    host_port = probed_port(spec, check)
    if check.protocol == "tcp" or host_port is None:
        # Only a port the app publishes is asked over HTTP: any other one on the
        # server's loopback could be another program's. Else: does the container listen?
        return await _probe_tcp(docker, spec, check.port, pid)
    url = probe_url(check.protocol, host_port, check.endpoint)
    code = await docker.http_probe(url)
    if code is None or 200 <= code < 400:  # None: no curl or wget, nothing to check with
        return None
    if code == 0:
        return f"health check {url} does not answer yet"
    return f"health check {url} answered {code}"


def probed_port(spec: ContainerSpec, check: HealthCheck) -> int | None:
    """The host port the definition's HTTP check may ask: one the container publishes
    (its own port on the server's network, with host networking); else None."""
    if spec.network_mode == "host":
        return check.port
    wanted = check.port
    port = next((p for p in spec.ports if p.protocol == "tcp"
                 and p.container == (wanted or p.container)), None)  # fmt: skip
    return port.host if port else None


def probe_url(protocol: str, port: int, endpoint: str) -> str:
    """Always this server's own loopback: the endpoint is only ever a path (the
    definition checks it starts with '/'), so it cannot name another host."""
    path = endpoint if endpoint.startswith("/") else "/" + endpoint
    return f"{protocol}://127.0.0.1:{port}{path}"


async def _probe_tcp(docker: Docker, spec: ContainerSpec, port: int | None, pid: int) -> str | None:
    tcp_ports = [p.container for p in spec.ports if p.protocol == "tcp"]
    container_port = port or (tcp_ports[0] if tcp_ports else None)
    if container_port is None or not pid:
        return None
    if await docker.listens_in_container(pid, container_port) in (0, 127):
        return None
    return f"health check: nothing listens on {container_port}/tcp in the container yet"


def _has_health(state: ContainerState | None, spec: ContainerSpec) -> bool:
    return bool(state and state.health) or spec.health is not None


async def _with_output(docker: Docker, spec: ContainerSpec, reason: str) -> str:
    """The reason, told precisely for a crash, with the container's last output;
    naming the service when the app has several."""
    container = spec.name
    if reason == "the container keeps crashing":
        reason = f"the container {await docker.crash_summary(container)}"
    if spec.service and spec.network:
        reason = f"service {spec.service}: {reason}"
    lines = await docker.output_tail(container, 10)
    return f"{reason}; last output: {' | '.join(lines)}" if lines else f"{reason}; no output"
