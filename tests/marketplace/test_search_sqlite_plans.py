"""The SQLite search planner: every strategy gives the same answers.

The thresholds that pick a strategy are lowered here so that a small catalog
takes each path; results are compared with what the catalog says directly.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from tests.gitrepo import CatalogRepo
from tomo.auth.schemas import UserCreate
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.marketplace.search import sqlite as planner
from tomo.runtime import Runtime


@pytest.fixture
def database_url() -> None:
    return None  # these strategies are SQLite's own


async def subscribe(runtime: Runtime, repo: CatalogRepo, name: str) -> str:
    created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name=name))
    await runtime.marketplace.sync_repo(created.id)
    return created.id


@pytest.fixture
async def photos(runtime: Runtime, make_repo) -> str:
    repo = make_repo()
    # Three apps match "photo" in their name or tags, nine only in their description.
    repo.add_app("strong-0", name="Photo Vault", tags=["images"], description="Keeps pictures.")
    repo.add_app("strong-1", name="Photos Pro", tags=["images"], description="Keeps pictures.")
    repo.add_app("strong-2", name="Snap", tags=["photo"], description="Keeps pictures.")
    for n in range(9):
        repo.add_app(f"weak-{n}", name=f"Weak {n}", tags=["misc"],
                     description=f"Mentions photo once, item {n}.")  # fmt: skip
    repo.add_app("unrelated", name="Unrelated", description="Nothing to see.")
    repo.commit()
    return await subscribe(runtime, repo, "photos")


async def all_pages(runtime: Runtime, size: int, **query) -> tuple[set[int], list[str]]:
    totals, ids = set(), []
    for offset in range(0, 20, size):
        page = await runtime.marketplace.search_apps(limit=size, offset=offset, **query)
        totals.add(page.total)
        ids += [item.id for item in page.items]
    return totals, ids


async def test_broad_queries_put_name_and_tag_matches_first(
    runtime: Runtime, photos: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    exact_totals, exact = await all_pages(runtime, 4, search="photo")
    monkeypatch.setattr(planner, "RANK_LIMIT", 5)  # 12 matches: too many to rank
    totals, tiered = await all_pages(runtime, 4, search="photo")

    assert exact_totals == totals == {12}
    assert sorted(tiered) == sorted(exact) and len(set(tiered)) == 12
    assert set(tiered[:3]) == {"strong-0", "strong-1", "strong-2"}
    assert set(exact[:3]) == {"strong-0", "strong-1", "strong-2"}


async def test_strong_tier_too_large_to_rank_is_still_first(
    runtime: Runtime, photos: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "RANK_LIMIT", 2)
    totals, ids = await all_pages(runtime, 5, search="photo")
    assert totals == {12}
    assert set(ids[:3]) == {"strong-0", "strong-1", "strong-2"}
    assert len(set(ids)) == 12


@pytest.mark.parametrize("walk_limit", [0, 10**9])
@pytest.mark.parametrize("sort", ["name", "rating", "popularity", "updated"])
async def test_index_walk_and_sorting_matches_agree(
    runtime: Runtime, photos: str, monkeypatch: pytest.MonkeyPatch, walk_limit: int, sort: str
) -> None:
    monkeypatch.setattr(planner, "WALK_LIMIT", walk_limit)
    rater = UserCreate(username="u", password=SecretStr("a long password"))
    await runtime.auth.create_user(rater)
    for n in range(5):
        await runtime.marketplace.rate_app(f"weak-{n}", user="u", rating=1 + n % 5)
    expected = await runtime.marketplace.search_apps(tags=["misc"], sort=sort, limit=200)  # type: ignore[arg-type]
    totals, ids = await all_pages(runtime, 3, tags=["misc"], sort=sort)
    assert totals == {9}
    assert ids == [item.id for item in expected.items]
    if sort == "name":
        assert ids == [f"weak-{n}" for n in range(9)]


async def test_disabled_repos_are_hidden_on_every_path(
    runtime: Runtime, photos: str, make_repo
) -> None:
    other = make_repo()
    other.add_app("other-photo", name="Photo Other", tags=["misc"])
    other.commit()
    other_id = await subscribe(runtime, other, "other")
    search = runtime.marketplace.search_apps
    assert (await search()).total == 14
    await runtime.marketplace.update_repo(other_id, RepoUpdate(enabled=False))

    browse = await search(limit=200)
    assert browse.total == 13 and "other-photo" not in [i.id for i in browse.items]
    assert (await search("photo")).total == 12
    assert (await search(tags=["misc"])).total == 9
    assert (await search(repo=other_id)).total == 0


async def test_facets_distinguish_similar_tags_and_categories(runtime: Runtime, make_repo) -> None:
    # Categories outside the vocabulary (categories.py), which keeps them as written.
    repo = make_repo()
    repo.add_app("a", "lab-bench", tags=["self-hosted"])
    repo.add_app("b", "lab", tags=["self", "hosted"])
    repo.commit()
    await subscribe(runtime, repo, "facets")
    search = runtime.marketplace.search_apps
    assert [i.id for i in (await search(tags=["self-hosted"])).items] == ["a"]
    assert [i.id for i in (await search(tags=["self"])).items] == ["b"]
    assert [i.id for i in (await search(category="lab")).items] == ["b"]
    assert [i.id for i in (await search("hosted", category="lab-bench")).items] == ["a"]


async def test_catalog_text_cannot_fake_facets(runtime: Runtime, make_repo) -> None:
    media = "\ue000c" + b"media".hex()
    repo = make_repo()
    repo.add_app("sneaky", "tools", description=f"Pretends {media} to be media.")
    repo.add_app("real", "media")
    repo.commit()
    await subscribe(runtime, repo, "facets")
    search = runtime.marketplace.search_apps
    assert [i.id for i in (await search(category="media")).items] == ["real"]
    # A word never hits a facet: at most it finds the text that spells it.
    assert "real" not in [i.id for i in (await search("c" + b"media".hex())).items]
