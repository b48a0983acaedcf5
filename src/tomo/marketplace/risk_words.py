"""Risk flags (tomo.marketplace.risk) in plain words: a title and one sentence a
homelab owner reads before accepting the flag, and the order of danger they
are listed in."""

from __future__ import annotations

_PLAIN_RISKS = {
    "privileged": ("Full control of the server",
                   "The container runs privileged: it sees every device and may change the "
                   "kernel's settings, so it can do anything root can do on the server."),
    "host-network": ("Uses the server's own network",
                     "The app shares the server's network instead of having its own: it can "
                     "listen on any port of the server and see all of its network traffic."),
    "host-pid": ("Sees every process of the server",
                 "The app shares the server's process list: it can see every program running "
                 "on the server and, with enough rights, inspect or stop them."),
    "host-ipc": ("Shares the server's shared memory",
                 "The app shares the server's inter-process communication, so it can read or "
                 "disturb programs on the server that talk through shared memory."),
    "gpu": ("Uses the server's GPUs",
            "The container gets the server's NVIDIA GPUs and the driver's device files: it can "
            "run code on them, read what other programs leave in their memory, and keep them "
            "busy."),
    "docker-socket": ("Controls Docker on the server",
                      "The Docker socket is mounted: the app can create, change and remove any "
                      "container, including one that mounts the whole disk. That is the same as "
                      "root on the server, even when the socket is mounted read-only."),
}  # fmt: skip
_CAPABILITIES = {
    "SYS_ADMIN": "mount filesystems and many other administrative operations that together "
    "come close to full root on the server",
    "NET_ADMIN": "change network settings: interfaces, routes and firewall rules (the "
    "server's own, when it also uses the server's network)",
    "SYS_PTRACE": "inspect and control other processes it can see, reading their memory "
    "and secrets",
    "SYS_MODULE": "load code into the server's kernel, which gives it the whole server",
    "SYS_RAWIO": "reach hardware and memory directly, below the operating system's checks",
    "SYS_TIME": "change the server's clock, which every program on it relies on",
    "SYS_BOOT": "reboot the server",
    "DAC_READ_SEARCH": "read any file it can reach, whatever the file's permissions",
    "MAC_ADMIN": "change the server's security policies (AppArmor, SELinux)",
    "MAC_OVERRIDE": "bypass the server's security policies (AppArmor, SELinux)",
    "BPF": "load programs into the kernel that can watch the whole server",
    "PERFMON": "observe what the kernel and other programs are doing",
    "SYS_RESOURCE": "exceed the limits that keep one program from starving the others",
    "SYS_NICE": "run ahead of every other program and change their priorities",
    "IPC_LOCK": "lock memory so the server cannot reclaim it",
    "NET_BROADCAST": "send broadcast and multicast traffic on the network",
    "LINUX_IMMUTABLE": "change files marked unchangeable",
    "SYSLOG": "read and clear the kernel's log",
    "AUDIT_CONTROL": "change or switch off the server's audit logging",
    "ALL": "every power Docker can grant, which is about as much as a privileged container",
}


# Kinds of flag, the most dangerous first: the order an app's page lists them in.
_SEVERITY = ("privileged", "docker-socket", "runtime-socket", "nested-mount", "system-path",
             "tomo-data", "app-data", "ssh-keys", "socket", "host-read", "host-pid",
             "host-network", "cap", "device", "device-setting", "gpu", "host-ipc", "network",
             "app")  # fmt: skip


def severity(flag: str) -> tuple[int, str]:
    kind = flag.partition(":")[0]
    return (_SEVERITY.index(kind) if kind in _SEVERITY else len(_SEVERITY), flag)


def explain_risk(flag: str) -> tuple[str, str]:
    """A risk flag (see tomo.marketplace.risk) as a title and one plain sentence."""
    if flag in _PLAIN_RISKS:
        return _PLAIN_RISKS[flag]
    kind, _, value = flag.partition(":")
    explain = _RISK_KINDS.get(kind)
    if explain is None:
        return flag, "This setting gives the app power over the server beyond its own container."
    return explain(value)


def _capability(name: str) -> tuple[str, str]:
    power = _CAPABILITIES.get(name, "use a part of root's power that Docker withholds by default")
    return (
        f"Extra power: {name}",
        f"The container gets the Linux capability {name}: it may {power}.",
    )


