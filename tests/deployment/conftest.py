"""A server (real sshd + dockerd), a registry with test images, and a catalog that uses them."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from tests.cli.tomo_cli import Tomo
from tests.conftest import RUN_LABEL
from tests.deployment.scripted import Scripted, migrated_database, scripted_deployment
from tests.gitrepo import CatalogRepo, app_definition
from tests.lanes import INDEX
from tests.registry import Registry, TestImages, local_registry, push_test_images
from tests.services import database_for, free_port, held_port
from tests.sshd import Sshd, SshUsers
from tests.swarmhost import SwarmHost, manager_sshd
from tomo.config import Settings
from tomo.deployment.operation import Prepared
from tomo.deployment.schemas import InstallationPublic, OperationDone
from tomo.deployment.service import DeploymentService
from tomo.runtime import Runtime, open_runtime
from tomo.servers.schemas import ServerCreate


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_databases` run on SQLite and PostgreSQL; the rest on SQLite
    (the Docker work is the same on both, and slow)."""
    if metafunc.definition.get_closest_marker("both_databases"):
        backends = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
        metafunc.parametrize("database_url", backends, indirect=True)


STABLE_SECONDS = 0.5


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    yield from database_for(request, getattr(request, "param", "sqlite"))


@pytest.fixture(scope="session")
def registry(docker_engine: None) -> Iterator[Registry]:
    with local_registry() as running:
        yield running


@pytest.fixture(scope="session")
def images(registry: Registry) -> TestImages:
    return push_test_images(registry)


@pytest.fixture(scope="module")
def swarm_host(registry: Registry, images: TestImages) -> Iterator[SwarmHost]:
    """A single-node Swarm of its own (tests/swarmhost.py), for a module's tests."""
    host = SwarmHost(INDEX).start(registry)
    yield host
    host.remove()


@pytest.fixture(scope="module")
def swarm_sshd(swarm_host: SwarmHost, ssh_users: SshUsers) -> Iterator[Sshd]:
    with manager_sshd(swarm_host, ssh_users) as sshd:
        yield sshd


@pytest.fixture
def data_root(ssh_users: SshUsers) -> Iterator[Path]:
    """The server's app data root, writable by the SSH user."""
    root = Path(f"/tmp/tomo-apps-{uuid.uuid4().hex[:8]}")
    root.mkdir()
    shutil.chown(root, user=ssh_users.user)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def remove_test_containers() -> None:
    """Every container, network and named volume this test run's installations left
    (by their tomo.owner label: anything else on the engine is not the tests')."""
    label = f"label=tomo.owner={RUN_LABEL}"
    for listing, removal in ((["ps", "-aq"], ["rm", "-f", "-v"]),
                             (["network", "ls", "-q"], ["network", "rm"]),
                             (["volume", "ls", "-q"], ["volume", "rm", "-f"])):  # fmt: skip
        ids = subprocess.run(["docker", *listing, "--filter", label],
                             capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
        if ids:
            subprocess.run(["docker", *removal, *ids], capture_output=True, check=False)


def server_for(name: str, sshd: Sshd, users: SshUsers, data_root: Path) -> ServerCreate:
    """A server reached through `sshd` as the test user, its key pinned."""
    return ServerCreate(
        name=name, host="127.0.0.1", port=sshd.port, username=users.user,
        private_key=SecretStr(users.key.read_text()), fingerprint=sshd.fingerprint,
        data_root=str(data_root),
    )  # fmt: skip


@dataclass
class Deploy:
    """Everything one deployment test needs, and helpers to publish apps."""

    runtime: Runtime
    repo: CatalogRepo
    repo_id: str
    server: str
    data_root: Path
    images: TestImages

    async def publish(self, app_id: str, **fields: Any) -> str:
        """Commit the app (in the `services:` form when given services) and sync; a
        file the sync refuses fails the test here, with the sync's reason."""
        definition = app_definition(app_id, **fields)
        if "services" in fields:
            del definition["docker"]
        path = f"apps/tools/{app_id}.yaml"
        self.repo.write(path, yaml.safe_dump(definition))
        self.repo.commit()
        report = await self.runtime.marketplace.sync_repo(self.repo_id)
        refused = [e.message for e in report.errors if e.path == path]
        assert not refused, refused
        return f"{self.repo_id}/{app_id}"

    def web_app(self, *, port: int | None = None, **docker: Any) -> dict[str, Any]:
        """A definition for the web image with a fresh host port."""
        return {
            "image": self.images.web_v1,
            "ports": [{"container": 80, "host": port or free_port()}],
            "volumes": [{"host_path": "./data", "container_path": "/data"}],
            "environment": [{"name": "TZ", "default": "UTC"}],
            "restart_policy": "unless-stopped",
            **docker,
        }


@pytest.fixture
async def deploy(
    settings: Settings,
    sshd: Sshd,
    ssh_users: SshUsers,
    images: TestImages,
    data_root: Path,
    make_repo,
) -> AsyncIterator[Deploy]:
    # A short stable window keeps the suite quick; the crash tests set their own.
    tuned = settings.model_copy(
        update={
            "publish_address": "127.0.0.1",
            "install_wait_timeout": 20,
            "install_stable_seconds": STABLE_SECONDS,
            "helper_image": images.helper,
            # Each update would back up first: tests/backups/ covers it; elsewhere an
            # update is only an update (CI time).
            "backup_before_update": False,
        }
    )
    repo = make_repo()
    repo.write("README.md", "test catalog")
    repo.commit()
    async with open_runtime(tuned) as runtime:
        from tomo.marketplace.schemas import RepoCreate

        created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="test"))
        await runtime.servers.add_server(server_for("box", sshd, ssh_users, data_root))
        yield Deploy(runtime, repo, created.id, "box", data_root, images)
    remove_test_containers()


