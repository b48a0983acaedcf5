"""A scripted host: no SSH, no Docker; it answers the commands remote.Docker sends the
way a server would, from an in-memory model.

It stands where a server cannot at unit speed (tests/deployment/test_rollback_scripted.py);
test_install_failures.py and test_honest_jobs.py run the same flows on a real sshd
and Docker engine. The model holds containers (name, image, labels, state, network,
published ports, named volumes), networks and volumes with their labels, the images
present, and the directories and files of the file system. It has no processes, no
clock, no restart policies (a container that ends stays exited), no symlinks and no
permissions. Each command is known by its argv's exact shape, a script by identity
with remote.py's constant; any other is an AssertionError naming the argv, and is
kept in `unanswered` (tomo turns an exception into a failed job: the fixture checks it).

Every command that reaches the host is kept in `commands`, in a short form ("container
run wiki-db", "network rm tomo-wiki", "tomo-prepare FILE DIR..."), so tests can assert
the order. Faults: `fail` (a command changes nothing and exits non-zero), `unreachable_from`
(the server goes away), `hold` (a command never returns: tomo is stopped or dies there).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import io
import itertools
import json
import posixpath
import shlex
import tarfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tomo.deployment.remote import (
    _INSPECT_FIELDS,
    EVENTS_UNTIL_NOW,
    ICC_OPTION,
    ISOLATED_NETWORK,
    LOOK_BEFORE_PLACING,
    MERGED_OUTPUT,
    PLACE_FILES,
    PREPARE_FILES,
    PUT_BACK,
    REMOVE_FILES,
    REMOVE_OWNED,
    SURVEY_SCRIPT,
    WATCH_EVENTS,
)
from tomo.errors import CommandFailed, DockerUnavailable, ServerUnreachable
from tomo.servers.docker_access import daemon_problem
from tomo.servers.ssh import COMMANDS, CommandResult, SSHTarget, _shown, docker_argv

NETWORK_OWNER = '{{index .Labels "tomo.installation"}}'  # remote.Docker.network_owner's
NETWORK_ICC = f'{{{{index .Options "{ICC_OPTION}"}}}}'  # remote.Docker._isolation_of's
FACTS = {"os": "Debian GNU/Linux 12 (bookworm)", "kernel": "6.1.0-scripted",
         "machine": "x86_64", "cpus": "4", "mem_total_kb": "8388608",
         "mem_available_kb": "4194304", "disk_free_kb": "52428800"}  # fmt: skip
# The read-only commands: everything else in `commands` changes the host.
READS = ("tomo-survey", "tomo-watch", "tomo-events", "tomo-logs", "container inspect",
         "network inspect", "volume inspect")  # fmt: skip
# `docker container run` options (as spec.build_docker_run_command writes them).
RUN_FLAGS = {"--detach", "--privileged", "--read-only", "--no-healthcheck"}
RUN_VALUES = {"--name", "--label", "--publish", "--volume", "--env-file", "--restart",
              "--network", "--network-alias", "--user", "--workdir", "--entrypoint",
              "--health-cmd", "--health-interval", "--health-timeout", "--health-start-period",
              "--health-retries", "--pid", "--ipc", "--cap-add", "--device", "--cap-drop",
              "--security-opt", "--stop-signal", "--stop-timeout"}  # fmt: skip

Match = str | Callable[[str], bool]  # words a short form starts with, or a predicate on it


@dataclass
class Container:
    id: str
    name: str
    image: str
    labels: dict[str, str] = field(default_factory=dict)
    network: str | None = None
    ports: list[str] = field(default_factory=list)  # "127.0.0.1:8080->3000/tcp"
    volumes: list[tuple[str, str]] = field(default_factory=list)  # named: (volume, path)
    health_check: bool = False  # Docker's own: healthy whenever it runs
    status: str = "created"  # created, running, exited
    exit_code: int = 0


@dataclass(frozen=True)
class Behaviour:
    """What a container's process does once Docker starts it (by container or image)."""

    exit_code: int | None = None  # it ends at once with this code (0: a step done)
    output: tuple[str, ...] = ()  # what it printed: its logs
    start_error: str = ""  # Docker cannot start it: `run` leaves it created


