"""Front door benchmark (issue 23): a route change is live within 1 s and interrupts no
other app; the proxy adds at most 1 ms p50 to a request against the same app reached
by its port.

Run as root from the project root, holding the tests' Docker lock:

    flock /tmp/tomo-docker-tests.lock .venv/bin/python -m benchmarks.bench_proxy

Uses the test harness: a real sshd on loopback in front of this machine's Docker engine
(tests/sshd.py, tests/services.py), a registry with the busybox test images
(tests/registry.py) and Debian's Caddy as the front door's image (tests/caddy.py).
Two apps: A (page "web v1", routed as bench-a.bench.lan, tls internal) and B ("web
v2", no name). Requests go to 127.0.0.1 with the name as Host and TLS server name
(curl's --resolve), trusting only tomo's root certificate.

1. While three request loops ask A for its page through the front door (one on a
   kept-alive connection over HTTP/1.1, one over HTTP/2 as browsers speak to Caddy,
   one on a new connection each time), B
   gets a new name and loses it again, N times each way: by hand (one `ssh` running
   `docker network connect`, `docker container cp` of the config and `caddy
   reload`), with ProxyService.set_hostnames in process, and with `tomo hostname
   add|remove` as a subprocess: on tomo's data directory, and logged in to a `tomo
   serve` of it (`tomo login`: the command is then a client of tomo's API, as on a
   laptop). Each change is timed from its start to the first
   request that shows it (B's page by the new name; no longer B's page by the
   removed one), probed every 10 ms on a new connection. Beside them, the floor
   (`caddy reload` of an unchanged config over ssh), tomo's apply of an unchanged
   config, and the command's start-up both ways. The loops' errors must be 0.
2. N requests to A through the front door and N straight to A's published port,
   interleaved, each on its own kept-alive connection: p50 of each, the difference
   and the ratio.

Prints; exits 1 only when a correctness check fails (an error in the loop, a change
never seen within WAIT_SECONDS, a wrong page), never on a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import secrets
import shlex
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path

import httpx
import yaml
from pydantic import SecretStr
from tests.caddy import push_caddy_image
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages, local_registry, push_test_images
from tests.services import docker_daemon, free_port, wait_until_serving
from tests.sshd import Sshd, SshUsers, prepare_users

from benchmarks.bench_backup import docker, ssh_command, work_dirs
from benchmarks.common import as_installed, percentile, run_bounded, table
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig
from tomo.marketplace.schemas import RepoCreate
from tomo.proxy.caddy import ADMIN, DATA, caddy_config
from tomo.proxy.door import CONTAINER, NETWORK, STAGED, VOLUME, front_door
from tomo.proxy.routes import FrontDoorConfig, Route, Upstream
from tomo.proxy.schemas import DomainSettings
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate

DOMAIN = "bench.lan"
SERVER = "s0"
A, B = "bench-a", "bench-b"  # the installations, and so their containers
A_NAME = f"{A}.{DOMAIN}"
A_PAGE, B_PAGE = "web v1", "web v2"
OWNER = "tomo-bench-proxy"  # tomo.owner on what tomo makes, so leftovers can be found
LIVE_TARGET = 1.0  # seconds: a change is live within this (issue 23)
ADDED_TARGET = 0.001  # seconds the front door may add to a request's p50
WAIT_SECONDS = 15.0  # a change not seen by then is counted as never live
PROBE_SECONDS = 0.01  # between two probes of a change
REQUEST_TIMEOUT = 5.0
COMMAND_TIMEOUT = 120.0
WARM_UP = 20  # requests on each side before side by side counts
# The ways of changing B's names, each with the word its new names carry.
KINDS = {"by hand": "hand", "tomo in-process": "call", "tomo command": "cli",
         "tomo command, logged in": "api"}  # fmt: skip
FLOOR = "caddy reload, config unchanged (ssh … docker exec)"
REAPPLY = "tomo, config unchanged (ProxyService.apply in-process)"
START_UP = "tomo hostname list (start-up and database, no server)"
REMOTE_START_UP = "tomo hostname list, logged in (start-up and one request to tomo serve)"
PASSWORD = secrets.token_urlsafe(18)  # the admin of the benchmark's `tomo serve`


@dataclass
class Bench:
    """The server, the two apps, the front door's ports and what was measured."""

    runtime: Runtime
    sshd: Sshd
    users: SshUsers
    work: Path
    images: TestImages
    caddy: str
    https_port: int
    a_port: int
    root: str = ""  # the front door's root certificate (PEM)
    phase: str = "set-up"  # what the main flow is doing, for the loop's errors
    returned: dict[str, list[float]] = field(default_factory=dict)  # the change's own time
    live: dict[str, list[float]] = field(default_factory=dict)  # start to first seen
    never: list[str] = field(default_factory=list)  # changes not seen within WAIT_SECONDS
    context: dict[str, list[float]] = field(default_factory=dict)  # what a change holds
    laptop: dict[str, str] = field(default_factory=dict)  # env of a CLI logged in to serve

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.root)

    @cached_property
    def probe(self) -> httpx.Client:
        """The probes' client: a new connection (and TLS handshake) for each request,
        as a browser meeting a name for the first time makes. One probe at a time."""
        limits = httpx.Limits(max_keepalive_connections=0)
        return httpx.Client(verify=self.tls(), timeout=REQUEST_TIMEOUT, limits=limits)

    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}/"


