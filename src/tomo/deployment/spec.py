"""What one container of an installation is (ContainerSpec), the choices a user
makes for it (InstallConfig), the checks of its parts (ports, folders, values,
risk flags) and its `docker run` argv (`build_docker_run_command`).

app_spec.py puts these together: every app, of one service or several, is built
there, and nothing happens on a server before all of it has been checked.
"""

from __future__ import annotations

import itertools
import math
import posixpath
import re
import secrets
import shlex
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator

from tomo.deployment.remote import ISOLATED_NETWORK
from tomo.errors import Refusal
from tomo.marketplace.definition import (
    ENV_NAME,
    MAX_REPLICAS,
    AppEnvVar,
    AppHook,
    AppVolume,
    DockerConfig,
    HealthCheck,
    duration_seconds,
)
from tomo.marketplace.fields import check_absolute_path, check_host_path
from tomo.marketplace.risk import (
    HostMount,
    nested_mount_risks,
    risk_flag_problem,
)
from tomo.updates.schemas import UpdateSettings

# Docker wants at least two characters in a container name.
INSTANCE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{1,62}")
NAME_PATTERN = f"^{INSTANCE_NAME.pattern}$"
ENV_FILE_NAME = ".tomo.env"


class PortOverride(BaseModel):
    host: int = Field(ge=1, le=65535)
    container: int = Field(ge=1, le=65535)
    protocol: str = Field("tcp", json_schema_extra={"enum": ["tcp", "udp"]})

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, value: str) -> str:
        if value not in ("tcp", "udp"):
            raise ValueError(f"protocol must be tcp or udp, got {value!r}")
        return value


class VolumeOverride(BaseModel):
    host_path: str = Field(min_length=1)  # absolute, or ./relative to the data directory
    container_path: str = Field(json_schema_extra={"pattern": "^/."})

    @field_validator("host_path")
    @classmethod
    def _host(cls, value: str) -> str:
        return check_host_path(value)

    @field_validator("container_path")
    @classmethod
    def _container(cls, value: str) -> str:
        return check_absolute_path(value)


class ConfigChanges(BaseModel):
    """What the user may choose at install time and change at an update."""

    env: dict[str, str] = {}
    ports: list[PortOverride] = []
    volumes: list[VolumeOverride] = []
    accept_risks: list[str] = []

    @field_validator("accept_risks", mode="before")
    @classmethod
    def _split_risks(cls, value: object) -> object:
        """`--accept-risk a,b` is two flags; each name must be a risk flag tomo knows."""
        if not isinstance(value, list):
            return value
        names = [part.strip() for item in value for part in str(item).split(",") if part.strip()]
        problems = [p for p in map(risk_flag_problem, names) if p]
        if problems:
            raise ValueError("; ".join(problems))
        return list(dict.fromkeys(names))


class InstallConfig(ConfigChanges):
    """What the user chose at install time: the changes, and the instance's name."""

    name: str | None = Field(
        default=None, json_schema_extra={"pattern": f"^{INSTANCE_NAME.pattern}$"}
    )  # defaults to the app id
    # How updates reach it (kept in the installation's own columns, not its config).
    updates: UpdateSettings | None = None
    # The names its server's front door routes to it (its own column too): a hostname,
    # a single label (named under the server's domain) or "auto" (<name>.<domain>).
    hostnames: list[str] = Field(default=[], max_length=16)
    # tomo's login in front of those names: signed-in users, admins only, or none
    # (None: as the definition's `proxy.login` asks). Kept with the config, read by
    # the front door once the app is routed.
    login: Literal["users", "admins", "off"] | None = None
    # As Swarm services (see swarm.py) rather than containers on the one server. None
    # at the install: as a Swarm when the server is a Swarm manager; kept decided.
    swarm: bool | None = None
    # On a Swarm: the node the services with data run on, where their folders are
    # (its id or hostname; None: the one tomo suggests; kept as the node's id).
    swarm_node: str | None = Field(default=None, min_length=1, max_length=128)
    # On a Swarm: a service's tasks (service -> count), instead of the definition's.
    replicas: dict[str, Annotated[int, Field(ge=1, le=MAX_REPLICAS)]] = {}
    # On a Swarm: ports bound by the node that runs the task (host), or by every node
    # of the Swarm, which routes to a task (ingress: needs IPVS in the nodes' kernels).
    publish_mode: Literal["host", "ingress"] = "host"

    def changed_by(self, changes: ConfigChanges) -> InstallConfig:
        """This config with the values given at an update: env by name, ports and
        volumes by container side, accepted risks added."""
        ports = {(p.container, p.protocol): p for p in self.ports}
        ports.update({(p.container, p.protocol): p for p in changes.ports})
        volumes = {v.container_path: v for v in self.volumes}
        volumes.update({v.container_path: v for v in changes.volumes})
        return InstallConfig(
            name=self.name, env={**self.env, **changes.env}, ports=list(ports.values()),
            volumes=list(volumes.values()),
            accept_risks=list(dict.fromkeys([*self.accept_risks, *changes.accept_risks])),
            swarm=self.swarm, swarm_node=self.swarm_node, replicas=self.replicas,
            publish_mode=self.publish_mode,
        )  # fmt: skip

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not INSTANCE_NAME.fullmatch(value):
            raise ValueError(
                f"'{value}' is not a valid instance name (lowercase letters, digits, '_', '.', "
                "'-'; starting with a letter or digit; 2 to 63 characters)"
            )
        return value


