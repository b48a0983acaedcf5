"""Logging in and out of a remote tomo.

A password is used once: it opens a session, the session makes an API token
for this CLI (writes with a session need its CSRF token), and the session
ends. The token is what the CLI keeps; logging out revokes it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from tomo.client.login_file import RemoteLogin
from tomo.client.transport import Api, segment
from tomo.errors import InvalidInput, TomoError

CSRF_HEADER = "X-CSRF-Token"
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def normalized_url(raw: str) -> str:
    """tomo's address as typed (`https://tomo.lan`, `http://127.0.0.1:8420/`, even
    with `/api`), in one form: scheme, host and port, and any path prefix a
    reverse proxy adds."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise InvalidInput(f"'{raw}' is not the http:// or https:// address of a tomo")
    if parts.username or parts.password:
        raise InvalidInput("give the user name with --user, not in the URL")
    path = parts.path.rstrip("/").removesuffix("/api")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def in_clear_text(url: str) -> bool:
    """Plain http to another machine: a password and a token would cross the network
    readable by anyone on the way."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or host in LOOPBACK_NAMES:
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


async def log_in(url: str, username: str, password: str) -> RemoteLogin:
    """A new API token for this CLI, made with the user's password."""
    api = Api(url)
    try:
        opened = await api.call("POST", "/auth/login",
                                body={"username": username, "password": password})  # fmt: skip
        csrf = {CSRF_HEADER: opened["csrf_token"]}
        try:
            made = await api.call("POST", "/tokens", body={"name": token_name()}, headers=csrf)
        finally:
            # Only the token was wanted; a session left open would end on its own.
            with contextlib.suppress(TomoError):
                await api.call("POST", "/auth/logout", headers=csrf)
    finally:
        await api.close()
    return RemoteLogin(url=url, username=opened["user"]["username"], token_id=made["id"],
                       token=made["token"])  # fmt: skip


async def log_out(login: RemoteLogin) -> None:
    """Revoke the CLI's token: refused from now on, by anyone who copied it too."""
    api = Api(login.url, login.token)
    try:
        await api.call("DELETE", f"/tokens/{segment(login.token_id)}")
    finally:
        await api.close()


def token_name() -> str:
    """How the token shows in `tomo token list`: which machine holds it."""
    return f"tomo CLI on {socket.gethostname()}"[:64]
