"""Writes without a login that were refused: counted, not recorded one by one.

Anyone who can reach tomo can send them, as fast as they like, and each is
refused before it does anything (no session, no token, a closed setup, a form
that could not be read). Recorded row by row, a script would fill the audit log
with them and push the real events out of sight. So they are tallied: one audit
row per clock hour, rewritten as the count grows, that says how many there were,
refused how (401: 990 times, 409: 10 times), on what and from where. An admin still sees
that they happened, in `tomo audit` and on the audit page, and the log grows by
at most one such row an hour (and one more per restart of tomo, whose tally lives
in its memory) however many are sent. What is tallied is bounded too: the first
few addresses and routes are named, the rest counted together.

A request whose sender logged in is always recorded on its own row: it names who.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update

from tomo.auth.models import AuditEvent
from tomo.db import Database

ACTION = "anonymous_writes"  # the tally row's action, as the audit log shows it
OUTCOME = "refused"
NAMED = 5  # addresses and routes named in a row's detail; the rest counted together
KEPT = 50  # distinct addresses and routes counted per hour; beyond: "others"


@dataclass
class _Hour:
    """The tally of one clock hour, and the row that shows it once written."""

    start: datetime
    row_id: int | None = None
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    clients: Counter[str] = field(default_factory=Counter)

    def add(self, *, action: str, outcome: str, client: str | None, at: datetime) -> None:
        self.count += 1
        self.first = self.first or at
        self.last = at
        self.outcomes[outcome] += 1
        _bounded_add(self.actions, action)
        _bounded_add(self.clients, client or "unknown")

    @property
    def client(self) -> str:
        """For the row's client column: the one address, or how many there were."""
        named = [name for name in self.clients if name != "others"]
        if len(named) == 1 and "others" not in self.clients:
            return named[0][:64]
        return f"{len(named)}{'+' if 'others' in self.clients else ''} addresses"

    def detail(self) -> str:
        first, last = self.first or self.start, self.last or self.start
        return (
            f"{self.count} write(s) without a login refused between {first:%Y-%m-%d %H:%M:%S} "
            f"and {last:%H:%M:%S} UTC: {_listed(self.outcomes)}; on {_listed(self.actions)}; "
            f"from {_listed(self.clients)}"
        )


def _bounded_add(counter: Counter[str], key: str) -> None:
    counter[key if key in counter or len(counter) < KEPT else "others"] += 1


def _listed(counter: Counter[str]) -> str:
    ranked = [(key, n) for key, n in counter.most_common() if key != "others"]
    shown = ", ".join(f"{key} ×{n}" for key, n in ranked[:NAMED])
    rest = sum(n for _, n in ranked[NAMED:]) + counter["others"]
    return shown + (f", others ×{rest}" if rest else "")


class AnonymousRefusals:
    """The tally of the current hour; `add` counts one refusal and rewrites its row."""

    def __init__(self) -> None:
        self._hour: _Hour | None = None
        self._lock = asyncio.Lock()  # one writer: the hour's row is inserted once

    async def add(
        self, db: Database, *, action: str, outcome: str, client: str | None, at: datetime
    ) -> None:
        async with self._lock:
            start = at.replace(minute=0, second=0, microsecond=0)
            if self._hour is None or self._hour.start != start:
                self._hour = _Hour(start)
            self._hour.add(action=action, outcome=outcome, client=client, at=at)
            await _write(db, self._hour)


async def _write(db: Database, hour: _Hour) -> None:
    values = {"count": hour.count, "client": hour.client, "detail": hour.detail()}
    async with db.session() as session, session.begin():
        if hour.row_id is not None:
            changed = await session.execute(
                update(AuditEvent).where(AuditEvent.id == hour.row_id).values(**values)
            )
            if getattr(changed, "rowcount", 0):
                return
        row = AuditEvent(at=hour.first or hour.start, actor=None, action=ACTION, target=None,
                         outcome=OUTCOME, **values)  # fmt: skip
        session.add(row)
        await session.flush()
        hour.row_id = row.id
