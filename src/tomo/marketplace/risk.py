"""Risk flags: settings that give a container power over its host.

Each flag is a precise string (`cap:NET_ADMIN`, `system-path:/etc`) so that an
install can require the user to accept exactly the flags the app carries.
`risk_flag_problem` says whether a name a user typed is such a flag.
"""

from __future__ import annotations

import difflib
import functools
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tomo.marketplace.definition import (
    CHOSEN_DEVICE,
    SETTING_NAME,
    AppDefinition,
    DockerConfig,
    check_capability,
    check_network_mode,
)
from tomo.marketplace.fields import normalize_absolute
from tomo.paths import DEFAULT_DATA_ROOT
from tomo.slugs import SLUG

# Docker grants these by default; asking for them adds no power.
DEFAULT_CAPABILITIES = frozenset(
    """AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW
    SETFCAP SETGID SETPCAP SETUID SYS_CHROOT""".split()
)
# Network modes that give a container nothing beyond its own network.
DEFAULT_NETWORK_MODES = frozenset({"bridge", "default", "none"})
# Sockets that command a container runtime, and so the whole host: connect()
# works through a read-only mount too. `{uid}` stands for any user id (rootless
# runtimes); /var/run is /run on current systems, but older hosts keep both.
RUNTIME_SOCKETS = {
    "docker-socket": (
        "/run/docker.sock",
        "/var/run/docker.sock",
        "/run/user/{uid}/docker.sock",
        "/var/run/user/{uid}/docker.sock",
    ),
    "runtime-socket:containerd": (
        "/run/containerd/containerd.sock",
        "/var/run/containerd/containerd.sock",
    ),
    "runtime-socket:podman": (
        "/run/podman/podman.sock",
        "/var/run/podman/podman.sock",
        "/run/user/{uid}/podman/podman.sock",
        "/var/run/user/{uid}/podman/podman.sock",
    ),
    "runtime-socket:crio": ("/run/crio/crio.sock", "/var/run/crio/crio.sock"),
}
RUNTIMES = ("containerd", "crio", "podman")
# Where private SSH keys live (`{user}`: any user); reading them is enough.
SSH_KEY_DIRS = ("/root/.ssh", "/home/{user}/.ssh")
# Host paths that, mounted writable, let a container change the host itself.
SYSTEM_PATHS = (
    "/",
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/usr",
    "/var",
)
# Under these system roots, only the listed subtrees are flagged (a media
# library under /srv or /opt is ordinary; /var/lib/docker is not). /home is
# narrowed in `system_root`.
_NARROWED = {
    "/srv": (),
    "/opt": (),
    "/var": ("/var/lib", "/var/run", "/var/log", "/var/spool"),
    "/run": ("/run/systemd", "/run/dbus"),
}
# Host paths whose contents are secret even to a reader: password hashes and host
# keys (/etc), root's files, the kernel's view of every process and device, every
# container's data and volumes (/var/lib), logs, backups of the password files,
# the runtime sockets of snaps (LXD) and services (/run). Mounted read-only they
# are still flagged (`host-read:`); mounted writable they are system paths too.
SECRET_PATHS = ("/etc", "/root", "/proc", "/sys", "/boot", "/dev", "/run", "/var/run",
                "/var/lib", "/var/log", "/var/backups", "/var/spool", "/var/mail",
                "/var/snap", "/snap")  # fmt: skip
# Read-only files under those that tell a container only the time or the system's
# name: compose files mount them everywhere.
HARMLESS_READS = frozenset({"/etc/localtime", "/etc/timezone", "/etc/os-release",
                            "/etc/hostname", "/etc/ssl/certs"})  # fmt: skip
# A unix socket reaches whatever serves it (a container runtime, a database, the
# init system): any path named like one is flagged (`socket:`) even read-only.
_SOCKET_NAME = re.compile(r".*\.(sock|socket)|unix\.socket")
_PLAIN_FLAGS = ("privileged", "host-network", "host-pid", "host-ipc", "docker-socket", "gpu")
_DEVICE_PATH = re.compile(r"/dev/[A-Za-z0-9._/-]+")
_UID = re.compile(r"[0-9]+")


