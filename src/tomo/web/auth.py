"""Pages: the first admin's setup, logging in and out, one's own account."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from tomo.auth.password_rule import password_problem, password_rule
from tomo.auth.schemas import Credentials, PasswordChanged
from tomo.auth.service import Principal
from tomo.errors import Conflict, Forbidden, TomoError, TooManyAttempts
from tomo.http.deps import get_auth
from tomo.http.security import (
    SESSION_COOKIE,
    clear_session_cookies,
    client_address,
    log_in,
    refuse_cross_site,
    set_login_cookies,
)
from tomo.web.forms import FormErrors, as_sentence, errors_of, form_status, form_values
from tomo.web.session import Viewer
from tomo.web.templating import local_path, redirect, refused, render

router = APIRouter()
SETUP_FIELDS = {"username", "password", "confirm"}
PASSWORD_FIELDS = {"current_password", "new_password", "confirm"}


@router.get("/setup", name="web_setup_form")
async def setup_form(request: Request) -> Response:
    if not await get_auth(request).setup_open():
        return redirect("/login")
    return _setup_page(request, {"values": {}})


@router.post("/setup", name="web_setup")
async def setup(request: Request) -> Response:
    """The first admin, logged in and taken to the store; every field's problem is
    shown at once beside it otherwise."""
    auth = get_auth(request)
    try:
        refuse_cross_site(request, "this setup form", "/setup")
    except Forbidden as exc:  # nothing it sent is shown again
        return _setup_page(request, {"values": {}, "general": [exc.message]},
                           status=exc.http_status)  # fmt: skip
    if not await auth.setup_open():
        closed = Conflict("setup is closed: tomo has users; an admin adds more")
        said = "tomo has an admin already: log in"
        return refused(request, "/login", closed, said, kind="warning")
    values = await form_values(request)
    found = _setup_errors(values, auth.settings.min_password_length)
    if not found:
        try:
            credentials = Credentials.model_validate(values)
            await auth.setup(credentials)
            return await _logged_in(request, credentials, "/store", "Welcome to tomo")
        except (ValidationError, TomoError) as exc:
            return _setup_page(request, _with_errors(values, errors_of(exc, SETUP_FIELDS)),
                               status=form_status(exc))  # fmt: skip
    return _setup_page(request, _with_errors(values, found), status=422)


def _setup_page(request: Request, context: dict[str, Any], *, status: int = 200) -> Response:
    rule = password_rule(get_auth(request).settings.min_password_length)
    return render(request, "auth/setup.html", {"password_rule": rule, **context}, status=status)


def _setup_errors(values: dict[str, str], shortest: int) -> FormErrors:
    """Everything wrong with the setup form, each field's problem at once."""
    found = FormErrors()
    try:
        Credentials.model_validate(values)
    except ValidationError as exc:
        found = errors_of(exc, SETUP_FIELDS)
    found.fields.update(_new_password_errors(values, "password", shortest))
    return found


def _new_password_errors(values: dict[str, str], field: str, shortest: int) -> dict[str, str]:
    """A new password's problems: its rule broken, its second typing different."""
    errors = {}
    problem = password_problem(values.get(field, ""), shortest)
    if problem is not None:
        errors[field] = problem
    if values.get(field, "") != values.get("confirm", ""):
        errors["confirm"] = "the two passwords differ: type the same password in both fields"
    return errors


def _with_errors(values: dict[str, str], found: FormErrors) -> dict[str, Any]:
    """A form's context sent back to correct: what was typed (a password field never
    shows it again), and each error as a sentence, beside its field where it has one."""
    return {"values": values, "general": [as_sentence(text) for text in found.general],
            "errors": {name: as_sentence(text) for name, text in found.fields.items()}}  # fmt: skip


@router.get("/login", name="web_login_form")
async def login_form(request: Request, next: str = "/store") -> Response:
    if await get_auth(request).setup_open():
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
        typed = "" if isinstance(exc, Forbidden) else values.get("username", "")  # another site's
        context = {"values": {"username": typed}, "next": target, "general": [message]}
        response = render(request, "auth/login.html", context, status=form_status(exc))
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response


