"""Docker on a server, through a Host (SSHService): every command an argv, every script constant.

Scripts below take their inputs as positional arguments ("$1", "$@"), so no
value from a catalog or a user is ever part of a script's text. Every Docker
command names its object type (`docker container inspect`, `docker image pull`),
so a name can never match an image or a volume by accident.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import shlex
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tomo.errors import CommandFailed, InstallFailed
from tomo.marketplace.definition import MAX_STOP_SECONDS
from tomo.servers.facts import FACTS_SCRIPT, ServerFacts, docker_access_of, facts_from, key_values
from tomo.servers.ssh import CommandResult, SSHTarget, docker_argv

# Ports any process listens on (TCP) or holds (UDP), as "listen PROTO HEXPORT".
# The network of every container that has none of its own (a one-container app
# without a name, a store's hook): a bridge on which Docker's inter-container
# communication is off, so such a container reaches the world outside and what the
# server publishes, never another app's container, as on Docker's default bridge
# it would. One per server, shared, so it costs one of the engine's address pools,
# not one per app; no uninstall removes it.
ISOLATED_NETWORK = "tomo-isolated"
ISOLATED_LABEL = "tomo.isolated"
ICC_OPTION = "com.docker.network.bridge.enable_icc"

LISTENING_PORTS = r"""
for f in /proc/net/tcp /proc/net/tcp6; do
  [ -r "$f" ] && awk 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); print "listen tcp " a[n] }' "$f"
done
for f in /proc/net/udp /proc/net/udp6; do
  [ -r "$f" ] && awk 'NR > 1 { n = split($2, a, ":"); print "listen udp " a[n] }' "$f"
done
"""
# Everything a preflight asks, in one round trip: the server's facts (FACTS_SCRIPT,
# with the data root as "$1"), whether and how this user may use Docker ("$2":
# "yes" when sudo is allowed), every container's name and published ports,
# Docker's runtimes when "$3" is "yes" (facts.RUNTIMES_FORMAT: `docker info` is
# slow, and only GPU apps need it), the listening sockets, which of the next "$4"
# arguments (devices) are missing, and
# then, after a "--paths--" line, each remaining argument resolved as the server
# sees it, led by "s" when it is a socket and "-" when not (NUL-separated: a path
# may hold a newline).
SURVEY_SCRIPT = (
    FACTS_SCRIPT
    + r"""
sudo_allowed="$2"; runtimes="$3"; devices="$4"; shift 4
out=$(docker version --format '{{.Server.Version}}' 2>&1); code=$?; via=direct
if [ "$code" -ne 0 ] && [ "$sudo_allowed" = yes ]; then
  out=$(sudo -n docker version --format '{{.Server.Version}}' 2>&1); code=$?; via=sudo
fi
printf 'docker_exit=%s\ndocker_via=%s\n' "$code" "$via"
printf 'docker_out=%s\n' "$(printf '%s' "$out" | tr '\n' ' ')"
if [ "$code" -eq 0 ]; then
  if [ "$via" = sudo ]; then d="sudo -n docker"; else d="docker"; fi
  $d container ls --all --format 'container {{.Names}}	{{.Ports}}'
  if [ "$runtimes" = yes ]; then
    printf 'docker_runtimes=%s\n' \
      "$($d info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}' 2>/dev/null)"
  fi
fi
"""
    + LISTENING_PORTS
    + r"""
while [ "$devices" -gt 0 ]; do
  [ -e "$1" ] || printf 'missing-device %s\n' "$1"
  shift; devices=$((devices - 1))
done
printf -- '--paths--\n'
for p in "$@"; do
  r=$(realpath -m -- "$p" 2>/dev/null || readlink -f -- "$p" 2>/dev/null) || r="$p"
  r="${r:-$p}"
  if [ -S "$r" ]; then printf 's%s\0' "$r"; else printf -- '-%s\0' "$r"; fi
done
"""
)
# Creates each missing directory ("$3"…) and says which ones it created; then, if
# "$1" names a file, writes stdin to it, readable by its owner only (values
# never pass through a command line). With "$2" = keep, what the file was is kept
# first for PUT_BACK: a copy `FILE.previous`, or a marker `FILE.absent`.
PREPARE_FILES = r"""
file="$1"; keep="$2"; shift 2
for d in "$@"; do
  if [ -d "$d" ]; then echo "exists $d"; else mkdir -p -- "$d" && echo "created $d" || exit 1; fi
