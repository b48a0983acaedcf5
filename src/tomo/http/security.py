"""Who is asking, and may they: the one dependency every API route passes.

It runs at router level, so a new route is protected unless it opts out by
name (PUBLIC). A bearer token or a session cookie names the user; a write
made with a cookie must also carry the session's CSRF token (a header), one
made with a token need not (a browser never sends one by itself). Roles are
decided here only: reading needs a viewer, changing needs an admin, except the
routes named in NEEDS, and an installation's logs (LOG_ROUTES, the API's and the
page's alike), which a setting decides.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tomo.auth.roles import Role, allows
from tomo.auth.schemas import Credentials
from tomo.auth.service import KNOWN_DEVICE_DAYS, AuthService, LoggedIn, Principal, csrf_token_for
from tomo.config import Settings
from tomo.errors import Forbidden, Unauthenticated
from tomo.http.deps import get_auth

SESSION_COOKIE = "tomo_session"
CSRF_COOKIE = "tomo_csrf"  # readable by the page's script: the double-submit copy
CSRF_HEADER = "X-CSRF-Token"
DEVICE_COOKIE = "tomo_device"  # a browser that logged in before (see tomo.auth.throttle)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Routes anyone may call (by route name).
PUBLIC = frozenset({"health", "health_head", "setup_status", "setup", "login", "api_docs",
                    "openapi"})  # fmt: skip
# Routes whose role is not their method's default (reads: viewer; writes: admin).
NEEDS: dict[str, Role] = {
    # Everyone looks after their own account, and rates apps as themselves.
    "rate_app": "viewer", "logout": "viewer", "logout_everywhere": "viewer",
    "change_password": "viewer", "create_token": "viewer", "revoke_token": "viewer",
    # Who the users are, and what everyone did, is for admins.
    "list_users": "admin", "get_user": "admin", "audit": "admin",
    # What else runs on a server is the server's owner's to see.
    "foreign_containers": "admin",
    # Everyone marks the event list read for themselves; channels' URLs hold secrets.
    "mark_events_read": "viewer", "list_channels": "admin",
}  # fmt: skip
# An installation's logs, the API's stream and the web UI's page: an app may print
# secrets there (the password it generated, a token), so they are for admins unless
# the settings let viewers read them too (TOMO_VIEWERS_READ_LOGS).
LOG_ROUTES = frozenset({"logs", "web_logs"})

# For the OpenAPI document: how to authenticate (the dependency checks them itself).
bearer = HTTPBearer(auto_error=False, description="An API token: tomo token create NAME")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                      description="The session of POST /api/auth/login")  # fmt: skip


def needed_role(route_name: str, method: str, settings: Settings | None = None) -> Role:
    """The role a route needs (for logs, as `settings` say; without them, the default)."""
    if route_name in LOG_ROUTES:
        return "viewer" if settings is not None and settings.viewers_read_logs else "admin"
    return NEEDS.get(route_name, "viewer" if method in SAFE_METHODS else "admin")


def check_role(principal: Principal, route_name: str, method: str, settings: Settings) -> None:
    """Forbidden unless the principal's role may call the route (the API's dependency
    and the pages that a setting governs ask this one place)."""
    needed = needed_role(route_name, method, settings)
    if allows(principal.role, needed):
        return
    if route_name in LOG_ROUTES:
        raise Forbidden(
            f"'{principal.username}' is a {principal.role}; an installation's logs are for "
            "admins, as an app may print secrets there (an admin of this tomo can let viewers "
            "read them: TOMO_VIEWERS_READ_LOGS=true)"
        )
    raise Forbidden(f"'{principal.username}' is a {principal.role}; this needs an {needed}")


async def authenticate(
    request: Request,
    token: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_id: Annotated[str | None, Depends(cookie)],
) -> None:
    """Find who asks and check they may; PUBLIC routes pass as they are."""
    route = request.scope.get("route")
    name = getattr(route, "name", "")
    if name in PUBLIC:
        return
    auth = get_auth(request)
    principal = await _principal(auth, token, session_id)
    if principal is None:
        raise Unauthenticated("log in (POST /api/auth/login) or send a bearer token")
    request.state.principal = principal  # known now: the audit names who was refused
    if principal.via == "session" and request.method not in SAFE_METHODS:
        _check_csrf(request, session_id or "")
    check_role(principal, name, request.method, auth.settings)


async def check_access_first(request: Request) -> None:
    """`authenticate`, for a request FastAPI refused before its dependencies ran.

    FastAPI reads and parses a body before it resolves dependencies, so a body
    that is not JSON would otherwise be answered 422 (or 400) to anyone: the
    caller who may not make the request learns of it first, as from any other.
    """
    if getattr(request.state, "principal", None) is None:
        await authenticate(request, await bearer(request), await cookie(request))


async def _principal(
    auth: AuthService, token: HTTPAuthorizationCredentials | None, session_id: str | None
) -> Principal | None:
    if token is not None:  # a token that is wrong is wrong: no falling back to a cookie
        return await auth.token_principal(token.credentials)
    if session_id:
        return await auth.session_principal(session_id)
    return None


def _check_csrf(request: Request, session_id: str) -> None:
    if not csrf_matches(request.headers.get(CSRF_HEADER, ""), session_id):
        raise Forbidden(f"a write with a session cookie needs its CSRF token in {CSRF_HEADER}")


def csrf_matches(sent: str, session_id: str) -> bool:
    """Whether `sent` is the session's CSRF token, compared in constant time as bytes
    (compare_digest refuses str beyond ASCII, and a header or form may hold any)."""
    expected = csrf_token_for(session_id).encode()
    return hmac.compare_digest(sent.encode("utf-8", "surrogatepass"), expected)


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a PUBLIC route asked for it: nobody is logged in
        raise Unauthenticated("log in (POST /api/auth/login) or send a bearer token")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def set_session_cookies(
    response: Response, request: Request, settings: Settings, session_id: str, csrf_token: str
) -> None:
    """The session cookie (HttpOnly) and the CSRF token's double-submit copy (readable
    by the page's script), Secure over https or when settings say tomo is behind TLS."""
    secure = request.url.scheme == "https" or settings.secure_cookies
    age = int(settings.session_max_days * 86400)
    for name, value, httponly in ((SESSION_COOKIE, session_id, True),
                                  (CSRF_COOKIE, csrf_token, False)):  # fmt: skip
        response.set_cookie(name, value, max_age=age, httponly=httponly, samesite="lax",
                            secure=secure)  # fmt: skip


