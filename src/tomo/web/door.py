"""The login in front of apps (see proxy/login.py): the front doors' question, and
the page a browser is sent to when it has no pass for an app.

The question (`/door/check`) is asked by Caddy, not by a person: it has no page
around it, no navigation figures and no session of its own (the browser's cookies
for the app's host come along with it), so it is a router of its own, outside the
pages' one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse

from tomo.http.deps import runtime_of
from tomo.proxy.login import Answer, Asked, DoorLogin, door_cookie, passes_in
from tomo.web.session import Viewer

check_router = APIRouter(include_in_schema=False)
router = APIRouter()


def door_login_of(request: Request) -> DoorLogin:
    login: DoorLogin = runtime_of(request).door_login
    return login


@check_router.get("/door/check", name="web_door_check")
async def door_check(request: Request, role: str = "viewer") -> Response:
    """May this request for a guarded app pass? Asked by a front door before each."""
    headers = request.headers
    asked = Asked(
        host=headers.get("x-forwarded-host", ""),
        scheme=headers.get("x-forwarded-proto", "https"),
        uri=headers.get("x-forwarded-uri", "/"),
        method=headers.get("x-forwarded-method", "GET").upper(),
        wants_page="text/html" in headers.get("accept", ""),
        passes=passes_in(headers.get("cookie", "")),
        role="admin" if role == "admin" else "viewer",  # never less than the route asks
    )  # fmt: skip
    return _response(await door_login_of(request).check(asked), asked.scheme)


def _response(answer: Answer, scheme: str) -> Response:
    response = PlainTextResponse(answer.text, status_code=answer.status, headers=answer.headers)
    if answer.new_pass is not None:
        # For this app's host only (no Domain), sent back with its pages' requests and
        # navigations to it (Lax), read by no script.
        response.set_cookie(door_cookie(scheme), answer.new_pass, path="/", httponly=True,
                            secure=scheme == "https", samesite="lax")  # fmt: skip
    return response


@router.get("/door", name="web_door")
async def door(request: Request, to: str, principal: Viewer) -> Response:
    """Where a browser without a pass for an app is sent: once signed in to tomo (the
    login page first, when it is not), back to the app with an entry code."""
    login = door_login_of(request)
    needed = await runtime_of(request).proxy.login_for(to)
    return RedirectResponse(login.entry(principal, to, needed), status_code=303)
