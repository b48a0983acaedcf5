"""AuthService: users and roles, logins and sessions, API tokens, the audit log.

A fresh tomo has no account: the first admin comes from `setup` (open only
while no user exists) or from the shell (`tomo user create`). A browser logs in
for a session cookie; a script uses a bearer token. Both are long random
values of which only SHA-256 digests are stored, so checking one costs a
digest and one indexed lookup, never a password hash.

A browser that logged in also keeps a device cookie (the same kind of value),
which outlives its sessions: with it, that browser may try the account's
password while strangers' wrong guesses lock the account (see throttle).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.auth import passwords
from tomo.auth.models import ApiToken, AuditEvent, BrowserSession, KnownDevice, User
from tomo.auth.password_rule import password_problem
from tomo.auth.roles import Role
from tomo.auth.schemas import (
    AuditEventPublic,
    Credentials,
    LoginResult,
    PasswordChanged,
    SessionPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUnlocked,
)
from tomo.auth.throttle import LoginThrottle
from tomo.config import Settings
from tomo.db import Database
from tomo.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Refusal,
    TomoError,
    TooManyAttempts,
    Unauthenticated,
)
from tomo.marketplace.ratings import forget_ratings_of

SESSION_ID_LENGTH = 16  # hex digits of a session's digest that name it to its user
TOKEN_PREFIX = "tomo_"  # noqa: S105 - a prefix that marks tomo's tokens, not a secret
# Writing "last seen / last used" on every request would make each one a write.
TOUCH_EVERY = timedelta(seconds=60)
WRONG_LOGIN = "wrong user name or password"
# A browser unused this long is known no more (each login it makes renews it).
KNOWN_DEVICE_DAYS = 180


@dataclass(frozen=True)
class Principal:
    """Who is asking, and how they proved it."""

    user_id: str
    username: str
    role: Role
    via: Literal["session", "token", "local"]
    session: str | None = None  # the session's id digest, when via a session
    token: str | None = None  # the token's id, when via a token


# The CLI working on the local data directory acts as the local admin.
LOCAL_ADMIN = Principal("local", "local", "admin", "local")


@dataclass(frozen=True)
class LoggedIn:
    """A login let through: the cookies' values, and what the client may know."""

    session_id: str
    device: str  # the browser's device cookie: the one it sent, or a new one
    result: LoginResult


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_for(session_id: str) -> str:
    """The CSRF token of a session: derived from its id, so nothing is stored and a
    page can be given it again; unknowable without the session's cookie."""
    return hmac.new(session_id.encode(), b"tomo csrf", hashlib.sha256).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.throttle = LoginThrottle(db)
        # Held while the set of users is checked and changed: two setups at once
        # would both find no user, two deletions at once would both find another
        # admin. One lock suffices: `tomo serve` is the one process taking requests.
        self._membership = asyncio.Lock()

    # -- users ------------------------------------------------------------------

    async def setup_open(self) -> bool:
        async with self.db.session() as session:
            return await session.scalar(select(func.count()).select_from(User)) == 0

    async def setup(self, request: Credentials) -> UserPublic:
        """The first admin; refused for good once any user exists (and one always
        will: the last admin cannot be deleted)."""
        async with self._membership:
            if not await self.setup_open():
                raise Conflict("setup is closed: tomo has users; an admin adds more")
            return await self.create_user(
                UserCreate(username=request.username, password=request.password, role="admin")
            )

    async def create_user(self, request: UserCreate) -> UserPublic:
        password = self._acceptable(request.password.get_secret_value())
        user = User(id=uuid.uuid4().hex[:12], username=request.username,
                    password_hash=await passwords.hash_password(password), role=request.role,
                    created_at=now())  # fmt: skip
        try:
            async with self.db.session() as session, session.begin():
                session.add(user)
        except IntegrityError:
            raise Conflict(f"a user named '{request.username}' already exists") from None
        return _user_public(user)

    async def list_users(self) -> list[UserPublic]:
        async with self.db.session() as session:
            users = await session.scalars(select(User).order_by(User.username))
            return [_user_public(user) for user in users]

    async def get_user(self, ref: str) -> UserPublic:
        async with self.db.session() as session:
            return _user_public(await _find_user(session, ref))

    async def delete_user(self, ref: str) -> UserPublic:
        """Remove a user, their sessions, tokens and ratings (the apps' averages counted
        again: see marketplace/ratings.py); never the last admin."""
        async with self._membership, self.db.session() as session, session.begin():
            user = await _find_user(session, ref)
            if user.role == "admin" and await _admins(session) == 1:
                raise Conflict(f"'{user.username}' is the last admin; make another first")
            await forget_ratings_of(session, user.id)
            await session.delete(user)
            return _user_public(user)

    async def set_password(
        self, ref: str, new: str, *, by: Principal, current: str | None = None,
        client: str = "local", revoke_tokens: bool = True,
    ) -> PasswordChanged:  # fmt: skip
        """One's own password (with the current one), or anyone's (an admin); every
        session of the user ends, but the one that asked. API tokens outlive a
        password unless `revoke_tokens` (the token that asked is spared)."""
        async with self.db.session() as session, session.begin():
            user = await _find_user(session, ref)
            own = user.id == by.user_id
            if not own and by.role != "admin":
                raise Forbidden("only an admin may change another user's password")
            if own and by.via != "local":
                await self._check_current_password(user, current, client)
            user.password_hash = await passwords.hash_password(self._acceptable(new))
            ended = await _end_sessions(session, user.id, but=by.session)
            revoked = await _revoke_tokens(session, user.id, but=by.token) if revoke_tokens else 0
            return PasswordChanged(**_user_public(user).model_dump(), sessions_ended=ended,
                                   tokens_revoked=revoked)  # fmt: skip

    async def unlock_user(self, ref: str) -> UserUnlocked:
        """Forget the failed logins at a user's name (from any address, with their
        share of those addresses' counts): nothing holds the account back."""
        user = await self.get_user(ref)
        forgotten = await self.throttle.forget(user.username)
        return UserUnlocked(username=user.username, failed_logins_forgotten=forgotten)

    async def check_current_password(self, principal: Principal, current: str,
                                     client: str) -> None:  # fmt: skip
        """Refused unless `current` is the principal's own password: a form that must
        say everything wrong at once asks it before the change it cannot make yet."""
        async with self.db.session() as session:
            user = await _find_user(session, principal.user_id)
        await self._check_current_password(user, current, client)

    async def _check_current_password(self, user: User, current: str | None, client: str) -> None:
        """Throttled as logins are, and with them: a stolen session or token must not
        become a way to guess the password that the login throttle holds back. Its
        refusals name the field (current_password), so a form marks it there."""
        if current is None:
            raise Forbidden("changing one's own password needs the current one (current_password)",
                            fields=("current_password",))  # fmt: skip
        try:
            await self.throttle.reserve(user.username, client)
        except TooManyAttempts as exc:
            raise exc.concerning("current_password") from None
        if not await passwords.verify(user.password_hash, current):
            raise Forbidden("the current password is wrong",
                            fields=("current_password",))  # fmt: skip
        await self.throttle.forget(user.username)

    def _acceptable(self, password: str) -> str:
        """The password, unless it breaks the rule (see password_rule)."""
        problem = password_problem(password, self.settings.min_password_length)
        if problem is not None:
            raise InvalidInput([Refusal(f"password: {problem}.", ("password",))])
        return password

    # -- logins and sessions ----------------------------------------------------

    async def login(self, request: Credentials, client: str, device: str | None = None) -> LoggedIn:
        """A new session for the right user name and password. Throttled per account
        and address, or per device for a browser whose device cookie (`device`) the
        account knows; the attempt is counted before its password is checked."""
        known = await self._known_device(device, request.username)
        await self.throttle.reserve(request.username, client, known)
        async with self.db.session() as session:
            user = await session.scalar(select(User).where(User.username == request.username))
        if not await passwords.verify(user.password_hash if user else None,
                                      request.password.get_secret_value()):  # fmt: skip
            raise Unauthenticated(WRONG_LOGIN)
        assert user is not None
        await self.throttle.forget(request.username)
        await self._rehash_if_old(user, request.password.get_secret_value())
        session_id, result = await self._new_session(user, client)
        kept = device if known else None
        return LoggedIn(session_id, await self._remember_device(user, kept), result)

    async def login_recorded(
        self, request: Credentials, client: str, device: str | None = None
    ) -> LoggedIn:
        """`login`, with its outcome in the audit log whichever it is (the API's and
        the web UI's login record themselves: they name the user that was tried)."""
        try:
            opened = await self.login(request, client, device)
        except TomoError as exc:
            await self.record(actor=request.username, action="login", target=None,
                              outcome=str(exc.http_status), client=client,
                              detail=exc.message)  # fmt: skip
            raise
        await self.record(actor=request.username, action="login", target=None, outcome="ok",
                          client=client)  # fmt: skip
        return opened

    async def _rehash_if_old(self, user: User, password: str) -> None:
        if passwords.needs_rehash(user.password_hash):
            async with self.db.session() as session, session.begin():
                rehashed = await passwords.hash_password(password)
                await session.execute(
                    update(User).where(User.id == user.id).values(password_hash=rehashed)
                )

    async def _known_device(self, cookie: str | None, username: str) -> str | None:
        """The digest of a device cookie that logged in to this account before (and
        was used within KNOWN_DEVICE_DAYS); None for any other value, or none."""
        if not cookie or len(cookie) > 128:
            return None
        fresh = now() - timedelta(days=KNOWN_DEVICE_DAYS)
        async with self.db.session() as session:
            return await session.scalar(
                select(KnownDevice.id_hash).join(User, User.id == KnownDevice.user_id).where(
                    KnownDevice.id_hash == digest(cookie), User.username == username,
                    KnownDevice.last_used_at > fresh)
            )  # fmt: skip

    async def _remember_device(self, user: User, cookie: str | None) -> str:
        """The device cookie of a browser that just logged in: the known one it sent
        (`cookie`, used again now), or a new one. The user's devices unused too long go."""
        moment = now()
        async with self.db.session() as session, session.begin():
            if cookie is not None:
                await session.execute(update(KnownDevice).where(
                    KnownDevice.id_hash == digest(cookie)).values(last_used_at=moment))  # fmt: skip
                return cookie
            stale = moment - timedelta(days=KNOWN_DEVICE_DAYS)
            await session.execute(delete(KnownDevice).where(
                KnownDevice.user_id == user.id, KnownDevice.last_used_at <= stale))  # fmt: skip
            value = secrets.token_urlsafe(32)
            session.add(KnownDevice(id_hash=digest(value), user_id=user.id, created_at=moment,
                                    last_used_at=moment))  # fmt: skip
            return value

    async def _new_session(self, user: User, client: str) -> tuple[str, LoginResult]:
        session_id = secrets.token_urlsafe(32)
        moment = now()
        expires = moment + timedelta(days=self.settings.session_max_days)
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self.db.session() as session, session.begin():
            # Sessions that ended by time go when a new one starts: the table stays small.
            ended = (BrowserSession.expires_at <= moment) | (
                BrowserSession.last_seen_at <= moment - idle
            )
            await session.execute(delete(BrowserSession).where(ended))
            session.add(BrowserSession(id_hash=digest(session_id), user_id=user.id,
                                       created_at=moment, last_seen_at=moment,
                                       expires_at=expires, client=client[:64]))  # fmt: skip
        result = LoginResult(user=_user_public(user), csrf_token=csrf_token_for(session_id),
                             expires_at=expires)  # fmt: skip
        return session_id, result

    async def session_principal(self, session_id: str) -> Principal | None:
        """Who a session cookie belongs to, while the session lives."""
        return await self.session_principal_by_digest(digest(session_id))

    async def session_principal_by_digest(self, id_hash: str) -> Principal | None:
        """Who the session stored as `id_hash` belongs to, while it lives (the front
        door's login passes name a session so: see proxy/login.py)."""
        moment = now()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self.db.session() as session:
            found = (await session.execute(
                select(BrowserSession, User).join(User, User.id == BrowserSession.user_id)
                .where(BrowserSession.id_hash == id_hash)
            )).first()  # fmt: skip
        if found is None:
            return None
        row, user = found
        if row.expires_at <= moment or row.last_seen_at <= moment - idle:
            return None
        if moment - row.last_seen_at > min(TOUCH_EVERY, idle / 4):  # a use well within idle
            await self._touch(BrowserSession, BrowserSession.id_hash == row.id_hash,
                              last_seen_at=moment)  # fmt: skip
        return Principal(user.id, user.username, user.role, "session", row.id_hash)  # type: ignore[arg-type]

    async def logout(self, principal: Principal) -> None:
        if principal.session is not None:
            async with self.db.session() as session, session.begin():
                await session.execute(
                    delete(BrowserSession).where(BrowserSession.id_hash == principal.session)
                )

    async def logout_everywhere(self, principal: Principal) -> int:
        """End every session of the user; return how many there were."""
        async with self.db.session() as session, session.begin():
            ended = await session.execute(
                delete(BrowserSession).where(BrowserSession.user_id == principal.user_id)
            )
            return int(getattr(ended, "rowcount", 0) or 0)

    async def list_sessions(self, principal: Principal) -> list[SessionPublic]:
        """The user's live browser sessions, the newest first."""
        moment = now()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self.db.session() as session:
            rows = await session.scalars(
                select(BrowserSession).where(
                    BrowserSession.user_id == principal.user_id,
                    BrowserSession.expires_at > moment,
                    BrowserSession.last_seen_at > moment - idle,
                ).order_by(BrowserSession.created_at.desc())
            )  # fmt: skip
            return [SessionPublic(id=row.id_hash[:SESSION_ID_LENGTH], created_at=row.created_at,
                                  last_seen_at=row.last_seen_at, expires_at=row.expires_at,
                                  client=row.client, current=row.id_hash == principal.session)
                    for row in rows]  # fmt: skip

    async def end_session(self, principal: Principal, session_id: str) -> None:
        """End one of the user's own sessions (by the id list_sessions shows)."""
        if len(session_id) != SESSION_ID_LENGTH or not session_id.isalnum():
            raise NotFound(f"no session '{session_id}'")
        async with self.db.session() as session, session.begin():
            ended = await session.execute(
                delete(BrowserSession).where(
                    BrowserSession.user_id == principal.user_id,
                    BrowserSession.id_hash.startswith(session_id.lower()),
                )
            )  # fmt: skip
            if not getattr(ended, "rowcount", 0):
                raise NotFound(f"no session '{session_id}'")

    # -- API tokens -------------------------------------------------------------

    async def create_token(self, request: TokenCreate, *, by: Principal) -> TokenCreated:
        owner_ref = request.username or by.user_id
        if by.role != "admin" and owner_ref not in (by.user_id, by.username):
            # Refused before the lookup: which user names exist is not a viewer's to learn.
            raise Forbidden("only an admin may make a token for another user")
        async with self.db.session() as session, session.begin():
            owner = await _find_user(session, owner_ref)
            if owner.id != by.user_id and by.role != "admin":
                raise Forbidden("only an admin may make a token for another user")
            value = TOKEN_PREFIX + secrets.token_urlsafe(32)
            token = ApiToken(
                id=uuid.uuid4().hex[:12], token_hash=digest(value), name=request.name.strip(),
                user_id=owner.id, created_at=now(),
            )  # fmt: skip
            session.add(token)
        return TokenCreated(**_token_public(token, owner.username).model_dump(), token=value)

    async def list_tokens(self, *, by: Principal) -> list[TokenPublic]:
        """Everyone's for an admin, one's own for anyone else."""
        query = select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
        if by.role != "admin":
            query = query.where(ApiToken.user_id == by.user_id)
        async with self.db.session() as session:
            rows = await session.execute(query.order_by(ApiToken.created_at))
            return [_token_public(token, username) for token, username in rows]

    async def revoke_token(self, token_id: str, *, by: Principal) -> TokenPublic:
        async with self.db.session() as session, session.begin():
            found = (await session.execute(
                select(ApiToken, User.username).join(User, User.id == ApiToken.user_id)
                .where(ApiToken.id == token_id)
            )).first()  # fmt: skip
            if found is None or (found[0].user_id != by.user_id and by.role != "admin"):
                raise NotFound(f"no token '{token_id}'")
            token, username = found
            token.revoked_at = token.revoked_at or now()
            return _token_public(token, username)

    async def token_principal(self, value: str) -> Principal | None:
        """Who a bearer token belongs to, unless it was revoked."""
        if not value.startswith(TOKEN_PREFIX):
            return None
        async with self.db.session() as session:
            found = (await session.execute(
                select(ApiToken, User).join(User, User.id == ApiToken.user_id)
                .where(ApiToken.token_hash == digest(value))
            )).first()  # fmt: skip
        if found is None or found[0].revoked_at is not None:
            return None
        token, user = found
        moment = now()
        if token.last_used_at is None or moment - token.last_used_at > TOUCH_EVERY:
            await self._touch(ApiToken, ApiToken.id == token.id, last_used_at=moment)
        return Principal(user.id, user.username, user.role, "token", token=token.id)  # type: ignore[arg-type]

    async def _touch(self, model: type[BrowserSession] | type[ApiToken], where: object,
                     **values: datetime) -> None:  # fmt: skip
        async with self.db.session() as session, session.begin():
            await session.execute(update(model).where(where).values(**values))  # type: ignore[arg-type]

    # -- audit ------------------------------------------------------------------

    async def record(
        self, *, actor: str | None, action: str, target: str | None, outcome: str,
        client: str | None, detail: str | None = None,
    ) -> None:  # fmt: skip
        async with self.db.session() as session, session.begin():
            session.add(AuditEvent(at=now(), actor=actor, action=action, target=target,
                                   outcome=outcome, client=client, detail=detail))  # fmt: skip

    async def audit(self, *, limit: int = 100, offset: int = 0) -> list[AuditEventPublic]:
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("limit must be between 1 and 1000, offset not negative")
        async with self.db.session() as session:
            events = await session.scalars(
                select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
            )
            return [AuditEventPublic.model_validate(e, from_attributes=True) for e in events]