def set_login_cookies(
    response: Response, request: Request, settings: Settings, opened: LoggedIn
) -> None:
    """The session's cookies, and the device cookie: it outlives the session (logging
    out keeps it), is sent by this site's own pages only (SameSite=Strict), and no
    script reads it."""
    set_session_cookies(response, request, settings, opened.session_id, opened.result.csrf_token)
    secure = request.url.scheme == "https" or settings.secure_cookies
    response.set_cookie(DEVICE_COOKIE, opened.device, max_age=KNOWN_DEVICE_DAYS * 86400,
                        httponly=True, samesite="strict", secure=secure)  # fmt: skip


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


def client_address(request: Request) -> str:
    """The client's address: the connection's, or the one a trusted reverse proxy
    forwarded (Settings.trusted_proxies; the app applies it before any route runs)."""
    return request.client.host if request.client else "unknown"


async def log_in(request: Request, credentials: Credentials) -> LoggedIn:
    """A login, as the API and the web UI take it: refused when another site's page
    sent it, else checked with the client's address and device cookie; recorded in
    the audit log either way."""
    auth = get_auth(request)
    try:
        refuse_cross_site(request, "this login", "/login")
    except Forbidden as refused:
        await auth.record(actor=credentials.username, action="login", target=None,
                          outcome=str(refused.http_status), client=client_address(request),
                          detail=refused.message)  # fmt: skip
        raise
    return await auth.login_recorded(credentials, client_address(request),
                                     request.cookies.get(DEVICE_COOKIE))  # fmt: skip


def refuse_cross_site(request: Request, what: str, page: str) -> None:
    """Refuse a login or setup that a page of another site sent: it would log this
    browser into an account of that site's choosing (login CSRF), before any session
    and its CSRF token exist. The browser says where a form comes from (Sec-Fetch-Site;
    Origin on a POST); a script or the CLI sends neither and passes."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    here = str(request.base_url).rstrip("/")
    if site in (None, "same-origin", "none") and (
        origin is None or _origin_of(origin) == _origin_of(here)
    ):
        return
    if site == "same-origin":  # the browser calls it this site: tomo has its address wrong
        raise Forbidden(
            f"{what} came from {origin}, which the browser says is this site, but tomo sees "
            f"its own address as {here}: behind a reverse proxy, pass the Host header on and "
            "set TOMO_TRUSTED_PROXIES (see the README)"
        )
    sender = f" ({origin})" if origin else ""
    raise Forbidden(f"{what} was sent from another site{sender}, not from a page of this "
                    f"tomo: open {here}{page} and try there")  # fmt: skip


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(url: str) -> str | None:
    """scheme://host:port with the port always written, so two spellings of one origin
    match; None for what is no origin ('null')."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return f"{parts.scheme.lower()}://{parts.hostname.lower()}:{port}"