# The API's requests (their bases above). Here, not in schemas.py: that module is
# read by the CLI's quick paths, which must not load the definition model.
class InstallRequest(InstallConfig):
    """Sent to install an app (or, with ?preview=true, to see what that would do)."""

    server: str
    app: str
    # First install the apps it requires that the server lacks (all taken back if one
    # of them, or the app, fails).
    with_dependencies: bool = False


class UpdateRequest(ConfigChanges):
    """Sent to update: another tag, and changes to the installation's config."""

    tag: str | None = None


@dataclass(frozen=True)
class PublishedPort:
    host: int
    container: int
    protocol: str


@dataclass(frozen=True)
class Mount:
    host_path: str
    container_path: str
    readonly: bool
    owned: bool  # under the installation's data directory: tomo creates (and may remove) it
    # One of the files the store ships (placed with the app's files), mounted as a
    # file: never made as a folder, or the file would find a folder in its place.
    shipped_file: bool = False
    # A folder of the data of an app it requires (AppVolume.imported_folder): that
    # installation's, flagged `app-data:<app>`, and never made or removed here.
    of_required_app: bool = False


@dataclass(frozen=True)
class NamedMount:
    volume: str  # the Docker volume's name on the server
    container_path: str
    readonly: bool


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    labels: dict[str, str]
    ports: list[PublishedPort]
    mounts: list[Mount]
    env: dict[str, str]
    secret_env: dict[str, str] = field(repr=False)
    restart_policy: str = "unless-stopped"
    network_mode: str | None = None
    pid_mode: str | None = None
    ipc_mode: str | None = None
    privileged: bool = False
    capabilities: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    gpus: str | None = None  # Docker's --gpus
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False
    security_opt: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    stop_signal: str | None = None
    stop_timeout: int | None = None  # seconds Docker waits after the signal, then kills
    command: list[str] | None = None
    instance_dir: str = ""
    risks: list[str] = field(default_factory=list)
    accepted_risks: list[str] = field(default_factory=list)
    # Volumes of the container this one replaces (name, container path), mounted again
    # by name so data in the image's declared VOLUMEs survives an update.
    carried_volumes: list[tuple[str, str]] = field(default_factory=list)
    # -- what only the services of a multi-container app use --
    service: str = ""  # its name in the definition ("" for a single-container app)
    network: str | None = None  # the app's own network, joined under the service's name
    entrypoint: list[str] | None = None
    user: str | None = None
    working_dir: str | None = None
    health: HealthCheck | None = None  # a check Docker runs in the container (`test`)
    named_volumes: list[NamedMount] = field(default_factory=list)
    depends_on: dict[str, str] = field(default_factory=dict)  # container -> condition
    one_shot: bool = False  # others wait for it to complete: it runs once and exits 0
    env_file_name: str = ENV_FILE_NAME
    # Networks of the apps it requires, joined too so it reaches them by host name.
    extra_networks: list[str] = field(default_factory=list)
    # On a Swarm: its Swarm secrets, as (secret name, file under /run/secrets).
    swarm_secrets: list[tuple[str, str]] = field(default_factory=list)
    replicas: int = 1  # on a Swarm, of a service without data (see swarm.services)
    publish_mode: str = "host"  # on a Swarm (InstallConfig.publish_mode)
    # Limits and what Docker gives it beyond its image (marketplace.container_options).
    mem_limit: int | None = None
    mem_reservation: int | None = None
    cpus: float | None = None
    shm_size: int | None = None
    init: bool = False
    ulimits: dict[str, list[int]] = field(default_factory=dict)
    extra_hosts: dict[str, str] = field(default_factory=dict)
    tmpfs: list[str] = field(default_factory=list)
    store_env_files: list[str] = field(default_factory=list)  # on the server, read first

    @property
    def env_file(self) -> str:
        return posixpath.join(self.instance_dir, self.env_file_name)

    @property
    def all_env(self) -> dict[str, str]:
        return {**self.env, **self.secret_env}

    @property
    def isolated(self) -> bool:
        """It has no network of its own, so it joins remote.ISOLATED_NETWORK."""
        return not self.network_mode and not self.network

    @property
    def owned_dirs(self) -> list[str]:
        """The instance directory, then every mount source tomo owns that is a folder."""
        folders = (m.host_path for m in self.mounts if m.owned and not m.shipped_file)
        return [self.instance_dir, *folders]