@dataclass
class _Fault:
    match: Match
    exit_code: int
    stderr: str


class ScriptedHost:
    """A scripted host (see the module's docstring): one server's shell and Docker."""

    def __init__(self, data_root: str = "/srv/apps") -> None:
        self.containers: dict[str, Container] = {}
        # name -> labels, driver options. tomo's isolated network is there already,
        # as on a server tomo has installed on before (it outlives every app).
        self.networks: dict[str, dict[str, str]] = {ISOLATED_NETWORK: {"tomo.isolated": "1"}}
        self.network_options = {ISOLATED_NETWORK: {ICC_OPTION: "false"}}
        self.volumes: dict[str, dict[str, str]] = {}  # name -> labels
        self.images: set[str] = set()
        self.dirs: set[str] = set()
        self.files: dict[str, str] = {}  # path -> content
        self.behaviours: dict[str, Behaviour] = {}  # by container name, else by image
        self.commands: list[str] = []  # short forms of what reached the host, in order
        self.unanswered: list[list[str]] = []  # argvs it could not answer
        self.sent = 0  # commands sent to it, reached or not
        self._faults: list[_Fault] = []
        self._holds: list[tuple[Match, asyncio.Event]] = []
        self._away_from: int | Match | None = None
        self._ids = itertools.count(1)
        self.mkdir(data_root)

    # -- setting the scene ------------------------------------------------------------

    def mkdir(self, path: str) -> None:
        """`mkdir -p`."""
        while path not in self.dirs and path != "/":
            self.dirs.add(path)
            path = posixpath.dirname(path)
        self.dirs.add("/")

    def add_container(self, name: str, image: str, **fields: Any) -> Container:
        self.containers[name] = Container(self._new_id(), name, image, **fields)
        return self.containers[name]

    def behave(self, container_or_image: str, **behaviour: Any) -> None:
        self.behaviours[container_or_image] = Behaviour(**behaviour)

    def snapshot(self) -> dict[str, Any]:
        """Everything on the host but its images (pulled ones stay, as on a server)."""
        every = {"containers": self.containers, "networks": self.networks,
                 "volumes": self.volumes, "dirs": self.dirs, "files": self.files}  # fmt: skip
        return copy.deepcopy(every)

    def changes(self) -> list[str]:
        """The commands that reached the host and were not read-only, in order."""
        return [c for c in self.commands if not c.startswith(READS)]

    # -- faults -----------------------------------------------------------------------

    def fail(self, match: Match, *, exit_code: int = 1, stderr: str = "") -> None:
        """The first command matching `match` changes nothing and exits so."""
        self._faults.append(_Fault(match, exit_code, stderr))

    def unreachable_from(self, at: int | Match) -> None:
        """Command number `at` (counted from 1 over all sent), or the first one matching
        it, and every later one raise ServerUnreachable until `reachable()`: the
        server has gone away."""
        self._away_from = at

    def reachable(self) -> None:
        self._away_from = None

    def hold(self, match: Match) -> asyncio.Event:
        """The first command matching `match` never returns (until its caller is
        cancelled, as tomo is when stopped); the event is set when it arrives."""
        arrived = asyncio.Event()
        self._holds.append((match, arrived))
        return arrived

    # -- the Host protocol (remote.Host) ----------------------------------------------

    async def run(
        self,
        target: SSHTarget,
        argv: Sequence[str],
        *,
        check: bool = True,
        time_limit: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        result = await self._receive(target, list(argv), stdin)
        if check and result.exit_code != 0:
            raise CommandFailed(target.name, _shown(shlex.join(argv)), result.exit_code,
                                result.stderr)  # fmt: skip
        return result

    async def run_docker(
        self,
        target: SSHTarget,
        args: Sequence[str],
        *,
        check: bool = True,
        time_limit: float | None = None,
        stdin: str | None = None,
    ) -> CommandResult:
        """As SSHService.run_docker: a daemon problem is DockerUnavailable."""
        argv = docker_argv(target, args)
        result = await self.run(target, argv, check=False, stdin=stdin)
        if result.exit_code != 0:
            problem = daemon_problem(target.username, result.stderr)
            if problem:
                raise DockerUnavailable(target.name, problem)
            if check:
                raise CommandFailed(target.name, _shown(shlex.join(argv)), result.exit_code,
                                    result.stderr)  # fmt: skip
        return result

    async def stream(
        self, target: SSHTarget, argv: Sequence[str], *, time_limit: float | None = None,
        lane: str = COMMANDS,
    ) -> AsyncIterator[str]:  # fmt: skip
        """As SSHService.stream: the lines, then CommandFailed on a non-zero exit."""
        result = await self._receive(target, list(argv), None, streamed=True)
        lines = (result.stdout + result.stderr).splitlines()
        for line in lines:
            yield line
        if result.exit_code != 0:
            raise CommandFailed(target.name, _shown(shlex.join(argv)), result.exit_code,
                                "\n".join(lines[-5:]))  # fmt: skip

    # -- receiving a command ----------------------------------------------------------

    async def _receive(
        self, target: SSHTarget, argv: list[str], stdin: str | None, *, streamed: bool = False
    ) -> CommandResult:
        self.sent += 1
        try:
            short, answer = self._recognise(argv[2:] if argv[:2] == ["sudo", "-n"] else argv,
                                            streamed)  # fmt: skip
        except Exception:  # AssertionError: a shape it does not know
            self.unanswered.append(argv)
            raise
        if self._gone(short):
            raise ServerUnreachable(target.name, "connection lost during a command")
        held = next((h for h in self._holds if _matches(h[0], short)), None)
        if held is not None:
            self._holds.remove(held)
            held[1].set()
            await asyncio.Event().wait()  # until cancelled
        self.commands.append(short)
        fault = next((f for f in self._faults if _matches(f.match, short)), None)
        if fault is not None:
            self._faults.remove(fault)
            return CommandResult(fault.exit_code, "", fault.stderr)
        try:
            return answer(stdin)
        except Exception:  # a shape it does not know after all, or a gap in the model
            self.unanswered.append(argv)
            raise

    def _gone(self, short: str) -> bool:
        """Whether the server has gone away by this command (see unreachable_from)."""
        at = self._away_from
        if at is not None and not isinstance(at, int) and _matches(at, short):
            self._away_from = at = self.sent  # gone from this command on
        return isinstance(at, int) and self.sent >= at

    def _recognise(
        self, argv: list[str], streamed: bool
    ) -> tuple[str, Callable[[str | None], CommandResult]]:
        """The command's short form, and what carries it out."""
        scripts: dict[str, Callable[[list[str], str | None], CommandResult]] = {
            SURVEY_SCRIPT: self._survey, PREPARE_FILES: self._prepare,
            REMOVE_OWNED: self._remove_owned, EVENTS_UNTIL_NOW: self._no_events,
            REMOVE_FILES: self._rm, PUT_BACK: self._put_back,
            LOOK_BEFORE_PLACING: self._look, PLACE_FILES: self._place,
            MERGED_OUTPUT: self._logs,
        }  # fmt: skip
        if argv[:2] == ["sh", "-c"] and len(argv) > 3:
            script, name, args = argv[2], argv[3], argv[4:]
            if streamed and script == WATCH_EVENTS:
                return f"{name} {shlex.join(args)}", lambda _: self._no_events(args[1:], None)
            if not streamed and script in scripts:
                return f"{name} {shlex.join(args)}", lambda stdin: scripts[script](args, stdin)
        if argv[:1] == ["docker"] and len(argv) > 2:
            return self._docker(argv[1:], streamed)
        raise AssertionError(f"the scripted host does not know this command: {argv!r}")

    def _docker(
        self, args: list[str], streamed: bool
    ) -> tuple[str, Callable[[str | None], CommandResult]]:
        kind = (args[0], args[1], streamed)
        if kind == ("image", "pull", True) and len(args) == 3:
            return f"image pull {args[2]}", lambda _: self._pull(args[2])
        if kind == ("container", "run", False):
            options, rest = _options(args[2:], RUN_FLAGS, RUN_VALUES, stop_at_positional=True)
            return f"container run {options['--name'][0]}", lambda _: self._run(options, rest)
        verbs: dict[tuple[str, str], tuple[set[str], set[str], Callable[..., CommandResult]]] = {
            ("container", "inspect"): (set(), {"--format"}, self._inspect_container),
            ("container", "rm"): ({"--force", "--volumes"}, set(), self._remove_container),
            ("container", "stop"): (set(), set(), self._stop),
            ("container", "start"): (set(), set(), self._start_container),
            ("container", "rename"): (set(), set(), self._rename),
            ("network", "create"): (set(), {"--label", "--driver", "--opt"}, self._create_network),
            ("network", "inspect"): (set(), {"--format"}, self._inspect_network),
            ("network", "rm"): (set(), set(), self._remove_network),
            ("volume", "create"): (set(), {"--label"}, self._create_volume),
            ("volume", "inspect"): (set(), set(), self._inspect_volume),
            ("volume", "rm"): (set(), set(), self._remove_volumes),
        }  # fmt: skip
        if not streamed and (args[0], args[1]) in verbs:
            flags, valued, handler = verbs[args[0], args[1]]
            options, rest = _options(args[2:], flags, valued)
            short = " ".join([args[0], args[1], *rest])
            return short, lambda _: handler(options, *rest)
        raise AssertionError(f"the scripted host does not know this command: docker {args!r}")

    # -- scripts ----------------------------------------------------------------------

    def _survey(self, args: list[str], _stdin: str | None) -> CommandResult:
        _root, _sudo, _runtimes, count, *rest = args
        devices, paths = rest[: int(count)], rest[int(count) :]
        lines = [f"{key}={value}" for key, value in FACTS.items()]
        lines += ["data_root_writable=yes", "docker_exit=0", "docker_via=direct",
                  "docker_out=27.0.3"]  # fmt: skip
        for c in self.containers.values():
            published = ", ".join(c.ports) if c.status == "running" else ""
            lines.append(f"container {c.name}\t{published}")
        lines += [f"missing-device {device}" for device in devices]  # no devices here
        resolved = "".join(f"-{posixpath.normpath(path)}\0" for path in paths)
        return _ok("\n".join(lines) + "\n--paths--\n" + resolved)

    def _prepare(self, args: list[str], stdin: str | None) -> CommandResult:
        file, keep, *dirs = args
        said = []
        for d in dirs:
            said.append(f"exists {d}" if d in self.dirs else f"created {d}")
            self.mkdir(d)
        if file:
            if posixpath.dirname(file) not in self.dirs:
                missing = f"sh: cannot create {file}: Directory nonexistent"
                return CommandResult(1, _lines(said), missing)
            if keep == "keep" and file in self.files:
                self.files[f"{file}.previous"] = self.files[file]
            elif keep == "keep":
                self.files[f"{file}.absent"] = ""
            self.files[file] = stdin or ""
        return _ok(_lines(said))

    def _look(self, args: list[str], _stdin: str | None) -> CommandResult:
        _top, *paths = args  # no symlinks here: nothing is ever refused
        said = [f"{'exists' if p in self.files or p in self.dirs else 'missing'} {p}"
                for p in paths]  # fmt: skip
        return _ok("".join(f"{line}\0" for line in said))

    def _place(self, args: list[str], stdin: str | None) -> CommandResult:
        top, *dirs = args
        said = [f"created {d}" for d in dirs if d not in self.dirs]
        for d in dirs:
            self.mkdir(d)
        with tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin or "")), mode="r") as tar:
            for member in tar.getmembers():
                extracted = tar.extractfile(member)
                assert extracted is not None, member.name
                self.files[posixpath.join(top, member.name)] = extracted.read().decode()
        return _ok(_lines(said))

    def _put_back(self, args: list[str], _stdin: str | None) -> CommandResult:
        (file,) = args
        if f"{file}.previous" in self.files:
            previous = self.files.pop(f"{file}.previous")
            changed, self.files[file] = self.files.get(file) != previous, previous
            return _ok("put back\n" if changed else "")
        if self.files.pop(f"{file}.absent", None) is not None:
            self.files.pop(file, None)
            return _ok("removed\n")
        return _ok("")

    def _remove_owned(self, args: list[str], _stdin: str | None) -> CommandResult:
        root, instance, *dirs = args
        if root not in self.dirs or instance not in self.dirs:
            return _ok(f"absent {instance}\n")
        if posixpath.normpath(instance) != posixpath.join(root, posixpath.basename(instance)):
            return _ok(f"refused {instance}\n")
        said = []
        for d in dirs:
            if d not in self.dirs and d not in self.files:
                said.append(f"absent {d}")
            elif not d.startswith(instance + "/"):
                said.append(f"refused {d}")
            else:
                self._remove_tree(d)
                said.append(f"removed {d}")
        if any(p.startswith(instance + "/") for p in [*self.dirs, *self.files]):
            said.append(f"kept {instance}")
        else:
            self.dirs.discard(instance)
            said.append(f"removed {instance}")
        return _ok(_lines(said))

    def _no_events(self, argv: list[str], _stdin: str | None) -> CommandResult:
        """Docker's events of a window: none (nothing happens here but what tomo does)."""
        if argv[:3] != ["docker", "system", "events"]:
            raise AssertionError(f"the scripted host does not know this command: {argv!r}")
        return _ok("")

    def _logs(self, argv: list[str], _stdin: str | None) -> CommandResult:
        if argv[:4] != ["docker", "container", "logs", "--tail"] or len(argv) != 6:
            raise AssertionError(f"the scripted host does not know this command: {argv!r}")
        found = self.containers.get(argv[5])
        if found is None:
            return _no_container(argv[5])
        output = self._behaviour(found).output
        return _ok(_lines(list(output[-int(argv[4]) :])))

    def _rm(self, paths: list[str], _stdin: str | None) -> CommandResult:
        errors, removed = [], []
        for path in paths:
            if path in self.dirs:
                errors.append(f"rm: cannot remove '{path}': Is a directory")
            elif self.files.pop(path, None) is not None:
                removed.append(path)
        return CommandResult(1 if errors else 0, "".join(f"{p}\0" for p in removed),
                             _lines(errors))  # fmt: skip

    # -- images and containers --------------------------------------------------------

    def _pull(self, image: str) -> CommandResult:
        layer = hashlib.sha256(image.encode()).hexdigest()[:12]
        there = image in self.images
        self.images.add(image)
        return _ok(f"{layer}: {'Already exists' if there else 'Pull complete'}\n"
                   f"Status: {'Image is up to date' if there else 'Downloaded newer image'} "
                   f"for {image}\n")  # fmt: skip

    def _run(self, options: dict[str, list[str]], rest: list[str]) -> CommandResult:
        (name,) = options["--name"]
        image = rest[0]
        if name in self.containers:
            return _run_error(f'Conflict. The container name "/{name}" is already in use')
        if image not in self.images:
            return _run_error(f"Unable to find image '{image}' locally (nothing pulls here)")
        network = options["--network"][0] if "--network" in options else None
        if network and ":" not in network and network not in self.networks:
            return _run_error(f"network {network} not found")
        for env_file in options.get("--env-file", []):
            if env_file not in self.files:
                return _run_error(f"open {env_file}: no such file or directory")
        container = self.add_container(
            name, image, labels=dict(label.split("=", 1) for label in options.get("--label", [])),
            network=network, ports=[_published(p) for p in options.get("--publish", [])],
            health_check=bool(options.get("--health-cmd")),
        )  # fmt: skip
        for volume in options.get("--volume", []):
            source, path = volume.split(":")[:2]
            if source.startswith("/"):
                self.mkdir(source)  # Docker makes a missing bind source
            else:
                self.volumes.setdefault(source, {})  # and a missing named volume
                container.volumes.append((source, path))
        started = self._start(container)
        if started.exit_code:  # created, and left so
            return _run_error(self._behaviour(container).start_error)
        return _ok(container.id + "\n")

    def _start(self, container: Container) -> CommandResult:
        behaviour = self._behaviour(container)
        if behaviour.start_error:
            return _daemon_error(behaviour.start_error)
        container.status, container.exit_code = "running", 0
        if behaviour.exit_code is not None:
            container.status, container.exit_code = "exited", behaviour.exit_code
        return _ok(container.name + "\n")

    def _behaviour(self, container: Container) -> Behaviour:
        found = self.behaviours.get(container.name) or self.behaviours.get(container.image)
        return found or Behaviour()

    def _inspect_container(self, options: dict[str, list[str]], name: str) -> CommandResult:
        assert options["--format"] == [_INSPECT_FIELDS], options
        c = self.containers.get(name)
        if c is None:
            return _no_container(name)
        state: dict[str, Any] = {"Status": c.status, "ExitCode": c.exit_code, "Error": ""}
        if c.health_check:
            state["Health"] = {"Status": "healthy" if c.status == "running" else "unhealthy"}
        mounts = [{"Type": "volume", "Name": v, "Destination": p} for v, p in c.volumes]
        label = c.labels.get("tomo.installation", "")
        return _ok(f"{json.dumps(state)}\n0\n{json.dumps(mounts)}\n{label}\n{c.id}\n")

    def _remove_container(self, options: dict[str, list[str]], name: str) -> CommandResult:
        # --volumes takes anonymous volumes only: the model has none.
        if self.containers.pop(name, None) is None:
            return _no_container(name)
        return _ok(name + "\n")

    def _stop(self, _options: dict[str, list[str]], name: str) -> CommandResult:
        c = self.containers.get(name)
        if c is None:
            return _no_container(name)
        if c.status == "running":
            c.status, c.exit_code = "exited", 0
        return _ok(name + "\n")

    def _start_container(self, _options: dict[str, list[str]], name: str) -> CommandResult:
        c = self.containers.get(name)
        if c is None:
            return _no_container(name)
        return _ok(name + "\n") if c.status == "running" else self._start(c)

    def _rename(self, _options: dict[str, list[str]], old: str, new: str) -> CommandResult:
        if old not in self.containers:
            return _no_container(old)
        if new in self.containers:
            return _daemon_error(f'Conflict. The container name "/{new}" is already in use')
        self.containers[new] = self.containers.pop(old)
        self.containers[new].name = new
        return _ok("")

    # -- networks and volumes ---------------------------------------------------------

    def _create_network(self, options: dict[str, list[str]], name: str) -> CommandResult:
        if name in self.networks:
            return _daemon_error(f"network with name {name} already exists")
        self.networks[name] = dict(label.split("=", 1) for label in options.get("--label", []))
        self.network_options[name] = dict(o.split("=", 1) for o in options.get("--opt", []))
        return _ok(self._new_id() + "\n")

    def _inspect_network(self, options: dict[str, list[str]], name: str) -> CommandResult:
        assert options["--format"] in ([NETWORK_OWNER], [NETWORK_ICC]), options
        if name not in self.networks:
            return _daemon_error(f"network {name} not found")
        if options["--format"] == [NETWORK_ICC]:
            return _ok(self.network_options[name].get(ICC_OPTION, "") + "\n")
        return _ok(self.networks[name].get("tomo.installation", "") + "\n")

    def _remove_network(self, _options: dict[str, list[str]], name: str) -> CommandResult:
        if name not in self.networks:
            return _daemon_error(f"network {name} not found")
        if any(c.network == name and c.status == "running" for c in self.containers.values()):
            return _daemon_error(f"error while removing network: network {name} has active "
                                 "endpoints")  # fmt: skip
        del self.networks[name]
        return _ok(name + "\n")

    def _create_volume(self, options: dict[str, list[str]], name: str) -> CommandResult:
        labels = dict(label.split("=", 1) for label in options.get("--label", []))
        self.volumes.setdefault(name, labels)
        return _ok(name + "\n")

    def _inspect_volume(self, _options: dict[str, list[str]], name: str) -> CommandResult:
        if name not in self.volumes:
            return _daemon_error(f"get {name}: no such volume")
        return _ok(json.dumps([{"Name": name, "Labels": self.volumes[name]}]) + "\n")

    def _remove_volumes(self, _options: dict[str, list[str]], *names: str) -> CommandResult:
        removed, errors = [], []
        for name in names:
            users = [c.id for c in self.containers.values() if name in dict(c.volumes)]
            if name not in self.volumes:
                errors.append(f"Error response from daemon: get {name}: no such volume")
            elif users:
                errors.append(f"Error response from daemon: remove {name}: volume is in use - "
                              f"[{', '.join(users)}]")  # fmt: skip
            else:
                del self.volumes[name]
                removed.append(name)
        return CommandResult(1 if errors else 0, _lines(removed), _lines(errors))

    # -- helpers ----------------------------------------------------------------------

    def _remove_tree(self, path: str) -> None:
        self.dirs = {d for d in self.dirs if d != path and not d.startswith(path + "/")}
        self.files = {f: c for f, c in self.files.items()
                      if f != path and not f.startswith(path + "/")}  # fmt: skip

    def _new_id(self) -> str:
        return f"{next(self._ids):064x}"


