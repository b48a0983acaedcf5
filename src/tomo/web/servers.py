"""Pages: servers. Add one, check its host key and trust it, test it, change
where it keeps app data or how tomo logs in, remove it.

Adding works as the API does: the server is stored with its credentials
(encrypted) but untrusted, and nothing logs in until a person has compared the
host key's fingerprint with the server's own and trusted it; that first login
proves the credentials and gathers the facts. So no step of the way carries a
password or a private key back to the browser, not even in a hidden field.

A key pair tomo generates (for a new server, or to move one to a key) has a page
of its own: its public key to add to the server, then "Test and save".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from tomo.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    InvalidInput,
    NotFound,
    Refusal,
    RemoteError,
    ServerExists,
    ServerInUse,
    ServerTimeout,
    ServerUnreachable,
    TomoError,
)
from tomo.http.deps import get_deployment, get_servers
from tomo.monitor import stats
from tomo.servers.keys import authorize_command
from tomo.servers.schemas import (
    ONE_LOGIN,
    HostKeyScan,
    PublicKey,
    ServerCreate,
    ServerPublic,
    ServerUpdate,
)
from tomo.servers.service import ServerService
from tomo.servers.swarm import SwarmNode, swarm_summary
from tomo.web.domains import TLS_WORDS, domain_section
from tomo.web.forms import (
    FormErrors,
    as_sentence,
    errors_of,
    form_status,
    form_values,
    read_form,
    with_stop,
)
from tomo.web.session import Admin, Viewer
from tomo.web.templating import redirect, refused, render

router = APIRouter()
ADD_FIELDS = {"name", "host", "port", "username", "private_key", "passphrase", "password",
              "data_root", "use_sudo"}  # fmt: skip
EDIT_FIELDS = {"name", "host", "port", "username", "data_root", "use_sudo"}
SECRETS = ("private_key", "passphrase", "password")
LOGIN_FIELDS = set(SECRETS)
# An OpenSSH private key is a few KB (an RSA key of 16384 bits, about 13): a file
# much larger is not one, and is not read whole.
KEY_FILE_LIMIT = 64 * 1024
# What the add form may be filled with from its address (never a secret).
PREFILLED = ("name", "host", "port", "username", "data_root", "use_sudo", "auth")


def health(server: ServerPublic) -> str:
    """What the last login found, in one line (as `tomo server add` says it)."""
    facts = server.facts
    if facts is None:
        return server.status
    docker = f"Docker {facts.docker_version}" if facts.docker_version else "Docker not usable"
    system = ", ".join(part for part in (facts.os, facts.architecture) if part)
    said = f"{server.status}: {system or 'unknown system'}, {docker}"
    return f"{said}; {swarm_summary(facts.swarm)}" if facts.swarm else said


# -- the fleet -------------------------------------------------------------------


@router.get("/servers", name="web_servers")
async def servers_page(request: Request, principal: Viewer) -> Response:
    """Every server with its status and what its last check found."""
    found = await get_servers(request).list_servers()
    usage = get_deployment(request).resources  # cached: no server is asked
    return render(request, "servers/list.html", {"servers": usage.with_servers(found),
                                                 "shown": stats.shown})  # fmt: skip


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
        login = await _login(request, values)
        added = await get_servers(request).add_server(
            ServerCreate.model_validate({**_create(values), **login})
        )
    except (ValidationError, TomoError) as exc:
        return _add_page(request, values, exc)
    if added.public_key is not None:
        return redirect(f"/servers/{added.server.id}/key", f"Added {added.server.name}. Add "
                        "tomo's public key to the server, then test and save.")  # fmt: skip
    message = f"Added {added.server.name}. Check its host key before tomo logs in."
    return redirect(f"/servers/{added.server.id}/trust", message)


def _create(values: dict[str, str]) -> dict[str, Any]:
    """The form as the API's ServerCreate, but the login (see `_login`); empty
    optional fields left to their defaults."""
    wanted: dict[str, Any] = {k: v for k, v in values.items() if k in ADD_FIELDS - set(SECRETS)}
    for optional in ("port", "data_root"):
        if not wanted.get(optional, "").strip():
            wanted.pop(optional, None)
    wanted["use_sudo"] = values.get("use_sudo") == "on"
    return wanted


async def _login(request: Request, values: dict[str, str]) -> dict[str, Any]:
    """The way to log in the form chose, and only its fields that were filled: a
    generated key, a password, or a private key pasted or chosen as a file."""
    way = values.get("auth", "key")
    if way == "generate":
        return {"generate_key": True}
    if way == "password":
        return {"password": values["password"]} if values.get("password") else {}
    given = {"private_key": await _key_file_text(request) or values.get("private_key"),
             "passphrase": values.get("passphrase")}  # fmt: skip
    return {field: value for field, value in given.items() if value}


async def _key_file_text(request: Request) -> str | None:
    """The private key file chosen in the form, as text; None when none was."""
    upload = (await read_form(request)).get("private_key_file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    content = await upload.read(KEY_FILE_LIMIT + 1)
    if len(content) > KEY_FILE_LIMIT:
        raise _bad_key_file(f"{upload.filename} is too large to be a private key")
    try:
        return content.decode()
    except UnicodeDecodeError:
        raise _bad_key_file(f"{upload.filename} is not a text private key") from None


def _bad_key_file(message: str) -> InvalidInput:
    return InvalidInput([Refusal(message, ("private_key",))])


def _add_page(
    request: Request, values: dict[str, str], exc: ValidationError | TomoError | None = None
) -> Response:
    """The add form; after an error, what was typed (but never a secret) is kept."""
    kept = {key: value for key, value in values.items() if key not in SECRETS}
    context: dict[str, Any] = {"values": kept}
    if exc is None:
        return render(request, "servers/add.html", context)
    found = _sentences(_add_errors(exc, values))
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
        field, message = ("private_key", "paste the private key or choose its file") if by_key \
            else ("password", "enter the password")  # fmt: skip
        found.fields.setdefault(field, message)
    return found


def _sentences(found: FormErrors) -> FormErrors:
    """Each message as a sentence ends (services word them for the CLI's `error: `
    line); its first word kept, as it may be the server's name."""
    return FormErrors({name: with_stop(text) for name, text in found.fields.items()},
                      [with_stop(text) for text in found.general])  # fmt: skip


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
    (found,) = get_deployment(request).resources.with_servers([found])
    context = {"server": found, "installations": installations, "shown": stats.shown,
               "domain": await domain_section(request, found), "tls_words": TLS_WORDS,
               "swarm": await _swarm_section(request, found)}  # fmt: skip
    return render(request, "servers/detail.html", context)


