"""Pages: servers. Add one, check its host key and trust it, test it, change
where it keeps app data, remove it.

Adding works as the API does: the server is stored with its credentials
(encrypted) but untrusted, and nothing logs in until a person has compared the
host key's fingerprint with the server's own and trusted it; that first login
proves the credentials and gathers the facts. So no step of the way carries a
password or a private key back to the browser, not even in a hidden field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    InvalidInput,
    RemoteError,
    ServerExists,
    ServerInUse,
    ServerTimeout,
    ServerUnreachable,
    TomoError,
)
from tomo.http.deps import get_servers
from tomo.servers.schemas import ONE_LOGIN, HostKeyScan, ServerCreate, ServerPublic, ServerUpdate
from tomo.web.forms import FormErrors, errors_of, form_status, form_values
from tomo.web.session import Admin, Viewer
from tomo.web.templating import redirect, refused, render

router = APIRouter()
ADD_FIELDS = {"name", "host", "port", "username", "private_key", "passphrase", "password",
              "data_root", "use_sudo"}  # fmt: skip
EDIT_FIELDS = {"name", "host", "port", "username", "data_root", "use_sudo"}
SECRETS = ("private_key", "passphrase", "password")
# What the add form may be filled with from its address (never a secret).
PREFILLED = ("name", "host", "port", "username", "data_root", "use_sudo", "auth")


def health(server: ServerPublic) -> str:
    """What the last login found, in one line (as `tomo server add` says it)."""
    facts = server.facts
    if facts is None:
        return server.status
    docker = f"Docker {facts.docker_version}" if facts.docker_version else "Docker not usable"
    system = ", ".join(part for part in (facts.os, facts.architecture) if part)
    return f"{server.status}: {system or 'unknown system'}, {docker}"


# -- the fleet -------------------------------------------------------------------


@router.get("/servers", name="web_servers")
async def servers_page(request: Request, principal: Viewer) -> Response:
    """Every server with its status and what its last check found."""
    return render(
        request, "servers/list.html", {"servers": await get_servers(request).list_servers()}
    )


@router.get("/servers/add", name="web_server_add_form")
async def add_form(request: Request, principal: Admin) -> Response:
    values = {key: request.query_params[key] for key in PREFILLED if key in request.query_params}
    return _add_page(request, {"port": "22", "data_root": "/opt/tomo/apps", "auth": "key",
                               **values})  # fmt: skip


@router.post("/servers/add", name="web_server_add")
async def add(request: Request, principal: Admin) -> Response:
    """Store the server untrusted and read its host key; the next page shows the
    key's fingerprint to compare before anything logs in."""
    values = await form_values(request)
    try:
        added = await get_servers(request).add_server(ServerCreate.model_validate(_create(values)))
    except (ValidationError, TomoError) as exc:
        return _add_page(request, values, exc)
    message = f"Added {added.server.name}. Check its host key before tomo logs in."
    return redirect(f"/servers/{added.server.id}/trust", message)


def _create(values: dict[str, str]) -> dict[str, Any]:
    """The form as the API's ServerCreate: only the chosen way to log in; empty
    optional fields left to their defaults."""
    by_key = values.get("auth", "key") == "key"
    chosen = ("private_key", "passphrase") if by_key else ("password",)
    wanted: dict[str, Any] = {k: v for k, v in values.items() if k in ADD_FIELDS - set(SECRETS)}
    wanted.update({k: values[k] for k in chosen if values.get(k)})
    for optional in ("port", "data_root"):
        if not wanted.get(optional, "").strip():
            wanted.pop(optional, None)
    wanted["use_sudo"] = values.get("use_sudo") == "on"
    return wanted


def _add_page(
    request: Request, values: dict[str, str], exc: ValidationError | TomoError | None = None
) -> Response:
    """The add form; after an error, what was typed (but never a secret) is kept."""
    kept = {key: value for key, value in values.items() if key not in SECRETS}
    context: dict[str, Any] = {"values": kept}
    if exc is None:
        return render(request, "servers/add.html", context)
    found = _add_errors(exc, values)
    context.update(errors=found.fields, general=found.general,
                   secrets_dropped=any(values.get(key) for key in SECRETS))  # fmt: skip
    return render(request, "servers/add.html", context, status=form_status(exc))


def _add_errors(exc: ValidationError | TomoError, values: dict[str, str]) -> FormErrors:
    """Each error beside the field it concerns."""
    if isinstance(exc, TomoError):
        found = FormErrors()
        found.add(_add_field_of(exc), exc.message, ADD_FIELDS)
        return found
    found = errors_of(exc, ADD_FIELDS)
    no_login = [str(e["msg"]) for e in exc.errors() if e["type"] == ONE_LOGIN]
    if no_login:  # the form sends the chosen way only: it was left empty
        found.general = [message for message in found.general if message not in no_login]
        by_key = values.get("auth", "key") == "key"
        field, message = ("private_key", "paste the private key") if by_key else \
            ("password", "enter the password")  # fmt: skip
        found.fields.setdefault(field, message)
    return found


def _add_field_of(exc: TomoError) -> str:
    if isinstance(exc, ServerExists):
        return "name"
    if isinstance(exc, ServerUnreachable | ServerTimeout):
        return "host"
    if isinstance(exc, InvalidInput):  # a key that can never load: the field it names
        return next((field for problem in exc.problems for field in problem.fields), "")
    return ""


# -- one server ------------------------------------------------------------------


@router.get("/servers/{server}", name="web_server")
async def server_page(request: Request, server: str, principal: Viewer) -> Response:
    """One server: its facts, trust, status and installations."""
    found = await get_servers(request).get_server(server)
    installations = await request.app.state.runtime.deployment.list_installations(found.id)
    context = {"server": found, "installations": installations}
    return render(request, "servers/detail.html", context)