def by_name(client: httpx.Client, bench: Bench, name: str) -> httpx.Response:
    """GET / from `name` on the front door's HTTPS port at 127.0.0.1 (curl --resolve):
    the name as Host and as the TLS server name the certificate is checked for."""
    return client.get(bench.url(), headers={"Host": name}, extensions={"sni_hostname": name})


# -- the loop to A -------------------------------------------------------------------


@dataclass
class RequestLoop:
    """Asks A for its page through the front door every `interval` seconds, in a
    thread: on one kept-alive connection (a new one only when the front door closed
    it), over HTTP/1.1 or HTTP/2 (what browsers speak to Caddy over TLS), or on a new
    connection each time."""

    bench: Bench
    interval: float
    keep_alive: bool
    http2: bool = False
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    sent_again: list[str] = field(default_factory=list)  # unanswered, then asked again
    connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def kind(self) -> str:
        if self.http2:
            return "HTTP/2, kept-alive connection"
        return "kept-alive connection" if self.keep_alive else "new connection each"

    def start(self) -> RequestLoop:
        self._thread = threading.Thread(target=self._run, name="loop-to-a", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=REQUEST_TIMEOUT * 2)

    def _run(self) -> None:
        last = None  # the connection of the last answer: a new one means a reconnection
        limits = httpx.Limits(max_keepalive_connections=None if self.keep_alive else 0)
        with httpx.Client(verify=self.bench.tls(), timeout=REQUEST_TIMEOUT, limits=limits,
                          http2=self.http2) as client:  # fmt: skip
            while not self._stop.is_set():
                self.requests += 1
                answer = self._ask(client)
                if answer is not None:
                    if self.http2 and answer.http_version != "HTTP/2":
                        self.errors.append(f"{self.bench.phase}: {answer.http_version}")
                    stream = answer.extensions.get("network_stream")
                    self.connections += stream is not last
                    last = stream
                    if answer.status_code != 200 or A_PAGE not in answer.text:
                        self.errors.append(f"{self.bench.phase}: HTTP {answer.status_code} "
                                           f"{answer.text[:60]!r}")  # fmt: skip
                self._stop.wait(self.interval)

    def _ask(self, client: httpx.Client) -> httpx.Response | None:
        """A's page; None after an error, which is noted. A request the front door
        provably did not take (see unanswered) is sent once more, as browsers do:
        only a second failure is an error."""
        try:
            return by_name(client, self.bench, A_NAME)
        except httpx.HTTPError as exc:
            said = f"{self.bench.phase}: {type(exc).__name__}: {exc}"
            if not (self.keep_alive and unanswered(exc)):
                self.errors.append(said)
                return None
        try:
            answer = by_name(client, self.bench, A_NAME)
        except httpx.HTTPError as exc:
            self.errors.append(f"{said}; sent again: {type(exc).__name__}: {exc}")
            return None
        self.sent_again.append(said)
        return answer


