"""Routes of accounts: setup, login and logout, users, API tokens, the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from tomo.auth.schemas import (
    AuditEventPublic,
    Credentials,
    LoginResult,
    PasswordChange,
    PasswordChanged,
    SetupStatus,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUnlocked,
)
from tomo.auth.service import AuthService, Principal
from tomo.http.deps import AuthDep
from tomo.http.problems import error_responses
from tomo.http.security import (
    PrincipalDep,
    clear_session_cookies,
    client_address,
    log_in,
    refuse_cross_site,
    set_login_cookies,
)

router = APIRouter(tags=["accounts"])


@router.get("/setup", name="setup_status")
async def setup_status(auth: AuthDep) -> SetupStatus:
    """Whether the first admin may still be created."""
    return SetupStatus(open=await auth.setup_open())


@router.post("/setup", name="setup", status_code=status.HTTP_201_CREATED,
             responses=error_responses(403, 409, 422))  # fmt: skip
async def setup(credentials: Credentials, request: Request, auth: AuthDep) -> UserPublic:
    """Create the first admin; refused for good once any user exists, and from
    another site's page."""
    refuse_cross_site(request, "this setup", "/setup")
    return await auth.setup(credentials)


@router.post("/auth/login", name="login", responses=error_responses(401, 403, 422, 429))
async def login(
    credentials: Credentials, request: Request, response: Response, auth: AuthDep
) -> LoginResult:
    """Log in: a session cookie, the CSRF token writes must send back, and a device
    cookie that outlives the session; refused from another site's page."""
    opened = await log_in(request, credentials)
    set_login_cookies(response, request, auth.settings, opened)
    return opened.result


@router.post("/auth/logout", name="logout", status_code=status.HTTP_204_NO_CONTENT,
             responses=error_responses(401, 403))  # fmt: skip
async def logout(principal: PrincipalDep, auth: AuthDep, response: Response) -> None:
    """End this session."""
    await auth.logout(principal)
    clear_session_cookies(response)


@router.post("/auth/logout-everywhere", name="logout_everywhere",
             responses=error_responses(401, 403))  # fmt: skip
async def logout_everywhere(principal: PrincipalDep, auth: AuthDep) -> dict[str, int]:
    """End every session of the user (API tokens stay: revoke them one by one)."""
    return {"ended": await auth.logout_everywhere(principal)}


@router.get("/auth/me", name="me", responses=error_responses(401))
async def me(principal: PrincipalDep, auth: AuthDep) -> UserPublic:
    """The logged-in user."""
    return await auth.get_user(principal.user_id)


@router.put("/auth/password", name="change_password",
            responses=error_responses(401, 403, 422, 429))  # fmt: skip
async def change_password(
    change: PasswordChange, principal: PrincipalDep, auth: AuthDep, request: Request
) -> PasswordChanged:
    """Change one's own password (the current one too); other sessions end, and the
    API tokens are revoked (but the one asking) unless revoke_tokens is false."""
    return await _set_password(auth, principal.user_id, change, principal, request)


@router.get("/users", name="list_users", responses=error_responses(401, 403))
async def list_users(auth: AuthDep) -> list[UserPublic]:
    """Every user."""
    return await auth.list_users()


@router.post("/users", name="create_user", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 409, 422))  # fmt: skip
async def create_user(request: UserCreate, auth: AuthDep) -> UserPublic:
    """Add a user (admin or viewer)."""
    return await auth.create_user(request)


@router.get("/users/{user}", name="get_user", responses=error_responses(401, 403, 404))
async def get_user(user: str, auth: AuthDep) -> UserPublic:
    """One user, by id or name."""
    return await auth.get_user(user)


@router.delete("/users/{user}", name="delete_user", responses=error_responses(401, 403, 404, 409))
async def delete_user(user: str, auth: AuthDep) -> UserPublic:
    """Remove a user with their sessions and tokens (never the last admin)."""
    return await auth.delete_user(user)


@router.put("/users/{user}/password", name="set_password",
            responses=error_responses(401, 403, 404, 422, 429))  # fmt: skip
async def set_password(
    user: str, change: PasswordChange, principal: PrincipalDep, auth: AuthDep, request: Request
) -> PasswordChanged:
    """Set a user's password; their sessions end, and their API tokens are revoked
    unless revoke_tokens is false. One's own needs the current one."""
    return await _set_password(auth, user, change, principal, request)


async def _set_password(
    auth: AuthService, user: str, change: PasswordChange, principal: Principal, request: Request
) -> PasswordChanged:
    current = change.current_password.get_secret_value() if change.current_password else None
    return await auth.set_password(user, change.new_password.get_secret_value(), by=principal,
                                   current=current, client=client_address(request),
                                   revoke_tokens=change.revoke_tokens)  # fmt: skip


@router.post("/users/{user}/unlock", name="unlock_user", responses=error_responses(401, 403, 404))
async def unlock_user(user: str, auth: AuthDep) -> UserUnlocked:
    """Forget the failed logins at a user's name, which hold the account back (and
    their share of their addresses' counts)."""
    return await auth.unlock_user(user)


@router.get("/tokens", name="list_tokens", responses=error_responses(401))
async def list_tokens(principal: PrincipalDep, auth: AuthDep) -> list[TokenPublic]:
    """API tokens: everyone's for an admin, one's own for a viewer (never their values)."""
    return await auth.list_tokens(by=principal)


@router.post("/tokens", name="create_token", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 404, 422))  # fmt: skip
async def create_token(
    request: TokenCreate, principal: PrincipalDep, auth: AuthDep
) -> TokenCreated:
    """A new API token with its owner's role; its value is shown in this answer only."""
    return await auth.create_token(request, by=principal)


@router.delete("/tokens/{token}", name="revoke_token", responses=error_responses(401, 403, 404))
async def revoke_token(token: str, principal: PrincipalDep, auth: AuthDep) -> TokenPublic:
    """Revoke a token: it is refused from now on."""
    return await auth.revoke_token(token, by=principal)


@router.get("/audit", name="audit", responses=error_responses(401, 403, 422))
async def audit(
    auth: AuthDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[AuditEventPublic]:
    """The audit log, newest first: every change and every login, who, what, when."""
    return await auth.audit(limit=limit, offset=offset)
