"""ServerService's calls, over the API. Credentials go in (the remote tomo keeps
them encrypted); no answer carries one."""

from __future__ import annotations

from collections.abc import Callable

from tomo.client.transport import Api, revealed, segment
from tomo.servers.schemas import (
    HostKeyScan,
    PublicKey,
    ServerAdded,
    ServerCreate,
    ServerPublic,
    ServerUpdate,
)
from tomo.servers.swarm import SwarmNode


class RemoteServers:
    def __init__(self, api: Api) -> None:
        self.api = api

    async def add_server(
        self, request: ServerCreate, *, confirm: Callable[[str], bool] | None = None
    ) -> ServerAdded:
        """As locally: the key is pinned when it has the expected fingerprint, or
        once `confirm(fingerprint)` consents (asked here, on the user's terminal)."""
        added = await self._post(request)
        fingerprint = added.host_key.fingerprint
        if request.fingerprint is not None or confirm is None or not confirm(fingerprint):
            return added
        # Consent given: added again with that fingerprint, so the server is kept only
        # if tomo can log in, exactly as a local add with consent.
        await self.remove_server(added.server.id)
        return await self._post(request.model_copy(update={"fingerprint": fingerprint}))

    async def _post(self, request: ServerCreate) -> ServerAdded:
        return ServerAdded.model_validate(
            await self.api.call("POST", "/servers", body=revealed(request))
        )

    async def list_servers(self) -> list[ServerPublic]:
        return [ServerPublic.model_validate(s) for s in await self.api.get("/servers")]

    async def get_server(self, ref: str) -> ServerPublic:
        return ServerPublic.model_validate(await self.api.get(_path(ref)))

    async def update_server(self, ref: str, changes: ServerUpdate) -> ServerPublic:
        answer = await self.api.call("PATCH", _path(ref), body=revealed(changes))
        return ServerPublic.model_validate(answer)

    async def generate_key(self, ref: str) -> PublicKey:
        return PublicKey.model_validate(await self.api.call("POST", f"{_path(ref)}/key-pair"))

    async def remove_server(self, ref: str, *, force: bool = False) -> ServerPublic:
        answer = await self.api.call("DELETE", _path(ref), params={"force": force})
        return ServerPublic.model_validate(answer)

    async def scan_host_key(self, ref: str) -> HostKeyScan:
        return HostKeyScan.model_validate(await self.api.get(f"{_path(ref)}/host-key"))

    async def trust_server(self, ref: str, fingerprint: str) -> ServerPublic:
        answer = await self.api.call("POST", f"{_path(ref)}/trust",
                                     body={"fingerprint": fingerprint})  # fmt: skip
        return ServerPublic.model_validate(answer)

    async def test_server(self, ref: str) -> ServerPublic:
        return ServerPublic.model_validate(await self.api.call("POST", f"{_path(ref)}/test"))

    async def swarm_nodes(self, ref: str, *, fresh: bool = False) -> list[SwarmNode]:
        answer = await self.api.get(f"{_path(ref)}/nodes", params={"fresh": fresh})
        return [SwarmNode.model_validate(node) for node in answer]


def _path(ref: str) -> str:
    return f"/servers/{segment(ref)}"
