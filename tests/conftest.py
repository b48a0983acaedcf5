from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from tests.gitrepo import CatalogRepo
from tests.lanes import lane_count, lanes_of
from tests.services import database_for, docker_daemon, postgres_server
from tests.sshd import Sshd, SshUsers, prepare_users
from tomo.auth import passwords
from tomo.config import Settings
from tomo.runtime import Runtime, open_runtime

# Everything this test run's tomo instances create on a server carries this label
# (tomo.owner), and the tests' clean-up removes only what carries it: a real tomo
# on the same engine keeps its containers. Set before any tomo process starts, so
# the CLI, `tomo serve` and xdist's workers inherit it.
RUN_LABEL = os.environ.setdefault("TOMO_OWNER_LABEL", f"tomo-test-run-{uuid.uuid4().hex[:12]}")

# What a test shares with others on this machine when it uses one of these: the
# SSH test users (their passwords are set per session), the Docker engine and its
# containers, the local registry. Run in parallel (scripts/test), such tests go
# in lanes (tests/lanes.py): one after another within a lane, each lane on a
# worker with an engine and users of its own; the others (catalogs, the API, the
# CLI on local data, the pages) share the rest.
SERVER_FIXTURES = frozenset({"ssh_users", "docker_engine"})


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups and `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a server: `server` (the fast loop leaves them out
    with `-m "not server"`) and xdist's group."""
    needing = [item for item in items if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))]
    lanes = lanes_of([item.nodeid.split("::")[0] for item in needing])
    for item in needing:
        item.add_marker(pytest.mark.server)
        item.add_marker(pytest.mark.xdist_group(f"server-{lanes[item.nodeid.split('::')[0]]}"))


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(MachineEngineLater(), "tomo-machine-engine-later")


class MachineEngineLater:
    """In lanes, a test may run on a worker's own engine, which keeps no network apart
    from another (tests/dockerhost.py): the tests marked `machine_engine` that `-m`
    and `-k` keep are left out, their ids written to the file TOMO_MACHINE_ENGINE_LATER
    names, and scripts/test runs them after the others, in one process, on the
    machine's engine."""

    @pytest.hookimpl(trylast=True)  # after -m and -k have deselected theirs
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        _leave_machine_engine_tests_for_later(config, items)


def _leave_machine_engine_tests_for_later(config: pytest.Config, items: list[pytest.Item]) -> None:
    later = os.environ.get("TOMO_MACHINE_ENGINE_LATER")
    if not later or lane_count() < 2:
        return
    deferred = [item for item in items if item.get_closest_marker("machine_engine")]
    if not deferred:
        return
    items[:] = [item for item in items if not item.get_closest_marker("machine_engine")]
    config.hook.pytest_deselected(items=deferred)
    # Every worker collects and writes the same ids: each whole, by a rename.
    written = Path(f"{later}.{os.getpid()}")
    ids = [re.sub(r"@server-\d+$", "", item.nodeid) for item in deferred]  # xdist's group
    written.write_text("".join(f"{nodeid}\n" for nodeid in ids))
    written.replace(later)


def pytest_collection_finish(session: pytest.Session) -> None:
    """On an xdist worker with --dist loadgroup: the group must show in the node
    ids (xdist's way of passing it on), or the workers would share the server."""
    if not getattr(session.config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in session.items
            if SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
            and not re.search(r"@server-\d+$", item.nodeid)]  # fmt: skip
    if lost:
        raise pytest.UsageError(f"xdist did not group {lost[0]} (and {len(lost) - 1} more) "
                                "with the server's tests; run with TOMO_TEST_WORKERS=1")  # fmt: skip


RAN_SERVER_TESTS: set[str] = set()  # the test files whose server tests this worker ran


def pytest_runtest_setup(item: pytest.Item) -> None:
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        RAN_SERVER_TESTS.add(item.nodeid.split("::")[0])


@pytest.fixture(scope="module", autouse=True)
def _networks_left_unused(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a file of server tests, the networks this run's tomo made on the engine
    (tomo.owner) that no container uses any more are removed. Tests clean up their
    containers, not always the networks tomo made for them; a lane's engine serves
    all of its files from 64 address ranges, and a fresh-clone run ran out of them.
    Only by the worker that ran the file's server tests, on its own engine: the
    worker that ran the file's other tests has no engine of its own, and a stopped
    app's network on the first lane's (the machine's) looks unused too."""
    yield
    if request.node.nodeid.split("::")[0] not in RAN_SERVER_TESTS:
        return
    listing = ["docker", "network", "ls", "-q", "--filter", "dangling=true",
               "--filter", f"label=tomo.owner={RUN_LABEL}"]  # fmt: skip
    unused = subprocess.run(listing, capture_output=True, text=True, check=False).stdout.split()
    if unused:
        subprocess.run(["docker", "network", "rm", *unused], capture_output=True, check=False)


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id, as in production, with its smallest cost inside the test process:
    hundreds of tests log in, and the full cost (by design a sixth of a second of
    CPU per hash) would be most of the suite's time. tomo processes the tests
    start (`tomo serve`, the CLI) hash with the real parameters, and
    tests/api/test_passwords.py checks those."""
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", lambda: quick)
    monkeypatch.setattr(passwords, "_unknown_user_hash", lambda: QUICK_UNKNOWN)


QUICK_UNKNOWN = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("no user")


@pytest.fixture(scope="session")
def postgres_base_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None (SQLite in the data dir) or a fresh PostgreSQL database per test."""
    yield from database_for(request, request.param)


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        builtin_catalog=False,
        git_timeout=20,
        sync_interval=0,
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings) as opened:
        yield opened


@pytest.fixture
def make_repo(tmp_path: Path):
    """Factory: a real git repository of app definitions in tmp_path."""
    counter = iter(range(1000))

    def make(name: str | None = None, branch: str = "main") -> CatalogRepo:
        return CatalogRepo.create(tmp_path / (name or f"catalog-{next(counter)}"), branch)

    return make


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    with docker_daemon():
        yield


@pytest.fixture(scope="session")
def ssh_users() -> SshUsers:
    return prepare_users()


@pytest.fixture(scope="session")
def sshd(ssh_users: SshUsers) -> Iterator[Sshd]:
    """One real sshd on a loopback port for the whole session."""
    server = Sshd(ssh_users, "main").start()
    yield server
    server.stop()


@pytest.fixture
def own_sshd(ssh_users: SshUsers, request: pytest.FixtureRequest) -> Iterator[Sshd]:
    """An sshd of this test's own, free to be killed or given a new host key."""
    server = Sshd(ssh_users, f"own-{request.node.name[:40]}-{uuid.uuid4().hex[:6]}").start()
    yield server
    server.stop()