@router.get("/servers/{server}/trust", name="web_server_trust_form")
async def trust_form(request: Request, server: str, principal: Admin) -> Response:
    """The key the server presents now, to compare with its own before trusting."""
    found = await get_servers(request).get_server(server)
    try:
        scan = await get_servers(request).scan_host_key(found.id)
    except RemoteError as exc:
        return _trust_page(request, found, None, exc)
    return _trust_page(request, found, scan)


@router.post("/servers/{server}/trust", name="web_server_trust")
async def trust(request: Request, server: str, principal: Admin) -> Response:
    """Pin the key with the fingerprint the person checked, and log in with it."""
    values = await form_values(request)
    found = await get_servers(request).get_server(server)
    fingerprint = values.get("fingerprint", "")
    try:
        trusted = await get_servers(request).trust_server(found.id, fingerprint)
    except TomoError as exc:
        scan = HostKeyScan(server_id=found.id, fingerprint=fingerprint, algorithm="",
                           pinned_fingerprint=found.host_key_fingerprint,
                           matches_pinned=found.host_key_fingerprint == fingerprint)  # fmt: skip
        return _trust_page(request, found, scan, exc)
    return redirect(f"/servers/{trusted.id}", f"Trusted {trusted.name}'s host key; "
                    f"{health(trusted)}")  # fmt: skip


def _trust_page(
    request: Request, server: ServerPublic, scan: HostKeyScan | None, exc: TomoError | None = None
) -> Response:
    context = {"server": server, "scan": scan, "error": exc.message if exc else None,
               "login_refused": isinstance(exc, AuthenticationFailed),
               "key_changed": isinstance(exc, HostKeyChanged),
               "key_file": _key_file(scan.algorithm if scan else "")}  # fmt: skip
    return render(request, "servers/trust.html", context, status=exc.http_status if exc else 200)


def _key_file(algorithm: str) -> str:
    """The server's own copy of a host key of this algorithm, to compare with."""
    for part, name in (("ed25519", "ed25519"), ("ecdsa", "ecdsa"), ("rsa", "rsa")):
        if part in algorithm:
            return f"/etc/ssh/ssh_host_{name}_key.pub"
    return "/etc/ssh/ssh_host_ed25519_key.pub"


@router.post("/servers/{server}/test", name="web_server_test")
async def test(request: Request, server: str, principal: Admin) -> Response:
    """Log in now, refresh the facts and the status."""
    found = await get_servers(request).get_server(server)
    try:
        tested = await get_servers(request).test_server(found.id)
    except RemoteError as exc:
        return refused(request, f"/servers/{found.id}", exc, f"Test failed: {exc.message}")
    return redirect(f"/servers/{tested.id}", f"Tested {tested.name}; {health(tested)}")


@router.get("/servers/{server}/edit", name="web_server_edit_form")
async def edit_form(request: Request, server: str, principal: Admin) -> Response:
    found = await get_servers(request).get_server(server)
    values = found.model_dump(include=EDIT_FIELDS)
    return render(request, "servers/edit.html", {"server": found, "values": values})


@router.post("/servers/{server}/edit", name="web_server_edit")
async def edit(request: Request, server: str, principal: Admin) -> Response:
    """Change a server; a new address is another machine until its key is trusted."""
    values = await form_values(request)
    found = await get_servers(request).get_server(server)
    try:
        changes = ServerUpdate.model_validate(_changes(found, values))
        changed = await get_servers(request).update_server(found.id, changes)
    except (ValidationError, TomoError) as exc:
        fields = errors_of(exc, EDIT_FIELDS)
        context = {"server": found, "values": values, "errors": fields.fields,
                   "general": fields.general}  # fmt: skip
        return render(request, "servers/edit.html", context, status=form_status(exc))
    if not changed.trusted and found.trusted:
        return redirect(f"/servers/{changed.id}/trust", "Saved. The address changed: check the "
                        "host key it presents now.", kind="warning")  # fmt: skip
    return redirect(f"/servers/{changed.id}", f"Saved {changed.name}")


def _changes(server: ServerPublic, values: dict[str, str]) -> dict[str, Any]:
    """Only what differs: the service takes any host or port sent as a new address."""
    current = {key: str(value) for key, value in server.model_dump(include=EDIT_FIELDS).items()}
    changed: dict[str, Any] = {
        key: value
        for key, value in values.items()
        if key in EDIT_FIELDS and value.strip() and value != current[key]
    }
    changed["use_sudo"] = values.get("use_sudo") == "on"
    return changed


@router.post("/servers/{server}/remove", name="web_server_remove")
async def remove(request: Request, server: str, principal: Admin) -> Response:
    """Forget a server (nothing on the host is touched). `force` forgets its
    installations too; `again` leads back to the add form, filled in, for a
    server added with the wrong login."""
    values = await form_values(request)
    found = await get_servers(request).get_server(server)
    try:
        removed = await get_servers(request).remove_server(
            found.id, force=values.get("force") == "on"
        )
    except ServerInUse as exc:
        return refused(request, f"/servers/{found.id}", exc)
    if values.get("again"):
        return redirect(f"/servers/add?{_refill(removed)}",
                        f"Removed {removed.name}: add it again with the right login.")  # fmt: skip
    return redirect("/servers", f"Removed {removed.name}")


def _refill(server: ServerPublic) -> str:
    fields = {"name": server.name, "host": server.host, "port": server.port,
              "username": server.username, "data_root": server.data_root,
              "auth": server.auth_type}  # fmt: skip
    return urlencode({**fields, **({"use_sudo": "on"} if server.use_sudo else {})})
