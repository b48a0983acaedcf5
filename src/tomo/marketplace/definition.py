"""The app definition model: what one catalog file describes.

Both dialects seen in the wild load into these classes:

* this project's format (the specification's): volumes `host_path` /
  `container_path` / `readonly`, env `default`, `restart_policy`,
  requirements `min_ram` / `min_storage` in MB and `architectures`;
* the original public marketplace's format: volumes `host` / `container` /
  `mode: rw|ro`, env `value`, `restart`, requirements as strings
  (`memory: "1GB"`, `storage`, `cpu`, `arch`).

Alternative names are pydantic alias choices, so an error names the key the
author actually wrote; giving both names of one field is an error.
"""

from __future__ import annotations

import base64
import binascii
import functools
import posixpath
import re
import shlex
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    field_validator,
    model_validator,
)

from tomo.architectures import ARCHITECTURES
from tomo.marketplace.container_options import (
    Bytes,
    Cpus,
    ExtraHosts,
    Memory,
    Tmpfs,
    Ulimits,
    tmpfs_path,
)
from tomo.marketplace.fields import (
    AbsolutePath,
    Bool,
    Float,
    HostPath,
    Line,
    Port,
    ShownLine,
    ShownText,
    Text,
    Url,
    UrlPath,
    as_list,
    check_host_path,
    check_url,
)
from tomo.marketplace.fields import parse_int as parse_int_field
from tomo.marketplace.invisible import strip_invisible
from tomo.slugs import SLUG

# Docker's rule for a variable's name, not the shell's: any printable characters but
# `=` and blanks (`discovery.type` is Elasticsearch's own style); not `#`-led, which
# an env file would read as a comment.
ENV_NAME = re.compile(r"(?!#)[\x21-\x3c\x3e-\x7e]{1,256}")
# A setting is referred to as `${NAME}`: its name is the shell's kind.
SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Docker's reference grammar: [registry[:port]/]name[:tag][@digest].
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[._]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?")

ICON_PATH = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_./ -]{0,254}\.(?:png|jpe?g|svg|webp|gif)", re.IGNORECASE
)
RESTART_POLICY = re.compile(r"no|always|unless-stopped|on-failure(?::[1-9][0-9]{0,2})?")
NETWORK_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}")
# Docker's rule for container names (an id is one too), with a bound on length.
CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}")
DEVICE = re.compile(r"/dev/[A-Za-z0-9._/-]+(?::/dev/[A-Za-z0-9._/-]+)?(?::[rwm]{1,3})?")
# A device the user chooses at install: its server side is a setting (`${SERIAL}`),
# the rest as written (`${SERIAL}:/dev/ttyACM0`).
CHOSEN_DEVICE = re.compile(
    r"\$\{(?P<setting>[A-Za-z_][A-Za-z0-9_]*)\}(?::/dev/[A-Za-z0-9._/-]+)?(?::[rwm]{1,3})?"
)

CAPABILITIES = frozenset(
    """AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN
    DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE
    MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON
    SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT
    SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM ALL""".split()
)
_SIZE = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>[kmgt]i?b?|b)?", re.IGNORECASE)
_MB_PER_UNIT = {"b": 1 / 1024**2, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024**2}


def _check_slug(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a valid id: use 1-64 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _check_env_name(value: str) -> str:
    if not ENV_NAME.fullmatch(value):
        raise ValueError(f"'{value}' is not a valid environment variable name")
    return value


def _check_image(value: str) -> str:
    match = IMAGE_REFERENCE.fullmatch(value)
    if not match or len(match.group("name")) > 255:
        raise ValueError(
            f"'{value}' is not a valid image reference ([registry/]name[:tag][@digest])"
        )
    return value


def _check_restart_policy(value: str) -> str:
    if not RESTART_POLICY.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a restart policy (no, always, unless-stopped, on-failure[:N])"
        )
    return value


def _check_service_network_mode(value: str) -> str:
    """A network mode, or `service:NAME`: another service of the same app (the app
    checks that it exists)."""
    service = value.removeprefix("service:")
    if service != value:
        _check_slug(service)
        return value
    return check_network_mode(value)


def check_network_mode(value: str) -> str:
    container = value.removeprefix("container:")
    if container != value:  # shares that container's network stack
        if not CONTAINER_NAME.fullmatch(container):
            raise ValueError(f"'{container}' in '{value}' is not a container name")
        return value
    if not NETWORK_NAME.fullmatch(value):
        raise ValueError(
            f"'{value}' is not a network mode (bridge, host, none, container:NAME "
            "or a network name)"
        )
    return value


def check_capability(value: str) -> str:
    name = value.strip().upper().removeprefix("CAP_")
    if name not in CAPABILITIES:
        raise ValueError(f"'{value}' is not a Linux capability")
    return name


def _check_security_opt(value: str) -> str:
    """Only `no-new-privileges`: the other options (seccomp, apparmor, label) can as
    well switch protections off, which no catalog gets to decide."""
    if value.strip() in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        return "no-new-privileges:true"
    raise ValueError(f"'{value}' is not supported (only no-new-privileges)")


# Kernel parameters Docker sets inside a container's own namespaces: its network
# (`net.*`) and its IPC. They change nothing of the server's (Docker refuses the
# others), so no risk flag goes with them.
_IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                          "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                          "kernel.shm_rmid_forced"})  # fmt: skip
_SYSCTL_NAME = re.compile(r"[a-z0-9_]+(?:\.[A-Za-z0-9_-]+)+")
_SYSCTL_VALUE = re.compile(r"[\x21-\x7e]{1,256}(?: [\x21-\x7e]{1,256}){0,7}")


def check_sysctl(name: str, value: str) -> None:
    """ValueError unless Docker sets `name` in the container's own namespaces."""
    namespaced = name.startswith(("net.", "fs.mqueue.")) or name in _IPC_SYSCTLS
    if not _SYSCTL_NAME.fullmatch(name) or not namespaced:
        raise ValueError(f"'{name}' is not a kernel parameter of the container's own "
                         "network or IPC namespace (net.*, fs.mqueue.*, kernel.shm*, "
                         "kernel.msg*, kernel.sem)")  # fmt: skip
    if not _SYSCTL_VALUE.fullmatch(value):
        raise ValueError(f"{name}: '{value}' is not a kernel parameter's value")