done
if [ -n "$file" ] && [ "$keep" = keep ]; then
  if [ -e "$file" ]; then cp -p -- "$file" "$file.previous" || exit 1
  else (umask 077 && : > "$file.absent") || exit 1; fi
fi
if [ -n "$file" ]; then (umask 077 && cat > "$file") || exit 1; fi
"""
# Puts a file PREPARE_FILES rewrote with "keep" back as it was ("$1", absolute):
# says "put back" or "removed" (it was not there), or nothing when it was never
# touched or was written again as it was.
PUT_BACK = r"""
f="$1"
if [ -e "$f.previous" ]; then
  if command -v cmp >/dev/null 2>&1 && cmp -s "$f" "$f.previous"; then rm -f -- "$f.previous"
  else mv -f -- "$f.previous" "$f" && echo "put back"; fi
elif [ -e "$f.absent" ]; then rm -f -- "$f" "$f.absent" && echo "removed"; fi
"""


# Runs the docker command in "$@" with --since now and --until "$1" seconds later:
# Docker's events of that window, as they happen (the command ends with it).
WATCH_EVENTS = r"""
window="$1"; shift
now=$(date +%s.%N 2>/dev/null)
case "$now" in *[!0-9.]*|"") now=$(date +%s) ;; esac
until=$(awk -v now="$now" -v window="$window" 'BEGIN { printf "%.3f", now + window }')
exec "$@" --since "$now" --until "$until"
"""
# Runs "$@" with its stderr into its stdout: one stream, in the order written.
MERGED_OUTPUT = 'exec "$@" 2>&1'
# Prints the HTTP status code ("000": no answer). Never follows a redirect, never
# globs the URL, speaks only http(s): a definition cannot send the server elsewhere.
HTTP_PROBE = r"""
url="$1"
if command -v curl >/dev/null 2>&1; then
  exec curl -sS -o /dev/null -w '%{http_code}' --max-time 5 -k -g --max-redirs 0 \
       --proto '=http,https' -- "$url" 2>/dev/null
elif command -v wget >/dev/null 2>&1; then
  if wget -q -O /dev/null -T 5 --max-redirect=0 --no-check-certificate -- "$url" 2>/dev/null
  then echo 200; else echo 000; fi
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
# For each path after "$1" (the instance folder): "refused PATH" when its folder
# resolves outside the instance folder (a symlink planted in kept data), "exists
# PATH" when something is there, else "missing PATH" (NUL-separated: a path may
# hold a newline).
LOOK_BEFORE_PLACING = r"""
top=$(realpath -m -- "$1" 2>/dev/null || readlink -f -- "$1"); shift
for p; do
  d=$(realpath -m -- "$(dirname -- "$p")" 2>/dev/null || readlink -f -- "$(dirname -- "$p")")
  case "$d/" in
    "$top"/*) if [ -e "$p" ] || [ -L "$p" ]; then printf 'exists %s\0' "$p"
              else printf 'missing %s\0' "$p"; fi ;;
    *) printf 'refused %s\0' "$p" ;;
  esac
done
"""
# Creates each missing directory ("$2"…, saying which), then unpacks the tar
# archive that stdin carries in base64 into "$1".
PLACE_FILES = r"""
top="$1"; shift
for d in "$@"; do
  if [ -d "$d" ]; then :; else mkdir -p -- "$d" && echo "created $d" || exit 1; fi
done
base64 -d | tar -x -f - -C "$top"
"""
# Removes each file ("$@") that is there, and prints those it removed (NUL after
# each: a path may hold a newline); exits 1 when one could not go.
REMOVE_FILES = r"""
code=0
for f; do
  if [ -e "$f" ] || [ -L "$f" ]; then
    if rm -f -- "$f"; then printf '%s\0' "$f"; else code=1; fi
  fi
done
exit "$code"
"""
# Removes the data an installation owns: "$1" is the data root, "$2" the instance
# folder, the rest are folders inside it. Each is removed only if it is what it
# claims to be after resolving symlinks (inside the real instance folder, which
# is inside the real data root), so a planted symlink cannot redirect the removal.
# The instance folder itself goes only when it is empty afterwards.
REMOVE_OWNED = r"""
root=$(cd -P -- "$1" 2>/dev/null && pwd) || { echo "absent $2"; exit 0; }
instance="$2"; shift 2
real=$(cd -P -- "$instance" 2>/dev/null && pwd) || { echo "absent $instance"; exit 0; }
[ "$real" = "$root/${instance##*/}" ] || { echo "refused $instance"; exit 0; }
for d in "$@"; do
  if [ ! -e "$d" ] && [ ! -L "$d" ]; then echo "absent $d"; continue; fi
  if [ -L "$d" ]; then rm -f -- "$d" && echo "removed $d" || echo "failed $d"; continue; fi
  parent=$(cd -P -- "$(dirname -- "$d")" 2>/dev/null && pwd)
  case "$parent/" in "$real"/*) ;; *) echo "refused $d"; continue ;; esac
  rm -rf -- "$d" && echo "removed $d" || echo "failed $d"
done
if rmdir -- "$instance" 2>/dev/null; then echo "removed $instance"; else echo "kept $instance"; fi
"""
# Runs the docker command in "$@" with `--until` now, to the nanosecond: Docker
# reads `--until 0s` as the current whole second and would miss the latest events.
EVENTS_UNTIL_NOW = r"""
now=$(date +%s.%N 2>/dev/null)
case "$now" in *[!0-9.]*|"") now=$(( $(date +%s) + 1 )) ;; esac
exec "$@" --until "$now"
"""
# Seconds a `docker container stop` may take: the longest grace a definition may ask.
STOP_LIMIT = MAX_STOP_SECONDS + 60
_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
_VOLUME_PATH = re.compile(r"/[^:,\x00-\x1f]{0,4095}")
_PORTS_FIELD = re.compile(r"(?:[\d.]+|\[[0-9a-f:]+\]|::):(\d+)->\d+/(tcp|udp)")
# One value per line (JSON output never holds a raw newline); see parse_state.
_INSPECT_FIELDS = "\n".join(
    ["{{json .State}}", "{{.RestartCount}}", "{{json .Mounts}}",
     '{{index .Config.Labels "tomo.installation"}}', "{{.Id}}"]
)  # fmt: skip


