"""Docker on a server, through SSHService: every command an argv, every script constant.

Scripts below take their inputs as positional arguments ("$1", "$@"), so no
value from a catalog or a user is ever part of a script's text.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tomo.errors import CommandFailed
from tomo.servers.ssh import SSHService, SSHTarget, docker_argv

LISTENING_PORTS = r"""
for f in /proc/net/tcp /proc/net/tcp6; do
  [ -r "$f" ] && awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print "tcp " a[n] }' "$f"
done
for f in /proc/net/udp /proc/net/udp6; do
  [ -r "$f" ] && awk 'NR > 1 { n = split($2, a, ":"); print "udp " a[n] }' "$f"
done
exit 0
"""
# Creates each missing directory and says which ones it created.
MAKE_DIRS = r"""
for d in "$@"; do
  if [ -d "$d" ]; then echo "exists $d"; else mkdir -p -- "$d" && echo "created $d" || exit 1; fi
done
"""
WRITE_PRIVATE_FILE = 'umask 077 && cat > "$1"'
HTTP_PROBE = r"""
url="$1"
if command -v curl >/dev/null 2>&1; then exec curl -fsS -o /dev/null --max-time 5 -k -- "$url"
elif command -v wget >/dev/null 2>&1; then
  exec wget -q -O /dev/null -T 5 --no-check-certificate -- "$url"
else exit 127; fi
"""
# Whether anything listens on TCP port "$2" (4 hex digits) in the network namespace
# of process "$1": a container's own view, whatever is published on the host.
# Exit 127 when the tables cannot be read (nothing to judge by).
CONTAINER_LISTENS = r"""
seen=no
for f in /proc/"$1"/net/tcp /proc/"$1"/net/tcp6; do
  [ -r "$f" ] || continue
  seen=yes
  awk -v port="$2" 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == port) found = 1 }
                    END { exit found ? 0 : 1 }' "$f" && exit 0
done
[ "$seen" = yes ] && exit 1
exit 127
"""
_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_VOLUME_PATH = re.compile(r"/[^:,\x00-\x1f]{0,4095}")
_PORTS_FIELD = re.compile(r"(?:[\d.]+|\[[0-9a-f:]+\]|::):(\d+)->\d+/(tcp|udp)")


@dataclass(frozen=True)
class ContainerState:
    status: str  # created, running, restarting, exited, paused, dead
    exit_code: int
    health: str | None  # starting, healthy, unhealthy, or None without a health check
    restart_count: int
    error: str
    pid: int = 0  # of the container's main process while it runs
    volumes: list[tuple[str, str]] = field(default_factory=list)  # see _volumes


def _volumes(mounts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The Docker volumes among a container's mounts: (volume name, container path).

    Only names and paths Docker could have made itself pass (a catalog image
    declares the paths): anything `--volume NAME:PATH` would misread is left out.
    """
    return [
        (m["Name"], m["Destination"]) for m in mounts
        if m.get("Type") == "volume" and _VOLUME_NAME.fullmatch(m.get("Name", ""))
        and _VOLUME_PATH.fullmatch(m.get("Destination", ""))
    ]  # fmt: skip


