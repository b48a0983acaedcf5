"""Pages: apps by name over HTTPS (see tomo/proxy and docs/https-names.md).

A server's page has a Domains section: its base domain and TLS mode, its front
door as Docker sees it, the routes, the DNS records to create and whether each
name resolves to the server; its internal root certificate to download. An admin
sets the domain on a page of its own. An installation's page shows its names as
links, and admins add or remove one there.

The front door's status is asked of the server over SSH: when that fails or is
slow, the section says why and the page renders all the same. ProxyService reads
a server's front door at most once per 30 s for pages and API alike
(servers/looks.py), so a viewer loading a page in a loop never turns into SSH calls
at the rate of requests; an admin's change shows at once.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.deployment.service import DeploymentService
from tomo.errors import InvalidInput, Refusal, TomoError
from tomo.http.deps import DeploymentDep, RuntimeDep, runtime_of
from tomo.proxy.schemas import (
    CertificateShown,
    DomainSettings,
    InstallationHostnames,
    Login,
    ProxyStatus,
    credential_lines,
)
from tomo.proxy.service import ProxyService
from tomo.servers.schemas import ServerPublic
from tomo.web.forms import FormErrors, as_sentence, errors_of, form_status, form_values
from tomo.web.session import Admin, Viewer
from tomo.web.templating import redirect, refused, render

router = APIRouter()
FIELDS = {"domain", "tls", "acme_ca", "acme_email", "acme_ca_root", "dns_provider",
          "dns_credentials", "http_port", "https_port"}  # fmt: skip
HOSTNAME_FIELD = "hostname"
PEM = "application/x-pem-file"
ROOT_FILE = "tomo-root.crt"  # the name docs/https-names.md's commands use
TLS_WORDS = {
    "internal": "HTTPS with tomo's own certificate authority (clients trust its root once)",
    "acme": "HTTPS with certificates from an ACME certificate authority",
    "off": "Plain HTTP, no certificate (a trusted LAN only)",
}
# How long the page waits for a name to resolve (all names at once).
RESOLVE_TIMEOUT = 2.0


@dataclass(frozen=True)
class Resolved:
    """Whether a name resolves to the server: True, False, or None (no answer in time)."""

    name: str
    to_server: bool | None
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainSection:
    """A server's Domains section: the front door's status, or why it was not read."""

    status: ProxyStatus | None
    link: dict[str, str]  # base_url: how its names are reached
    error: str | None = None
    resolved: dict[str, Resolved] = field(default_factory=dict)  # by name

    @property
    def certificates(self) -> dict[str, CertificateShown]:
        """The front door's certificate of each name that has one."""
        held = self.status.certificates if self.status else []
        return {certificate.hostname: certificate for certificate in held}


# -- the server's page --------------------------------------------------------------


async def domain_section(request: Request, server: ServerPublic) -> DomainSection:
    """The front door of `server` as its page shows it; never raises for a server
    that cannot be reached or is slow (the reason is shown instead)."""
    link = base_url(server)
    try:
        status = await runtime_of(request).proxy.status(server.id)
    except TomoError as exc:
        return DomainSection(None, link, as_sentence(exc.message))
    names = [name for route in status.routes for name in route.hostnames]
    checked = await resolved(server.host, names)
    return DomainSection(status, link, None, {check.name: check for check in checked})


async def resolved(host: str, names: list[str]) -> list[Resolved]:
    """Whether each name resolves to an address of `host`, all asked at once and
    given up on after RESOLVE_TIMEOUT (a slow resolver never holds the page)."""
    if not names:
        return []
    lookups = [asyncio.create_task(_addresses(name)) for name in [host, *names]]
    _, pending = await asyncio.wait(lookups, timeout=RESOLVE_TIMEOUT)
    for task in pending:
        task.cancel()  # its thread ends on its own; its answer is not waited for
    found = [task.result() if task.done() and not task.cancelled() else None for task in lookups]
    server = found[0]
    return [_resolved(name, server, got) for name, got in zip(names, found[1:], strict=True)]


def _resolved(name: str, server: tuple[str, ...] | None, got: tuple[str, ...] | None) -> Resolved:
    """None when either the server's or the name's lookup gave no answer in time."""
    if server is None or got is None:
        return Resolved(name, None)
    return Resolved(name, bool(set(server) & set(got)), got)


