"""Real services for tests: PostgreSQL (a database per test), a Docker engine, TCP helpers.

A test that needs a service it cannot find skips with the reason — unless
TOMO_REQUIRE_SERVICES=1 (set by .ci/run), which turns that skip into a failure.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

REQUIRE_SERVICES = os.environ.get("TOMO_REQUIRE_SERVICES") == "1"


def unavailable(reason: str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"TOMO_REQUIRE_SERVICES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A loopback TCP port nothing holds, never handed out before in this run.

    Not the kernel's pick (bind to port 0): that comes from the ephemeral range,
    where every outgoing connection (SSH, HTTP, Docker's) also takes its local
    port, so one could take it between this call and the test's own bind. These
    come from below that range, a slice per xdist worker, each given once."""
    for port in _PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # held by something outside the tests
            return port
    raise AssertionError("this test worker used up its slice of ports")


@contextlib.contextmanager
def held_port() -> Iterator[int]:
    """A port a plain process (not Docker, not tomo) listens on, from free_port.

    tomo offers the next port up when a port is taken: that one is taken out of
    free_port's hands too, so nothing else of the test, nor an outgoing connection
    (it is below the ephemeral range), holds it when the offer is used."""
    port, offered = free_port(), free_port()
    while offered != port + 1:  # the one after was held by something outside the tests
        port, offered = offered, free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        yield port


def _port_slice() -> Iterator[int]:
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    below = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    low = 20000 if below > 25000 else 1024
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = (below - low) // max(workers, 1)
    start = low + size * (int(worker) if worker.isdigit() else 0)
    return iter(range(start, start + size))


_PORTS = _port_slice()


def _postgres_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a throwaway PostgreSQL on a loopback port; yield its base URL."""
    external = os.environ.get("TOMO_TEST_POSTGRES_URL")
    if external:
        yield external
        return
    bindir = _postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL is not installed (apt-get install postgresql)")
        return
    root = Path(tempfile.mkdtemp(prefix="tomo-pg-"))
    as_user = _unprivileged_user()
    port = free_port()
    try:
        _initdb(bindir, root, as_user)
        _pg_ctl(bindir, root, as_user, "start", "-w", "-t", "60", "-l", str(root / "log"),
                "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off "
                      "-c synchronous_commit=off -c full_page_writes=off")  # fmt: skip
        yield f"postgresql+asyncpg://tomo@127.0.0.1:{port}"
    finally:
        _pg_ctl(bindir, root, as_user, "stop", "-m", "immediate", check=False)
        shutil.rmtree(root, ignore_errors=True)


def _unprivileged_user() -> str | None:
    """initdb refuses to run as root; use the postgres account when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("running as root and there is no 'postgres' user to run PostgreSQL")
    return "postgres"


def _as(user: str | None, argv: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *argv] if user else argv


def _initdb(bindir: Path, root: Path, user: str | None) -> None:
    if user:
        shutil.chown(root, user=user)
    subprocess.run(
        _as(user, [str(bindir / "initdb"), "-D", str(root / "data"), "-U", "tomo",
                   "--auth=trust", "--no-sync", "-E", "UTF8"]),
        check=True, capture_output=True,
    )  # fmt: skip


def _pg_ctl(bindir: Path, root: Path, user: str | None, *args: str, check: bool = True) -> None:
    subprocess.run(
        _as(user, [str(bindir / "pg_ctl"), "-D", str(root / "data"), *args]),
        check=check, capture_output=True,
    )  # fmt: skip


def _docker_answers() -> bool:
    if not shutil.which("docker"):
        return False
    done = subprocess.run(
        ["docker", "version", "--format", "{{.Server.Version}}"],
        capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    return done.returncode == 0


@contextlib.contextmanager
def docker_daemon() -> Iterator[None]:
    """A Docker engine: the one running, or one started here (and stopped after);
    a worker other than the first, one of its own (tests/lanes.py)."""
    from tests import lanes

    if lanes.own_engine():
        worker_engine()
        yield
        return
    if _docker_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None or os.geteuid() != 0:
        unavailable(
            "no Docker engine answers and dockerd cannot be started (apt-get install docker.io, run as root)"
        )
        return
    log = Path(tempfile.mkdtemp(prefix="tomo-dockerd-")) / "dockerd.log"
    process = subprocess.Popen([dockerd], stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        for _ in range(120):
            if _docker_answers():
                break
            if process.poll() is not None:
                break
            time.sleep(0.25)
        else:
            unavailable(f"dockerd did not answer within 30 s: {log.read_text()[-500:]}")
        if process.poll() is not None:
            unavailable(f"dockerd exited: {log.read_text()[-500:]}")
        yield
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)


@functools.cache
def worker_engine() -> str:
    """The Docker engine of a worker other than the first (tests/lanes.py), started on
    first use (by its Docker tests or its SSH sessions) and removed when the worker
    ends; DOCKER_HOST points the worker's `docker` at it. Its address."""
    from tests import lanes
    from tests.dockerhost import ADDRESS_POOLS, DockerHost

    engine = DockerHost(lanes.ENGINE_NUMBER).start()
    atexit.register(engine.remove)
    # The engine leaves iptables alone, and the machine's engine drops what it does
    # not forward itself (FORWARD policy DROP, seen by bridged traffic too): let the
    # containers of one network of this engine reach each other, as they would; only
    # this engine's, so the machine's engine still keeps its own apart (tomo-isolated).
    for pool in ADDRESS_POOLS:
        rule = [*BRIDGED_FROM, "-s", pool, "-d", pool, *BRIDGED_ACCEPT]
        _iptables("-I", "FORWARD", "1", *rule)
        atexit.register(_iptables, "-D", "FORWARD", *rule)
    os.environ["DOCKER_HOST"] = engine.docker_host
    return engine.docker_host


BRIDGED_FROM = ["-m", "physdev", "--physdev-is-bridged"]
BRIDGED_ACCEPT = ["-m", "comment", "--comment", "tomo-test-lanes", "-j", "ACCEPT"]


def _iptables(*args: str) -> None:
    subprocess.run(["iptables", *args], capture_output=True, check=False)


@contextlib.contextmanager
def mute_tcp_server() -> Iterator[int]:
    """A TCP server on loopback that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        server.close()


def database_for(request: pytest.FixtureRequest, backend: str) -> Iterator[str | None]:
    """None for SQLite (in the data dir), or a fresh database on the session's PostgreSQL
    (fixture `postgres_base_url`), dropped afterwards."""
    if backend == "sqlite":
        yield None
        return
    url = new_database(request.getfixturevalue("postgres_base_url"))
    yield url
    drop_database(url)


def new_database(base_url: str) -> str:
    """Create an empty database on the server at base_url; return its URL."""
    name = f"tomo_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    return f"{base_url}/{name}"


def drop_database(url: str) -> None:
    base_url, _, name = url.rpartition("/")
    asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(base_url: str, statement: str) -> None:
    url = make_url(base_url)
    connection = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def wait_until_serving(url: str, server: subprocess.Popen[bytes]) -> None:
    """Until `tomo serve` at `url` answers its health check (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "tomo serve exited"
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("tomo serve did not answer within 60 s")
