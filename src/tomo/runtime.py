"""Opening tomo: settings -> database (migrated) -> services.

Each face (CLI command, API process) opens one runtime and closes it when
done; nothing here runs at import time.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tomo.auth.service import AuthService
from tomo.backups.repositories import BackupRepositories
from tomo.backups.service import BackupService
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.deployment.service import DeploymentService
from tomo.errors import SyncFailed
from tomo.events.hooks import EventHooks
from tomo.events.service import EventService
from tomo.marketplace.builtin import ensure_builtin_catalog
from tomo.marketplace.service import MarketplaceService
from tomo.proxy.login import DoorLogin
from tomo.proxy.service import ProxyService
from tomo.servers.service import ServerService
from tomo.servers.ssh import SSHService, SSHTimeouts

log = logging.getLogger("tomo")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    marketplace: MarketplaceService
    ssh: SSHService
    servers: ServerService
    deployment: DeploymentService
    auth: AuthService
    events: EventService
    backups: BackupService
    proxy: ProxyService
    door_login: DoorLogin


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    db = Database(settings)
    ssh = SSHService(
        SSHTimeouts(settings.ssh_connect_timeout, settings.ssh_login_timeout,
                    settings.ssh_command_timeout),
        max_channels=settings.ssh_max_channels,
    )  # fmt: skip
    secrets = Secrets(settings.secret_key, settings.data_dir)
    events = EventService(db, secrets)
    try:
        await db.migrate()
        marketplace = MarketplaceService(db, settings, secrets)
        try:
            await ensure_builtin_catalog(marketplace)
        except SyncFailed as exc:
            # The repo row shows the error; tomo itself stays usable.
            log.warning("built-in catalog not synced: %s", exc.message)
        hooks = EventHooks(events)
        # Set after the start's built-in sync, whose failure is only logged.
        marketplace.on_sync_failed = hooks.sync_failed
        servers = ServerService(db, settings, ssh, secrets)
        deployment = DeploymentService(db, settings, marketplace, servers)
        deployment.ctx.hooks.failed = hooks.operation_failed
        repositories = BackupRepositories(db, settings.data_dir, secrets, targets=servers.target)
        backups = BackupService(deployment.ctx, repositories)
        # An update backs the data up first (and an interrupted one puts it back).
        deployment.ctx.hooks.data = backups
        # An install routes its hostnames through the server's front door; an
        # uninstall removes them.
        proxy = ProxyService(deployment.ctx)
        deployment.ctx.hooks.routes = proxy
        for report in await deployment.reconcile_interrupted():
            log.warning("settled an interrupted operation: %s", report)
        auth = AuthService(db, settings)
        door_login = DoorLogin(auth, secrets, settings.public_url)
        yield Runtime(settings=settings, db=db, marketplace=marketplace, ssh=ssh, servers=servers,
                      deployment=deployment, auth=auth, events=events, backups=backups,
                      proxy=proxy, door_login=door_login)  # fmt: skip
    finally:
        await events.flush()  # what is queued goes out first
        await ssh.close()
        await db.dispose()