def _options(
    args: list[str], flags: set[str], valued: set[str], *, stop_at_positional: bool = False
) -> tuple[dict[str, list[str]], list[str]]:
    """Docker's options (each one known, or an AssertionError) and the rest."""
    options: dict[str, list[str]] = {}
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg == "--":
            rest += list(items)
        elif rest and stop_at_positional:  # the image: what follows is its command
            rest += [arg, *items]
        elif not arg.startswith("--"):
            rest.append(arg)
        elif arg in flags:
            options[arg] = []
        elif arg in valued:
            options.setdefault(arg, []).append(next(items))
        else:
            raise AssertionError(f"the scripted host does not know the option {arg} in {args!r}")
    return options, rest


def _matches(match: Match, short: str) -> bool:
    if callable(match):
        return match(short)
    return short == match or short.startswith(match + " ")


def _published(option: str) -> str:
    """`--publish ADDRESS:HOST:CONTAINER/PROTO` as `docker ps` shows it."""
    address, host, rest = option.rsplit(":", 2)
    return f"{address}:{host}->{rest}"


def _ok(stdout: str) -> CommandResult:
    return CommandResult(0, stdout, "")


def _lines(lines: list[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def _daemon_error(message: str) -> CommandResult:
    return CommandResult(1, "", f"Error response from daemon: {message}\n")


def _run_error(message: str) -> CommandResult:
    """How `docker container run` fails (exit 125, with Docker's hint after it)."""
    return CommandResult(125, "", f"docker: Error response from daemon: {message}.\n"
                                  "Run 'docker run --help' for more information\n")  # fmt: skip


def _no_container(name: str) -> CommandResult:
    return _daemon_error(f"No such container: {name}")
