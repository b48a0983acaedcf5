"""Ratings: one per account per app, averages exact without rescanning; an account
removed takes its ratings with it, and its name, taken again, inherits nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from tests.gitrepo import CatalogRepo
from tomo.auth.schemas import UserCreate
from tomo.errors import AppNotFound, InvalidInput, NotFound
from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime


@pytest.fixture
async def repo_id(runtime: Runtime, make_repo) -> str:
    for name in ("alice", "bob", "carol"):
        await runtime.auth.create_user(
            UserCreate(username=name, password=SecretStr("a long password"))
        )
    repo = make_repo()
    repo.add_app("rated")
    repo.add_app("other")
    repo.commit()
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="r"))
    await runtime.marketplace.sync_repo(created.id)
    return created.id


async def test_rerating_replaces_and_average_is_exact(runtime: Runtime, repo_id: str) -> None:
    rate = runtime.marketplace.rate_app
    await rate("rated", user="alice", rating=5)
    await rate("rated", user="bob", rating=2)
    result = await rate("rated", user="carol", rating=4)
    assert (result.avg_rating, result.rating_count) == (pytest.approx(11 / 3), 3)

    result = await rate("rated", user="bob", rating=5)  # bob changes his mind
    assert (result.avg_rating, result.rating_count) == (pytest.approx(14 / 3), 3)
    bob = (await runtime.auth.get_user("bob")).id
    assert result.model_dump(exclude={"avg_rating"}) == {
        "repo_id": repo_id, "app_id": "rated", "user_id": bob, "username": "bob", "rating": 5,
        "rating_count": 3,
    }  # fmt: skip
    app = await runtime.marketplace.get_app(f"{repo_id}/rated")
    assert (app.avg_rating, app.rating_count) == (pytest.approx(14 / 3), 3)
    assert (await runtime.marketplace.get_app("other")).rating_count == 0


@pytest.mark.parametrize("stars", [0, 6, -1])
async def test_out_of_range_ratings_are_refused(runtime: Runtime, repo_id: str, stars: int) -> None:
    with pytest.raises(InvalidInput, match=f"rating must be between 1 and 5, got {stars}"):
        await runtime.marketplace.rate_app("rated", user="alice", rating=stars)
    assert (await runtime.marketplace.get_app("rated")).rating_count == 0


async def test_rating_an_unknown_app_is_refused(runtime: Runtime, repo_id: str) -> None:
    with pytest.raises(AppNotFound):
        await runtime.marketplace.rate_app("ghost", user="alice", rating=3)


async def test_a_rating_is_an_accounts(runtime: Runtime, repo_id: str) -> None:
    with pytest.raises(NotFound, match="no tomo user with id or name 'mallory'"):
        await runtime.marketplace.rate_app("rated", user="mallory", rating=3)
    assert (await runtime.marketplace.get_app("rated")).rating_count == 0


async def test_ratings_survive_updates_and_an_app_leaving_and_returning(
    runtime: Runtime, repo_id: str
) -> None:
    await runtime.marketplace.rate_app("rated", user="alice", rating=4)
    await runtime.marketplace.rate_app("rated", user="bob", rating=2)
    repo = CatalogRepo(Path((await runtime.marketplace.get_repo(repo_id)).url))
    repo.add_app("rated", description="Updated text.")
    repo.commit()
    await runtime.marketplace.sync_repo(repo_id)
    assert (await runtime.marketplace.get_app("rated")).avg_rating == pytest.approx(3.0)

    repo.remove("apps/tools/rated.yaml")
    repo.commit()
    await runtime.marketplace.sync_repo(repo_id)
    repo.add_app("rated")
    repo.commit()
    await runtime.marketplace.sync_repo(repo_id)
    app = await runtime.marketplace.get_app("rated")
    assert (app.avg_rating, app.rating_count) == (pytest.approx(3.0), 2)


async def test_install_count_column_starts_at_zero(runtime: Runtime, repo_id: str) -> None:
    async with runtime.db.session() as session:
        counts = set(await session.scalars(select(MarketplaceAppRow.install_count)))
    assert counts == {0}