def unanswered(exc: httpx.HTTPError) -> bool:
    """Whether a request on a kept-alive connection failed in a way HTTP lets a client
    send again by itself (a GET is idempotent): the connection closed before any
    byte of the answer (RFC 9112 9.3.1), or an HTTP/2 GOAWAY without error that left
    the request's stream unprocessed (RFC 9113 6.8). Browsers do so."""
    said = str(exc)
    return isinstance(exc, httpx.RemoteProtocolError) and (
        said.startswith("Server disconnected without sending a response")
        or said.startswith("<ConnectionTerminated error_code:0,")
    )


# -- one change, timed until it is seen -----------------------------------------------


def shows_b(bench: Bench, name: str) -> bool:
    """Whether a new connection to `name` gets B's page."""
    try:
        answer = by_name(bench.probe, bench, name)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and B_PAGE in answer.text


def shows_no_b(bench: Bench, name: str) -> bool:
    return not shows_b(bench, name)


def seconds_until(check: Callable[[], bool], start: float) -> float | None:
    """Seconds from `start` until `check()` first holds (tried every PROBE_SECONDS),
    counted when the probe that saw it ended; None when not within WAIT_SECONDS."""
    while time.perf_counter() - start < WAIT_SECONDS:
        if check():
            return time.perf_counter() - start
        time.sleep(PROBE_SECONDS)
    return None


async def timed_change(
    bench: Bench, label: str, change: Callable[[], Awaitable[object]], check: Callable[[], bool]
) -> None:
    """Run `change` while a probe thread waits for `check` (false before it): the
    change's own time and the time until it is seen, kept under `label`."""
    if await asyncio.to_thread(check):
        raise SystemExit(f"{label}: already seen before the change started")
    bench.phase = label
    start = time.perf_counter()
    probe = asyncio.ensure_future(asyncio.to_thread(seconds_until, check, start))
    await change()
    bench.returned.setdefault(label, []).append(time.perf_counter() - start)
    seen = await probe
    if seen is None:
        bench.never.append(label)
    else:
        bench.live.setdefault(label, []).append(seen)
    bench.phase = "between changes"


# -- the three ways of changing B's names ------------------------------------------------


def by_hand_add(bench: Bench, name: str) -> Callable[[], Awaitable[object]]:
    """B on the front door's network and a config routing `name` to it, reloaded: one
    OpenSSH session running the three docker commands a person would."""
    config = bench.work / "hand" / f"{name}.json"
    write_config(config, (Route((A_NAME,), Upstream(A, 80)), Route((name,), Upstream(B, 80))))
    return lambda: asyncio.to_thread(over_ssh, bench, [
        ["docker", "network", "connect", "--alias", B, NETWORK, B],
        ["docker", "container", "cp", str(config), f"{CONTAINER}:{DATA}/"],
        reload_argv(f"{DATA}/{config.name}"),
    ])  # fmt: skip


def by_hand_remove(bench: Bench) -> Callable[[], Awaitable[object]]:
    """The config with A's route only, reloaded, and B off the network."""
    config = bench.work / "hand" / "base.json"
    write_config(config, (Route((A_NAME,), Upstream(A, 80)),))
    return lambda: asyncio.to_thread(over_ssh, bench, [
        ["docker", "container", "cp", str(config), f"{CONTAINER}:{DATA}/"],
        reload_argv(f"{DATA}/{config.name}"),
        ["docker", "network", "disconnect", NETWORK, B],
    ])  # fmt: skip


def write_config(path: Path, routes: tuple[Route, ...]) -> None:
    """The Caddy config tomo would make for these routes (tomo's own builder: the
    figure is how a config is applied, not how it is written), readable by the SSH
    user's `docker container cp`."""
    config = FrontDoorConfig(tls="internal", base_domain=DOMAIN, routes=routes)
    path.parent.mkdir(mode=0o755, exist_ok=True)
    path.write_text(json.dumps(caddy_config(config)))
    path.chmod(0o644)


def reload_argv(path: str) -> list[str]:
    return ["docker", "container", "exec", CONTAINER, "caddy", "reload", "--config", path,
            "--address", ADMIN]  # fmt: skip


