"""tomo's deployment on a scripted host (tests/scripted_host.py): no sshd, no Docker.

Everything but the server is real: a SQLite file (a copy of one migrated once per
session), a git catalog, synced, and the services as open_runtime builds them. The
server's row is recorded directly (no host key is fetched, no facts gathered), and
its SSH is a ScriptedHost.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, closing, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import yaml
from cryptography.fernet import Fernet
from sqlalchemy import update

from tests.gitrepo import CatalogRepo
from tests.marketplace.test_services_definition import WIKI
from tests.scripted_host import Match, ScriptedHost
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.deployment.jobs import STALE_AFTER
from tomo.deployment.models import Installation
from tomo.deployment.remote import Host
from tomo.deployment.service import DeploymentService
from tomo.errors import TomoError
from tomo.marketplace.schemas import RepoCreate
from tomo.marketplace.service import MarketplaceService
from tomo.servers.models import Server
from tomo.servers.service import ServerService
from tomo.servers.ssh import SSHService

SERVER = "box"
DATA_ROOT = "/srv/apps"


def wiki_definition() -> str:
    """tests/marketplace's WIKI (three services, a network, a named volume, a one-shot
    migration), its web service with a data folder tomo places too."""
    wiki = yaml.safe_load(WIKI)
    wiki["services"]["web"]["volumes"] = [{"host_path": "./uploads", "container_path": "/up"}]
    return yaml.safe_dump(wiki)


def scripted_settings(data_dir: Path, secret_key: str) -> Settings:
    return Settings(
        data_dir=data_dir, database_url=None, builtin_catalog=False, sync_interval=0,
        git_timeout=20, secret_key=secret_key, publish_address="127.0.0.1",
        install_wait_timeout=5, install_stable_seconds=3,
    )  # fmt: skip


def servers_on(db: Database, settings: Settings, secrets: Secrets, host: Host) -> ServerService:
    """A ServerService whose connections are `host`. ServerService takes an SSHService;
    of it, deployment uses only the Host part (through DeploymentContext.docker), and
    the registry's own SSH work (host keys, facts) never runs here: the server row is
    recorded directly. The cast says so; mypy checks `host` against Host."""
    return ServerService(db, settings, cast("SSHService", host), secrets)


def migrated_database(data_dir: Path) -> Path:
    """An empty tomo database, migrated; returns its file."""

    async def migrate() -> None:
        db = Database(scripted_settings(data_dir, Fernet.generate_key().decode()))
        try:
            await db.migrate()
        finally:
            await db.dispose()

    asyncio.run(migrate())
    return data_dir / "tomo.db"


def copy_database(source: Path, data_dir: Path) -> None:
    """A consistent copy (SQLite's backup, which reads the WAL too) as `data_dir`'s."""
    data_dir.mkdir(mode=0o700, parents=True)
    with (
        closing(sqlite3.connect(source)) as original,
        closing(sqlite3.connect(data_dir / "tomo.db")) as copy,
    ):
        original.backup(copy)


@asynccontextmanager
async def scripted_tomo(settings: Settings, host: Host) -> AsyncIterator[DeploymentService]:
    """tomo as open_runtime opens it (its operations that a dead tomo left are settled
    first), its servers reached through `host`."""
    db = Database(settings)
    try:
        await db.migrate()
        secrets = Secrets(settings.secret_key, settings.data_dir)
        marketplace = MarketplaceService(db, settings, secrets)
        deployment = DeploymentService(db, settings, marketplace,
                                       servers_on(db, settings, secrets, host))  # fmt: skip
        await deployment.reconcile_interrupted()
        yield deployment
    finally:
        await db.dispose()


async def record_server(db: Database) -> None:
    """The server's row as a trusted server's looks: no login was needed to write it."""
    async with db.session() as session, session.begin():
        session.add(Server(
            id=SERVER, name=SERVER, host="192.0.2.10", port=22, username="tomo",
            auth_type="key", host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIScripted",
            host_key_fingerprint="SHA256:scripted", data_root=DATA_ROOT, status="online",
            created_at=datetime.now(UTC),
        ))  # fmt: skip


async def publish_wiki(deployment: DeploymentService, catalog: Path) -> str:
    """The wiki in a git catalog, synced; returns its `repo/app` reference."""
    repo = CatalogRepo.create(catalog)
    repo.write("apps/tools/wiki.yaml", wiki_definition())
    repo.commit()
    marketplace = deployment.ctx.marketplace
    added = await marketplace.add_repo(RepoCreate(url=repo.url, name="test"))
    await marketplace.sync_repo(added.id)
    return f"{added.id}/wiki"


@dataclass
class Scripted:
    """tomo on a scripted host: what a test drives and what it inspects."""

    host: ScriptedHost
    deployment: DeploymentService
    settings: Settings
    app: str  # the wiki, as `repo/app`
    tmp_path: Path

    async def dies_at(self, operation: Awaitable[object], command: Match) -> Settings:
        """Run `operation` until the host receives `command`, and let tomo die there:
        returns the settings of a copy of its database as it then stood, whose
        runner is gone (a restart finds its heartbeat stale). The dying tomo reaches
        the server no more; what it writes after that stays in the original."""
        arrived = self.host.hold(command)
        running = asyncio.ensure_future(operation)
        await arrived.wait()
        copied = scripted_settings(self.tmp_path / "after-death", self.settings.secret_key or "")
        copy_database(self.settings.data_dir / "tomo.db", copied.data_dir)
        self.host.unreachable_from(self.host.sent + 1)
        running.cancel()
        with suppress(TomoError):
            await running
        self.host.reachable()
        await _age_heartbeats(copied)
        return copied


async def _age_heartbeats(settings: Settings) -> None:
    """As a restart finds them once STALE_AFTER has passed (the runner's pid, this
    test's own, is alive: the heartbeat is what tells)."""
    db = Database(settings)
    try:
        async with db.session() as session, session.begin():
            stale = datetime.now(UTC) - STALE_AFTER * 2
            await session.execute(
                update(Installation).where(Installation.operation.is_not(None))
                .values(heartbeat_at=stale)
            )  # fmt: skip
    finally:
        await db.dispose()


@asynccontextmanager
async def scripted_deployment(tmp_path: Path, migrated: Path) -> AsyncIterator[Scripted]:
    """A fresh scripted host with nothing installed, and tomo (on a copy of the
    `migrated` database) with the wiki in its catalog."""
    host = ScriptedHost(DATA_ROOT)
    host.behave("wiki-migrate", exit_code=0, output=("migrated",))  # a step: it completes
    settings = scripted_settings(tmp_path / "data", Fernet.generate_key().decode())
    copy_database(migrated, settings.data_dir)
    async with scripted_tomo(settings, host) as deployment:
        await record_server(deployment.db)
        app = await publish_wiki(deployment, tmp_path / "catalog")
        yield Scripted(host, deployment, settings, app, tmp_path)
    assert not host.unanswered, f"commands the scripted host could not answer: {host.unanswered}"
