"""Around every request: the security headers of every answer, and the audit
record of every request that changes something, with how it really went.

Plain ASGI middleware, so streamed answers (Server-Sent Events, logs) pass
through untouched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from tomo.auth.audit_tally import AnonymousRefusals
from tomo.auth.service import AuthService
from tomo.errors import TomoError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CSP_API = "default-src 'none'; frame-ancestors 'none'"
# The docs page runs tomo's own scripts only (Swagger UI sets inline styles).
_CSP_DOCS = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'"
)
# The web UI's pages: only tomo's own scripts and styles; app icons come from
# wherever the catalog says (https), and a forgotten one shows its letter.
_CSP_PAGES = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
    "frame-ancestors 'none'"
)
# Images a catalog ships (an SVG is a document): nothing in them may run or load.
_CSP_IMAGES = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
# Routes that record themselves (a login names the user it tried).
SELF_RECORDED = frozenset({"login", "web_login"})


def _policy_of(path: str) -> str:
    if path.startswith("/docs"):
        return _CSP_DOCS
    if path.startswith("/api") or path == "/openapi.json":
        return _CSP_API
    if path.startswith("/images/"):
        return _CSP_IMAGES
    return _CSP_PAGES


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        # Documentation and tomo's own static files may be kept by a browser.
        cacheable = path.startswith(("/docs", "/static/", "/images/"))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    (b"content-security-policy", _policy_of(path).encode()),
                ]  # fmt: skip
                if not cacheable:
                    headers.append((b"cache-control", b"no-store"))
                if scope.get("scheme") == "https":  # direct, or as a trusted proxy says
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def note_outcome(request: Request, outcome: str, detail: str | None = None) -> None:
    """What the audit records as this request's outcome when its status does not say
    it: a page that answers a refusal with a See Other and a message, or the way to
    the login page; a page that started a job ("accepted")."""
    request.state.audit_outcome = outcome
    if detail is not None:
        request.state.audit_detail = detail


def note_refusal(request: Request, exc: TomoError) -> None:
    """`exc` refused (or failed) the request, whatever the answer's status."""
    note_outcome(request, str(exc.http_status), exc.message)


def outcome_of(status: int) -> str:
    if status == 202:  # a job was started; the job records how it ends
        return "accepted"
    return "ok" if status < 400 else str(status)


class Audit:
    """Records every request that may change something: who, what, on what, how
    it went (as noted by whoever refused it, else by its status), from where.
    Refused writes without a login are tallied, not recorded one by one (see
    tomo.auth.audit_tally: anyone can send them, as many as they like)."""

    def __init__(self, app: ASGIApp, auth: Callable[[], AuthService]) -> None:
        self.app = app
        self.auth = auth
        self.refusals = AnonymousRefusals()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        route = scope.get("route")
        if route is None or status == 405:  # no such operation: nothing done; anyone could flood
            return
        name = getattr(route, "name", None) or "unknown"
        if name in SELF_RECORDED:
            return
        state = scope.get("state", {})
        principal = getattr(state.get("principal"), "username", None)
        outcome = state.get("audit_outcome") or outcome_of(status)
        peer = scope.get("client")
        client = peer[0] if peer else None
        if principal is None and outcome not in ("ok", "accepted"):
            await self.refusals.add(self.auth().db, action=name, outcome=outcome, client=client,
                                    at=datetime.now(UTC))  # fmt: skip
            return
        await self.auth().record(
            actor=principal, action=name, target=str(scope.get("path", "")), outcome=outcome,
            client=client, detail=state.get("audit_detail"),
        )  # fmt: skip
