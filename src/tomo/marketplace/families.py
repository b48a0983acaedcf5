"""The same app from several repositories is one app of the store.

CasaOS, Runtipi and Umbrel all carry Jellyfin; subscribed to all three, the
store shows one Jellyfin card that says where else it is, and the app's page
offers each source. Apps are the same app when their names are the same once
case, spaces and punctuation are left out ("Pi-hole" and "Pihole"): their
`family`. One app of each family `represents` it in the store: the first of

1. from an enabled repository (the others are hidden anyway),
2. one tomo can install,
3. from an official repository,
4. then by repository and app id, so the choice is stable.

The choice is kept in the table (and, on SQLite, as a facet of the search index)
so that "one card per app" is one more filter of the same search, with honest
totals and pages. Whatever changes a family's members or their order (a sync,
a repository enabled, disabled or removed) refreshes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.db import table_of
from tomo.marketplace.models import MarketplaceAppRow, MarketplaceRepo

# Families per statement: well under SQLite's limit of bound values.
CHUNK = 500


def family_of(name: str, app_id: str) -> str:
    """The name without case, spaces or punctuation; the id when that leaves nothing."""
    return re.sub(r"[\W_]+", "", name.casefold())[:128] or app_id


async def families_of_repo(session: AsyncSession, repo_id: str) -> set[str]:
    rows = await session.scalars(
        select(MarketplaceAppRow.family).where(MarketplaceAppRow.repo_id == repo_id)
    )
    return set(rows)


async def families_of_rows(session: AsyncSession, pks: list[int]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(pks), CHUNK):
        found |= set(await session.scalars(
            select(MarketplaceAppRow.family)
            .where(MarketplaceAppRow.pk.in_(pks[start : start + CHUNK]))
        ))  # fmt: skip
    return found


async def refresh_representatives(session: AsyncSession, families: Iterable[str]) -> None:
    """Choose again which app represents each of `families`; rows whose choice
    changed are rewritten (and only those: each rewrite re-indexes the row)."""
    wanted = sorted(set(families))
    for start in range(0, len(wanted), CHUNK):
        members = await _members(session, wanted[start : start + CHUNK])
        flips = _changed_choices(members)
        if flips:
            apps = table_of(MarketplaceAppRow)
            await session.execute(
                update(apps).where(apps.c.pk == bindparam("row_pk"))
                .values(represents=bindparam("chosen")),
                [{"row_pk": pk, "chosen": chosen} for pk, chosen in flips.items()],
                execution_options={"synchronize_session": False},
            )  # fmt: skip


async def _members(session: AsyncSession, families: list[str]) -> list[Any]:
    app, repo = MarketplaceAppRow, MarketplaceRepo
    rows = await session.execute(
        select(app.pk, app.family, app.represents, repo.enabled, app.installable,
               repo.repo_type, app.repo_id, app.id)
        .join(repo, repo.id == app.repo_id)
        .where(app.family.in_(families))
    )  # fmt: skip
    return list(rows)


def _changed_choices(members: list[Any]) -> dict[int, bool]:
    """pk -> whether it represents its family now, for rows where that changed."""
    best: dict[str, Any] = {}
    for row in members:
        if row.family not in best or _rank(row) < _rank(best[row.family]):
            best[row.family] = row
    chosen = {row.pk for row in best.values()}
    return {row.pk: row.pk in chosen for row in members
            if bool(row.represents) != (row.pk in chosen)}  # fmt: skip


def _rank(row: Any) -> tuple[Any, ...]:
    return (not row.enabled, not row.installable, row.repo_type != "official", row.repo_id,
            row.id)  # fmt: skip
