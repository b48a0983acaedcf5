"""Short ids derived from names (`My NAS` → `my-nas`), unique within a table."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tomo.errors import Conflict, InvalidInput, Refusal

if TYPE_CHECKING:  # SQLAlchemy loads with the services; schemas read SLUG without it
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import InstrumentedAttribute

SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-")
    return slug or "item"


async def allocate_id(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    *,
    wanted: str | None,
    name: str,
    what: str,
    taken_error: type[Conflict],
) -> str:
    """The id the user asked for (checked), or a free slug of the name."""
    from sqlalchemy import select

    if wanted is not None:
        if not SLUG.fullmatch(wanted):
            raise InvalidInput([Refusal(
                f"{what} id '{wanted}' must be lowercase letters, digits and '-'", ("id",)
            )])  # fmt: skip
        if await session.scalar(select(column).where(column == wanted)):
            raise taken_error(f"a {what} with id '{wanted}' already exists", fields=("id",))
        return wanted
    base = slugify(name)
    taken = set(await session.scalars(select(column)))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
