"""Who is asking, and may they: the one dependency every API route passes.

It runs at router level, so a new route is protected unless it opts out by
name (PUBLIC). A bearer token or a session cookie names the user; a write
made with a cookie must also carry the session's CSRF token (a header), one
made with a token need not (a browser never sends one by itself). Roles are
decided here only: reading needs a viewer, changing needs an admin, except the
routes named in NEEDS.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tomo.auth.roles import Role, allows
from tomo.auth.service import AuthService, Principal, csrf_token_for
from tomo.config import Settings
from tomo.errors import Forbidden, Unauthenticated

SESSION_COOKIE = "tomo_session"
CSRF_COOKIE = "tomo_csrf"  # readable by the page's script: the double-submit copy
CSRF_HEADER = "X-CSRF-Token"
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
}  # fmt: skip

# For the OpenAPI document: how to authenticate (the dependency checks them itself).
bearer = HTTPBearer(auto_error=False, description="An API token: tomo token create NAME")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                      description="The session of POST /api/auth/login")  # fmt: skip


def needed_role(route_name: str, method: str) -> Role:
    return NEEDS.get(route_name, "viewer" if method in SAFE_METHODS else "admin")


def auth_service(request: Request) -> AuthService:
    service: AuthService = request.app.state.runtime.auth
    return service


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
    auth = auth_service(request)
    principal = await _principal(auth, token, session_id)
    if principal is None:
        raise Unauthenticated("log in (POST /api/auth/login) or send a bearer token")
    request.state.principal = principal  # known now: the audit names who was refused
    if principal.via == "session" and request.method not in SAFE_METHODS:
        _check_csrf(request, session_id or "")
    needed = needed_role(name, request.method)
    if not allows(principal.role, needed):
        raise Forbidden(f"'{principal.username}' is a {principal.role}; this needs an {needed}")


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
    sent = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(sent, csrf_token_for(session_id)):
        raise Forbidden(f"a write with a session cookie needs its CSRF token in {CSRF_HEADER}")


def current_principal(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a PUBLIC route asked for it: nobody is logged in
        raise Unauthenticated("log in (POST /api/auth/login) or send a bearer token")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
AuthDep = Annotated[AuthService, Depends(auth_service)]


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


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