def over_ssh(bench: Bench, commands: list[list[str]]) -> None:
    """The commands joined with && in one OpenSSH session, as a person types them."""
    script = " && ".join(shlex.join(argv) for argv in commands)
    done = run_bounded([*ssh_command(bench.sshd, bench.users), script], limit=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"by hand failed ({script}): {done.stderr.strip()[-400:]}")


def in_process(bench: Bench, names: list[str]) -> Callable[[], Awaitable[object]]:
    return lambda: bench.runtime.proxy.set_hostnames(B, names, None)


def command(bench: Bench, *args: str) -> Callable[[], Awaitable[object]]:
    """`tomo hostname ARGS` as a user types it: start-up, database, SSH login, all."""
    return lambda: asyncio.to_thread(run_command, command_argv(bench, *args), cli_env(bench))


def logged_in(bench: Bench, *args: str) -> Callable[[], Awaitable[object]]:
    """`tomo hostname ARGS` logged in to `tomo serve`: start-up, then tomo's API."""
    argv = [sys.executable, "-m", "tomo", "hostname", *args]
    return lambda: asyncio.to_thread(run_command, argv, bench.laptop)


def command_argv(bench: Bench, *args: str) -> list[str]:
    return [sys.executable, "-m", "tomo", "--data-dir", str(bench.runtime.settings.data_dir),
            "hostname", *args]  # fmt: skip


def run_command(argv: list[str], env: dict[str, str]) -> None:
    done = run_bounded(argv, env=env, limit=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[3:])} failed: {done.stderr.strip()[-400:]}")


def cli_env(bench: Bench) -> dict[str, str]:
    """The benchmark's settings as the command's environment (the same proxy image:
    another would make the front door anew). Bytecode is kept between runs, as for an
    installed tomo (as bench_cli does), whatever PYTHONDONTWRITEBYTECODE says here."""
    settings = bench.runtime.settings
    return {**as_installed(bench.work / "bytecode"),
            "TOMO_BUILTIN_CATALOG": "false", "TOMO_SYNC_INTERVAL": "0",
            "TOMO_PUBLISH_ADDRESS": settings.publish_address,
            "TOMO_PROXY_IMAGE": settings.proxy_image, "TOMO_OWNER_LABEL": settings.owner_label,
            "TOMO_HELPER_IMAGE": settings.helper_image}  # fmt: skip


# -- the rounds ------------------------------------------------------------------------


async def one_round(bench: Bench, n: int) -> None:
    """The context figures, then each way of adding a new name to B and removing it, in an order
    that turns each round (so that no way always follows the same one)."""
    await context(bench)
    kinds = list(KINDS)
    for kind in kinds[n % len(kinds) :] + kinds[: n % len(kinds)]:
        name = f"b-{KINDS[kind]}-{n}.{DOMAIN}"  # new each time: Caddy signs it anew
        add, remove = changes(bench, kind, name)
        await timed_change(bench, f"{kind}: add", add, partial(shows_b, bench, name))
        await timed_change(bench, f"{kind}: remove", remove, partial(shows_no_b, bench, name))


def changes(
    bench: Bench, kind: str, name: str
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]:
    if kind == "by hand":
        return by_hand_add(bench, name), by_hand_remove(bench)
    if kind == "tomo in-process":
        return in_process(bench, [name]), in_process(bench, [])
    if kind == "tomo command, logged in":
        return logged_in(bench, "add", B, name), logged_in(bench, "remove", B, name)
    return command(bench, "add", B, name), command(bench, "remove", B, name)


async def context(bench: Bench) -> None:
    """What every change holds, timed alone: `caddy reload` over ssh of the config the
    front door runs (Caddy finds it unchanged and keeps it); tomo's apply of that same
    config in process (the front door ensured, the config copied in, reloaded); the
    command's start-up (`tomo hostname list`: settings, database, no server asked)."""
    bench.phase = "context"
    floor = partial(over_ssh, bench, [reload_argv(f"{DATA}/{STAGED}")])
    start_up = partial(run_command, command_argv(bench, "list", B), cli_env(bench))
    parts: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        (FLOOR, partial(asyncio.to_thread, floor)),
        (REAPPLY, partial(bench.runtime.proxy.apply, SERVER)),
        (START_UP, partial(asyncio.to_thread, start_up)),
        (REMOTE_START_UP, logged_in(bench, "list", B)),
    ]
    for label, work in parts:
        start = time.perf_counter()
        await work()
        bench.context.setdefault(label, []).append(time.perf_counter() - start)