def assess_risks(docker: DockerConfig, *, data_root: str = DEFAULT_DATA_ROOT) -> list[str]:
    """All risk flags of one container, sorted so that stored values compare equal.
    `data_root` is the server's folder of installations (the default one in the
    catalog, where no server is chosen yet)."""
    flags: set[str] = set()
    if docker.privileged:
        flags.add("privileged")
    flags.update(f"cap:{cap}" for cap in docker.capabilities if cap not in DEFAULT_CAPABILITIES)
    mode = docker.network_mode
    # `service:NAME` shares a sibling's network, which holds nothing of the host's.
    if mode is not None and mode not in DEFAULT_NETWORK_MODES and not mode.startswith("service:"):
        flags.add(network_flag(mode))
    if docker.pid_mode == "host":
        flags.add("host-pid")
    if docker.ipc_mode == "host":
        flags.add("host-ipc")
    flags.update(device_flag(device) for device in docker.devices)
    if docker.gpus:
        flags.add("gpu")
    for volume in docker.volumes:
        if volume.host_path is not None:
            flags.update(
                volume_risks(volume.host_path, readonly=volume.readonly, data_root=data_root)
            )
    return sorted(flags)


def device_flag(device: str) -> str:
    """`device:/dev/ttyUSB0`; a device chosen at install, `device-setting:SERIAL`: the
    flag names the setting, so the catalog and the install say the same."""
    chosen = CHOSEN_DEVICE.fullmatch(device)
    if chosen:
        return f"device-setting:{chosen.group('setting')}"
    return f"device:{device.split(':')[0]}"


def app_risks(definition: AppDefinition) -> list[str]:
    """The risk flags of every service of an app, together, with the nesting of
    the folders it names (tomo places those it leaves unnamed apart)."""
    every = definition.all_services.values()
    flags = {flag for service in every for flag in assess_risks(service)}
    flags |= {f"app:{r.app.rpartition('/')[2]}" for r in definition.requires if r.imports}
    exporter = {name: r.app.rpartition("/")[2] for r in definition.requires for name in r.imports}
    flags |= {f"app-data:{exporter[v.imported_name]}" for service in every
              for v in service.volumes if v.imported_name in exporter}  # fmt: skip
    named = [host_mount(v.host_path, v.readonly, CATALOG_INSTANCE)
             for service in every for v in service.volumes if v.host_path is not None]  # fmt: skip
    return sorted(flags | nested_mount_risks(named))


# -- folders inside folders ----------------------------------------------------

# Where a catalog's `./relative` folders are judged to lie before a server is
# chosen: no real path can hold a NUL, so none can meet it by accident.
CATALOG_INSTANCE = "/\x00instance"


@dataclass(frozen=True)
class HostMount:
    """A bind mount's source: as the definition or user gave it, and where it is."""

    shown: str  # `./data` or an absolute path: the flag names it so
    path: str  # absolute and normalised
    readonly: bool


def host_mount(host_path: str, readonly: bool, instance_dir: str) -> HostMount:
    """A mount of `host_path` as given (`./x` lies in the instance folder)."""
    if host_path.startswith("./"):
        return HostMount(host_path, posixpath.join(instance_dir, host_path[2:]), readonly)
    return HostMount(host_path, normalize_absolute(host_path), readonly)


