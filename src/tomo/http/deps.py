"""What the HTTP faces are handed: the API's routes and the web pages reach the
services of the runtime `tomo serve` opened through these dependencies, and carry
work past their answer with `run_in_background`. One module for both faces, so a
route and a page get a service the same way (no page imports a route module).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Annotated

from fastapi import Depends, Request

from tomo.auth.service import AuthService
from tomo.backups.service import BackupService
from tomo.deployment.service import DeploymentService
from tomo.errors import TomoError
from tomo.marketplace.service import MarketplaceService
from tomo.runtime import Runtime
from tomo.servers.service import ServerService


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def get_marketplace(request: Request) -> MarketplaceService:
    return runtime_of(request).marketplace


def get_servers(request: Request) -> ServerService:
    return runtime_of(request).servers


def get_deployment(request: Request) -> DeploymentService:
    return runtime_of(request).deployment


def get_auth(request: Request) -> AuthService:
    return runtime_of(request).auth


def get_backups(request: Request) -> BackupService:
    return runtime_of(request).backups


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]
MarketplaceDep = Annotated[MarketplaceService, Depends(get_marketplace)]
ServersDep = Annotated[ServerService, Depends(get_servers)]
DeploymentDep = Annotated[DeploymentService, Depends(get_deployment)]
AuthDep = Annotated[AuthService, Depends(get_auth)]
BackupsDep = Annotated[BackupService, Depends(get_backups)]


def run_in_background(request: Request, work: Awaitable[object]) -> None:
    """Carry the work on after the answer; the job records how it ends (the app's
    shutdown interrupts what is still running, and that is undone)."""
    tasks: set[asyncio.Task[None]] = request.app.state.background

    async def quietly() -> None:
        with contextlib.suppress(TomoError):  # the job says what happened
            await work

    task = asyncio.create_task(quietly())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