def installation_labels(
    app_id: str, repo_id: str, installation_id: str, owner: str
) -> dict[str, str]:
    """The labels on everything an installation puts on a server; `tomo.owner` names
    the tomo that made it, when several share a server (Settings.owner_label)."""
    labels = {"tomo.app": app_id, "tomo.repo": repo_id, "tomo.installation": installation_id}
    return labels | ({"tomo.owner": owner} if owner else {})


def host_mounts(mounts: list[Mount], instance_dir: str) -> list[HostMount]:
    """The mounts' sources as risk.nested_mount_risks judges them (tomo's own
    folders shown as `./x`, as a definition names them)."""
    return [
        HostMount(
            "./" + posixpath.relpath(m.host_path, instance_dir) if m.owned else m.host_path,
            posixpath.normpath(m.host_path), m.readonly,
        )
        for m in mounts
    ]  # fmt: skip


def nesting_risks(mounts: list[Mount], instance_dir: str) -> set[str]:
    """The `nested-mount:` flags of one installation's mounts (all its services')."""
    return nested_mount_risks(host_mounts(mounts, instance_dir))


def hardening(docker: DockerConfig) -> dict[str, Any]:
    """What a definition asks to take away from its container, how the container is
    stopped, and its limits and options, as ContainerSpec fields."""
    grace = docker.stop_grace_period
    return {"cap_drop": list(docker.cap_drop), "read_only": docker.read_only,
            "security_opt": list(docker.security_opt), "stop_signal": docker.stop_signal,
            "sysctls": dict(docker.sysctls),
            "stop_timeout": math.ceil(duration_seconds(grace)) if grace else None,
            "mem_limit": docker.mem_limit, "mem_reservation": docker.mem_reservation,
            "cpus": docker.cpus, "shm_size": docker.shm_size, "init": docker.init,
            "ulimits": dict(docker.ulimits), "extra_hosts": dict(docker.extra_hosts),
            "tmpfs": list(docker.tmpfs)}  # fmt: skip


def unaccepted(risks: list[str], accepted: list[str]) -> Refusal | None:
    """The problem of risk flags the user has not accepted, or None."""
    missing = [flag for flag in risks if flag not in accepted]
    if not missing:
        return None
    return risk_problem("this app needs risk flags you have not accepted", missing)


def risk_problem(what: str, flags: list[str]) -> Refusal:
    """`what: flag, flag`, naming the flags for the faces that offer to accept them."""
    return Refusal(f"{what}: {', '.join(flags)}", ("accept_risks",),
                   "accept each with --accept-risk FLAG", tuple(flags),
                   page_hint="tick each one you accept under Risks to accept")  # fmt: skip


def unnamable(app_id: str) -> Refusal:
    return Refusal(f"the app id '{app_id}' cannot name a container: a name has 2 to 63 "
                   "characters", ("name",), "give the instance a name with --name",
                   page_hint="give it one as its Instance name")  # fmt: skip