def _check_sysctls(value: dict[str, str]) -> dict[str, str]:
    for name, setting in value.items():
        check_sysctl(name, setting)
    return value


def _check_device(value: str) -> str:
    written = DEVICE.fullmatch(value) or CHOSEN_DEVICE.fullmatch(value)
    if not written or ".." in value.split("/"):
        raise ValueError(f"'{value}' is not a device mapping (/dev/X[:/dev/Y][:rwm], or "
                         "${SETTING}[:/dev/Y][:rwm] for one chosen at install)")  # fmt: skip
    return value


GPUS = re.compile(r"all|[1-9][0-9]?|device=[0-9A-Za-z-]+(?:,[0-9A-Za-z-]+)*")


def _check_gpus(value: str) -> str:
    """Docker's `--gpus`: every GPU, how many, or which (by index or UUID)."""
    if not GPUS.fullmatch(value):
        raise ValueError(f"'{value}' is not a GPU request (all, a count, or device=ID[,ID])")
    return value


def _check_icon(value: str) -> str:
    """An http(s) URL, or a path of an image in the catalog's own repository."""
    if value.lower().startswith(("http://", "https://")):
        return check_url(value)
    path = value.strip().removeprefix("./")
    if not ICON_PATH.fullmatch(path) or ".." in path.split("/"):
        raise ValueError(f"'{value}' is neither an http(s) URL nor an image path in the "
                         "repository (.png, .jpg, .jpeg, .svg, .webp, .gif)")  # fmt: skip
    return path


def _check_architecture(value: str) -> str:
    normalized = ARCHITECTURES.get(value.strip().lower())
    if normalized is None:
        raise ValueError(
            f"'{value}' is not a known architecture ({', '.join(sorted(ARCHITECTURES))})"
        )
    return normalized


def parse_megabytes(value: Any) -> int | None:
    """`2048` (MB), `"512MB"`, `"1GB"`, `"1.5 GiB"` → whole megabytes."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            unit = (match.group("unit") or "m")[0].lower()
            return max(1, round(float(match.group("number")) * _MB_PER_UNIT[unit]))
    raise ValueError(f"expected a size such as 512 (MB), '512MB' or '1GB', got {value!r}")


DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|ms|s|m|h))+")
DEPENDENCY_CONDITIONS = {
    "started": "started", "service_started": "started",
    "healthy": "healthy", "service_healthy": "healthy",
    "completed": "completed", "service_completed_successfully": "completed",
}  # fmt: skip


def _check_duration(value: str) -> str:
    if not DURATION.fullmatch(value):
        raise ValueError(f"'{value}' is not a duration such as 30s, 1m30s or 500ms")
    return value


_SIGNAL = re.compile(r"(SIG)?[A-Z][A-Z0-9+-]{1,15}|[0-9]{1,2}")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_STOP_SECONDS = 600  # a longer grace would outlast tomo's own command timeout
MAX_REPLICAS = 64


def _check_signal(value: str) -> str:
    if not _SIGNAL.fullmatch(value):
        raise ValueError(f"'{value}' is not a signal such as SIGTERM, SIGQUIT or 15")
    return value


def duration_seconds(value: str) -> float:
    """`1m30s` → 90.0 (a duration _check_duration accepted)."""
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)", value)
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def _check_grace(value: str) -> str:
    if duration_seconds(_check_duration(value)) > MAX_STOP_SECONDS:
        raise ValueError(f"'{value}' is longer than {MAX_STOP_SECONDS // 60} minutes")
    return value


def _dependencies(value: Any) -> Any:
    """Compose's `[db, cache]` or `{db: {condition: service_healthy}}` → {name: condition}."""
    if value is None:
        return {}
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        return {name: "started" for name in value}
    if isinstance(value, dict):
        result = {}
        for name, detail in value.items():
            condition = (detail or {}).get("condition", "started") if isinstance(
                detail, dict) else detail  # fmt: skip
            if condition not in DEPENDENCY_CONDITIONS:
                raise ValueError(f"{name}: condition must be started, healthy or completed, "
                                 f"got {condition!r}")  # fmt: skip
            result[name] = DEPENDENCY_CONDITIONS[condition]
        return result
    return value


