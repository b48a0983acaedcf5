"""AuthService's calls the CLI makes, over the API. Whoever the token belongs to
acts: the `by` the CLI passes (the local admin) is not sent, and the remote tomo
records the client's address itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tomo.auth.schemas import (
    AuditEventPublic,
    PasswordChanged,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUnlocked,
)
from tomo.client.transport import Api, revealed, segment

if TYPE_CHECKING:
    from tomo.auth.service import Principal


class RemoteAuth:
    def __init__(self, api: Api) -> None:
        self.api = api

    async def create_user(self, request: UserCreate) -> UserPublic:
        return UserPublic.model_validate(
            await self.api.call("POST", "/users", body=revealed(request))
        )

    async def list_users(self) -> list[UserPublic]:
        return [UserPublic.model_validate(u) for u in await self.api.get("/users")]

    async def delete_user(self, ref: str) -> UserPublic:
        return UserPublic.model_validate(await self.api.call("DELETE", _user_path(ref)))

    async def set_password(
        self, ref: str, new: str, *, by: Principal, current: str | None = None,
        revoke_tokens: bool = True,
    ) -> PasswordChanged:  # fmt: skip
        body = {"new_password": new, "current_password": current, "revoke_tokens": revoke_tokens}
        answer = await self.api.call("PUT", f"{_user_path(ref)}/password", body=body)
        return PasswordChanged.model_validate(answer)

    async def unlock_user(self, ref: str) -> UserUnlocked:
        return UserUnlocked.model_validate(await self.api.call("POST", f"{_user_path(ref)}/unlock"))

    async def create_token(self, request: TokenCreate, *, by: Principal) -> TokenCreated:
        answer = await self.api.call("POST", "/tokens", body=request.model_dump(mode="json"))
        return TokenCreated.model_validate(answer)

    async def list_tokens(self, *, by: Principal) -> list[TokenPublic]:
        return [TokenPublic.model_validate(t) for t in await self.api.get("/tokens")]

    async def revoke_token(self, token_id: str, *, by: Principal) -> TokenPublic:
        answer = await self.api.call("DELETE", f"/tokens/{segment(token_id)}")
        return TokenPublic.model_validate(answer)

    async def audit(self, *, limit: int = 100, offset: int = 0) -> list[AuditEventPublic]:
        events = await self.api.get("/audit", {"limit": limit, "offset": offset})
        return [AuditEventPublic.model_validate(e) for e in events]


def _user_path(ref: str) -> str:
    return f"/users/{segment(ref)}"