@dataclass(frozen=True)
class ContainerState:
    status: str  # created, running, restarting, exited, paused, dead
    exit_code: int
    health: str | None  # starting, healthy, unhealthy, or None without a health check
    restart_count: int
    error: str
    pid: int = 0  # of the container's main process while it runs
    volumes: list[tuple[str, str]] = field(default_factory=list)  # see _volumes
    installation: str = ""  # its tomo.installation label (or its adopter, see Docker)
    id: str = ""
    ran_seconds: float | None = None  # of its last run, once it has ended

    def describe_exit(self) -> str:
        """ "exited with code 3 after 2.1 s, restarted 2 times" from what Docker says."""
        text = f"exited with code {self.exit_code}"
        if self.ran_seconds is not None:
            text += f" after {self.ran_seconds:.1f} s"
        if self.restart_count:
            text += f", restarted {self.restart_count} time{'s' if self.restart_count > 1 else ''}"
        return text


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


def _ran_seconds(state: dict[str, Any]) -> float | None:
    """How long the last run lasted, from Docker's own two clock readings."""
    try:
        started = datetime.fromisoformat(state["StartedAt"])
        finished = datetime.fromisoformat(state["FinishedAt"])
    except (KeyError, TypeError, ValueError):
        return None
    seconds = (finished - started).total_seconds()
    return seconds if seconds >= 0 and finished.year > 1 else None


def _label(printed: str) -> str:
    """A label's value as `index` prints it: "<no value>" when the container has
    labels but not that one."""
    value = printed.strip()
    return "" if value == "<no value>" else value


def parse_state(output: str) -> ContainerState:
    """`docker container inspect` with _INSPECT_FIELDS, one JSON document per line."""
    lines = (output.rstrip("\n").split("\n") + [""] * 5)[:5]
    raw_state, restarts, raw_mounts, label, container_id = lines
    return _container_state(json.loads(raw_state), int(restarts or 0),
                            json.loads(raw_mounts or "null") or [], _label(label),
                            container_id.strip())  # fmt: skip


def state_of_inspected(inspected: dict[str, Any]) -> ContainerState:
    """The state in a whole `docker container inspect` document (what an adoption
    has read already)."""
    labels = (inspected.get("Config") or {}).get("Labels") or {}
    return _container_state(inspected.get("State") or {}, int(inspected.get("RestartCount") or 0),
                            inspected.get("Mounts") or [], labels.get("tomo.installation", ""),
                            str(inspected.get("Id", "")))  # fmt: skip