async def _addresses(name: str) -> tuple[str, ...]:
    """The addresses `name` resolves to (none when it does not)."""
    try:
        infos = await asyncio.to_thread(socket.getaddrinfo, name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


@router.get("/servers/{server}/root-certificate", name="web_root_certificate")
async def root_certificate(request: Request, server: str, _: Viewer, runtime: RuntimeDep
                           ) -> Response:  # fmt: skip
    """The internal root certificate as a file to save and trust."""
    found = await runtime.servers.get_server(server)
    try:
        pem = await runtime.proxy.root_certificate(found.id)
    except TomoError as exc:
        return refused(request, f"/servers/{found.id}#domains-title", exc,
                       f"No root certificate to download: {exc.message}")  # fmt: skip
    disposition = f'attachment; filename="{ROOT_FILE}"'
    return Response(pem, media_type=PEM, headers={"Content-Disposition": disposition})


# -- the server's domain settings ------------------------------------------------------


@router.get("/servers/{server}/domain", name="web_domain_form")
async def domain_form(request: Request, server: str, _: Admin, runtime: RuntimeDep) -> Response:
    """The server's base domain, TLS mode and front door ports, to change."""
    found = await runtime.servers.get_server(server)
    return _domain_page(request, found, values_of(found), FormErrors())


@router.post("/servers/{server}/domain", name="web_domain")
async def set_domain(request: Request, server: str, _: Admin, runtime: RuntimeDep) -> Response:
    """Keep the settings the form gives (the front door runs them first when apps
    are routed); a refusal shows beside its field with what was typed."""
    values = await form_values(request)  # text that is not text refused first, naming it
    found = await runtime.servers.get_server(server)
    try:
        saved = await runtime.proxy.set_domain(found.id, settings_of(values))
    except (ValidationError, TomoError) as exc:
        got = errors_of(exc, FIELDS)
        errors = FormErrors({name: as_sentence(text) for name, text in got.fields.items()},
                            [as_sentence(text) for text in got.general])  # fmt: skip
        return _domain_page(request, found, values, errors, status=form_status(exc))
    named = f"apps named under {saved.domain}" if saved.domain else "no base domain"
    return redirect(
        f"/servers/{saved.id}#domains-title",
        f"Saved the domain settings of {saved.name}: {named}, TLS {saved.tls_mode}",
    )


def settings_of(values: dict[str, str]) -> DomainSettings:
    """The settings the sent form gives; the ACME fields only with tls acme (they are
    hidden otherwise), a port that is no number refused beside it."""
    tls = values.get("tls", "internal")
    acme = tls == "acme"
    ports = {name: _port(name, values.get(name, "")) for name in ("http_port", "https_port")}
    return DomainSettings.model_validate({
        "domain": values.get("domain", "").strip().lower() or None,
        "tls": tls,
        "acme_ca": (values.get("acme_ca", "").strip() or None) if acme else None,
        "acme_email": (values.get("acme_email", "").strip() or None) if acme else None,
        "acme_ca_root": (values.get("acme_ca_root", "").strip() or None) if acme else None,
        "dns_provider": (values.get("dns_provider", "").strip() or None) if acme else None,
        "dns_credentials": _credentials(values.get("dns_credentials", "")) if acme else None,
        **ports,
    })  # fmt: skip


def _credentials(text: str) -> dict[str, str] | None:
    """The DNS provider's fields typed (None: none typed, those saved stay)."""
    if not text.strip():
        return None
    try:
        return credential_lines(text.splitlines())
    except ValueError as exc:
        raise InvalidInput([Refusal(str(exc), ("dns_credentials",))]) from None


def values_of(server: ServerPublic) -> dict[str, str]:
    """The form's fields as the server's settings fill them."""
    return {"domain": server.domain or "", "tls": server.tls_mode,
            "acme_ca": server.acme_ca or "", "acme_email": server.acme_email or "",
            "acme_ca_root": server.acme_ca_root or "",
            "dns_provider": server.dns_provider or "",  # its credentials: never shown
            "http_port": str(server.proxy_http_port),
            "https_port": str(server.proxy_https_port)}  # fmt: skip


def _port(name: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise InvalidInput([Refusal(f"'{text}' is not a port number (1 to 65535)", (name,))])
    return int(text)


def _domain_page(
    request: Request, server: ServerPublic, values: dict[str, str], errors: FormErrors,
    *, status: int = 200,
) -> Response:  # fmt: skip
    context = {"server": server, "values": values, "errors": errors.fields,
               "general": errors.general}  # fmt: skip
    return render(request, "servers/domain.html", context, status=status)


# -- an installation's names ------------------------------------------------------------


async def hostnames_of(request: Request, installation_id: str) -> dict[str, Any]:
    """What the installation's page shows of its names: the names, the scheme they
    are reached by, and the add form (what was typed and its refusal, after one)."""
    proxy: ProxyService = runtime_of(request).proxy
    names = await proxy.get_hostnames(installation_id, None)
    server = await runtime_of(request).servers.get_server(names.server_id)
    form = getattr(request.state, "hostname_form", None) or {"value": "", "error": None}
    return {"hostnames": names.hostnames, "hostname_base": base_url(server),
            "hostname_form": form, "server_domain": server.domain,
            "login": names.login}  # fmt: skip


LOGIN_CHOICES: dict[str, Login | None] = {"off": None, "viewer": "viewer", "admin": "admin"}


@router.post("/installed/{installation}/login", name="web_login_in_front")
async def change_login(
    request: Request, installation: str, _: Admin, deployment: DeploymentDep, runtime: RuntimeDep,
) -> Response:  # fmt: skip
    """Put tomo's login in front of the installation's names, or take it away."""
    values = await form_values(request)
    current = await deployment.get_installation(installation)
    back = f"/installed/{current.id}#names-title"
    chosen = values.get("login", "")
    try:
        if chosen not in LOGIN_CHOICES:
            raise InvalidInput([Refusal(f"'{chosen}' is not a choice of login", ("login",))])
        done = await runtime.proxy.set_login(current.id, LOGIN_CHOICES[chosen], None)
    except TomoError as exc:
        return refused(request, back, exc)
    return redirect(back, as_sentence(done.said))


@router.post("/installed/{installation}/hostnames", name="web_hostnames")
async def change_hostnames(
    request: Request, installation: str, principal: Admin, deployment: DeploymentDep,
    runtime: RuntimeDep,
) -> Response:  # fmt: skip
    """Add the typed name, or remove the one whose button was pressed; a refusal
    shows beside the field on the installation's page, and no name changes."""
    values = await form_values(request)  # text that is not text refused first, naming it
    current = await deployment.get_installation(installation)
    had = (await runtime.proxy.get_hostnames(current.id, None)).hostnames
    typed = values.get(HOSTNAME_FIELD, "").strip()
    removed = values.get("remove")
    wanted = [name for name in had if name != removed] if removed else [*had, typed]
    try:
        if not removed and not typed:
            raise InvalidInput([Refusal("type a name to add", (HOSTNAME_FIELD,))])
        done = await runtime.proxy.set_hostnames(current.id, wanted, None)
    except TomoError as exc:
        return await _hostnames_refused(request, current.id, principal, deployment, typed, exc)
    return redirect(f"/installed/{current.id}#names-title", _said(current.name, done, removed))


def _said(name: str, done: InstallationHostnames, removed: str | None) -> str:
    if removed:
        return f"Removed {removed} from {name}" + (f": {done.said}" if done.said else "")
    return done.said or f"Names of {name} saved"


async def _hostnames_refused(
    request: Request, installation_id: str, principal: Admin, deployment: DeploymentService,
    typed: str, exc: TomoError,
) -> Response:  # fmt: skip
    """The installation's page again, the refusal beside the name's field."""
    from tomo.web.installed import installation_page  # it imports this module

    message = "; ".join(problem.said_on_page for problem in exc.problems) \
        if isinstance(exc, InvalidInput) else exc.message  # fmt: skip
    request.state.hostname_form = {"value": typed, "error": as_sentence(message)}
    page = await installation_page(request, installation_id, principal, deployment)
    page.status_code = form_status(exc)
    return page


def base_url(server: ServerPublic) -> dict[str, str]:
    """How a name routed on `server` is reached: its scheme, and the port after the
    name when the front door publishes another than the scheme's own."""
    if server.tls_mode == "off":
        return {"scheme": "http", "port": "" if server.proxy_http_port == 80
                else f":{server.proxy_http_port}"}  # fmt: skip
    return {"scheme": "https", "port": "" if server.proxy_https_port == 443
            else f":{server.proxy_https_port}"}  # fmt: skip