@pytest.fixture
def tomo(deploy: Deploy) -> Tomo:
    """The real `tomo` command on the deploy fixture's data directory."""
    return Tomo(deploy.runtime.settings.data_dir, TOMO_PUBLISH_ADDRESS="127.0.0.1",
                TOMO_HELPER_IMAGE=deploy.images.helper, TOMO_BACKUP_BEFORE_UPDATE="false",
                TOMO_INSTALL_WAIT_TIMEOUT="20", TOMO_INSTALL_STABLE_SECONDS=str(STABLE_SECONDS),
                **({"TOMO_DATABASE_URL": deploy.runtime.settings.database_url}
                   if deploy.runtime.settings.database_url else {}))  # fmt: skip


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A plain process (not Docker, not tomo) listening on a port (services.held_port)."""
    with held_port() as port:
        yield port


async def at_step(deploy: Deploy, installation: str, kind: str, step: str) -> bool:
    """Whether the newest `kind` job of the installation has reached `step`."""
    jobs = await deploy.runtime.deployment.list_jobs(installation=installation)
    return any(j.kind == kind and j.steps and j.steps[-1].name == step for j in jobs[:1])


async def carried_out(prepared: Awaitable[Prepared]) -> OperationDone:
    """An operation as the faces run it: prepared (a refusal is raised here, before
    anything starts), then run to its end; raises the error it ended with."""
    return await (await prepared).run()


async def run_verb(
    service: DeploymentService, verb: str, ref: str, server: str | None = None
) -> InstallationPublic:
    """start, stop or restart, carried out; the installation after it."""
    return (await carried_out(service.prepare_verb(verb, ref, server))).installation


@pytest.fixture(scope="session")
def scripted_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tomo's database, migrated once: each scripted test starts from a copy."""
    return migrated_database(tmp_path_factory.mktemp("scripted"))


@pytest.fixture
async def scripted(tmp_path: Path, scripted_database: Path) -> AsyncIterator[Scripted]:
    """tomo deploying onto a scripted host (tests/scripted_host.py): no sshd, no Docker."""
    async with scripted_deployment(tmp_path, scripted_database) as opened:
        yield opened