def _container_state(
    state: dict[str, Any], restarts: int, mounts: list[dict[str, Any]], label: str,
    container_id: str,
) -> ContainerState:  # fmt: skip
    return ContainerState(
        status=state.get("Status", "unknown"), exit_code=int(state.get("ExitCode", 0)),
        health=(state.get("Health") or {}).get("Status"), restart_count=restarts,
        error=state.get("Error", ""), pid=int(state.get("Pid") or 0),
        volumes=_volumes(mounts), installation=label, id=container_id,
        ran_seconds=_ran_seconds(state) if state.get("Status") != "running" else None,
    )  # fmt: skip


# Each event line starts with the container's name: Docker's `container=NAME` filter
# is a prefix match, so watching `web` also receives `web-db`'s events.
EVENT_FORMAT = '{{index .Actor.Attributes "name"}} {{.Action}}'


def _events_of(container: str, lines: list[str]) -> list[str]:
    """The lines of `container`'s own events, without its name."""
    return [line.strip().partition(" ")[2] for line in lines
            if line.strip().partition(" ")[0] == container]  # fmt: skip


def _last_exit(events: list[str]) -> tuple[int | None, float | None]:
    """The exit code of the last `die` event and how long that run lasted."""
    started: int | None = None
    last: tuple[int | None, float | None] = (None, None)
    for line in events:
        action, _, rest = line.partition(" ")
        moment, _, code = rest.partition(" ")
        if not moment.isdigit():
            continue
        if action == "start":
            started = int(moment)
        elif action == "die" and code.strip().lstrip("-").isdigit():
            ran = (int(moment) - started) / 1e9 if started is not None else None
            last = (int(code), ran)
    return last


@dataclass(frozen=True)
class Survey:
    """What one look at a server found (see SURVEY_SCRIPT)."""

    facts: ServerFacts
    containers: set[str]  # every container's name
    used_ports: set[tuple[int, str]]  # listening on the host, or published by Docker
    resolved: list[str]  # the paths asked about, as the server resolves them
    sockets: set[str] = field(default_factory=set)  # those of `resolved` that are sockets
    missing_devices: list[str] = field(default_factory=list)  # of the devices asked about


def parse_survey(output: str, username: str, asked: Sequence[str]) -> Survey:
    text, _, paths = output.partition("--paths--\n")
    values = key_values("\n".join(line for line in text.splitlines() if "=" in line))
    exit_code = int(values.get("docker_exit", "127") or 127)
    access = docker_access_of(username, exit_code, values.get("docker_out", ""),
                              via_sudo=values.get("docker_via") == "sudo")  # fmt: skip
    containers: set[str] = set()
    used: set[tuple[int, str]] = set()
    missing_devices = []
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "missing-device":
            missing_devices.append(rest)
        elif kind == "container":
            name, _, published = rest.partition("\t")
            containers.add(name)
            used.update((int(port), proto) for port, proto in _PORTS_FIELD.findall(published))
        elif kind == "listen":
            protocol, _, hex_port = rest.partition(" ")
            if hex_port.strip():
                used.add((int(hex_port.strip(), 16), protocol))
    typed = paths.split("\0")[:-1]
    if len(typed) != len(asked):  # the server could not tell: judge the paths as given
        typed = [f"-{path}" for path in asked]
    resolved = [item[1:] for item in typed]
    sockets = {item[1:] for item in typed if item.startswith("s")}
    return Survey(facts_from(values, access), containers, used, resolved, sockets,
                  missing_devices)  # fmt: skip


@dataclass(frozen=True)
class RemovalReport:
    """What a removal of owned data did, path by path."""

    removed: list[str]
    kept: list[str]  # with the reason, e.g. "/srv/apps/web (holds files tomo did not place)"
    failed: list[str]


class Host(Protocol):
    """Where Docker's commands run: SSHService's three ways of running an argv on a
    server (see there). A test may hand Docker a stand-in that needs no server."""

    async def run(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        check: bool = ...,
        time_limit: float | None = ...,
        stdin: str | None = ...,
    ) -> CommandResult: ...

    async def run_docker(
        self,
        target: SSHTarget,
        args: Sequence[str],
        *,
        check: bool = ...,
        time_limit: float | None = ...,
        stdin: str | None = ...,
    ) -> CommandResult: ...

    def stream(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        time_limit: float | None = ...,
        lane: str = ...,
    ) -> AsyncIterator[str]: ...


