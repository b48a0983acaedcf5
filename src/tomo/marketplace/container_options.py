"""What Docker gives a container beyond its image, mounts and powers, as compose
asks: memory and CPU limits, the size of /dev/shm, an init process, open-file and
other limits, extra names in /etc/hosts, and memory-backed folders.

None of these gives a container more reach than the risk flags say: a limit only
limits, a host name is the container's own view, a tmpfs is memory. They are
read by Docker's rules (a byte count as `docker run --memory` reads it), so a
store's value that Docker takes is taken here too, and written back out as Docker
takes it (`runtime_argv`).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError

# docker/go-units RAMInBytes: a number, a binary unit, an optional `i` and `b`.
_BYTES = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([kmgtp])?i?b?", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses a smaller memory limit
MAX_BYTES = 1 << 50

# The limits `docker run --ulimit` knows (Linux's RLIMIT_* names), less those that
# let a process raise its own scheduling priority (`nice`, `rtprio`, `rttime`): a
# container could then take CPU time from the server's other work, tomo's included.
ULIMIT_NAMES = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
                          "nofile", "nproc", "rss", "sigpending", "stack"})  # fmt: skip
HOST_GATEWAY = "host-gateway"  # Docker's word for the server's own address
_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,252})")
# `docker run --tmpfs PATH:OPTIONS`: the options a tmpfs mount takes.
_TMPFS_OPTION = re.compile(
    r"size=[0-9]+[kmg%]?|nr_inodes=[0-9]+[kmg]?|mode=[0-7]{3,4}|uid=[0-9]+|gid=[0-9]+"
    r"|(?:no)?exec|(?:no)?suid|(?:no)?dev|ro|rw|(?:no)?atime|(?:no)?diratime",
    re.IGNORECASE,
)


def parse_bytes(value: Any) -> int | None:
    """`512m`, `1GB`, `2g`, `1.5gb` or a number of bytes → bytes, as Docker reads them."""
    if value is None or isinstance(value, bool):
        return None if value is None else _not_bytes(value)
    if isinstance(value, int | float):
        number = int(value)
    else:
        written = _BYTES.fullmatch(str(value).strip())
        if not written:
            return _not_bytes(value)
        unit = written.group(2).lower() if written.group(2) else None
        number = int(float(written.group(1)) * _UNITS[unit])
    if not 0 < number <= MAX_BYTES:
        raise ValueError(f"'{value}' is not a size from 1 byte to 1 PiB")
    return number


def _not_bytes(value: Any) -> int:
    raise ValueError(f"'{value}' is not a size such as 512m, 2g or a number of bytes")


def _check_memory(value: int | None) -> int | None:
    if value is not None and value < MIN_MEMORY:
        raise ValueError(f"{value} bytes is less than the 6 MiB Docker allows a container")
    return value


def _ulimits(value: Any) -> Any:
    """Compose's `nofile: {soft: 1024, hard: 4096}` or `nproc: 65535`, or `docker run`'s
    `nofile=1024:4096` entries → name: [soft, hard]."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        value = dict(_ulimit_entry(entry) for entry in value)
    if not isinstance(value, dict):
        return value
    read: dict[str, Any] = {}
    for name, limit in value.items():
        if isinstance(limit, dict):
            read[name] = [limit.get("soft"), limit.get("hard")]
        elif isinstance(limit, list):  # as stored: [soft, hard]
            read[name] = limit
        else:
            read[name] = [limit, limit]
    return read


def _ulimit_entry(entry: Any) -> tuple[str, Any]:
    name, found, limits = str(entry).partition("=")
    soft, _, hard = limits.partition(":")
    if not found or not soft:
        raise ValueError(f"'{entry}' is not NAME=SOFT[:HARD]")
    return name.strip(), {"soft": soft.strip(), "hard": (hard or soft).strip()}


def _check_ulimits(value: dict[str, list[int]]) -> dict[str, list[int]]:
    for name, (soft, hard) in value.items():
        if name not in ULIMIT_NAMES:
            raise ValueError(f"'{name}' is not a limit tomo sets (one of "
                             f"{', '.join(sorted(ULIMIT_NAMES))})")  # fmt: skip
        if soft < -1 or hard < -1 or (hard != -1 and (soft == -1 or soft > hard)):
            raise ValueError(f"{name}: soft {soft} is above hard {hard}, or below -1 (unlimited)")
    return value


def _extra_hosts(value: Any) -> Any:
    """Compose's `[name:address, name=address]` or `{name: address}` → {name: address}."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return value
    read: dict[str, Any] = {}
    for entry in value:
        if not isinstance(entry, str):
            raise ValueError(f"'{entry}' is not name:address")
        separator = "=" if "=" in entry else ":"
        name, found, address = entry.partition(separator)
        if not found:
            raise ValueError(f"'{entry}' is not name:address")
        read[name.strip()] = address.strip()
    return read


def _check_extra_hosts(value: dict[str, str]) -> dict[str, str]:
    for name, address in value.items():
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(f"'{name}' is not a host name")
        if address != HOST_GATEWAY:
            try:
                ipaddress.ip_address(address.strip("[]"))
            except ValueError:
                raise ValueError(f"{name}: '{address}' is not an IP address or "
                                 f"'{HOST_GATEWAY}'") from None  # fmt: skip
    return value


def _check_tmpfs(value: str) -> str:
    path, _, options = value.partition(":")
    if not path.startswith("/") or ".." in path.split("/") or any(c in path for c in ",\n\0"):
        raise ValueError(f"'{value}' is not an absolute path in the container")
    for option in filter(None, options.split(",")):
        if not _TMPFS_OPTION.fullmatch(option):
            raise ValueError(f"'{option}' is not a tmpfs option (size=64m, mode=1777, uid=…)")
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Bytes = Annotated[int | None, BeforeValidator(parse_bytes)]
Memory = Annotated[int | None, BeforeValidator(parse_bytes), AfterValidator(_check_memory)]
Cpus = Annotated[float, Field(gt=0, le=1024)] | None
Ulimits = Annotated[
    dict[str, Annotated[list[int], Field(min_length=2, max_length=2)]],
    BeforeValidator(_ulimits), AfterValidator(_check_ulimits), Field(max_length=16),
]  # fmt: skip
ExtraHosts = Annotated[
    dict[str, str], BeforeValidator(_extra_hosts), AfterValidator(_check_extra_hosts),
    Field(max_length=64),
]  # fmt: skip
Tmpfs = Annotated[
    list[Annotated[str, AfterValidator(_check_tmpfs)]], BeforeValidator(_as_list),
    Field(max_length=16),
]  # fmt: skip


def tmpfs_path(value: str) -> str:
    """The container path of a `PATH[:OPTIONS]` tmpfs entry."""
    return value.partition(":")[0]


_OPTION_TYPES: dict[str, Any] = {
    "mem_limit": Memory, "mem_reservation": Memory, "cpus": Cpus, "shm_size": Bytes,
    "ulimits": Ulimits, "extra_hosts": ExtraHosts, "tmpfs": Tmpfs,
}  # fmt: skip
_adapters: dict[str, TypeAdapter[Any]] = {}


def read_option(key: str, value: Any) -> Any:
    """`value` read as DockerConfig's field `key` reads it; ValueError saying why not
    (a store's conversion then leaves the option out with a warning, rather than
    refusing the whole app for it)."""
    adapter = _adapters.get(key)
    if adapter is None:
        adapter = _adapters[key] = TypeAdapter(_OPTION_TYPES[key])
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None
