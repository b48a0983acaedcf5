"""A runtime whose services are a remote tomo's API: what `run()` hands a command
while the CLI is logged in (tomo.runtime.Runtime is the local one; mypy holds
both to tomo.cli.services' Protocols).

Each service (and the schemas it parses) loads when a command first uses it:
`tomo app search` never pays for the deployment or account models.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from tomo.client.login_file import RemoteLogin
from tomo.client.transport import Api

if TYPE_CHECKING:
    from tomo.client.accounts import RemoteAuth
    from tomo.client.backups import RemoteBackups
    from tomo.client.deployment import RemoteDeployment
    from tomo.client.events import RemoteEvents
    from tomo.client.marketplace import RemoteMarketplace
    from tomo.client.proxy import RemoteProxy
    from tomo.client.servers import RemoteServers


class RemoteRuntime:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.url = api.url

    @functools.cached_property
    def marketplace(self) -> RemoteMarketplace:
        from tomo.client.marketplace import RemoteMarketplace

        return RemoteMarketplace(self.api)

    @functools.cached_property
    def servers(self) -> RemoteServers:
        from tomo.client.servers import RemoteServers

        return RemoteServers(self.api)

    @functools.cached_property
    def deployment(self) -> RemoteDeployment:
        from tomo.client.deployment import RemoteDeployment

        return RemoteDeployment(self.api)

    @functools.cached_property
    def auth(self) -> RemoteAuth:
        from tomo.client.accounts import RemoteAuth

        return RemoteAuth(self.api)

    @functools.cached_property
    def events(self) -> RemoteEvents:
        from tomo.client.events import RemoteEvents

        return RemoteEvents(self.api)

    @functools.cached_property
    def backups(self) -> RemoteBackups:
        from tomo.client.backups import RemoteBackups

        return RemoteBackups(self.api, self.deployment)

    @functools.cached_property
    def proxy(self) -> RemoteProxy:
        from tomo.client.proxy import RemoteProxy

        return RemoteProxy(self.api)


@asynccontextmanager
async def open_remote(login: RemoteLogin) -> AsyncIterator[RemoteRuntime]:
    api = Api(login.url, login.token)
    try:
        yield RemoteRuntime(api)
    finally:
        await api.close()
