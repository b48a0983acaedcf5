"""Front door routes: a server's domain and TLS mode, its front door's status and
internal root certificate, an installation's hostnames. Reading is for viewers;
changing for admins (http/security.py decides by method)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from tomo.http.deps import runtime_of
from tomo.http.problems import error_responses
from tomo.proxy.schemas import (
    DomainSettings,
    HostnamesChange,
    InstallationHostnames,
    LoginChange,
    ProxyStatus,
)
from tomo.proxy.service import ProxyService
from tomo.servers.schemas import ServerPublic

PEM = "application/x-pem-file"
router = APIRouter(tags=["proxy"])


def get_proxy(request: Request) -> ProxyService:
    return runtime_of(request).proxy


ProxyDep = Annotated[ProxyService, Depends(get_proxy)]


@router.put("/servers/{server}/domain", name="set_domain",
            responses=error_responses(401, 403, 404, 409, 422, 502, 504))  # fmt: skip
async def set_domain(server: str, settings: DomainSettings, proxy: ProxyDep) -> ServerPublic:
    """Set the server's base domain, TLS mode (internal, acme, off), ACME CA and
    email, and the ports its front door publishes. With apps routed there, the new
    config runs first: refused by the front door, nothing changes."""
    return await proxy.set_domain(server, settings)


@router.get("/servers/{server}/proxy", name="get_proxy_status",
            responses=error_responses(401, 404, 502, 504))  # fmt: skip
async def get_proxy_status(server: str, proxy: ProxyDep) -> ProxyStatus:
    """The server's front door: its settings, whether it runs (and tomo's current
    config), the routes, the internal root's expiry and the DNS records to create."""
    return await proxy.status(server)


@router.get("/servers/{server}/proxy/root-certificate", name="get_root_certificate",
            response_class=Response,
            responses={200: {"content": {PEM: {"schema": {"type": "string"}}}},
                       **error_responses(401, 404, 502, 504)})  # fmt: skip
async def get_root_certificate(server: str, proxy: ProxyDep) -> Response:
    """The PEM of the front door's internal root certificate: what browsers and
    systems trust to reach apps over HTTPS with tls internal."""
    pem = await proxy.root_certificate(server)
    return Response(pem, media_type=PEM)


@router.get("/installations/{installation}/hostnames", name="get_hostnames",
            responses=error_responses(401, 404, 409))  # fmt: skip
async def get_hostnames(
    installation: str, proxy: ProxyDep, server: str | None = None
) -> InstallationHostnames:
    """The names the server's front door routes to the installation."""
    return await proxy.get_hostnames(installation, server)


@router.put("/installations/{installation}/hostnames", name="set_hostnames",
            responses=error_responses(401, 403, 404, 409, 422, 502, 504))  # fmt: skip
async def set_hostnames(
    installation: str, change: HostnamesChange, proxy: ProxyDep, server: str | None = None
) -> InstallationHostnames:
    """Route exactly these names to the installation ([] removes its routes); each a
    whole name, a single label under the server's domain, or "auto". Refused, each
    problem names hostnames[i]; when the front door refuses, the names stay."""
    return await proxy.set_hostnames(installation, change.hostnames, server)


@router.put("/installations/{installation}/login", name="set_login",
            responses=error_responses(401, 403, 404, 409, 422, 502, 504))  # fmt: skip
async def set_login(
    installation: str, change: LoginChange, proxy: ProxyDep, server: str | None = None
) -> InstallationHostnames:
    """Ask for a tomo login before any request reaches the installation by its names:
    "viewer" (anyone signed in to tomo), "admin", or null (no login). Needs
    TOMO_PUBLIC_URL (and TOMO_DOOR_URL when the servers reach tomo at another)."""
    return await proxy.set_login(installation, change.login, server)
