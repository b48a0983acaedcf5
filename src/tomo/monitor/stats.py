"""What installations use (CPU, memory against its limit, network and block IO), read
from each server's engine, and the cache the faces of `tomo serve` read it from.

One `docker stats --no-stream` per server reads every running container at once (it
takes Docker about two seconds: it samples CPU twice); the server's CPUs and memory
come from `docker info`, read once an hour. The health monitor's pass fills the
cache (monitor.py), so a page or an API read never waits on a server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from tomo.deployment.manage import long_running
from tomo.deployment.schemas import ResourceUse
from tomo.errors import CommandFailed, RemoteError
from tomo.servers.schemas import ServerPublic, ServerResources

if TYPE_CHECKING:
    from tomo.deployment.context import DeploymentContext
    from tomo.deployment.models import Installation
    from tomo.deployment.remote import Docker

T = TypeVar("T")
log = logging.getLogger("tomo.monitor")
STATS = ["stats", "--no-stream", "--format", "{{json .}}"]  # every running container
TOTALS = ["info", "--format", "{{.NCPU}} {{.MemTotal}}"]
TOTALS_KEPT = 3600.0  # seconds a server's CPUs and memory are taken as known
# Docker writes memory in binary units (MiB) and IO in decimal ones (MB).
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15,
          "ki": 2**10, "mi": 2**20, "gi": 2**30, "ti": 2**40, "pi": 2**50}  # fmt: skip
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]i?)?b?\s*", re.IGNORECASE)


@dataclass(frozen=True)
class ContainerUse:
    """One container's line of `docker stats`, in numbers."""

    name: str
    cpu_percent: float
    memory_bytes: int
    memory_limit_bytes: int
    net_rx_bytes: int
    net_tx_bytes: int
    block_read_bytes: int
    block_write_bytes: int


@dataclass(frozen=True)
class ServerTotals:
    """What a server has: its CPUs and memory, as its engine counts them."""

    cpu_count: int
    memory_total_bytes: int


def size(text: str) -> int:
    """Bytes of a size as `docker stats` writes it ("780KiB", "1.2MB", "0B"); "--"
    (not measured) is 0."""
    if text.strip() in ("", "--"):
        return 0
    found = _SIZE.fullmatch(text)
    if found is None:
        raise ValueError(f"not a size: {text!r}")
    number, unit = found.groups()
    return round(float(number) * _UNITS[(unit or "").lower()])


def _pair(text: str) -> tuple[int, int]:
    """Both sizes of "1.2MB / 3kB", in bytes."""
    first, _, second = text.partition("/")
    return size(first), size(second)


def parse_stats(output: str) -> dict[str, ContainerUse]:
    """name -> figures, from `docker stats --format '{{json .}}'` (one object a line)."""
    found = {}
    for line in output.splitlines():
        if not line.strip():
            continue
        doc = json.loads(line)
        memory, limit = _pair(doc.get("MemUsage", ""))
        rx, tx = _pair(doc.get("NetIO", ""))
        read, write = _pair(doc.get("BlockIO", ""))
        cpu = doc.get("CPUPerc", "").rstrip("%").strip()
        name = str(doc.get("Name", "")).lstrip("/")
        found[name] = ContainerUse(name, float(cpu) if cpu not in ("", "--") else 0.0,
                                   memory, limit, rx, tx, read, write)  # fmt: skip
    return found


def parse_totals(output: str) -> ServerTotals:
    """From `docker info --format '{{.NCPU}} {{.MemTotal}}'`."""
    cpus, memory = output.split()
    return ServerTotals(int(cpus), int(memory))


def installation_use(
    containers: Sequence[ContainerUse], totals: ServerTotals, measured_at: datetime
) -> ResourceUse:
    """The sum over an installation's running containers."""
    limit = min(sum(c.memory_limit_bytes for c in containers), totals.memory_total_bytes)
    return ResourceUse(
        cpu_percent=round(sum(c.cpu_percent for c in containers), 2),
        memory_bytes=sum(c.memory_bytes for c in containers),
        memory_limit_bytes=limit if containers else totals.memory_total_bytes,
        net_rx_bytes=sum(c.net_rx_bytes for c in containers),
        net_tx_bytes=sum(c.net_tx_bytes for c in containers),
        block_read_bytes=sum(c.block_read_bytes for c in containers),
        block_write_bytes=sum(c.block_write_bytes for c in containers),
        running=len(containers), measured_at=measured_at,
    )  # fmt: skip


def server_use(uses: Iterable[ResourceUse], totals: ServerTotals, measured_at: datetime
               ) -> ServerResources:  # fmt: skip
    """A server's installations summed, beside what the server has."""
    found = list(uses)
    used = ResourceUse(
        cpu_percent=round(sum(u.cpu_percent for u in found), 2),
        memory_bytes=sum(u.memory_bytes for u in found),
        memory_limit_bytes=totals.memory_total_bytes,
        net_rx_bytes=sum(u.net_rx_bytes for u in found),
        net_tx_bytes=sum(u.net_tx_bytes for u in found),
        block_read_bytes=sum(u.block_read_bytes for u in found),
        block_write_bytes=sum(u.block_write_bytes for u in found),
        running=sum(u.running for u in found), measured_at=measured_at,
    )  # fmt: skip
    return ServerResources(cpu_count=totals.cpu_count,
                           memory_total_bytes=totals.memory_total_bytes,
                           installations=len(found), used=used)  # fmt: skip