class Docker:
    """Docker commands on one server.

    `adopted` maps the ids of containers adopted by installations (made outside
    tomo, so without its label) to those installations: their state says so as
    a label would, and every check of what is whose treats them alike."""

    def __init__(
        self, ssh: Host, target: SSHTarget, adopted: Mapping[str, str] | None = None
    ) -> None:
        self.ssh = ssh
        self.target = target
        self.adopted = adopted or {}

    @property
    def server(self) -> str:
        return self.target.name

    async def run(self, args: Sequence[str], **options: Any) -> str:
        return (await self.ssh.run_docker(self.target, args, **options)).stdout

    async def survey(
        self, data_root: str, paths: Sequence[str], devices: Sequence[str] = (), *,
        runtimes: bool = False,
    ) -> Survey:  # fmt: skip
        """Facts, Docker access, containers, used ports, missing devices and resolved
        paths (and Docker's runtimes, when asked): one command."""
        sudo = "yes" if self.target.use_sudo else "no"
        args = ["sh", "-c", SURVEY_SCRIPT, "tomo-survey", data_root, sudo,
                "yes" if runtimes else "no", str(len(devices)), *devices, *paths]  # fmt: skip
        out = await self.ssh.run(self.target, args)
        return parse_survey(out.stdout, self.target.username, paths)

    async def pull(self, image: str, progress: Callable[[int, int], None]) -> None:
        layers: dict[str, bool] = {}
        argv = docker_argv(self.target, ["image", "pull", image])
        async for line in self.ssh.stream(self.target, argv):
            layer, _, state = line.partition(": ")
            if not re.fullmatch(r"[0-9a-f]{12}", layer):
                continue
            layers.setdefault(layer, False)
            if state.startswith(("Pull complete", "Already exists")):
                layers[layer] = True
            progress(sum(layers.values()), len(layers))

    async def prepare_files(
        self, dirs: Sequence[str], created: list[str], private: tuple[str, str] | None = None,
        *, keep_previous: bool = False,
    ) -> None:  # fmt: skip
        """Create each missing directory, then write the private file (path, content)
        through stdin, keeping what it was when asked (see put_back); each directory
        made joins `created`, even when a later step fails, so a rollback can take it
        back."""
        path, content = private or ("", None)
        keep = "keep" if keep_previous else ""
        args = ["sh", "-c", PREPARE_FILES, "tomo-prepare", path, keep, *dirs]
        out = await self.ssh.run(self.target, args, check=False, stdin=content)
        created.extend(line[8:] for line in out.stdout.splitlines() if line.startswith("created "))
        if out.exit_code != 0:
            raise CommandFailed(self.target.name, f"mkdir -p {shlex.join(dirs)}", out.exit_code,
                                out.stderr)  # fmt: skip

    async def watch_for_exit(self, container: str, seconds: float) -> bool:
        """Whether the container dies within the next `seconds`: Docker's own events,
        watched as they happen (no polling); False once the window has passed."""
        args = ["system", "events", "--filter", f"container={container}",
                "--filter", "event=die", "--format", EVENT_FORMAT]  # fmt: skip
        script = ["sh", "-c", WATCH_EVENTS, "tomo-watch", f"{seconds:.3f}",
                  *docker_argv(self.target, args)]  # fmt: skip
        async for line in self.ssh.stream(self.target, script, time_limit=seconds + 30):
            if _events_of(container, [line]) == ["die"]:
                return True
        return False

    async def look_before_placing(self, instance_dir: str, paths: Sequence[str]) -> dict[str, str]:
        """path -> "missing", "exists" or "refused" (see LOOK_BEFORE_PLACING)."""
        args = ["sh", "-c", LOOK_BEFORE_PLACING, "tomo-look", instance_dir, *paths]
        out = await self.ssh.run(self.target, args)
        return {path: verdict for verdict, _, path in
                (item.partition(" ") for item in out.stdout.split("\0")[:-1])}  # fmt: skip

    async def place_files(
        self, instance_dir: str, dirs: Sequence[str], archive: bytes, created: list[str]
    ) -> None:
        """Make the missing directories (each made joins `created`, even when a later
        step fails), then unpack the tar archive into the instance folder."""
        args = ["sh", "-c", PLACE_FILES, "tomo-place", instance_dir, *dirs]
        out = await self.ssh.run(self.target, args, check=False,
                                 stdin=base64.b64encode(archive).decode())  # fmt: skip
        created.extend(line[8:] for line in out.stdout.splitlines() if line.startswith("created "))
        if out.exit_code != 0:
            raise CommandFailed(self.target.name, f"tar -x -C {instance_dir}", out.exit_code,
                                out.stderr)  # fmt: skip

    async def put_back(self, path: str) -> str:
        """A file prepare_files rewrote (keeping what it was) as it was: "put back",
        "removed" (it was not there before), or "" (it was never rewritten)."""
        out = await self.ssh.run(self.target, ["sh", "-c", PUT_BACK, "tomo-put-back", path])
        return out.stdout.strip()

    async def remove_files(self, paths: Sequence[str]) -> list[str]:
        """Remove the files that are there; returns those it removed (a report says no
        more than happened)."""
        if not paths:
            return []
        out = await self.ssh.run(self.target, ["sh", "-c", REMOVE_FILES, "tomo-rm", *paths])
        return out.stdout.split("\0")[:-1]

    async def remove_empty_dirs(self, dirs: Sequence[str]) -> list[str]:
        """rmdir, deepest first; a directory that holds anything stays. Returns those
        still there."""
        if not dirs:
            return []
        ordered = sorted(dirs, key=lambda d: d.count("/"), reverse=True)
        await self.ssh.run(self.target, ["rmdir", "--", *ordered], check=False)
        left = await self.ssh.run(
            self.target, ["sh", "-c", 'for d; do [ -d "$d" ] && echo "$d"; done; exit 0',
                          "tomo-left", *ordered],
        )  # fmt: skip
        return left.stdout.split("\n")[:-1]

    async def remove_owned(
        self, data_root: str, instance_dir: str, dirs: Sequence[str]
    ) -> RemovalReport:
        """Remove the folders an installation owns (see REMOVE_OWNED)."""
        args = ["sh", "-c", REMOVE_OWNED, "tomo-remove", data_root, instance_dir, *dirs]
        out = await self.ssh.run(self.target, args)
        removed, kept, failed = [], [], []
        for line in out.stdout.splitlines():
            verdict, _, path = line.partition(" ")
            if verdict == "removed":
                removed.append(path)
            elif verdict == "kept":
                kept.append(f"{path} (holds files tomo did not place)")
            elif verdict == "refused":
                kept.append(f"{path} (it resolves outside the instance folder)")
            elif verdict == "failed":
                failed.append(path)
        return RemovalReport(removed, kept, failed)

    async def state(self, container: str) -> ContainerState | None:
        """The container's state, or None when it does not exist."""
        result = await self.ssh.run_docker(
            self.target, ["container", "inspect", "--format", _INSPECT_FIELDS, container],
            check=False,
        )  # fmt: skip
        if result.exit_code != 0:
            if "no such" in result.stderr.lower():
                return None
            raise CommandFailed(self.target.name, f"docker container inspect {container}",
                                result.exit_code, result.stderr)  # fmt: skip
        state = parse_state(result.stdout)
        if not state.installation and state.id in self.adopted:
            return dataclasses.replace(state, installation=self.adopted[state.id])
        return state

    async def remove_volumes(self, names: Sequence[str]) -> list[str]:
        """Remove volumes by name; one still in use elsewhere stays. Returns those still
        there (a volume that went with its container is gone too)."""
        if not names:
            return []
        out = await self.ssh.run_docker(self.target, ["volume", "rm", "--", *names], check=False)
        return [name for name in names if f"remove {name}: volume is in use" in out.stderr]

    async def volume_exists(self, name: str) -> bool:
        result = await self.ssh.run_docker(self.target, ["volume", "inspect", name], check=False)
        return result.exit_code == 0

    async def network_owner(self, name: str) -> str | None:
        """The installation a network is labelled with ("" when none); None when
        there is no such network."""
        return await self._network_field(name, '{{index .Labels "tomo.installation"}}')

    async def ensure_isolated_network(self) -> None:
        """The network of the containers that have none of their own (see
        ISOLATED_NETWORK), made when the server lacks it. One made by someone else
        that lets its containers reach each other is refused, never used."""
        if await self._isolation_of(ISOLATED_NETWORK) is None:
            labels = ["--label", f"{ISOLATED_LABEL}=1"]
            args = ["network", "create", "--driver", "bridge", "--opt",
                    f"{ICC_OPTION}=false", *labels, ISOLATED_NETWORK]  # fmt: skip
            # Two installs may make it at once: whichever loses finds the other's.
            await self.ssh.run_docker(self.target, args, check=False)
        isolation = await self._isolation_of(ISOLATED_NETWORK)
        if isolation != "false":
            raise InstallFailed(
                f"the network {ISOLATED_NETWORK} on {self.target.name} lets its containers "
                "reach each other (it is not the one tomo makes): remove it "
                f"(docker network rm {ISOLATED_NETWORK}) and tomo makes its own"
                if isolation is not None
                else f"the network {ISOLATED_NETWORK} could not be made on {self.target.name}"
            )

    async def _isolation_of(self, network: str) -> str | None:
        """The network's inter-container setting ("false": its containers cannot
        reach each other; "" when not set); None when there is no such network."""
        return await self._network_field(network, f'{{{{index .Options "{ICC_OPTION}"}}}}')

    async def _network_field(self, network: str, template: str) -> str | None:
        """What `docker network inspect --format template` says; None when there is
        no such network."""
        args = ["network", "inspect", "--format", template, network]
        result = await self.ssh.run_docker(self.target, args, check=False)
        if result.exit_code != 0:
            if "not found" in result.stderr.lower() or "no such" in result.stderr.lower():
                return None
            raise CommandFailed(self.target.name, f"docker network inspect {network}",
                                result.exit_code, result.stderr)  # fmt: skip
        return result.stdout.strip()

    async def output_tail(self, container: str, lines: int = 10) -> list[str]:
        """The container's last output lines, stdout and stderr merged in the order
        written (both go to one pipe on the server)."""
        argv = docker_argv(self.target, ["container", "logs", "--tail", str(lines), container])
        script = ["sh", "-c", MERGED_OUTPUT, "tomo-logs", *argv]
        result = await self.ssh.run(self.target, script, check=False)
        if result.exit_code != 0:
            return []
        return [line for line in result.stdout.splitlines() if line.strip()]

    async def crash_summary(self, container: str, within_seconds: int = 3600) -> str:
        """ "exited with code 3 after 2.1 s, restarted 2 times": Docker's restart policy
        may have started it again already (and reset its exit code), so the exits are
        read from Docker's events."""
        state = await self.state(container)
        if state is None:
            return "disappeared"
        args = ["system", "events", "--since", f"{within_seconds}s",
                "--filter", f"container={container}", "--filter", "event=start",
                "--filter", "event=die", "--format",
                EVENT_FORMAT + ' {{.TimeNano}} {{index .Actor.Attributes "exitCode"}}']  # fmt: skip
        script = ["sh", "-c", EVENTS_UNTIL_NOW, "tomo-events", *docker_argv(self.target, args)]
        events = (await self.ssh.run(self.target, script, check=False)).stdout.split("\n")
        exit_code, ran = _last_exit(_events_of(container, events))
        if exit_code is None:
            return state.describe_exit()
        summary = dataclasses.replace(state, exit_code=exit_code, ran_seconds=ran)
        return summary.describe_exit()

    async def http_probe(self, url: str) -> int | None:
        """The HTTP status the URL answers with (0: no answer); None when the server
        has neither curl nor wget to ask with."""
        result = await self.ssh.run(self.target, ["sh", "-c", HTTP_PROBE, "tomo-probe", url],
                                    check=False)  # fmt: skip
        if result.exit_code == 127:
            return None
        code = result.stdout.strip()[-3:]
        return int(code) if code.isdigit() else 0

    async def listens_in_container(self, pid: int, port: int) -> int:
        """0 when something listens on the TCP port inside the container of `pid`;
        127 when the server does not let this user look."""
        args = ["sh", "-c", CONTAINER_LISTENS, "tomo-listens", str(pid), f"{port:04X}"]
        return (await self.ssh.run(self.target, args, check=False)).exit_code

    async def stop(self, container: str) -> None:
        """`docker container stop`: the container's stop signal, then its grace period
        (up to definition.MAX_STOP_SECONDS) before Docker kills it."""
        await self.run(["container", "stop", container], time_limit=STOP_LIMIT)

    async def remove_container(self, container: str, *, with_volumes: bool) -> None:
        """Force-remove; anonymous volumes go too only when asked (they may hold data)."""
        args = ["container", "rm", "--force", *(["--volumes"] if with_volumes else []), container]
        await self.ssh.run_docker(self.target, args, check=False)