# -- side by side ------------------------------------------------------------------------


def side_by_side(bench: Bench, count: int) -> dict[str, list[float]]:
    """`count` requests to A through the front door and straight to its port, one of
    each in turns (which goes first alternates), each side on its own kept-alive
    connection; the seconds of each."""
    samples: dict[str, list[float]] = {"direct": [], "front door": []}
    with (
        httpx.Client(verify=bench.tls(), timeout=REQUEST_TIMEOUT) as through,
        httpx.Client(timeout=REQUEST_TIMEOUT) as direct,
    ):
        sides: list[tuple[str, Callable[[], httpx.Response]]] = [
            ("direct", lambda: direct.get(f"http://127.0.0.1:{bench.a_port}/")),
            ("front door", lambda: by_name(through, bench, A_NAME)),
        ]
        for n in range(WARM_UP + count):
            for label, send in sides if n % 2 else sides[::-1]:
                start = time.perf_counter()
                answer = send()
                seconds = time.perf_counter() - start
                if answer.status_code != 200 or A_PAGE not in answer.text:
                    raise SystemExit(f"{label}: HTTP {answer.status_code} {answer.text[:80]!r}")
                if n >= WARM_UP:
                    samples[label].append(seconds)
    return samples


# -- set-up ------------------------------------------------------------------------------


@contextmanager
def served(bench: Bench) -> Iterator[None]:
    """`tomo serve` of the benchmark's data directory (an admin made from the shell),
    and a CLI logged in to it from a HOME of its own (bench.laptop), until the end."""
    data = str(bench.runtime.settings.data_dir)
    env = {**cli_env(bench), "TOMO_MONITOR_INTERVAL": "0"}
    tomo = [sys.executable, "-m", "tomo"]
    with_password([*tomo, "--data-dir", data, "user", "create", "admin", "--admin"], env)
    port = free_port()
    log = (bench.work / "serve.log").open("w")
    server = subprocess.Popen([*tomo, "--data-dir", data, "serve", "--port", str(port)],
                              stdout=log, stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url, server)
        home = bench.work / "laptop"
        bench.laptop = {**env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
        with_password([*tomo, "login", url, "--user", "admin"], bench.laptop)
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def with_password(argv: list[str], env: dict[str, str]) -> None:
    """`argv --password-stdin`, PASSWORD on its stdin; SystemExit when it fails."""
    done = subprocess.run([*argv, "--password-stdin"], input=f"{PASSWORD}\n", env=env, text=True,
                          capture_output=True, timeout=COMMAND_TIMEOUT, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(argv[3:])} failed: {done.stderr.strip()[-400:]}")


@asynccontextmanager
async def bench_runtime(
    work: Path, images: TestImages, caddy: str, sshd: Sshd, users: SshUsers, a_port: int
) -> AsyncIterator[Runtime]:
    """tomo with a catalog of the two apps (A's port 80 published on `a_port`), synced,
    and the sshd as server s0."""
    repo = CatalogRepo.create(work / "catalog")
    for app, image, port in (("web-a", images.web_v1, a_port),
                             ("web-b", images.web_v2, free_port())):  # fmt: skip
        definition = app_definition(app, docker={
            "image": image, "ports": [{"container": 80, "host": port}],
            "restart_policy": "unless-stopped"})  # fmt: skip
        repo.write(f"apps/tools/{app}.yaml", yaml.safe_dump(definition))
    repo.commit()
    settings = Settings(data_dir=work / "data", builtin_catalog=False, sync_interval=0,
                        publish_address="127.0.0.1", helper_image=images.helper,
                        proxy_image=caddy, owner_label=OWNER, install_stable_seconds=0.5,
                        backup_before_update=False)  # fmt: skip
    async with open_runtime(settings) as runtime:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="bench"))
        await runtime.marketplace.sync_repo("bench")
        await runtime.servers.add_server(ServerCreate(
            name=SERVER, host="127.0.0.1", port=sshd.port, username=users.user,
            private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
            data_root=str(work / "apps"),
        ))  # fmt: skip
        yield runtime


