"""What the accounts routes receive and answer. No schema here carries a password
hash, a session id or a token after its creation."""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field, SecretStr, field_validator

from tomo.auth.password_rule import MAX_PASSWORD_LENGTH
from tomo.auth.roles import Role

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# As documented: what is accepted, case aside (a name is stored in lowercase).
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def _check_username(value: str) -> str:
    value = value.strip().lower()
    if not USERNAME.fullmatch(value):
        raise ValueError(
            "a user name is 1 to 64 lowercase letters, digits, '.', '_' or '-', starting "
            "with a letter or digit"
        )
    return value


class Credentials(BaseModel):
    """Sent to log in, and to set up the first admin."""

    username: str = Field(max_length=64, json_schema_extra={"pattern": USERNAME_PATTERN})
    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH)

    @field_validator("username")
    @classmethod
    def _username(cls, value: str) -> str:
        return _check_username(value)


class UserCreate(Credentials):
    """Sent by an admin to add a user."""

    role: Role = "viewer"


class PasswordChange(BaseModel):
    """Sent to change a password: one's own (the current one too), or any (admin)."""

    current_password: SecretStr | None = Field(default=None, max_length=MAX_PASSWORD_LENGTH)
    new_password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH)
    revoke_tokens: bool = Field(
        default=True,
        description="Also revoke the account's API tokens, which a password change leaves "
        "working otherwise (the token sending this request is spared).",
    )


class UserPublic(BaseModel):
    """A user as the API shows one."""

    id: str
    username: str
    role: Role
    created_at: datetime


class PasswordChanged(UserPublic):
    """Answered to a password change: the user, and what ended with the old password."""

    sessions_ended: int  # browser sessions (the one that asked lives on)
    tokens_revoked: int  # API tokens (the one that asked is spared)


class UserUnlocked(BaseModel):
    """Answered to an admin who unlocked an account."""

    username: str
    failed_logins_forgotten: int  # recent failed logins at the name, any address


class LoginResult(BaseModel):
    """The logged-in user and the CSRF token their cookie-authenticated writes must
    send back (as the X-CSRF-Token header)."""

    user: UserPublic
    csrf_token: str
    expires_at: datetime


class TokenCreate(BaseModel):
    """Sent to make an API token; `username` (admins only) makes it for another user."""

    name: str = Field(min_length=1, max_length=64)
    username: str | None = Field(default=None, max_length=64,
                                 json_schema_extra={"pattern": USERNAME_PATTERN})  # fmt: skip

    @field_validator("username")
    @classmethod
    def _username(cls, value: str | None) -> str | None:
        return None if value is None else _check_username(value)


class SessionPublic(BaseModel):
    """One of a user's browser sessions, never its cookie."""

    id: str  # the start of its digest: enough to name it, useless as a cookie
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str | None  # the address it logged in from
    current: bool  # the session asking


class TokenPublic(BaseModel):
    """An API token, never its secret value."""

    id: str
    name: str
    username: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenPublic):
    """A new token with its value: shown this once, stored only as a digest."""

    token: str


class AuditEventPublic(BaseModel):
    """One entry of the audit log."""

    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None
    outcome: str  # "ok", "accepted", an HTTP status ("403"), or "refused" (a tally)
    client: str | None
    detail: str | None
    count: int = 1  # how many requests it stands for (a tally of refused anonymous writes)


class SetupStatus(BaseModel):
    """Whether the first admin may still be created by `POST /api/setup`."""

    open: bool
