"""Risk flags: settings that give a container power over its host.

Each flag is a precise string (`cap:NET_ADMIN`, `system-path:/etc`) so that an
install can require the user to accept exactly the flags the app carries.
"""

from __future__ import annotations

import posixpath

from tomo.marketplace.definition import DockerConfig

# Docker grants these by default; asking for them adds no power.
DEFAULT_CAPABILITIES = frozenset(
    """AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW
    SETFCAP SETGID SETPCAP SETUID SYS_CHROOT""".split()
)
DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
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


def assess_risks(docker: DockerConfig) -> list[str]:
    """All risk flags of one app, sorted so that stored values compare equal."""
    flags: set[str] = set()
    if docker.privileged:
        flags.add("privileged")
    flags.update(f"cap:{cap}" for cap in docker.capabilities if cap not in DEFAULT_CAPABILITIES)
    if docker.network_mode == "host":
        flags.add("host-network")
    if docker.pid_mode == "host":
        flags.add("host-pid")
    if docker.ipc_mode == "host":
        flags.add("host-ipc")
    flags.update(f"device:{device.split(':')[0]}" for device in docker.devices)
    for volume in docker.volumes:
        flags.update(_volume_flags(volume.host_path, readonly=volume.readonly))
    return sorted(flags)


def _volume_flags(host_path: str | None, *, readonly: bool) -> set[str]:
    if host_path is None or not host_path.startswith("/"):
        return set()  # lives under the installation's own data directory
    path = posixpath.normpath(host_path)
    if path in DOCKER_SOCKETS:
        return {"docker-socket"}  # read-only does not make the socket harmless
    if readonly:
        return set()
    root = system_root(path)
    return {f"system-path:{path}"} if root else set()


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
