"""The web application: `create_app(settings)` builds it, nothing at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tomo import __version__
from tomo.api import api_router
from tomo.api_docs import add_api_docs
from tomo.auth.service import AuthService
from tomo.backups.scheduler import BackupScheduler
from tomo.config import Settings
from tomo.http.middleware import Audit, SecurityHeaders
from tomo.http.openapi import build_openapi, operation_id
from tomo.http.problems import install_problem_handlers
from tomo.marketplace.scheduler import SyncScheduler
from tomo.monitor.monitor import HealthMonitor
from tomo.runtime import open_runtime
from tomo.updates.watcher import UpdateWatcher
from tomo.web.errors import ErrorPages, install_page_errors
from tomo.web.routes import add_web_ui

log = logging.getLogger("tomo")
DESCRIPTION = """tomo's REST API: everything the CLI does, over HTTP.

Authenticate with a bearer token (`tomo token create NAME`) or log in for a session
cookie (`POST /api/auth/login`); a write made with the cookie sends the login's CSRF
token back in the `X-CSRF-Token` header. Errors are RFC 9457 problem details.
A fresh tomo has no user: create the first admin with `POST /api/setup`.
"""


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            app.state.background = set()
            scheduler = SyncScheduler(runtime.marketplace, settings.sync_interval)
            scheduler.start()
            monitor = HealthMonitor(runtime.deployment, runtime.events,
                                    interval=settings.monitor_interval,
                                    time_limit=settings.ssh_status_timeout)  # fmt: skip
            monitor.start()
            watcher = UpdateWatcher(runtime.deployment, runtime.events,
                                    interval=settings.update_check_interval,
                                    image_check_interval=settings.image_check_interval)  # fmt: skip
            watcher.start()
            backups = BackupScheduler(runtime.backups, interval=settings.backup_schedule_interval)
            backups.start()
            if await runtime.auth.setup_open():
                log.warning(
                    "tomo has no user yet: setup is open. Create the first admin at "
                    "http://%s:%s/setup (or POST /api/setup), or: tomo user create NAME "
                    "--admin --password-stdin", settings.host, settings.port,
                )  # fmt: skip
            try:
                yield
            finally:
                await scheduler.stop()
                await monitor.stop()
                await watcher.stop()
                await backups.stop()
                await _interrupt(app.state.background)

    # Documentation only from tomo's own assets: FastAPI's pages load theirs from CDNs.
    app = FastAPI(title="tomo", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, docs_url=None, redoc_url=None,
                  generate_unique_id_function=operation_id)  # fmt: skip
    app.include_router(api_router)
    add_api_docs(app)
    add_web_ui(app)
    install_problem_handlers(app, ErrorPages())
    install_page_errors(app)
    app.add_middleware(Audit, auth=lambda: _auth(app))
    app.add_middleware(SecurityHeaders)
    if settings.trusted_proxies:  # outermost: everything after sees the client's address
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def _auth(app: FastAPI) -> AuthService:
    auth: AuthService = app.state.runtime.auth
    return auth


async def _interrupt(tasks: set[asyncio.Task[None]]) -> None:
    """Operations still running when tomo stops are interrupted, and so undone."""
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
