"""Login throttling: too many failed logins within a window, and further attempts
wait (429 with Retry-After). Counted three ways:

- per account: the attempts at one user name from browsers it does not know;
- per address: the same attempts, by the client's address (behind a reverse proxy,
  the address it forwards when tomo trusts it: Settings.trusted_proxies);
- per known device: the attempts of a browser that logged in to that account
  before (its device cookie). They count against that browser only, so strangers'
  guesses never lock it out, and its own mistakes hold back only itself.

An attempt is reserved before its password is checked and counts as failed until
it succeeds: a burst of guesses sent at once gets no more password checks than
the limit, and the rest cost no hash at all. Reservations are made one at a time
(`tomo serve` is the one process taking logins), as rows of the database: a
restart forgets nothing, and `tomo user unlock` (another process) can forget them.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.auth.models import LoginAttempt
from tomo.db import Database
from tomo.errors import TooManyAttempts

WINDOW_SECONDS = 300.0
PER_ACCOUNT = 5  # also per known device
PER_ADDRESS = 20


class LoginThrottle:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.window = WINDOW_SECONDS
        self.per_account = PER_ACCOUNT
        self.per_address = PER_ADDRESS
        self._reserving = asyncio.Lock()
        self._swept_at: datetime | None = None

    async def reserve(self, username: str, address: str, device: str | None = None) -> None:
        """Count one attempt now (`device`: the digest of a device cookie known to the
        account), or raise TooManyAttempts when a limit is reached."""
        async with self._reserving, self.db.session() as session, session.begin():
            moment = datetime.now(UTC)
            # Written first: on SQLite the write lock is taken before anything is read.
            attempt = LoginAttempt(username=username.lower(), address=address[:64],
                                   device=device, at=moment)  # fmt: skip
            session.add(attempt)
            await session.flush()
            await self._sweep(session, moment)
            others = LoginAttempt.id != attempt.id
            wait = max([await self._wait(session, where & others, limit, moment)
                        for where, limit in self._limits(attempt)])  # fmt: skip
            if wait:  # refused: it counts for nothing (the sweep stays done)
                await session.delete(attempt)
        if wait:
            raise TooManyAttempts(f"too many failed logins; try again in {wait} s", wait)

    async def forget(self, username: str) -> int:
        """Forget the attempts at a user name (it logged in, or an admin unlocked it),
        with their share of the addresses' counts; how many were recent."""
        at_name = LoginAttempt.username == username.lower()
        since = self._since(datetime.now(UTC))
        async with self.db.session() as session, session.begin():
            recent = await session.scalar(
                select(func.count()).where(at_name, LoginAttempt.at > since)
            )
            await session.execute(delete(LoginAttempt).where(at_name))
            return int(recent or 0)

    def _limits(self, attempt: LoginAttempt) -> list[tuple[ColumnElement[bool], int]]:
        if attempt.device is not None:
            return [(LoginAttempt.device == attempt.device, self.per_account)]
        untrusted = LoginAttempt.device.is_(None)  # from browsers the account does not know
        return [
            (untrusted & (LoginAttempt.username == attempt.username), self.per_account),
            (untrusted & (LoginAttempt.address == attempt.address), self.per_address),
        ]

    async def _wait(self, session: AsyncSession, where: ColumnElement[bool], limit: int,
                    moment: datetime) -> int:  # fmt: skip
        """Seconds until fewer than `limit` attempts matching `where` are recent."""
        recent = list(await session.scalars(
            select(LoginAttempt.at).where(where, LoginAttempt.at > self._since(moment))
            .order_by(LoginAttempt.at.desc()).limit(limit)
        ))  # fmt: skip
        if len(recent) < limit:
            return 0
        return max(1, math.ceil(self.window - (moment - recent[-1]).total_seconds()))

    async def _sweep(self, session: AsyncSession, moment: datetime) -> None:
        """Drop the attempts older than the window, once a window: the guesses at
        made-up names from passing addresses would pile up for good."""
        if self._swept_at is not None and moment - self._swept_at < timedelta(seconds=self.window):
            return
        self._swept_at = moment
        await session.execute(delete(LoginAttempt).where(LoginAttempt.at <= self._since(moment)))

    def _since(self, moment: datetime) -> datetime:
        return moment - timedelta(seconds=self.window)