async def _logged_in(
    request: Request, credentials: Credentials, target: str, message: str | None = None
) -> Response:
    opened = await log_in(request, credentials)
    response = redirect(target, message)
    set_login_cookies(response, request, get_auth(request).settings, opened)
    return response


@router.post("/logout", name="web_logout")
async def logout(request: Request, principal: Viewer) -> Response:
    await get_auth(request).logout(principal)
    response = redirect("/login", "You are logged out")
    clear_session_cookies(response)
    return response


@router.get("/account", name="web_account")
async def account(request: Request, principal: Viewer) -> Response:
    return render(request, "auth/account.html", await _account(request, principal))


async def _account(request: Request, principal: Principal) -> dict[str, Any]:
    auth = get_auth(request)
    tokens = [token for token in await auth.list_tokens(by=principal)
              if token.username == principal.username and token.revoked_at is None]  # fmt: skip
    return {"account": await auth.get_user(principal.user_id),
            "sessions": await auth.list_sessions(principal), "live_tokens": len(tokens),
            "revoke_tokens": True,
            "password_rule": password_rule(auth.settings.min_password_length)}  # fmt: skip


@router.post("/account/sessions/{session}/end", name="web_end_session")
async def end_session(request: Request, principal: Viewer, session: str) -> Response:
    """Log out one browser: a lost phone, a shared computer."""
    await get_auth(request).end_session(principal, session)
    return redirect("/account", "That session has ended")


@router.post("/account/password", name="web_change_password")
async def change_password(request: Request, principal: Viewer) -> Response:
    """Change one's password; the other sessions end, and the API tokens too when the
    box (ticked by default) says so."""
    auth = get_auth(request)
    values = await form_values(request)
    revoke = "revoke_tokens" in values  # an unticked box is not sent
    found = await _password_change_errors(request, principal, values)
    if not found:
        try:
            changed = await auth.set_password(
                principal.user_id, values["new_password"], by=principal,
                current=values["current_password"], client=client_address(request),
                revoke_tokens=revoke,
            )  # fmt: skip
            return redirect("/account", _password_changed(changed, revoke))
        except TomoError as exc:
            found = errors_of(exc, PASSWORD_FIELDS)
    typed = _with_errors({}, found)  # nothing typed here is shown again: all passwords
    context = {**await _account(request, principal), **typed, "revoke_tokens": revoke}
    return render(request, "auth/account.html", context, status=422)


async def _password_change_errors(
    request: Request, principal: Principal, values: dict[str, str]
) -> FormErrors:
    """Everything wrong with the form at once. The current password is checked here
    only when the change cannot be made anyway (the change checks it itself), and
    counts as a login attempt as it does there."""
    shortest = get_auth(request).settings.min_password_length
    found = FormErrors(fields=_new_password_errors(values, "new_password", shortest))
    current = values.get("current_password", "")
    if not current:
        found.add("current_password", "enter your current password", PASSWORD_FIELDS)
    elif found:
        try:
            await get_auth(request).check_current_password(principal, current,
                                                           client_address(request))  # fmt: skip
        except TomoError as exc:
            refused_current = errors_of(exc, PASSWORD_FIELDS)
            found.fields.update(refused_current.fields)
            found.general += refused_current.general
    return found


def _password_changed(changed: PasswordChanged, revoked: bool) -> str:
    ended = "Password changed; your other sessions have ended"
    if revoked:
        count = changed.tokens_revoked
        return f"{ended}; {count} API token{'' if count == 1 else 's'} revoked"
    return f"{ended}; your API tokens still work (revoke them on API tokens)"


@router.post("/account/logout-everywhere", name="web_logout_everywhere")
async def logout_everywhere(request: Request, principal: Viewer) -> RedirectResponse:
    ended = await get_auth(request).logout_everywhere(principal)
    response = redirect("/login", f"Logged out everywhere ({ended} session(s) ended)")
    if request.cookies.get(SESSION_COOKIE):
        clear_session_cookies(response)
    return response