def _split_command(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command into arguments: {exc}") from None
    return value


def _parse_port_string(value: Any) -> Any:
    """Compose-style `"8080:80/udp"` or `"80"` → the mapping form."""
    if not isinstance(value, str):
        return value
    spec, _, protocol = value.partition("/")
    host, _, container = spec.rpartition(":")
    result: dict[str, Any] = {"container": container}
    if host:
        result["host"] = host
    if protocol:
        result["protocol"] = protocol
    return result


def _env_mapping_to_list(value: Any) -> Any:
    """Compose-style `{NAME: value}` → the list form."""
    if isinstance(value, dict):
        return [{"name": name, "default": default} for name, default in value.items()]
    return value


def _unique(values: list[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


Slug = Annotated[str, AfterValidator(_check_slug)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
ImageReference = Annotated[str, AfterValidator(_check_image)]
Capability = Annotated[str, AfterValidator(check_capability)]
Device = Annotated[str, AfterValidator(_check_device)]
Architecture = Annotated[str, AfterValidator(_check_architecture)]
Megabytes = Annotated[int | None, BeforeValidator(parse_megabytes)]
ShortLine = Annotated[ShownLine, Field(max_length=128)]


class _Definition(BaseModel):
    """Shared config: unknown keys are ignored, alternative names may not clash."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _one_name_per_field(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for names in _alternative_names(cls):
            given = [name for name in names if name in data]
            if len(given) > 1:
                raise ValueError(f"give only one of {' / '.join(map(str, given))}")
        return data


@functools.cache  # per model class; asked of every mapping of every definition
def _alternative_names(model: type[BaseModel]) -> tuple[tuple[str | AliasPath, ...], ...]:
    """The names of each field that may be given under several."""
    aliases = [field.validation_alias for field in model.model_fields.values()]
    return tuple(tuple(a.choices) for a in aliases if isinstance(a, AliasChoices))


class AppPort(_Definition):
    container: Port
    host: Port | None = None  # None: the same number as the container port
    protocol: Literal["tcp", "udp"] = "tcp"
    description: ShownLine = ""


MAX_SHIPPED_FILES = 256
MAX_SHIPPED_BYTES = 1024 * 1024  # all of an app's files together, decoded
FILE_MODE = re.compile(r"0?[0-7]{3}")  # of a shipped file, octal
FILE_OWNER = re.compile(r"[0-9]{1,9}:[0-9]{1,9}")  # uid:gid


def _check_shipped_path(value: str) -> str:
    """`./relative` under the installation's data directory, never tomo's own files."""
    path = check_host_path(value)
    if not path.startswith("./") or path == "./" or ".." in path.split("/"):
        raise ValueError(f"'{value}' is not a path under the data directory (./name)")
    if path[2:].split("/")[0].startswith(".tomo."):
        raise ValueError(f"'{value}' is where tomo keeps its own files")
    return path


class AppFile(_Definition):
    """A file the store ships with the app (Runtipi's `data/` folder, the files of
    an Umbrel app's folder): placed in the installation's data directory at an
    install, where no file is yet (data kept from before stays as it is)."""

    path: Annotated[str, AfterValidator(_check_shipped_path)]
    content: Annotated[str, Field(max_length=MAX_SHIPPED_BYTES * 4 // 3 + 4)]  # base64
    mode: Annotated[str, Field(pattern=FILE_MODE.pattern)] = "0644"
    owner: Annotated[str, Field(pattern=FILE_OWNER.pattern)] | None = None  # uid:gid, as root can
    # A store's template (Umbrel's, Runtipi's `*.template`): UTF-8 text in tomo's template
    # form (`${NAME}`, `$$`), filled in with the installation's values when placed.
    template: Bool = False

    @field_validator("content")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ValueError("content must be base64") from None
        return value

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.content)


_APP_REF = re.compile(r"(?:[a-z0-9][a-z0-9-]{0,62}/)?[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
MAX_REQUIRED_APPS = 16


def _check_app_ref(value: str) -> str:
    if not _APP_REF.fullmatch(value):
        raise ValueError(f"'{value}' is not an app ('app-id' of this catalog, or 'repo/app-id')")
    return value


def _check_variable_name(value: str) -> str:
    if not SETTING_NAME.fullmatch(value):
        raise ValueError(f"'{value}' cannot be referred to as ${{NAME}} (letters, digits and '_')")
    return value


VariableName = Annotated[str, Field(max_length=128), AfterValidator(_check_variable_name)]


def _check_imported_folder(value: str) -> str:
    """`NAME` or `NAME/sub/folder`: below the folder, never above or beside it."""
    name, _, below = value.partition("/")
    _check_variable_name(name)
    parts = below.split("/") if below else []
    if any(part in ("", ".", "..") or "\x00" in part for part in parts):
        raise ValueError(f"'{value}' must be an import's name, then folders below it "
                         "(no '..', '.' or empty part)")  # fmt: skip
    return value


class AppRequirement(_Definition):
    """Another app this one needs on the same server (Umbrel's `dependencies`): it is
    installed first, and `imports` are the variables it exports that this app's
    values use as `${NAME}` (its host on the network they share, its ports, its
    generated credentials)."""

    app: Annotated[str, AfterValidator(_check_app_ref)]
    imports: Annotated[list[VariableName], BeforeValidator(as_list), Field(max_length=64)] = []

    def app_ref(self, repo_id: str) -> str:
        """`repo/app`: an app of the same catalog unless it names another."""
        return self.app if "/" in self.app else f"{repo_id}/{self.app}"


class AppExport(_Definition):
    """A variable this app gives the apps that require it: the host name of one of
    its services (on the network they share), or a value made of its settings and
    the built-ins (`${APP_PASSWORD}`, `${TOMO_INSTANCE}`)."""

    name: VariableName
    host: Slug | None = None  # the service whose host name it is
    value: Annotated[str, Field(max_length=4096)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AppExport:
        if (self.host is None) == (self.value is None):
            raise ValueError(f"{self.name}: give either host (a service) or value")
        return self


MAX_HOOK_BYTES = 64 * 1024
HookMoment = Literal["before-install", "after-install", "before-update", "after-update",
                     "before-start", "after-start"]  # fmt: skip


class AppHook(_Definition):
    """A script the store runs around the app's containers (Umbrel's `hooks/`): tomo
    runs it in a one-shot container of the app's main image, with the installation's
    data directory mounted at the same path (`$APP_DATA_DIR`), never on the server
    itself. `before-start` and `after-start` run at every install and update (not at
    a plain start: what they prepare stays in the data directory)."""

    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    runs: HookMoment
    script: Annotated[str, Field(min_length=1, max_length=MAX_HOOK_BYTES)]
    interpreter: Literal["sh", "bash"] = "sh"


# A path pattern as Caddy's path matcher takes it (`/api/*`): absolute, no space, no
# control character and no `%` (Caddy compares the decoded path: an escape never matches).
PATH_PATTERN = re.compile(r"/[^\s\x00-\x1f\x7f%]{0,255}")
MAX_PATH_PATTERNS = 64


def _check_path_pattern(value: str) -> str:
    if not PATH_PATTERN.fullmatch(value):
        raise ValueError(f"'{value}' is not a path pattern (it starts with '/', holds no "
                         "space or '%', and has at most 256 characters)")  # fmt: skip
    return value


PathPattern = Annotated[str, AfterValidator(_check_path_pattern)]
PathPatterns = Annotated[
    list[PathPattern], BeforeValidator(as_list), AfterValidator(_unique),
    Field(max_length=MAX_PATH_PATTERNS),
]  # fmt: skip


class AppProxy(_Definition):
    """How the server's front door serves the app by name (Umbrel's `app_proxy`,
    Runtipi's exposed apps): which service and container port a name's requests go
    to, whether the app must have a name, and whether a login stands before it
    (`open_paths` never asked about, `closed_paths` always, whatever `open_paths`
    says). The port is any the container listens on, published or not: the front
    door reaches it over its own network; `tls`: that port speaks HTTPS (apps that
    make a certificate of their own, self-signed), which the front door then talks
    to it without checking that certificate (the network is the app's and its own)."""

    service: Slug | None = None  # None: the main service
    port: Port | None = None  # None: that service's first TCP port
    tls: Bool = False
    hostname: Literal["optional", "required"] = "optional"
    login: Bool = False
    open_paths: PathPatterns = []
    closed_paths: PathPatterns = []


MAX_BACKUP_DUMPS = 16
MAX_IGNORED = 64
MAX_ARGUMENTS = 64
_GLOB_COMPONENT = re.compile(r"[^/\x00-\x1f\x7f]{1,255}")


def check_ignore_pattern(value: str) -> str:
    """A glob (`*`, `?`, `[…]` within one name) relative to the installation's data
    folder, as its `./` host paths are: `cache/*`, `logs`, `data/*.tmp`."""
    pattern = value.strip().removeprefix("./").rstrip("/")
    if len(pattern) > 512:
        raise ValueError("is longer than 512 characters")
    components = pattern.split("/")
    if value.strip().startswith("/") or not pattern:
        raise ValueError(f"'{value}' is not relative to the data folder (cache/*, logs)")
    if any(c in ("", ".", "..") or not _GLOB_COMPONENT.fullmatch(c) for c in components):
        raise ValueError(f"'{value}' is not a path under the data folder (no '..', no "
                         "empty names, no control characters)")  # fmt: skip
    return pattern


Argument = Annotated[Text, Field(max_length=4096)]
Argv = Annotated[
    list[Argument], BeforeValidator(_split_command), Field(min_length=1, max_length=MAX_ARGUMENTS)
]


class BackupDump(_Definition):
    """A command run inside a running container that writes the service's data to
    stdout (`pg_dumpall`), and the one that reads it back from stdin (`psql`): a
    backup with dumps leaves the app running, the paths in `covers` standing for
    the data the dump holds (not copied as files)."""

    service: Slug | None = None  # None: the main service
    command: Argv
    restore: Argv
    covers: Annotated[list[AbsolutePath], BeforeValidator(as_list), Field(max_length=32)] = []
    # Polled (a bounded while) before `restore` runs: the service accepts it once it exits 0.
    ready: Argv | None = None


class AppBackup(_Definition):
    """How a backup treats the app: what it leaves out, and the dumps it makes
    instead of stopping the app (docs/backups.md)."""

    ignore: Annotated[
        list[Annotated[str, AfterValidator(check_ignore_pattern)]],
        BeforeValidator(as_list), AfterValidator(_unique), Field(max_length=MAX_IGNORED),
    ] = []  # fmt: skip
    dumps: Annotated[list[BackupDump], Field(max_length=MAX_BACKUP_DUMPS)] = []


class AppVolume(_Definition):
    container_path: AbsolutePath = Field(
        validation_alias=AliasChoices("container_path", "container")
    )
    # Absolute, or './name' under the installation's data directory; None lets tomo choose.
    host_path: HostPath | None = Field(
        default=None, validation_alias=AliasChoices("host_path", "host")
    )
    # A Docker named volume of the installation (services of one app may share it);
    # created and labelled by tomo, removed only by an uninstall that removes data.
    volume: Slug | None = None
    # A folder of the data of an app it requires: `NAME` or `NAME/sub/folder`, NAME
    # one of its imports that app exports as a folder of its data directory
    # (Umbrel's `${APP_LIGHTNING_NODE_DATA_DIR}`).
    imported_folder: Annotated[str, Field(max_length=512),
                               AfterValidator(_check_imported_folder)] | None = None  # fmt: skip
    readonly: Bool = False
    description: ShownLine = ""

    @model_validator(mode="after")
    def _one_source(self) -> AppVolume:
        given = [self.host_path, self.volume, self.imported_folder]
        if sum(source is not None for source in given) > 1:
            raise ValueError("give only one of host_path / volume / imported_folder")
        return self

    @property
    def imported_name(self) -> str | None:
        """The import an imported folder is of."""
        return self.imported_folder.split("/")[0] if self.imported_folder else None

    @model_validator(mode="before")
    @classmethod
    def _mode_to_readonly(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "mode" not in data:
            return data
        if "readonly" in data:
            raise ValueError("give only one of readonly / mode")
        mode = data["mode"]
        if mode not in ("rw", "ro"):
            raise ValueError(f"mode must be 'rw' or 'ro', got {mode!r}")
        return {**data, "readonly": mode == "ro"}


class AppEnvVar(_Definition):
    name: EnvName
    description: ShownLine = ""
    required: Bool = False
    default: Text | None = Field(default=None, validation_alias=AliasChoices("default", "value"))
    secret: Bool = False
    generate: Literal["password", "hex", "uuid"] | None = None
    # How many characters a generated password or hex has (the store asks: Runtipi's
    # `min`); without it, 32.
    length: Annotated[int, Field(ge=4, le=256)] | None = None
    # The only values it takes (a form offers them as a list); empty: any value.
    choices: Annotated[list[Line], Field(max_length=64)] = []
    # The variable through which the image also reads this secret from a file
    # (POSTGRES_PASSWORD_FILE): on a Swarm the value becomes a Swarm secret, mounted
    # as a file that variable names, and is kept out of the service's spec.
    file: EnvName | None = None

    @model_validator(mode="after")
    def _choices_fit(self) -> AppEnvVar:
        if self.choices and self.generate:
            raise ValueError("choices: a generated value cannot be one of a list")
        if self.length is not None and self.generate not in ("password", "hex"):
            raise ValueError("length: only for a generated password or hex")
        if self.choices and self.default not in (None, "", *self.choices):
            raise ValueError(f"default: '{self.default}' is not one of the choices")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError("choices: each value once")
        return self

    def refuses(self, value: str) -> str | None:
        """Why `value` cannot be given to it, if it cannot."""
        if self.choices and value not in self.choices:
            return (f"environment variable {self.name} takes one of {', '.join(self.choices)}, "
                    f"not '{value}'")  # fmt: skip
        return None


class HealthCheck(_Definition):
    """tomo's probe from the server (`endpoint`/`port`/`protocol`), or, with `test`,
    a check Docker runs inside the container (compose's form)."""

    endpoint: UrlPath = "/"  # appended to the probe's scheme://host:port
    port: Port | None = None
    protocol: Literal["http", "https", "tcp"] = "http"
    test: Annotated[list[Text], BeforeValidator(_split_command), Field(min_length=1)] | None = None
    interval: Annotated[str, AfterValidator(_check_duration)] | None = None
    timeout: Annotated[str, AfterValidator(_check_duration)] | None = None
    retries: Annotated[int, BeforeValidator(parse_int_field), Field(ge=1, le=100)] | None = None
    start_period: Annotated[str, AfterValidator(_check_duration)] | None = None

    @property
    def in_container(self) -> bool:
        return self.test is not None


class DockerConfig(_Definition):
    image: ImageReference
    ports: Annotated[
        list[Annotated[AppPort, BeforeValidator(_parse_port_string)]], Field(max_length=64)
    ] = []
    volumes: Annotated[list[AppVolume], Field(max_length=64)] = []
    environment: Annotated[
        list[AppEnvVar], BeforeValidator(_env_mapping_to_list), Field(max_length=256)
    ] = Field(default=[], validation_alias=AliasChoices("environment", "env"))
    restart_policy: Annotated[str, AfterValidator(_check_restart_policy)] = Field(
        default="unless-stopped", validation_alias=AliasChoices("restart_policy", "restart")
    )
    network_mode: Annotated[str, AfterValidator(_check_service_network_mode)] | None = None
    pid_mode: Literal["host"] | None = None
    ipc_mode: Literal["host", "private", "shareable"] | None = None
    privileged: Bool = False
    capabilities: Annotated[
        list[Capability], BeforeValidator(as_list), AfterValidator(_unique)
    ] = []
    devices: Annotated[list[Device], BeforeValidator(as_list)] = []
    # The server's NVIDIA GPUs, through Docker's `--gpus` (needs the NVIDIA runtime).
    gpus: Annotated[str, AfterValidator(_check_gpus)] | None = None
    # Hardening a container asks for (it only ever takes power away).
    cap_drop: Annotated[list[Capability], BeforeValidator(as_list), AfterValidator(_unique)] = []
    read_only: Bool = False
    security_opt: Annotated[
        list[Annotated[str, AfterValidator(_check_security_opt)]], BeforeValidator(as_list)
    ] = []
    # Kernel parameters of the container's own namespaces (compose's `sysctls`).
    sysctls: Annotated[dict[str, str], AfterValidator(_check_sysctls), Field(max_length=32)] = {}
    # What Docker gives it beyond that, by compose's names (see container_options):
    # limits, /dev/shm's size, an init process, extra host names, memory folders.
    mem_limit: Memory = None
    mem_reservation: Memory = None
    cpus: Cpus = None
    shm_size: Bytes = None
    init: Bool = False
    ulimits: Ulimits = {}
    extra_hosts: ExtraHosts = {}
    tmpfs: Tmpfs = []
    # Environment files the app ships (its `files`), read by Docker from the data
    # directory at every start, before `environment` (whose values win).
    env_file: Annotated[
        list[Annotated[str, AfterValidator(_check_shipped_path)]],
        BeforeValidator(as_list),
        Field(max_length=8),
    ] = []
    command: Annotated[list[Text], BeforeValidator(_split_command)] | None = None
    entrypoint: Annotated[list[Text], BeforeValidator(_split_command)] | None = None
    user: Annotated[Line, Field(min_length=1, max_length=64)] | None = None
    working_dir: AbsolutePath | None = None
    healthcheck: HealthCheck | None = None
    # How Docker stops it (stop, update, uninstall): the signal, then how long to wait
    # before it kills the container (Docker's defaults: SIGTERM, 10 s).
    stop_signal: Annotated[str, AfterValidator(_check_signal)] | None = None
    stop_grace_period: Annotated[str, AfterValidator(_check_grace)] | None = None
    # Other services of the app this one waits for: name -> started, healthy, completed.
    depends_on: Annotated[dict[Slug, str], BeforeValidator(_dependencies)] = {}
    # On a Docker Swarm, the tasks a service without data runs (compose's
    # `deploy.replicas`); on one server, and for a service with data, one.
    replicas: Annotated[int, Field(ge=1, le=MAX_REPLICAS)] = 1

    @model_validator(mode="after")
    def _no_clashes(self) -> DockerConfig:
        _refuse_duplicates("ports", [(p.host or p.container, p.protocol) for p in self.ports])
        _refuse_duplicates("volumes", [v.container_path for v in self.volumes])
        _refuse_duplicates("environment", [e.name for e in self.environment])
        _refuse_duplicates("tmpfs", [tmpfs_path(t) for t in self.tmpfs])
        if self.network_mode == "host" and any(n.startswith("net.") for n in self.sysctls):
            raise ValueError("sysctls: net.* parameters are the server's own with host "
                             "networking; Docker refuses them")  # fmt: skip
        for variable in self.environment:
            for key, asked in (("generate", variable.generate), ("file", variable.file)):
                if asked and not variable.secret:
                    raise ValueError(
                        f"environment: {variable.name} has '{key}' but not 'secret: true'"
                    )
        return self


def _refuse_duplicates(where: str, keys: list[Any]) -> None:
    seen: set[Any] = set()
    for key in keys:
        if key in seen:
            shown = "/".join(map(str, key)) if isinstance(key, tuple) else key
            raise ValueError(f"{where}: {shown} is given twice")
        seen.add(key)


class AppRequirements(_Definition):
    min_ram: Megabytes = Field(default=None, validation_alias=AliasChoices("min_ram", "memory"))
    min_storage: Megabytes = Field(
        default=None, validation_alias=AliasChoices("min_storage", "storage")
    )
    min_cpu: Float | None = Field(default=None, validation_alias=AliasChoices("min_cpu", "cpu"))
    architectures: Annotated[
        list[Architecture], BeforeValidator(as_list), AfterValidator(_unique)
    ] = Field(default=[], validation_alias=AliasChoices("architectures", "arch"))


MAIN_SERVICE = "app"  # the main service's name when the definition gives none
# `${NAME}` in a value of an app with settings; `$$` is a literal `$`.
REFERENCE = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")
# What tomo itself provides to `${...}` (see docs/variables.md).
BUILTIN_VARIABLES = {
    "TOMO_INSTANCE": "the installation's name",
    "TOMO_DATA_DIR": "the installation's data directory on the server",
    "TOMO_SERVER_HOST": "the server's address as tomo reaches it",
    # How people reach the app: by its first hostname through the front door, else by
    # the server's address and the port the app publishes (see deployment.app_spec).
    "TOMO_HOSTNAME": "the installation's first hostname, else the server's address",
    "TOMO_ADDRESS": "host[:port] people reach the app at",
    "TOMO_SCHEME": "https through a front door with TLS, else http",
    "TOMO_URL": "TOMO_SCHEME://TOMO_ADDRESS",
    "TOMO_EXPOSED": "true when the installation has a hostname, else false",
}
# The built-ins that change with the installation's hostnames: values made of them are
# worked out again at each install job and update, never kept as the user's.
NAME_BUILTINS = frozenset({"TOMO_HOSTNAME", "TOMO_ADDRESS", "TOMO_SCHEME", "TOMO_URL",
                           "TOMO_EXPOSED"})  # fmt: skip


def image_repository(reference: str) -> str:
    """An image without its tag or digest, as Docker Hub's short form names it
    (`docker.io/library/nginx:1.27` and `nginx` are one image)."""
    match = IMAGE_REFERENCE.fullmatch(reference.strip())
    name = match.group("name") if match else reference.strip()
    for prefix in ("docker.io/library/", "index.docker.io/library/", "library/",
                   "docker.io/", "index.docker.io/"):  # fmt: skip
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def references(value: str) -> list[str]:
    """The names a value refers to with `${NAME}`."""
    return [m.group("name") for m in REFERENCE.finditer(value) if m.group("name")]


class AppDefinition(_Definition):
    """Everything one definition file says about an app.

    An app is one container (`docker:`) or several (`services:`, one of them the
    main one, whose ports are the app's link). Internally `docker` is always the
    main service and `services` holds the others, so that code which knows one
    container keeps working for every app.
    """

    id: Slug
    name: ShortLine
    tagline: Annotated[ShownLine, Field(max_length=256)] = ""
    description: Annotated[ShownText, Field(max_length=8000)] = ""
    version: Annotated[Line, Field(min_length=1, max_length=64)]
    # What this version changes, in the catalog's words: shown where an update to it is offered.
    release_notes: Annotated[ShownText, Field(max_length=8000)] = ""
    category: Slug = "other"
    tags: Annotated[
        list[Slug], BeforeValidator(as_list), AfterValidator(_unique), Field(max_length=32)
    ] = []
    author: ShortLine = ""
    license: ShortLine = ""
    repository: Url | None = None
    documentation: Url | None = None
    icon: Annotated[str, AfterValidator(_check_icon)] | None = None
    screenshots: Annotated[
        list[Annotated[str, AfterValidator(_check_icon)]], Field(max_length=16)
    ] = []
    maintainers: Annotated[list[ShortLine], BeforeValidator(as_list)] = []
    featured: Bool = False
    docker: DockerConfig
    services: Annotated[dict[Slug, DockerConfig], Field(max_length=32)] = {}
    main: Slug | None = None
    # Values the user gives (or tomo generates) once for the whole app, used in the
    # services' values as `${NAME}`.
    settings: Annotated[list[AppEnvVar], Field(max_length=256)] = []
    requirements: AppRequirements = AppRequirements()
    files: Annotated[list[AppFile], Field(max_length=MAX_SHIPPED_FILES)] = []
    # Other apps it needs on its server, and what it gives the apps that need it.
    requires: Annotated[list[AppRequirement], Field(max_length=MAX_REQUIRED_APPS)] = []
    exports: Annotated[list[AppExport], Field(max_length=64)] = []
    # Variables of apps it may find among those it requires, or theirs (Umbrel's apps
    # use other apps' exports without listing them): "" when none gives it.
    optional_imports: Annotated[
        list[VariableName], BeforeValidator(as_list), Field(max_length=64)
    ] = []
    hooks: Annotated[list[AppHook], Field(max_length=16)] = []
    # Its values are templates (`${NAME}`, `$$`) even as one container without
    # settings: a store's compose file that uses tomo's built-ins.
    templated: Bool = False
    # Why tomo cannot install this app (the catalog still lists it), or None.
    not_installable: Annotated[ShownText, Field(max_length=2000)] | None = None
    # What a backup leaves out, and the dumps that keep the app running meanwhile.
    backup: AppBackup = AppBackup()
    # How the front door serves it by name (None: its main service's first TCP port).
    proxy: AppProxy | None = None
    # Where a person opens it: the path of its page on its web port (CasaOS's `index`,
    # Umbrel's `path`, Runtipi's `url_suffix`), appended to the app's link.
    web_path: UrlPath = "/"

    @model_validator(mode="before")
    @classmethod
    def _runtime_keys_into_docker(cls, data: Any) -> Any:
        """Some definitions put `command`/`healthcheck` beside `docker`, not in it."""
        if not isinstance(data, dict) or not isinstance(data.get("docker"), dict):
            return data
        moved = {key: data[key] for key in ("command", "healthcheck") if key in data}
        clash = [key for key in moved if key in data["docker"]]
        if clash:
            raise ValueError(f"'{clash[0]}' is given both at the top level and under docker")
        if not moved:
            return data
        rest = {key: value for key, value in data.items() if key not in moved}
        return {**rest, "docker": {**data["docker"], **moved}}

    @model_validator(mode="before")
    @classmethod
    def _main_service_into_docker(cls, data: Any) -> Any:
        """The `services:` form: the main service becomes `docker`."""
        if not isinstance(data, dict) or "docker" in data or not isinstance(
            data.get("services"), dict
        ):  # fmt: skip
            return data
        services = dict(data["services"])
        if not services:
            raise ValueError("services: name at least one service")
        main = data.get("main")
        if main is None:
            main = _default_main(services)
        if not isinstance(main, str) or main not in services:
            raise ValueError(f"main: '{main}' is not one of the services "
                             f"({', '.join(map(str, services))})")  # fmt: skip
        docker = services.pop(main)
        return {**data, "docker": docker, "services": services, "main": main}

    # Where invisible formatting characters were removed (see invisible.py), for the
    # sync report; not part of the definition.
    _invisible_removed: list[str] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _without_invisible_characters(
        cls, data: Any, handler: ModelWrapValidatorHandler[AppDefinition]
    ) -> AppDefinition:
        """Every text of the definition without the characters that make lookalike
        names (the one place every catalog format's definitions pass through)."""
        cleaned, places = strip_invisible(data)
        definition = handler(cleaned)
        definition._invisible_removed = places
        return definition

    def _env_files_fit(self, every: dict[str, DockerConfig]) -> None:
        """An env_file is one of the app's files, and in no folder a container of the
        app can write: Docker reads it on the server, and a container that could
        replace it with a link would have the server's files read into its environment."""
        placed = {f.path for f in self.files}
        writable = [(name, posixpath.normpath(v.host_path))
                    for name, service in every.items() for v in service.volumes
                    if v.host_path and v.host_path[0] != "/" and not v.readonly]  # fmt: skip
        for name, service in every.items():
            for path in service.env_file:
                if path not in placed:
                    raise ValueError(f"services.{name}.env_file: {path} is not one of the "
                                     "app's files")  # fmt: skip
                inside = posixpath.normpath(path)
                for owner, folder in writable:
                    if folder == "." or inside.startswith(folder + "/"):
                        where = "the data directory" if folder == "." else f"./{folder}"
                        raise ValueError(
                            f"services.{name}.env_file: {path} is in {where}, which "
                            f"services.{owner} mounts writable: a container could replace it "
                            "with a link to a file of the server"
                        )

    @property
    def invisible_removed(self) -> list[str]:
        """Where invisible formatting characters were removed when it was loaded."""
        return list(self._invisible_removed)

    @model_validator(mode="after")
    def _services_fit_together(self) -> AppDefinition:
        every = self.all_services
        if self.services and self.main in self.services:
            raise ValueError(f"main: '{self.main}' is given twice")
        for name, service in every.items():
            for needed in service.depends_on:
                if needed not in every or needed == name:
                    raise ValueError(f"services.{name}.depends_on: '{needed}' is not another "
                                     "service of this app")  # fmt: skip
            mode = service.network_mode or ""
            if mode.startswith("service:") and (mode[8:] not in every or mode[8:] == name):
                raise ValueError(f"services.{name}.network_mode: '{mode[8:]}' is not another "
                                 "service of this app")  # fmt: skip
        cycle = dependency_cycle(every)
        if cycle:
            raise ValueError("services depend on each other in a circle: " + " → ".join(cycle))
        _refuse_duplicates("settings", [s.name for s in self.settings])
        _refuse_duplicates("files", [f.path for f in self.files])
        self._env_files_fit(every)
        shipped = sum(len(f.content) * 3 // 4 for f in self.files)
        if shipped > MAX_SHIPPED_BYTES:
            raise ValueError(f"files: {shipped} bytes together, more than {MAX_SHIPPED_BYTES}")
        for position, setting in enumerate(self.settings):
            if not SETTING_NAME.fullmatch(setting.name):
                raise ValueError(f"settings[{position}].name: '{setting.name}' cannot be "
                                 "referred to as ${NAME} (letters, digits and '_')")  # fmt: skip
        self._requirements_fit()
        self._backup_fits()
        self._proxy_fits()
        self._references_are_known()
        return self

    def _requirements_fit(self) -> None:
        _refuse_duplicates("requires", [r.app for r in self.requires])
        _refuse_duplicates("exports", [e.name for e in self.exports])
        imported = [name for r in self.requires for name in r.imports]
        _refuse_duplicates("requires: imports", imported)
        _refuse_duplicates("optional_imports", self.optional_imports)
        own = {s.name for s in self.settings} | set(BUILTIN_VARIABLES)
        clash = sorted(set(imported) & own)
        if clash:
            raise ValueError(f"requires: {clash[0]} is imported and also a setting or built-in")
        clash = sorted(set(self.optional_imports) & (own | set(imported)))
        if clash:
            raise ValueError(f"optional_imports: {clash[0]} is also a setting, a built-in or "
                             "imported from an app it requires")  # fmt: skip
        if any(r.app == self.id for r in self.requires):
            raise ValueError(f"requires: '{self.id}' is this app itself")
        for service, docker in self.all_services.items():
            for volume in docker.volumes:
                if volume.imported_name and volume.imported_name not in imported:
                    raise ValueError(f"{service}: volume {volume.container_path}: "
                                     f"{volume.imported_name} is none of the imports of the "
                                     "apps it requires")  # fmt: skip
        for export in self.exports:
            if export.host is not None and export.host not in self.all_services:
                raise ValueError(f"exports: {export.name}: '{export.host}' is not a service "
                                 "of this app")  # fmt: skip
            unknown = [r for r in references(export.value or "") if r not in own]
            if unknown:
                raise ValueError(f"exports: {export.name}: ${{{unknown[0]}}} is not a setting "
                                 "of this app")  # fmt: skip

    def _backup_fits(self) -> None:
        """Each dump of a service of this app (the main one when it names none), one
        per service: a backup stores it as `SERVICE.dump`."""
        seen: set[str] = set()
        for position, dump in enumerate(self.backup.dumps):
            service = dump.service or self.main_service
            if service not in self.all_services:
                raise ValueError(f"backup.dumps[{position}].service: '{service}' is not a "
                                 "service of this app")  # fmt: skip
            if service in seen:
                raise ValueError(f"backup.dumps[{position}].service: '{service}' has a dump "
                                 "already (one per service)")  # fmt: skip
            seen.add(service)

    def _proxy_fits(self) -> None:
        """The front door's service is one of the app's, and it knows the port."""
        if self.proxy is None:
            return
        service = self.proxy.service or self.main_service
        if service not in self.all_services:
            raise ValueError(f"proxy.service: '{service}' is not a service of this app "
                             f"({', '.join(self.all_services)})")  # fmt: skip
        if self.routed[1] is None:
            raise ValueError(f"proxy.port: service {service} publishes no TCP port; give the "
                             "port it listens on")  # fmt: skip

    @property
    def routed(self) -> tuple[str, int | None]:
        """The service the front door sends a name's requests to, and its container
        port (None: the service has no TCP port and the definition names none)."""
        proxy = self.proxy or AppProxy()
        service = proxy.service or self.main_service
        ports = [p.container for p in self.all_services[service].ports if p.protocol == "tcp"]
        return service, proxy.port or (ports[0] if ports else None)

    @property
    def needs_hostname(self) -> bool:
        """Whether it is served by name only (an install names it under the domain)."""
        return self.proxy is not None and self.proxy.hostname == "required"

    @property
    def asks_login(self) -> bool:
        """Whether it asks for tomo's login in front of its names (`proxy.login`)."""
        return self.proxy is not None and self.proxy.login

    @property
    def imported_names(self) -> set[str]:
        """What the apps it requires give it, optional imports included."""
        listed = {name for requirement in self.requires for name in requirement.imports}
        return listed | set(self.optional_imports)

    @property
    def is_templated(self) -> bool:
        """Whether its values are templates (`${NAME}`, `$$`): an app that says so, or
        with settings, several services or other apps' variables; a single container
        without any of them takes its values as written."""
        return bool(self.templated or self.settings or self.services or self.requires
                    or any(f.template for f in self.files))  # fmt: skip

    def _references_are_known(self) -> None:
        known = {s.name for s in self.settings} | set(BUILTIN_VARIABLES) | self.imported_names
        settings = {s.name for s in self.settings}
        for name, service in self.all_services.items():
            for i, device in enumerate(service.devices):
                chosen = CHOSEN_DEVICE.fullmatch(device)
                if chosen and chosen.group("setting") not in settings:
                    raise ValueError(f"services.{name}.devices[{i}]: ${{{chosen.group('setting')}}}"
                                     " is not a setting of this app")  # fmt: skip
        if not self.is_templated:
            return  # a single container without settings: values are taken as written
        for name, service in self.all_services.items():
            values = [(f"environment.{v.name}", v.default or "") for v in service.environment]
            values += [(key, " ".join(getattr(service, key) or []))
                       for key in ("command", "entrypoint")]  # fmt: skip
            values += [(f"devices[{i}]", d) for i, d in enumerate(service.devices)]
            for where, value in values:
                unknown = [r for r in references(value) if r not in known]
                if unknown:
                    raise ValueError(f"services.{name}.{where}: ${{{unknown[0]}}} is not a "
                                     "setting of this app")  # fmt: skip
        for shipped in (f for f in self.files if f.template):
            text = shipped.data.decode("utf-8", "replace")
            unknown = [r for r in references(text) if r not in known]
            if unknown:
                raise ValueError(f"files: {shipped.path}: ${{{unknown[0]}}} is not a setting "
                                 "of this app")  # fmt: skip

    @property
    def main_service(self) -> str:
        return self.main or MAIN_SERVICE

    @property
    def all_services(self) -> dict[str, DockerConfig]:
        """Every service by name, the main one first."""
        return {self.main_service: self.docker, **self.services}

    @property
    def is_multi_container(self) -> bool:
        return bool(self.services)


def _default_main(services: dict[Any, Any]) -> Any:
    """The only service, else the first that publishes ports, else the first."""
    for name, service in services.items():
        if isinstance(service, dict) and service.get("ports"):
            return name
    return next(iter(services))


def dependency_cycle(services: dict[str, DockerConfig]) -> list[str]:
    """A circle of depends_on (names in order, the first repeated), or []."""
    state: dict[str, str] = {}
    for name in services:
        if name not in state:
            found = _visit(services, state, name, [name])
            if found:
                return found
    return []


# Not a closure inside dependency_cycle: a nested function that calls itself is a
# reference cycle, which kept every validated definition's services alive until the
# cyclic collector ran (a sync pauses it: 10,000 apps left 400,000 objects to scan).
def _visit(
    services: dict[str, DockerConfig], state: dict[str, str], name: str, path: list[str]
) -> list[str]:
    state[name] = "visiting"
    for needed in services[name].depends_on:
        if state.get(needed) == "visiting":
            return [*path[path.index(needed) :], needed] if needed in path else [name, needed]
        if needed in services and needed not in state:
            found = _visit(services, state, needed, [*path, needed])
            if found:
                return found
    state[name] = "done"
    return []


def start_order(services: dict[str, DockerConfig]) -> list[str]:
    """Services in an order where each comes after what it depends on (stable:
    otherwise in the definition's order)."""
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        placed.add(name)
        for needed in services[name].depends_on:
            place(needed)
        order.append(name)

    for name in services:
        place(name)
    return order