async def read_stats(docker: Docker) -> dict[str, ContainerUse]:
    """Every running container of the server, one command."""
    out = await docker.ssh.run_docker(docker.target, STATS)
    return _parsed(docker, "docker stats", parse_stats, out.stdout)


async def read_totals(docker: Docker) -> ServerTotals:
    out = await docker.ssh.run_docker(docker.target, TOTALS)
    return _parsed(docker, "docker info", parse_totals, out.stdout)


def _parsed(docker: Docker, command: str, parse: Callable[[str], T], output: str) -> T:
    """An answer tomo cannot read is the command's failure, named."""
    try:
        return parse(output)
    except (ValueError, TypeError, AttributeError) as exc:
        raise CommandFailed(docker.server, command, 0, f"unreadable answer: {exc}") from exc


NOT_MEASURED = "—"


def human_bytes(count: int) -> str:
    """1536 -> "1.5 KiB"."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Shown(NamedTuple):
    """Figures as people read them."""

    cpu: str  # "12.5%"
    memory: str  # used / limit
    net: str  # in / out
    block: str  # read / write


def shown(use: ResourceUse | None) -> Shown:
    """The figures in words; "—" each while not measured."""
    if use is None:
        return Shown(NOT_MEASURED, NOT_MEASURED, NOT_MEASURED, NOT_MEASURED)
    return Shown(f"{use.cpu_percent:.1f}%", _of(use.memory_bytes, use.memory_limit_bytes),
                 _of(use.net_rx_bytes, use.net_tx_bytes),
                 _of(use.block_read_bytes, use.block_write_bytes))  # fmt: skip


def _of(first: int, second: int) -> str:
    return f"{human_bytes(first)} / {human_bytes(second)}"


class ResourceCache:
    """The figures of the last measure of each server, kept in the serving process."""

    def __init__(self) -> None:
        self._installations: dict[str, dict[str, ResourceUse]] = {}  # server -> id -> use
        self._by_installation: dict[str, ResourceUse] = {}
        self._servers: dict[str, ServerResources] = {}
        self._totals: dict[str, tuple[float, ServerTotals]] = {}  # server -> (read at, …)

    def of_installation(self, installation_id: str) -> ResourceUse | None:
        return self._by_installation.get(installation_id)

    def of_server(self, server_id: str) -> ServerResources | None:
        return self._servers.get(server_id)

    def with_servers(self, servers: Sequence[ServerPublic]) -> list[ServerPublic]:
        """The servers, each with its last figures."""
        return [s.model_copy(update={"resources": self.of_server(s.id)}) for s in servers]

    def put(self, server_id: str, uses: Mapping[str, ResourceUse],
            server: ServerResources) -> None:  # fmt: skip
        """A server's new figures: those of its installations not in `uses` are gone."""
        self._installations[server_id] = dict(uses)
        self._servers[server_id] = server
        self._index()

    def keep_servers(self, server_ids: Iterable[str]) -> None:
        """Forget the figures of every other server (none of its apps is watched now)."""
        kept = set(server_ids)
        self._installations = {k: v for k, v in self._installations.items() if k in kept}
        self._servers = {k: v for k, v in self._servers.items() if k in kept}
        self._index()

    def _index(self) -> None:
        self._by_installation = {key: use for found in self._installations.values()
                                 for key, use in found.items()}  # fmt: skip

    async def measure(self, server_id: str, docker: Docker, rows: Sequence[Installation]
                      ) -> None:  # fmt: skip
        """Read the server's containers (and its totals, when not known) and keep the
        figures of `rows`, its installations."""
        totals, containers = await asyncio.gather(self._totals_of(server_id, docker),
                                                  read_stats(docker))  # fmt: skip
        moment = datetime.now(UTC)
        uses = {row.id: installation_use([containers[name] for name in long_running(row)
                                          if name in containers], totals, moment)
                for row in rows}  # fmt: skip
        self.put(server_id, uses, server_use(uses.values(), totals, moment))

    async def _totals_of(self, server_id: str, docker: Docker) -> ServerTotals:
        known = self._totals.get(server_id)
        if known is not None and time.monotonic() - known[0] < TOTALS_KEPT:
            return known[1]
        totals = await read_totals(docker)
        self._totals[server_id] = (time.monotonic(), totals)
        return totals


async def measure_all(cache: ResourceCache, ctx: DeploymentContext,
                      rows: Sequence[Installation], time_limit: float) -> None:  # fmt: skip
    """Every server of `rows` at once, each within `time_limit`; a server that does not
    answer in time (or fails) keeps its last figures."""
    by_server: dict[str, list[Installation]] = {}
    for row in rows:
        by_server.setdefault(row.server_id, []).append(row)
    await asyncio.gather(*(measure_server(cache, ctx, server, found, time_limit)
                           for server, found in by_server.items()))  # fmt: skip


async def measure_server(cache: ResourceCache, ctx: DeploymentContext, server: str,
                         rows: Sequence[Installation], time_limit: float) -> bool:  # fmt: skip
    """Whether the server's figures were read (within `time_limit`)."""
    try:
        async with asyncio.timeout(time_limit):
            await cache.measure(server, await ctx.docker(server), rows)
    except (TimeoutError, RemoteError) as exc:
        log.info("figures of %s not read: %s", server, getattr(exc, "message", "timed out"))
        return False
    except Exception:  # never the health check's failure, nor the listing's
        log.exception("figures of %s not read", server)
        return False
    return True
