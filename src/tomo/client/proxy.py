"""ProxyService's calls, over the API."""

from __future__ import annotations

import httpx

from tomo.client.transport import Api, revealed, segment
from tomo.proxy.schemas import DomainSettings, InstallationHostnames, Login, ProxyStatus
from tomo.servers.schemas import ServerPublic


class RemoteProxy:
    def __init__(self, api: Api) -> None:
        self.api = api

    async def set_domain(self, ref: str, settings: DomainSettings) -> ServerPublic:
        answer = await self.api.call("PUT", f"{_server(ref)}/domain", body=revealed(settings))
        return ServerPublic.model_validate(answer)

    async def status(self, ref: str) -> ProxyStatus:
        return ProxyStatus.model_validate(await self.api.get(f"{_server(ref)}/proxy"))

    async def root_certificate(self, ref: str) -> str:
        """The PEM as the API answers it (text, not JSON)."""
        try:
            answer = await self.api.http.get(f"{_server(ref)}/proxy/root-certificate")
        except httpx.HTTPError as exc:
            raise self.api.unreachable(exc) from None
        if answer.is_error:
            raise self.api.refusal(answer)
        return answer.text

    async def get_hostnames(self, ref: str, server: str | None) -> InstallationHostnames:
        answer = await self.api.get(_hostnames(ref), params={"server": server})
        return InstallationHostnames.model_validate(answer)

    async def set_hostnames(
        self, ref: str, hostnames: list[str], server: str | None
    ) -> InstallationHostnames:
        answer = await self.api.call("PUT", _hostnames(ref), body={"hostnames": hostnames},
                                     params={"server": server})  # fmt: skip
        return InstallationHostnames.model_validate(answer)

    async def set_login(
        self, ref: str, login: Login | None, server: str | None
    ) -> InstallationHostnames:
        answer = await self.api.call("PUT", f"/installations/{segment(ref)}/login",
                                     body={"login": login}, params={"server": server})  # fmt: skip
        return InstallationHostnames.model_validate(answer)


def _server(ref: str) -> str:
    return f"/servers/{segment(ref)}"


def _hostnames(ref: str) -> str:
    return f"/installations/{segment(ref)}/hostnames"