class Docker:
    """Docker commands on one server."""

    def __init__(self, ssh: SSHService, target: SSHTarget) -> None:
        self.ssh = ssh
        self.target = target

    async def run(self, args: Sequence[str], **options: Any) -> str:
        return (await self.ssh.run_docker(self.target, args, **options)).stdout

    async def used_ports(self) -> set[tuple[int, str]]:
        """Ports held by any process on the host, and ports Docker publishes."""
        listing = await self.ssh.run(self.target, ["sh", "-c", LISTENING_PORTS])
        used = set()
        for line in listing.stdout.split("\n"):
            protocol, _, hex_port = line.partition(" ")
            if hex_port.strip():
                used.add((int(hex_port.strip(), 16), protocol))
        published = await self.run(["ps", "--all", "--format", "{{.Ports}}"])
        used.update((int(port), proto) for port, proto in _PORTS_FIELD.findall(published))
        return used

    async def container_exists(self, name: str) -> bool:
        names = await self.run(
            ["ps", "--all", "--filter", f"name=^/{name}$", "--format", "{{.Names}}"]
        )
        return name in names.split()

    async def pull(self, image: str, progress: Callable[[int, int], None]) -> None:
        layers: dict[str, bool] = {}
        async for line in self.ssh.stream(self.target, docker_argv(self.target, ["pull", image])):
            layer, _, state = line.partition(": ")
            if not re.fullmatch(r"[0-9a-f]{12}", layer):
                continue
            layers.setdefault(layer, False)
            if state.startswith(("Pull complete", "Already exists")):
                layers[layer] = True
            progress(sum(layers.values()), len(layers))

    async def make_dirs(self, dirs: Sequence[str], created: list[str]) -> None:
        """Create each missing directory; each one made joins `created`, even when a
        later one fails, so a rollback can take it back."""
        out = await self.ssh.run(self.target, ["sh", "-c", MAKE_DIRS, "tomo-mkdir", *dirs],
                                 check=False)  # fmt: skip
        created.extend(line[8:] for line in out.stdout.splitlines() if line.startswith("created "))
        if out.exit_code != 0:
            raise CommandFailed(self.target.name, f"mkdir -p {shlex.join(dirs)}", out.exit_code,
                                out.stderr)  # fmt: skip

    async def write_private_file(self, path: str, content: str) -> None:
        """Write through stdin, never argv: secrets stay out of the process list."""
        await self.ssh.run(self.target, ["sh", "-c", WRITE_PRIVATE_FILE, "tomo-write", path],
                           stdin=content)  # fmt: skip

    async def remove_paths(self, paths: Sequence[str]) -> None:
        if paths:
            await self.ssh.run(self.target, ["rm", "-rf", "--", *paths])

    async def remove_empty_dirs(self, dirs: Sequence[str]) -> None:
        """rmdir, deepest first; a directory that holds anything stays."""
        if dirs:
            ordered = sorted(dirs, key=lambda d: d.count("/"), reverse=True)
            await self.ssh.run(self.target, ["rmdir", "--", *ordered], check=False)

    async def state(self, container: str) -> ContainerState | None:
        """The container's state, or None when it does not exist."""
        # One JSON document per line (JSON output never holds a raw newline).
        fields = "{{json .State}}\n{{.RestartCount}}\n{{json .Mounts}}"
        result = await self.ssh.run_docker(
            self.target, ["inspect", "--format", fields, container], check=False
        )
        if result.exit_code != 0:
            if "no such" in result.stderr.lower():
                return None
            raise CommandFailed(self.target.name, f"docker inspect {container}", result.exit_code,
                                result.stderr)  # fmt: skip
        raw_state, restarts, raw_mounts = result.stdout.strip().split("\n")
        state = json.loads(raw_state)
        health = (state.get("Health") or {}).get("Status")
        return ContainerState(
            status=state.get("Status", "unknown"), exit_code=int(state.get("ExitCode", 0)),
            health=health, restart_count=int(restarts or 0), error=state.get("Error", ""),
            pid=int(state.get("Pid") or 0), volumes=_volumes(json.loads(raw_mounts) or []),
        )  # fmt: skip

    async def remove_volumes(self, names: Sequence[str]) -> None:
        """Remove volumes by name; one still in use elsewhere stays."""
        if names:
            await self.run(["volume", "rm", "--", *names], check=False)

    async def logs_tail(self, container: str, lines: int = 20) -> str:
        result = await self.ssh.run_docker(
            self.target, ["logs", "--tail", str(lines), container], check=False
        )
        return (result.stdout + result.stderr).strip()

    async def http_probe(self, url: str) -> int:
        """0 when the URL answers 2xx/3xx; 127 when the server has no curl or wget."""
        result = await self.ssh.run(self.target, ["sh", "-c", HTTP_PROBE, "tomo-probe", url],
                                    check=False)  # fmt: skip
        return result.exit_code

    async def listens_in_container(self, pid: int, port: int) -> int:
        """0 when something listens on the TCP port inside the container of `pid`;
        127 when the server does not let this user look."""
        args = ["sh", "-c", CONTAINER_LISTENS, "tomo-listens", str(pid), f"{port:04X}"]
        return (await self.ssh.run(self.target, args, check=False)).exit_code

    async def remove_container(self, container: str, *, with_volumes: bool) -> None:
        """Force-remove; anonymous volumes go too only when asked (they may hold data)."""
        args = ["rm", "--force", *(["--volumes"] if with_volumes else []), container]
        await self.ssh.run_docker(self.target, args, check=False)