def nested_mount_risks(mounts: Iterable[HostMount], outers: Iterable[HostMount] = ()) -> set[str]:
    """`nested-mount:INNER` for each mount whose source lies inside a folder that a
    container can write (another mount of `mounts`, or one of `outers`: other
    installations' on the server). That container can replace the inner folder with
    a symlink to anywhere, and Docker follows it when it next starts the inner
    mount's container: the host's root, writable. A folder a writable mount lies in
    endangers it the same way, so `mounts` inside each other are judged both ways."""
    mounts = list(mounts)
    writers = [m for m in [*mounts, *outers] if not m.readonly]
    flags = {f"nested-mount:{m.shown}" for m in mounts
             if any(_strictly_inside(m.path, w.path) for w in writers)}  # fmt: skip
    own_writers = [m for m in mounts if not m.readonly]
    flags |= {f"nested-mount:{o.shown}" for o in outers
              if any(_strictly_inside(o.path, w.path) for w in own_writers)}  # fmt: skip
    return flags


def _strictly_inside(path: str, folder: str) -> bool:
    return path != folder and path.startswith(folder.rstrip("/") + "/")


def network_flag(mode: str) -> str:
    return "host-network" if mode == "host" else f"network:{mode}"


def volume_risks(host_path: str, *, readonly: bool, data_root: str = DEFAULT_DATA_ROOT) -> set[str]:
    """The flags of one bind mount of `host_path`, judged on its normalised form."""
    if not host_path.startswith("/"):
        return set()  # lives under the installation's own data directory
    path = normalize_absolute(host_path)
    parts = _components(path)
    flags: set[str] = set()
    for flag, sockets in RUNTIME_SOCKETS.items():
        if any(_is_exactly(parts, socket) for socket in sockets):
            return {flag}  # the socket itself: its own flag says it all
        if any(_is_at_or_above(parts, socket) for socket in sockets):
            flags.add(flag)
    if _SOCKET_NAME.fullmatch(parts[-1] if parts else ""):
        flags.add(f"socket:{path}")
    if any(_overlaps(parts, keys) for keys in SSH_KEY_DIRS):
        flags.add(f"ssh-keys:{path}")
    if _overlaps(parts, normalize_absolute(data_root)):
        flags.add(f"tomo-data:{path}")
    if not readonly and system_root(path):
        flags.add(f"system-path:{path}")
    elif readonly and reads_secrets(path):
        flags.add(f"host-read:{path}")
    return flags


def reads_secrets(path: str) -> bool:
    """Whether reading `path` (and what lies under it) gives away a secret path."""
    if path in HARMLESS_READS:
        return False
    parts = _components(path)
    return path == "/" or any(_overlaps(parts, secret) for secret in SECRET_PATHS)


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


@functools.lru_cache(maxsize=256)
def _pattern_components(pattern: str) -> tuple[str, ...]:
    """A pattern's components, split once: the patterns are the constants above and
    the data root, and every bind mount of a sync is held against each of them."""
    return tuple(_components(pattern))


def _is_exactly(parts: list[str], pattern: str) -> bool:
    return len(parts) == len(_pattern_components(pattern)) and _overlaps(parts, pattern)


def _is_at_or_above(parts: list[str], pattern: str) -> bool:
    """Whether a mount of `parts` contains (or is) the path `pattern`."""
    return len(parts) <= len(_pattern_components(pattern)) and _overlaps(parts, pattern)


def _overlaps(parts: list[str], pattern: str) -> bool:
    """Whether `parts` is `pattern`, above it or inside it."""
    pairs = zip(parts, _pattern_components(pattern), strict=False)  # up to the shorter
    return all(_component_matches(part, wanted) for part, wanted in pairs)


def _component_matches(part: str, wanted: str) -> bool:
    if wanted == "{uid}":
        return _UID.fullmatch(part) is not None
    return wanted == "{user}" or part == wanted


def system_root(path: str) -> str | None:
    """The system path that `path` lies in, if writing there endangers the host."""
    if path == "/":
        return "/"
    top = "/" + path.split("/")[1]
    if top not in SYSTEM_PATHS:
        return None
    if top == "/home":
        # A user's home (with its ~/.ssh) is dangerous; a folder inside it is not.
        return top if path.count("/") <= 2 else None
    narrowed = _NARROWED.get(top)
    if narrowed is None or path == top:
        return top
    return next((sub for sub in narrowed if path == sub or path.startswith(sub + "/")), None)