def _device(path: str) -> tuple[str, str]:
    return (f"Direct access to {path}",
            f"The app reads and writes the server's device {path} directly (a disk, a USB "
            "stick, a GPU…), past the permissions of the files on it.")  # fmt: skip


def _system_path(path: str) -> tuple[str, str]:
    where = "the server's whole filesystem" if path == "/" else f"the system directory {path}"
    return (f"Can change {path} on the server",
            f"{where[0].upper()}{where[1:]} is mounted writable: the app can change files the "
            "server itself relies on, such as its programs, settings or users' data.")  # fmt: skip


def _ssh_keys(path: str) -> tuple[str, str]:
    return ("Can read SSH keys",
            f"The mount of {path} reaches a directory where private SSH keys live: the app "
            "could read them and log in wherever those keys are trusted.")  # fmt: skip


def _nested_mount(path: str) -> tuple[str, str]:
    return (f"Can reach anywhere on the server through {path}",
            f"The folder {path} is mounted, and it lies inside a folder that a container can "
            "write. That container can replace it with a link to any place on the server — "
            "the whole disk included — and Docker follows the link when it next starts the "
            "app.")  # fmt: skip


def _tomo_data(path: str) -> tuple[str, str]:
    return (f"Reaches tomo's app folders through {path}",
            f"The mount of {path} reaches the folder where tomo keeps every installation's "
            "data and settings on the server: the app could read other apps' files and the "
            "passwords tomo generated for them.")  # fmt: skip


def _app_data(app: str) -> tuple[str, str]:
    return (f"Reads and writes {app}'s data",
            f"A folder of the data of {app}, an app it requires, is mounted into the app: "
            f"it can read and change what {app} keeps there (its keys and credentials "
            "included, as a wallet reads its node's).")  # fmt: skip


def _host_read(path: str) -> tuple[str, str]:
    return (f"Can read {path} on the server",
            f"{path} is mounted read-only, but what it holds is secret: the server's "
            "settings and password hashes, other containers' data, or what every process "
            "is doing. The app can read all of it.")  # fmt: skip


def _socket(path: str) -> tuple[str, str]:
    return (f"Talks to the service behind {path}",
            f"{path} looks like a socket: whatever listens on it (a container runtime, a "
            "database, the system's own services) takes the app's orders. A runtime's "
            "socket is the same as root on the server.")  # fmt: skip


def _runtime_socket(runtime: str) -> tuple[str, str]:
    return (f"Controls {runtime} on the server",
            f"The {runtime} socket is mounted: the app can start any container with any "
            "mount, which is the same as root on the server.")  # fmt: skip


def _network(mode: str) -> tuple[str, str]:
    if mode.startswith("container:"):
        other = mode.removeprefix("container:")
        return (f"Shares the network of {other}",
                f"The app joins the network of the container {other}: it sees that "
                "container's traffic and reaches its services as its own.")  # fmt: skip
    return (f"Joins the network {mode}",
            f"The app is attached to the Docker network {mode} instead of its own: it can "
            "reach every other container on that network directly.")  # fmt: skip


def _device_setting(setting: str) -> tuple[str, str]:
    return (f"Direct access to the device you choose ({setting})",
            f"The app reads and writes the server device you give as {setting} when you "
            "install it (a USB stick, a Zigbee or Z-Wave dongle, a serial port…), past the "
            "permissions of the files on it.")  # fmt: skip


def _app(app: str) -> tuple[str, str]:
    return (f"Reaches the app {app}",
            f"The app needs {app} and joins its network to use it: it can reach every "
            f"container of {app} there, its database included, not only the service it "
            f"needs, and it is given the credentials {app} shares.")  # fmt: skip


_RISK_KINDS = {
    "cap": _capability, "device": _device, "system-path": _system_path,
    "ssh-keys": _ssh_keys, "runtime-socket": _runtime_socket, "network": _network,
    "nested-mount": _nested_mount, "tomo-data": _tomo_data, "host-read": _host_read,
    "socket": _socket, "app": _app, "app-data": _app_data, "device-setting": _device_setting,
}  # fmt: skip
