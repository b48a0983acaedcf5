"""Who is looking at a page: the session cookie of a browser login.

Pages take no bearer token (a browser sends none); a page without a live
session answers with the login page. Every form that changes something carries
the session's CSRF token in a hidden field (or the X-CSRF-Token header, for the
page's own script), checked here before the page's work runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tomo.auth.roles import allows
from tomo.auth.service import Principal, csrf_token_for
from tomo.errors import Forbidden
from tomo.http.deps import get_auth
from tomo.http.security import (
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    check_role,
    csrf_matches,
    needed_role,
)
from tomo.web.forms import read_form

CSRF_FIELD = "csrf_token"


class LoginNeeded(Exception):
    """No live session: the page answers with the way to log in (or to set up)."""


async def signed_in(request: Request) -> Principal:
    """The logged-in user of a page; forms' CSRF tokens checked."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    principal = await get_auth(request).session_principal(session_id) if session_id else None
    if principal is None:
        raise LoginNeeded
    request.state.principal = principal  # for the page, and the audit record
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, session_id)
    return principal


async def admin_signed_in(principal: Annotated[Principal, Depends(signed_in)]) -> Principal:
    if not allows(principal.role, "admin"):
        raise Forbidden(f"'{principal.username}' is a {principal.role}; this page is for admins")
    return principal


async def log_reader_signed_in(
    request: Request, principal: Annotated[Principal, Depends(signed_in)]
) -> Principal:
    """Someone who may read an installation's logs (the rule of the API's logs route:
    http/security.py, LOG_ROUTES), refused before any server is asked."""
    check_role(principal, "web_logs", request.method, get_auth(request).settings)
    return principal


def may_read_logs(request: Request, principal: Principal) -> bool:
    """Whether a page should offer `principal` the way to an installation's logs."""
    settings = get_auth(request).settings
    return allows(principal.role, needed_role("web_logs", "GET", settings))


async def _check_csrf(request: Request, session_id: str) -> None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await read_form(request)  # kept by Starlette: the page reads the same form
        sent = str(form.get(CSRF_FIELD, ""))
    if not csrf_matches(sent, session_id):
        raise Forbidden(
            "this form was not sent by a tomo page of your session (its security token is "
            "missing or old); reload the page and try again"
        )


def csrf_of(request: Request) -> str:
    """The CSRF token a page puts in its forms ('' when nobody is logged in)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token_for(session_id) if session_id else ""


Viewer = Annotated[Principal, Depends(signed_in)]
Admin = Annotated[Principal, Depends(admin_signed_in)]
LogReader = Annotated[Principal, Depends(log_reader_signed_in)]