# -- flag names a user types --------------------------------------------------


def risk_flag_problem(name: str) -> str | None:
    """None for a well-formed risk flag name, else what is wrong with it."""
    if name in _PLAIN_FLAGS:
        return None
    kind, colon, value = name.partition(":")
    canonical = _CANONICAL.get(kind) if colon else None
    if canonical is None:
        return _not_a_flag(name, _closest(name, value if colon else None))
    try:
        meant = canonical(value)
    except ValueError as exc:
        return f"{_not_a_flag(name, None)}: {exc}"
    return None if meant == name else _not_a_flag(name, meant)


def _not_a_flag(name: str, suggestion: str | None) -> str:
    hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
    return f"'{name}' is not a risk flag{hint}"


def _closest(name: str, value: str | None) -> str | None:
    """The well-formed flag name nearest to a misspelt one, ignoring case."""
    kinds = [f"{kind}:{value}" for kind in _CANONICAL] if value is not None else []
    candidates = {c.lower(): c for c in [*_PLAIN_FLAGS, *kinds] if risk_flag_problem(c) is None}
    found = difflib.get_close_matches(name.lower(), candidates, n=1)
    return candidates[found[0]] if found else None


def _capability_flag(value: str) -> str:
    return f"cap:{check_capability(value)}"


def _device_flag(value: str) -> str:
    if not _DEVICE_PATH.fullmatch(value) or ".." in value.split("/"):
        raise ValueError("'device:' names a path under /dev/")
    return f"device:{value}"


def _path_flag(kind: str) -> Callable[[str], str]:
    def canonical(value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"'{kind}:' names an absolute path")
        return f"{kind}:{normalize_absolute(value)}"

    return canonical


def _nested_flag(value: str) -> str:
    """An absolute path, or one under the installation's folder (`./data/cache`)."""
    if value.startswith("./"):
        relative = posixpath.normpath(value[2:])
        if relative in (".", "") or relative.startswith(".."):
            raise ValueError("'nested-mount:' names a folder such as ./data/cache or /srv/x")
        return f"nested-mount:./{relative}"
    return _path_flag("nested-mount")(value)


def _runtime_socket_flag(value: str) -> str:
    if value == "docker":
        return "docker-socket"
    if value not in RUNTIMES:
        raise ValueError(f"the runtime is one of {', '.join(RUNTIMES)}")
    return f"runtime-socket:{value}"


def _network_flag(value: str) -> str:
    if value in DEFAULT_NETWORK_MODES:
        raise ValueError(f"the network mode '{value}' is no risk")
    return network_flag(check_network_mode(value))


def _device_setting_flag(value: str) -> str:
    if not SETTING_NAME.fullmatch(value):
        raise ValueError(f"'{value}' is not a setting's name")
    return f"device-setting:{value}"


def _app_flag(value: str) -> str:
    if not SLUG.fullmatch(value):
        raise ValueError(f"'{value}' is not an app id")
    return f"app:{value}"


def _app_data_flag(value: str) -> str:
    return "app-data:" + _app_flag(value).removeprefix("app:")


# Each kind of flag with a value: the flag's canonical spelling, or ValueError.
_CANONICAL: dict[str, Callable[[str], str]] = {
    "cap": _capability_flag,
    "device": _device_flag,
    "system-path": _path_flag("system-path"),
    "ssh-keys": _path_flag("ssh-keys"),
    "tomo-data": _path_flag("tomo-data"),
    "host-read": _path_flag("host-read"),
    "socket": _path_flag("socket"),
    "nested-mount": _nested_flag,
    "runtime-socket": _runtime_socket_flag,
    "network": _network_flag,
    "app": _app_flag,
    "app-data": _app_data_flag,
    "device-setting": _device_setting_flag,
}