def chosen_ports(
    docker: DockerConfig, config: InstallConfig, problems: list[Refusal]
) -> list[PortOverride]:
    """The definition's ports with the user's host ports. An app may publish one
    container port more than once; overrides for it apply in the definition's order."""
    chosen = [PortOverride(host=p.host or p.container, container=p.container,
                           protocol=p.protocol) for p in docker.ports]  # fmt: skip
    overridden: set[int] = set()
    for override in config.ports:
        key = (override.container, override.protocol)
        slots = [i for i, p in enumerate(chosen) if (p.container, p.protocol) == key]
        free = [i for i in slots if i not in overridden]
        shown = f"port {override.host}:{override.container}/{override.protocol}"
        if free:
            overridden.add(free[0])
            chosen[free[0]] = override
        elif slots:
            problems.append(Refusal(f"{shown}: the app publishes {key[0]}/{key[1]} "
                                    f"{len(slots)} time(s), and more ports than that name it",
                                    ("ports",)))  # fmt: skip
        else:
            offered = ", ".join(dict.fromkeys(f"{p.container}/{p.protocol}" for p in chosen))
            problems.append(Refusal(f"{shown}: the app has no container port {key[0]}/{key[1]} "
                                    f"(it has: {offered or 'none'})", ("ports",)))  # fmt: skip
    seen: dict[tuple[int, str], int] = {}
    for index, port in enumerate(chosen):
        clash = seen.get((port.host, port.protocol))
        if clash is not None:
            problems.append(Refusal(f"host port {port.host}/{port.protocol} is given to "
                                    f"container ports {clash} and {port.container}",
                                    (f"ports[{index}]",)))  # fmt: skip
        seen[(port.host, port.protocol)] = port.container
    return chosen if publishes_ports(docker.network_mode) else []


def publishes_ports(network_mode: str | None) -> bool:
    """Host networking and another container's network publish nothing of their own."""
    return network_mode != "host" and not (network_mode or "").startswith(
        ("container:", "service:")
    )


def placed_mounts(
    volumes: list[AppVolume], config: InstallConfig, instance_dir: str,
    problems: list[Refusal], *, place_under: str = "",
) -> list[Mount]:  # fmt: skip
    overrides: dict[str, str] = {}
    for override in config.volumes:
        if override.container_path in overrides:
            problems.append(Refusal(f"the folder for {override.container_path} is given more "
                                    "than once", ("volumes",)))  # fmt: skip
        overrides[override.container_path] = override.host_path
    known = {v.container_path for v in volumes}
    for path in overrides:
        if path not in known:
            has = ", ".join(sorted(known)) or "none"
            problems.append(Refusal(f"the app has no volume at {path} (it has: {has})",
                                    ("volumes",)))  # fmt: skip
    sources = [overrides.get(v.container_path, v.host_path) for v in volumes]
    taken = {source for source in sources if source is not None}
    mounts = []
    for index, (volume, given) in enumerate(zip(volumes, sources, strict=True)):
        source = given or own_directory(volume.container_path, taken, place_under)
        owned = not source.startswith("/")
        host_path = posixpath.join(instance_dir, source[2:]) if owned else source
        if owned and source[2:].split("/")[0].startswith(".tomo."):
            problems.append(Refusal(f"volume {volume.container_path}: {source} is where tomo "
                                    "keeps the installation's secret environment file",
                                    (f"volumes[{index}]",)))  # fmt: skip
        mounts.append(Mount(host_path, volume.container_path, volume.readonly, owned))
    return mounts


def own_directory(container_path: str, taken: set[str], place_under: str = "") -> str:
    """A directory under the instance for a volume the definition left unplaced:
    named after the container path's last part, or its whole path when another
    volume has that name already (two volumes must never share a directory).
    `place_under` keeps each secondary service's folders apart from the others'."""
    parts = [part for part in container_path.split("/") if part] or ["data"]
    whole = "-".join(parts)
    top = f"./{place_under}/" if place_under else "./"
    numbered = (f"{top}{whole}-{number}" for number in itertools.count(2))
    candidates = itertools.chain([f"{top}{parts[-1]}", f"{top}{whole}"], numbered)
    chosen = next(c for c in candidates if c not in taken and not c[2:].startswith(".tomo."))
    taken.add(chosen)
    return chosen


def refused_values(variables: list[AppEnvVar], given: dict[str, str]) -> list[Refusal]:
    """What the user gave that a variable's choices do not allow."""
    found = ((v.name, v.refuses(given[v.name])) for v in variables if v.name in given)
    return [Refusal(reason, (f"env.{name}",)) for name, reason in found if reason]