async def install(runtime: Runtime, app: str, name: str, hostnames: list[str]) -> str:
    """The app installed and running; the install's summary."""
    started = await runtime.deployment.install_app(
        SERVER, f"bench/{app}", InstallConfig(name=name, hostnames=hostnames)
    )
    view = await runtime.deployment.run_job(started.job_id)
    if view.status != "done":
        raise SystemExit(f"install of {name} failed: {view.error}")
    return "; ".join(view.summary)


async def set_up(bench: Bench) -> None:
    """The server's domain (tls internal, free ports), A named and B not; A answers
    by its name before anything is measured."""
    http_port = free_port()
    settings = DomainSettings(domain=DOMAIN, tls="internal", http_port=http_port,
                              https_port=bench.https_port)  # fmt: skip
    await bench.runtime.proxy.set_domain(SERVER, settings)
    said = await install(bench.runtime, "web-a", A, [A_NAME])
    if "routed" not in said:
        raise SystemExit(f"{A} was not routed: {said}")
    await install(bench.runtime, "web-b", B, [])
    await asyncio.to_thread(run_command, command_argv(bench, "list", B), cli_env(bench))  # compiles
    bench.root = await bench.runtime.proxy.root_certificate(SERVER)
    with httpx.Client(verify=bench.tls(), timeout=REQUEST_TIMEOUT) as client:
        for _ in range(int(WAIT_SECONDS / 0.1)):  # Caddy signs A's certificate first
            try:
                if A_PAGE in by_name(client, bench, A_NAME).text:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{A_NAME} did not answer through the front door")


async def tear_down(runtime: Runtime) -> None:
    """Both apps uninstalled, the front door removed with its volume; by hand when
    tomo cannot (the run's own failure is what matters; this only tidies)."""
    for name in (A, B):
        try:
            await (await runtime.deployment.prepare_uninstall(name, remove_data=True)).run()
        except Exception as exc:
            print(f"uninstall of {name} failed ({exc}); removing its container directly")
            docker("rm", "-f", "-v", name)
    try:
        server = await runtime.servers.get_server(SERVER)
        await (await front_door(runtime.deployment.ctx, server.id)).remove(with_volume=True)
    except Exception as exc:
        print(f"removing the front door failed ({exc}); removing it directly")
        docker("rm", "-f", "-v", CONTAINER)
        docker("network", "rm", NETWORK)
        docker("volume", "rm", "-f", VOLUME)


def refuse_a_front_door_in_use() -> None:
    """This machine's engine must have no front door or app of these names: the
    benchmark would take them over, and remove them after."""
    for name in (CONTAINER, A, B):
        found = subprocess.run(["docker", "container", "inspect", name], capture_output=True,
                               check=False)  # fmt: skip
        if found.returncode == 0:
            raise SystemExit(f"a container named {name} exists on this engine already: "
                             "remove it, or run where there is none")  # fmt: skip


# -- report ------------------------------------------------------------------------------


def report(
    bench: Bench, loops: list[RequestLoop], samples: dict[str, list[float]], rounds: int
) -> None:
    print(f"\nroute changes of {B} ({rounds} of each; each add a name never served before)")
    print(change_table(bench))
    for label, seconds in bench.context.items():
        print(f"  {label}: p50 {percentile(seconds, 50):.3f} s")
    print(f"\nlooping to {A_NAME} meanwhile, a request every {loops[0].interval * 1000:g} ms:")
    for loop in loops:
        print(f"  {loop.kind}: {loop.requests} requests, {loop.connections} connections "
              f"opened, errors: {len(loop.errors)} (must be 0)")  # fmt: skip
        for error, times in Counter(loop.errors).most_common():
            print(f"    {times} × {error}")
        if loop.keep_alive:
            print(f"    not taken by the front door, then answered when sent again (as "
                  f"browsers do): {len(loop.sent_again)}")  # fmt: skip
        for unanswered_one, times in Counter(loop.sent_again).most_common():
            print(f"      {times} × {unanswered_one}")
    direct, door = (percentile(samples[side], 50) for side in ("direct", "front door"))
    print(f"\n{len(samples['direct'])} requests to {A} each way, interleaved, kept alive")
    print(table([[side, *(f"{percentile(samples[side], q) * 1000:.3f} ms" for q in (50, 95))]
                 for side in samples], ["to A", "p50", "p95"]))  # fmt: skip
    added = door - direct
    verdict = "met" if added <= ADDED_TARGET else "NOT met"
    print(f"front door / direct (p50): {door / direct:.2f}x; added {added * 1000:.3f} ms "
          f"(target ≤ {ADDED_TARGET * 1000:g} ms: {verdict})")  # fmt: skip


