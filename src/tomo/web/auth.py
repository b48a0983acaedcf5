"""Pages: the first admin's setup, logging in and out, one's own account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from tomo.auth.schemas import Credentials
from tomo.auth.service import Principal
from tomo.errors import TomoError, TooManyAttempts
from tomo.http.security import (
    SESSION_COOKIE,
    auth_service,
    clear_session_cookies,
    client_address,
    set_session_cookies,
)
from tomo.web.forms import errors_of, form_status, form_values
from tomo.web.session import Viewer
from tomo.web.templating import local_path, redirect, render

router = APIRouter()
CREDENTIALS = {"username", "password"}


@router.get("/setup", name="web_setup_form")
async def setup_form(request: Request) -> Response:
    if not await auth_service(request).setup_open():
        return redirect("/login")
    return render(request, "auth/setup.html", {"values": {}})


@router.post("/setup", name="web_setup")
async def setup(request: Request) -> Response:
    auth = auth_service(request)
    if not await auth.setup_open():
        return redirect("/login", "tomo has an admin already: log in", kind="warning")
    values = await form_values(request)
    try:
        if values.get("password") != values.get("confirm"):
            raise _Mismatch
        credentials = Credentials.model_validate(values)
        await auth.setup(credentials)
        return await _logged_in(request, credentials, "/repos", "Welcome to tomo")
    except _Mismatch:
        errors = {"confirm": "the two passwords differ"}
        return render(request, "auth/setup.html", {"values": values, "errors": errors}, status=422)
    except (ValidationError, TomoError) as exc:
        found = errors_of(exc, CREDENTIALS)
        context = {"values": values, "errors": found.fields, "general": found.general}
        return render(request, "auth/setup.html", context, status=form_status(exc))


class _Mismatch(Exception):
    pass


@router.get("/login", name="web_login_form")
async def login_form(request: Request, next: str = "/store") -> Response:
    if await auth_service(request).setup_open():
        return redirect("/setup")
    return render(request, "auth/login.html", {"values": {}, "next": local_path(next)})


@router.post("/login", name="web_login")
async def login(request: Request) -> Response:
    values = await form_values(request)
    target = local_path(values.get("next"))
    try:
        credentials = Credentials.model_validate(values)
        return await _logged_in(request, credentials, target)
    except (ValidationError, TomoError) as exc:
        message = exc.message if isinstance(exc, TomoError) else "wrong user name or password"
        context = {"values": {"username": values.get("username", "")}, "next": target,
                   "general": [message]}  # fmt: skip
        response = render(request, "auth/login.html", context, status=form_status(exc))
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response


async def _logged_in(
    request: Request, credentials: Credentials, target: str, message: str | None = None
) -> Response:
    auth = auth_service(request)
    session_id, result = await auth.login_recorded(credentials, client_address(request))
    response = redirect(target, message)
    set_session_cookies(response, request, auth.settings, session_id, result.csrf_token)
    return response


@router.post("/logout", name="web_logout")
async def logout(request: Request, principal: Viewer) -> Response:
    await auth_service(request).logout(principal)
    response = redirect("/login", "You are logged out")
    clear_session_cookies(response)
    return response


@router.get("/account", name="web_account")
async def account(request: Request, principal: Viewer) -> Response:
    return render(request, "auth/account.html", await _account(request, principal))


async def _account(request: Request, principal: Principal) -> dict[str, Any]:
    auth = auth_service(request)
    return {"account": await auth.get_user(principal.user_id),
            "sessions": await auth.list_sessions(principal)}  # fmt: skip


@router.post("/account/sessions/{session}/end", name="web_end_session")
async def end_session(request: Request, principal: Viewer, session: str) -> Response:
    """Log out one browser: a lost phone, a shared computer."""
    await auth_service(request).end_session(principal, session)
    return redirect("/account", "That session has ended")


@router.post("/account/password", name="web_change_password")
async def change_password(request: Request, principal: Viewer) -> Response:
    auth = auth_service(request)
    values = await form_values(request)
    errors: dict[str, str] = {}
    if values.get("new_password") != values.get("confirm"):
        errors["confirm"] = "the two new passwords differ"
    else:
        try:
            await auth.set_password(principal.user_id, values.get("new_password", ""),
                                    by=principal, current=values.get("current_password", ""),
                                    client=client_address(request))  # fmt: skip
            return redirect("/account", "Password changed; your other sessions have ended")
        except TomoError as exc:
            field = "current_password" if exc.http_status in (401, 429) else "new_password"
            errors[field] = exc.message
    context = {**await _account(request, principal), "errors": errors}
    return render(request, "auth/account.html", context, status=422)


@router.post("/account/logout-everywhere", name="web_logout_everywhere")
async def logout_everywhere(request: Request, principal: Viewer) -> RedirectResponse:
    ended = await auth_service(request).logout_everywhere(principal)
    response = redirect("/login", f"Logged out everywhere ({ended} session(s) ended)")
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookies(response)
    return response
