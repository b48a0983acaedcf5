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
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database
from tomo.deployment.service import DeploymentService
from tomo.errors import SyncFailed
from tomo.marketplace.builtin import ensure_builtin_catalog
from tomo.marketplace.service import MarketplaceService
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


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    db = Database(settings)
    ssh = SSHService(
        SSHTimeouts(settings.ssh_connect_timeout, settings.ssh_login_timeout,
                    settings.ssh_command_timeout),
        max_channels=settings.ssh_max_channels,
    )  # fmt: skip
    try:
        await db.migrate()
        secrets = Secrets(settings.secret_key, settings.data_dir)
        marketplace = MarketplaceService(db, settings, secrets)
        try:
            await ensure_builtin_catalog(marketplace)
        except SyncFailed as exc:
            # The repo row shows the error; tomo itself stays usable.
            log.warning("built-in catalog not synced: %s", exc.message)
        servers = ServerService(db, settings, ssh, secrets)
        deployment = DeploymentService(db, settings, marketplace, servers)
        for report in await deployment.reconcile_interrupted():
            log.warning("settled an interrupted operation: %s", report)
        yield Runtime(settings=settings, db=db, marketplace=marketplace, ssh=ssh, servers=servers,
                      deployment=deployment, auth=AuthService(db, settings))  # fmt: skip
    finally:
        await ssh.close()
        await db.dispose()
