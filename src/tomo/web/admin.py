"""Pages: users (admins), API tokens (everyone their own; admins everyone's) and
the audit log (admins).

Each page calls the AuthService methods the accounts API calls, with the same
principal and client address: the rules (what a user name is, how long a
password must be, the last admin, whose tokens one may see) are the service's;
a page reads the form into the API's request model and places the errors.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from tomo.auth.schemas import TokenCreate, TokenPublic, UserCreate, UserPublic
from tomo.auth.service import Principal
from tomo.errors import Conflict, NotFound, TomoError
from tomo.http.deps import get_auth
from tomo.http.security import clear_session_cookies, client_address
from tomo.web.forms import FormErrors, errors_of, form_values
from tomo.web.session import Admin, Viewer
from tomo.web.templating import redirect, refused, render

router = APIRouter()
AUDIT_PAGE = 50  # events per page of the audit log
USER_FIELDS = {"username", "role", "password", "confirm"}
PASSWORD_FIELDS = {"password", "confirm"}
TOKEN_FIELDS = {"name", "username"}
Model = TypeVar("Model", bound=BaseModel)


# -- users --------------------------------------------------------------------


@router.get("/users", name="web_users")
async def users(request: Request, principal: Admin) -> Response:
    """Every user, and the form that adds one."""
    return await _users_page(request, {"values": {"role": "viewer"}})


@router.post("/users", name="web_user_create")
async def user_create(request: Request, principal: Admin) -> Response:
    """Add a user; what was typed comes back (never the passwords) with the errors."""
    values = await form_values(request)
    new, found = _read(UserCreate, values, USER_FIELDS)
    _check_confirmed(values, found)
    status = 422
    if new is not None and not found:
        try:
            user = await get_auth(request).create_user(new)
            return redirect("/users", f"User '{user.username}' added as {_a(user.role)}")
        except TomoError as exc:
            found, status = _creation_errors(exc), exc.http_status
    kept = {"username": values.get("username", ""), "role": values.get("role", "viewer")}
    context = {"values": kept, "errors": found.fields, "general": found.general}
    return await _users_page(request, context, status=status)


def _creation_errors(exc: TomoError) -> FormErrors:
    if isinstance(exc, Conflict):  # the one conflict of a creation: the name is taken
        return FormErrors(fields={"username": exc.message})
    return errors_of(exc, USER_FIELDS)


@router.get("/users/{user_id}", name="web_user")
async def user_page(request: Request, user_id: str, principal: Admin) -> Response:
    """One user: set their password, or delete them."""
    return await _user_page(request, user_id, {})


@router.post("/users/{user_id}/password", name="web_user_password")
async def user_password(request: Request, user_id: str, principal: Admin) -> Response:
    """Set another user's password (one's own needs the current one: /account); their
    API tokens are revoked too when the box (ticked by default) says so."""
    values = await form_values(request)
    revoke = "revoke_tokens" in values  # an unticked box is not sent
    found = FormErrors()
    _check_confirmed(values, found)
    status = 422
    if not found:
        try:
            user = await get_auth(request).set_password(
                user_id, values.get("password", ""), by=principal, client=client_address(request),
                revoke_tokens=revoke,
            )  # fmt: skip
            count = user.tokens_revoked
            tokens = (f"{count} API token{'' if count == 1 else 's'} revoked" if revoke
                      else "their API tokens still work")  # fmt: skip
            return redirect("/users", f"Password of '{user.username}' set; their browser "
                            f"sessions have ended; {tokens}")  # fmt: skip
        except TomoError as exc:
            found, status = errors_of(exc, PASSWORD_FIELDS), exc.http_status
    context = {"errors": found.fields, "general": found.general, "revoke_tokens": revoke}
    return await _user_page(request, user_id, context, status=status)


@router.post("/users/{user_id}/delete", name="web_user_delete")
async def user_delete(request: Request, user_id: str, principal: Admin) -> Response:
    """Delete a user with their sessions and tokens; the service keeps the last admin."""
    try:
        user = await get_auth(request).delete_user(user_id)
    except Conflict as exc:
        return refused(request, "/users", exc)
    if user.id == principal.user_id:  # one's own account: this session ended with it
        response = redirect("/login", "Your account is deleted")
        clear_session_cookies(response)
        return response
    return redirect("/users", f"User '{user.username}' deleted, with their sessions and "
                    "API tokens")  # fmt: skip


async def _users_page(request: Request, context: dict[str, Any], *, status: int = 200) -> Response:
    auth = get_auth(request)
    listed = await auth.list_users()
    common = {"users": listed, "last_admin": _last_admin(listed),
              "min_length": auth.settings.min_password_length}  # fmt: skip
    return render(request, "admin/users.html", {**common, **context}, status=status)


async def _user_page(
    request: Request, user_id: str, context: dict[str, Any], *, status: int = 200
) -> Response:
    auth = get_auth(request)
    account = await auth.get_user(user_id)
    common = {"account": account, "revoke_tokens": True,
              "last_admin": _last_admin(await auth.list_users()) == account.id,
              "min_length": auth.settings.min_password_length}  # fmt: skip
    return render(request, "admin/user.html", {**common, **context}, status=status)


def _last_admin(users: list[UserPublic]) -> str | None:
    """The id of the only admin, whose delete button the pages leave out (the
    service refuses it anyway); None while there are several."""
    admins = [user.id for user in users if user.role == "admin"]
    return admins[0] if len(admins) == 1 else None


# -- API tokens ---------------------------------------------------------------


@router.get("/tokens", name="web_tokens")
async def tokens(request: Request, principal: Viewer) -> Response:
    """API tokens: one's own (everyone's for an admin), and the form that makes one."""
    return await _tokens_page(request, principal, {"values": {}})


@router.post("/tokens", name="web_token_create")
async def token_create(request: Request, principal: Viewer) -> Response:
    """Make a token and show its value on this answer: the only time it is shown."""
    values = await form_values(request)
    fields = {"name": values.get("name", ""), "username": values.get("username") or None}
    made, found = _read(TokenCreate, fields, TOKEN_FIELDS)
    status = 422
    if made is not None:
        try:
            created = await get_auth(request).create_token(made, by=principal)
            base = str(request.base_url).rstrip("/")
            return render(request, "admin/token_created.html", {"made": created, "base": base})
        except TomoError as exc:
            found, status = _token_errors(exc), exc.http_status
    kept = {"name": values.get("name", ""), "username": values.get("username", "")}
    context = {"values": kept, "errors": found.fields, "general": found.general}
    return await _tokens_page(request, principal, context, status=status)


def _token_errors(exc: TomoError) -> FormErrors:
    if isinstance(exc, NotFound):  # the owner chosen is gone
        return FormErrors(fields={"username": exc.message})
    return errors_of(exc, TOKEN_FIELDS)


@router.post("/tokens/{token_id}/revoke", name="web_token_revoke")
async def token_revoke(request: Request, token_id: str, principal: Viewer) -> Response:
    """Revoke a token: refused from now on (another's only by an admin)."""
    token = await get_auth(request).revoke_token(token_id, by=principal)
    return redirect("/tokens", f"Token '{token.name}' of {token.username} revoked: it is "
                    "refused from now on")  # fmt: skip


async def _tokens_page(
    request: Request, principal: Principal, context: dict[str, Any], *, status: int = 200
) -> Response:
    auth = get_auth(request)
    listed = _newest_active_first(await auth.list_tokens(by=principal))
    owners = (
        [user.username for user in await auth.list_users()] if principal.role == "admin" else []
    )
    common = {"tokens": listed, "owners": owners}
    return render(request, "admin/tokens.html", {**common, **context}, status=status)


def _newest_active_first(listed: list[TokenPublic]) -> list[TokenPublic]:
    """Tokens in use on top: the revoked ones are history."""
    newest = sorted(listed, key=lambda token: token.created_at, reverse=True)
    return sorted(newest, key=lambda token: token.revoked_at is not None)


# -- audit --------------------------------------------------------------------


@router.get("/audit", name="web_audit")
async def audit(
    request: Request, principal: Admin, page: Annotated[int, Query(ge=1, le=10**6)] = 1
) -> Response:
    """The audit log, newest first, a page at a time (one more event asked for than
    shown: it says whether there is an older page)."""
    events = await get_auth(request).audit(limit=AUDIT_PAGE + 1,
                                                offset=(page - 1) * AUDIT_PAGE)  # fmt: skip
    context = {"events": events[:AUDIT_PAGE], "page": page, "older": len(events) > AUDIT_PAGE}
    return render(request, "admin/audit.html", context)


# -- forms --------------------------------------------------------------------


def _read(
    model: type[Model], values: dict[str, Any], known: set[str]
) -> tuple[Model | None, FormErrors]:
    """The form read into the API's request model, or the errors of reading it."""
    try:
        return model.model_validate(values), FormErrors()
    except ValidationError as exc:
        return None, errors_of(exc, known)


def _check_confirmed(values: dict[str, str], found: FormErrors) -> None:
    if values.get("password") != values.get("confirm"):
        found.add("confirm", "the two passwords differ", {"confirm"})


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"