async def _find_user(session: AsyncSession, ref: str) -> User:
    """By id first, then by name: a user named like another's id finds no one else."""
    user = await session.get(User, ref)
    if user is None:
        user = await session.scalar(select(User).where(User.username == ref))
    if user is None:
        raise NotFound(f"no user with id or name '{ref}'")
    return user


async def _end_sessions(session: AsyncSession, user_id: str, *, but: str | None) -> int:
    """End the user's browser sessions but one (`but`: its id digest); how many ended."""
    ends = delete(BrowserSession).where(BrowserSession.user_id == user_id)
    if but is not None:
        ends = ends.where(BrowserSession.id_hash != but)
    return int(getattr(await session.execute(ends), "rowcount", 0) or 0)


async def _revoke_tokens(session: AsyncSession, user_id: str, *, but: str | None) -> int:
    """Revoke the user's live API tokens but one (`but`: its id); how many were."""
    revokes = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if but is not None:
        revokes = revokes.where(ApiToken.id != but)
    done = await session.execute(revokes.values(revoked_at=now()))
    return int(getattr(done, "rowcount", 0) or 0)


async def _admins(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).where(User.role == "admin")) or 0)


def _user_public(user: User) -> UserPublic:
    return UserPublic(id=user.id, username=user.username, role=user.role,
                      created_at=user.created_at)  # fmt: skip


def _token_public(token: ApiToken, username: str) -> TokenPublic:
    return TokenPublic(id=token.id, name=token.name, username=username,
                       created_at=token.created_at, last_used_at=token.last_used_at,
                       revoked_at=token.revoked_at)  # fmt: skip
