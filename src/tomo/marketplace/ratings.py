"""Ratings that outlive nothing they belong to.

A rating belongs to an account (its id) and an app. When the account is removed,
its ratings go with it, in the same transaction, and the apps' averages are
counted again: a rating nobody can change or take back would weigh on an average
for ever, and the account's name, free again, must not bring them back to
whoever takes it next. (The database's foreign key removes them too, as a
backstop; this is what keeps the averages true.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, cast, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.marketplace.models import MarketplaceAppRow, MarketplaceRating


def recount() -> Any:
    """An UPDATE of apps' rating totals from the ratings stored (add a WHERE)."""
    apps, ratings = MarketplaceAppRow, MarketplaceRating
    of_the_app = (ratings.repo_id == apps.repo_id) & (ratings.app_id == apps.id)
    total = select(func.coalesce(func.sum(ratings.rating), 0)).where(of_the_app)
    count = select(func.count()).select_from(ratings).where(of_the_app)
    average = select(func.coalesce(func.avg(cast(ratings.rating, Float)), 0.0)).where(of_the_app)
    return update(apps).values(rating_sum=total.scalar_subquery(),
                               rating_count=count.scalar_subquery(),
                               avg_rating=average.scalar_subquery())  # fmt: skip


async def forget_ratings_of(session: AsyncSession, user_id: str) -> int:
    """Remove one account's ratings and count the apps it rated again; how many."""
    rated = (await session.execute(
        select(MarketplaceRating.repo_id, MarketplaceRating.app_id)
        .where(MarketplaceRating.user_id == user_id)
    )).all()  # fmt: skip
    if not rated:
        return 0
    await session.execute(delete(MarketplaceRating).where(MarketplaceRating.user_id == user_id))
    keys = [(repo_id, app_id) for repo_id, app_id in rated]
    apps = MarketplaceAppRow
    await session.execute(
        recount().where(tuple_(apps.repo_id, apps.id).in_(keys)),
        execution_options={"synchronize_session": False},
    )
    return len(keys)