@dataclass(frozen=True)
class SwarmSection:
    """A server's Swarm as its page shows it: what its last check found, and for a
    manager its nodes (None, with the reason, when they could not be read)."""

    summary: str
    manager: bool
    nodes: list[SwarmNode] | None = None
    error: str | None = None


async def _swarm_section(request: Request, server: ServerPublic) -> SwarmSection | None:
    """None for a server in no Swarm; never raises for a manager that cannot be
    reached or is slow (its nodes are read at most every 30 s: see looks.py)."""
    swarm = server.facts.swarm if server.facts else None
    if swarm is None:
        return None
    section = SwarmSection(swarm_summary(swarm), manager=swarm.role == "manager")
    if not section.manager:
        return section
    try:
        nodes = await get_servers(request).swarm_nodes(server.id)
    except TomoError as exc:
        return SwarmSection(section.summary, True, None, as_sentence(exc.message))
    return SwarmSection(section.summary, True, nodes)


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
    context = {"server": server, "scan": scan, "error": with_stop(exc.message) if exc else None,
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
    """Where the server is and how tomo logs in, each with a form of its own."""
    return _edit_page(request, await get_servers(request).get_server(server))


def _edit_page(
    request: Request, server: ServerPublic, *, sent: dict[str, str] | None = None,
    login: bool = False, exc: ValidationError | TomoError | None = None,
) -> Response:  # fmt: skip
    """The edit page; after an error, the form that was `sent` (the server's, or
    with `login` its login's) shows it beside its fields, and what was typed in
    it, but never a secret."""
    found = (
        _sentences(errors_of(exc, LOGIN_FIELDS if login else EDIT_FIELDS)) if exc else FormErrors()
    )
    server_errors, login_errors = (FormErrors(), found) if login else (found, FormErrors())
    typed = sent if sent is not None and not login else server.model_dump(include=EDIT_FIELDS)
    context: dict[str, Any] = {
        "server": server, "values": typed,
        "errors": server_errors.fields, "general": server_errors.general,
        "login_values": {"auth": (sent or {}).get("auth") if login else server.auth_type},
        "login_errors": login_errors.fields, "login_general": login_errors.general,
        "secrets_dropped": login and any((sent or {}).get(key) for key in SECRETS),
    }  # fmt: skip
    return render(request, "servers/edit.html", context, status=form_status(exc) if exc else 200)


@router.post("/servers/{server}/edit", name="web_server_edit")
async def edit(request: Request, server: str, principal: Admin) -> Response:
    """Change a server; a new address is another machine until its key is trusted."""
    values = await form_values(request)
    found = await get_servers(request).get_server(server)
    try:
        changes = ServerUpdate.model_validate(_changes(found, values))
        changed = await get_servers(request).update_server(found.id, changes)
    except (ValidationError, TomoError) as exc:
        return _edit_page(request, found, sent=values, exc=exc)
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


@router.post("/servers/{server}/credentials", name="web_server_credentials")
async def change_login(request: Request, server: str, principal: Admin) -> Response:
    """A new login: tried before it replaces the old one (on a trusted server). A
    key pair tomo makes is shown first, to be added to the server."""
    values = await form_values(request)
    servers = get_servers(request)
    found = await servers.get_server(server)
    if values.get("auth") == "generate":
        await servers.generate_key(found.id)
        return redirect(f"/servers/{found.id}/key", f"tomo made a key pair for {found.name}. "
                        "Add its public key to the server, then test and save.")  # fmt: skip
    try:
        changed = await servers.update_server(found.id, await _new_login(request, values))
    except (ValidationError, TomoError) as exc:
        return _edit_page(request, found, sent=values, login=True, exc=exc)
    if not changed.trusted:
        return redirect(f"/servers/{changed.id}/trust", f"Saved {changed.name}'s new login: "
                        "tomo tries it once you trust its host key.")  # fmt: skip
    return redirect(f"/servers/{changed.id}", f"Logged in to {changed.name} with its new login "
                    f"and saved it; {health(changed)}.")  # fmt: skip


async def _new_login(request: Request, values: dict[str, str]) -> ServerUpdate:
    """The form's new login; one left empty is refused beside its field."""
    changes = ServerUpdate.model_validate(await _login(request, values))
    if not changes.changes_login:
        by_password = values.get("auth") == "password"
        field = "password" if by_password else "private_key"
        said = (
            "enter the new password" if by_password else "paste the private key or choose its file"
        )
        raise InvalidInput([Refusal(said, (field,))])
    return changes


# -- tomo's key ------------------------------------------------------------------


@router.get("/servers/{server}/key", name="web_server_key_form")
async def key_form(request: Request, server: str, principal: Admin) -> Response:
    """tomo's key for the server (the one waiting to be tried, else the one in use):
    its public key to add there, the host key to check if not trusted yet."""
    servers = get_servers(request)
    found = await servers.get_server(server)
    try:
        key = await servers.public_key(found.id)
    except NotFound:
        return redirect(f"/servers/{found.id}/edit#login", f"{found.name} logs in with a "
                        "password: choose “Generate a key for me” to move it to a key.",
                        kind="info")  # fmt: skip
    return await _key_page(request, found, key)


@router.post("/servers/{server}/key", name="web_server_key")
async def key_test(request: Request, server: str, principal: Admin) -> Response:
    """Test and save: log in with tomo's key and keep it (for a server not trusted
    yet, trusting the host key the person checked)."""
    values = await form_values(request)
    servers = get_servers(request)
    found = await servers.get_server(server)
    try:
        done = await _test_and_save(servers, found, values.get("fingerprint", ""))
    except TomoError as exc:
        now = await servers.get_server(found.id)
        return await _key_page(request, now, await servers.public_key(now.id), exc)
    return redirect(f"/servers/{done.id}", f"Logged in to {done.name} with tomo's key; "
                    f"{health(done)}.")  # fmt: skip


async def _test_and_save(servers: ServerService, server: ServerPublic, fingerprint: str
                         ) -> ServerPublic:  # fmt: skip
    key = await servers.public_key(server.id)
    if key.pending:  # tried here on a trusted server; else by the trust below
        server = await servers.update_server(server.id, ServerUpdate(generated_key=True))
    if not server.trusted:
        return await servers.trust_server(server.id, fingerprint)
    return server if key.pending else await servers.test_server(server.id)


async def _key_page(
    request: Request, server: ServerPublic, key: PublicKey, exc: TomoError | None = None
) -> Response:
    scan, scan_error = None, None
    if not server.trusted:
        try:
            scan = await get_servers(request).scan_host_key(server.id)
        except RemoteError as unread:
            scan_error = unread.message
    context = {"server": server, "key": key, "command": authorize_command(key.public_key),
               "scan": scan, "scan_error": scan_error and with_stop(scan_error),
               "error": with_stop(exc.message) if exc else None,
               "login_refused": isinstance(exc, AuthenticationFailed),
               "key_file": _key_file(scan.algorithm if scan else "")}  # fmt: skip
    return render(request, "servers/key.html", context, status=exc.http_status if exc else 200)


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