def missing_values(kind: str, names: list[str]) -> Refusal:
    """`required KIND missing: A, B`, each name's field named."""
    fields = tuple(f"env.{name}" for name in names)
    return Refusal(f"required {kind} missing: {', '.join(names)}", fields,
                   "give each with --env NAME=VALUE", tuple(names),
                   page_hint="fill in each in its field")  # fmt: skip


def env_problems(env: dict[str, str], field_prefix: str) -> list[Refusal]:
    """What no env file can carry: a name that is not one, a NUL, a line break
    (values reach the container through the file, never a command line)."""
    problems = []
    for name, value in env.items():
        where = (f"{field_prefix}{name}",) if field_prefix else ()
        if not ENV_NAME.fullmatch(name):
            problems.append(Refusal(f"'{name}' is not a valid environment variable name", where))
        if "\x00" in value:
            problems.append(Refusal(f"environment variable {name} contains a NUL byte", where))
        if "\n" in value or "\r" in value:
            problems.append(
                Refusal(f"environment variable {name} may not contain a line break", where)
            )
    return problems


GENERATED_LENGTH = 32  # characters of a generated password or hex, unless asked


def generate_secret(kind: str, length: int | None = None) -> str:
    """A new secret of the kind a definition asks for, `length` characters long."""
    size = length or GENERATED_LENGTH
    if kind == "hex":
        return secrets.token_hex((size + 1) // 2)[:size]
    if kind == "uuid":
        return str(uuid.uuid4())
    return secrets.token_urlsafe(size)[:size]  # 4 characters for each 3 bytes: enough


def build_hook_command(
    name: str, hook: AppHook, *, image: str, instance_dir: str, labels: dict[str, str],
    network: str | None, app_id: str,
) -> list[str]:  # fmt: skip
    """The one-shot container that runs a store's hook script: the app's main image,
    the installation's data directory mounted where the script finds it, nothing of
    the server's beyond it (the script is an argument, never a shell line). As root
    of the container, as umbrelOS runs hooks as root: they set owners (`chown`) of
    the data the app runs with, and reach nothing more than the data directory."""
    argv = ["container", "run", "--rm", "--name", name, "--user", "0:0"]
    for key, value in {**labels, "tomo.hook": hook.name}.items():
        argv += ["--label", f"{key}={value}"]
    argv += ["--volume", f"{instance_dir}:{instance_dir}",
             "--env", f"APP_DATA_DIR={instance_dir}", "--env", f"APP_ID={app_id}"]  # fmt: skip
    argv += ["--network", network or ISOLATED_NETWORK]
    return [*argv, "--entrypoint", hook.interpreter, image, "-c", hook.script]


def build_docker_run_command(spec: ContainerSpec, publish_address: str) -> list[str]:
    """The `docker container run` argv for a spec. Environment values only go
    through the env file, so no value shows in the server's process list."""
    # A container that also joins other apps' networks is created, connected, then
    # started (Docker joins one network at `run`): it never runs without them.
    start = ["container", "create"] if spec.extra_networks else ["container", "run", "--detach"]
    argv = [*start, "--name", spec.name]
    for key, value in spec.labels.items():
        argv += ["--label", f"{key}={value}"]
    for port in spec.ports:
        argv += ["--publish", f"{publish_address}:{port.host}:{port.container}/{port.protocol}"]
    for mount in spec.mounts:
        suffix = ":ro" if mount.readonly else ""
        argv += ["--volume", f"{mount.host_path}:{mount.container_path}{suffix}"]
    for named in spec.named_volumes:
        suffix = ":ro" if named.readonly else ""
        argv += ["--volume", f"{named.volume}:{named.container_path}{suffix}"]
    for volume, container_path in spec.carried_volumes:
        argv += ["--volume", f"{volume}:{container_path}"]
    for path in spec.store_env_files:  # the store's own first: tomo's values win
        argv += ["--env-file", path]
    if spec.all_env:
        argv += ["--env-file", spec.env_file]
    argv += ["--restart", spec.restart_policy]
    if spec.network_mode:
        argv += ["--network", spec.network_mode]
    elif spec.network:
        argv += ["--network", spec.network, "--network-alias", spec.service]
    else:  # spec.isolated
        argv += ["--network", ISOLATED_NETWORK]
    argv += service_options(spec)
    if spec.pid_mode:
        argv += ["--pid", spec.pid_mode]
    if spec.ipc_mode:
        argv += ["--ipc", spec.ipc_mode]
    if spec.privileged:
        argv.append("--privileged")
    for capability in spec.capabilities:
        argv += ["--cap-add", capability]
    for device in spec.devices:
        argv += ["--device", device]
    if spec.gpus:  # Docker reads the value as CSV: a list of ids goes in quotes
        argv += ["--gpus", f'"{spec.gpus}"' if "," in spec.gpus else spec.gpus]
    argv += hardening_options(spec) + runtime_options(spec)
    for option in spec.security_opt:
        argv += ["--security-opt", option]
    if spec.stop_signal:
        argv += ["--stop-signal", spec.stop_signal]
    if spec.stop_timeout is not None:
        argv += ["--stop-timeout", str(spec.stop_timeout)]
    argv.append(spec.image)
    return argv + run_arguments(spec)


def hardening_options(spec: ContainerSpec) -> list[str]:
    """What the definition takes away from it: capabilities, a writable root, and
    the kernel parameters it sets (`docker run` and `docker service create` alike)."""
    argv = [arg for capability in spec.cap_drop for arg in ("--cap-drop", capability)]
    argv += ["--read-only"] if spec.read_only else []
    return argv + [arg for k, v in spec.sysctls.items() for arg in ("--sysctl", f"{k}={v}")]


def runtime_options(spec: ContainerSpec) -> list[str]:
    """`docker run`'s limits, /dev/shm, init, ulimits, extra hosts and tmpfs folders
    (a Swarm service takes some of them by other names: swarm.services)."""
    argv = [*(["--memory", str(spec.mem_limit)] if spec.mem_limit else []),
            *(["--memory-reservation", str(spec.mem_reservation)] if spec.mem_reservation
              else []),
            *(["--cpus", f"{spec.cpus:g}"] if spec.cpus else []),
            *(["--shm-size", str(spec.shm_size)] if spec.shm_size else []),
            *(["--init"] if spec.init else [])]  # fmt: skip
    argv += [arg for name, (soft, hard) in spec.ulimits.items()
             for arg in ("--ulimit", f"{name}={soft}:{hard}")]  # fmt: skip
    argv += [arg for name, address in spec.extra_hosts.items()
             for arg in ("--add-host", f"{name}:{address}")]  # fmt: skip
    return argv + [arg for entry in spec.tmpfs for arg in ("--tmpfs", entry)]


def service_options(spec: ContainerSpec, *, split_entrypoint: bool = False) -> list[str]:
    """User, working directory, entrypoint and Docker's own health check.
    `split_entrypoint`: Docker splits the value as a shell would (`docker service`)."""
    argv: list[str] = []
    if spec.user:
        argv += ["--user", spec.user]
    if spec.working_dir:
        argv += ["--workdir", spec.working_dir]
    if spec.entrypoint is not None:
        # Docker takes one program here; its arguments lead the command instead.
        program = spec.entrypoint[0] if spec.entrypoint else ""
        argv += ["--entrypoint", shlex.quote(program) if split_entrypoint and program else program]
    check = spec.health
    if check is not None and check.test is not None:
        argv += health_options(check)
    return argv


def health_options(check: HealthCheck) -> list[str]:
    test = check.test or []
    kind, rest = (test[0], test[1:]) if test[0] in ("CMD", "CMD-SHELL", "NONE") else ("", test)
    if kind == "NONE":
        return ["--no-healthcheck"]
    # --health-cmd always runs through the image's shell: quote a CMD list for it.
    command = " ".join(rest) if kind == "CMD-SHELL" else shlex.join(rest)
    argv = ["--health-cmd", command]
    for option, value in (("interval", check.interval), ("timeout", check.timeout),
                          ("start-period", check.start_period)):  # fmt: skip
        if value:
            argv += [f"--health-{option}", value]
    if check.retries:
        argv += ["--health-retries", str(check.retries)]
    return argv


def run_arguments(spec: ContainerSpec) -> list[str]:
    """What follows the image: the entrypoint's own arguments, then the command."""
    return [*(spec.entrypoint or [])[1:], *(spec.command or [])]


def env_file_content(spec: ContainerSpec) -> str:
    return "".join(f"{key}={value}\n" for key, value in spec.all_env.items())