def change_table(bench: Bench) -> str:
    """Per change: its own time, start to seen (p50, max), against the same change by
    hand and against the reload floor, and the 1 s target."""
    floor = percentile(bench.context[FLOOR], 50)
    rows = []
    for label, returned in bench.returned.items():
        live = bench.live.get(label) or [math.nan]
        hand = bench.live.get(f"by hand: {label.split(': ')[-1]}") or [math.nan]
        p50, worst = percentile(live, 50), max(live)
        verdict = "met" if worst <= LIVE_TARGET else "NOT met"  # never seen (nan): not met
        rows.append([label, len(returned), f"{percentile(returned, 50):.3f} s",
                     f"{p50:.3f} s", f"{worst:.3f} s", f"{p50 / percentile(hand, 50):.2f}x",
                     f"{p50 / floor:.2f}x", verdict])  # fmt: skip
    headers = ["change", "n", "returns p50", "live p50", "live max", "/ by hand", "/ floor",
               f"max ≤ {LIVE_TARGET:g} s"]  # fmt: skip
    return table(rows, headers)


# -- main --------------------------------------------------------------------------------


async def measure(bench: Bench, args: argparse.Namespace) -> int:
    await set_up(bench)
    with served(bench):
        return await measure_served(bench, args)


async def measure_served(bench: Bench, args: argparse.Namespace) -> int:
    loops = [RequestLoop(bench, args.loop_interval, keep_alive=True),
             RequestLoop(bench, args.loop_interval, keep_alive=True, http2=True),
             RequestLoop(bench, args.loop_interval, keep_alive=False)]  # fmt: skip
    for loop in loops:
        loop.start()
    try:
        for n in range(args.rounds):
            print(f"round {n + 1} of {args.rounds}…", flush=True)
            await one_round(bench, n)
    finally:
        for loop in loops:
            loop.stop()
        bench.probe.close()
    bench.phase = "side by side"
    samples = await asyncio.to_thread(side_by_side, bench, args.requests)
    report(bench, loops, samples, args.rounds)
    failed = [f"never seen within {WAIT_SECONDS:g} s: {label}" for label in bench.never]
    failed += [f"errors in the loop to A ({loop.kind})" for loop in loops if loop.errors]
    for failure in failed:
        print(f"FAILED: {failure}")
    return 1 if failed else 0


async def main_async(args: argparse.Namespace) -> int:
    users = prepare_users()
    try:
        with docker_daemon(), local_registry() as registry, work_dirs(users) as work:
            refuse_a_front_door_in_use()
            images = push_test_images(registry)
            caddy = push_caddy_image(registry)
            sshd = Sshd(users, "proxy").start()
            try:
                a_port = free_port()
                async with bench_runtime(work, images, caddy, sshd, users, a_port) as runtime:
                    bench = Bench(runtime, sshd, users, work, images, caddy, free_port(), a_port)
                    try:
                        return await measure(bench, args)
                    finally:
                        await tear_down(runtime)
            finally:
                sshd.stop()
                docker("rmi", "-f", images.web_v1, images.web_v2, images.helper, caddy)
    finally:
        shutil.rmtree(users.root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--rounds", type=int, default=10,
                        help="changes of each kind, each way (default 10)")  # fmt: skip
    parser.add_argument("--requests", type=int, default=1000,
                        help="requests each way side by side (default 1000)")  # fmt: skip
    parser.add_argument("--loop-interval", type=float, default=0.01,
                        help="seconds between the loop's requests to A (default 0.01)")  # fmt: skip
    args = parser.parse_args(argv)
    if not (1 <= args.rounds <= 100 and 10 <= args.requests <= 100_000):
        parser.error("--rounds must be 1..100 and --requests 10..100000")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
