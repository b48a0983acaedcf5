"""Discovery: full-text search, filters, sorts, categories and app lookup, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.gitrepo import CatalogRepo
from tomo.errors import AmbiguousApp, AppNotFound, InvalidInput, RepoNotFound
from tomo.marketplace.kinds import RepoType
from tomo.marketplace.models import MarketplaceAppRow
from tomo.marketplace.schemas import RepoCreate, RepoUpdate
from tomo.runtime import Runtime


async def subscribe(
    runtime: Runtime, repo: CatalogRepo, name: str, repo_type: RepoType = "community"
) -> str:
    created = await runtime.marketplace.add_repo(
        RepoCreate(url=repo.url, name=name, repo_type=repo_type)
    )
    await runtime.marketplace.sync_repo(created.id)
    return created.id


@pytest.fixture
async def catalog(runtime: Runtime, make_repo) -> str:
    repo = make_repo()
    repo.add_app("jellyfin", "media", name="Jellyfin", description="Stream your movies and shows.",
                 tags=["media", "streaming"], author="Jellyfin Team")  # fmt: skip
    repo.add_app("navidrome", "media", name="Navidrome", description="A music server for your collection.",
                 tags=["music", "streaming"], author="Deluan")  # fmt: skip
    repo.add_app("nextcloud", "storage", name="Nextcloud", description="Files, calendar and contacts.",
                 tags=["files", "sync"], author="Nextcloud GmbH")  # fmt: skip
    repo.add_app("syncthing", "storage", name="Syncthing", description="Continuous file synchronisation.",
                 tags=["files", "sync", "p2p"], author="The Syncthing Foundation")  # fmt: skip
    repo.add_app("grafana", "monitoring", name="Grafana", description="Dashboards for your metrics, café-grade.",
                 tags=["metrics", "dashboards"], author="Grafana Labs")  # fmt: skip
    repo.commit()
    return await subscribe(runtime, repo, "main catalog")


def ids(page) -> list[str]:
    return [item.id for item in page.items]


@pytest.mark.parametrize("text", ["cafe", "café", "CAFÉ-grade"])
async def test_accents_are_folded_both_ways(runtime: Runtime, catalog: str, text: str) -> None:
    page = await runtime.marketplace.search_apps(search=text)
    assert ids(page) == ["grafana"]


async def test_text_search_ranks_name_hits_first(runtime: Runtime, catalog: str) -> None:
    page = await runtime.marketplace.search_apps("jellyfin")
    assert ids(page) == ["jellyfin"]
    # "streaming" is a tag of two apps; "music" only in Navidrome's description and tags.
    assert ids(await runtime.marketplace.search_apps("streaming")) == ["jellyfin", "navidrome"]
    assert ids(await runtime.marketplace.search_apps("music")) == ["navidrome"]


async def test_name_match_outranks_description_match(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("plainapp", name="Plain", description="Mentions photos once.")
    repo.add_app("photos", name="Photos", description="A gallery.")
    repo.commit()
    await subscribe(runtime, repo, "ranking")
    assert ids(await runtime.marketplace.search_apps("photos")) == ["photos", "plainapp"]


async def test_an_app_named_exactly_as_asked_comes_first(runtime: Runtime, make_repo) -> None:
    """CasaOS lists "Jellyfin (Nvidia GPU)" beside "Jellyfin": bm25 favours the longer
    name that says jellyfin in its description too; the exact name leads anyway."""
    repo = make_repo()
    repo.add_app("jellyfin-nvidia", name="Jellyfin (Nvidia GPU)",
                 description="Jellyfin with Jellyfin's GPU transcoding, for Jellyfin fans.",
                 tags=["jellyfin"])  # fmt: skip
    repo.add_app("jellyfin", name="Jellyfin", description="A media server.")
    repo.add_app("home-assistant", name="Home Assistant", description="Home automation.")
    repo.add_app("assistant-tools", name="Assistant tools for home",
                 description="Home assistant home assistant helpers.")  # fmt: skip
    repo.commit()
    await subscribe(runtime, repo, "exact")

    assert ids(await runtime.marketplace.search_apps("jellyfin")) == [
        "jellyfin", "jellyfin-nvidia",
    ]  # fmt: skip
    assert ids(await runtime.marketplace.search_apps("  Home   ASSISTANT "))[0] == "home-assistant"
    page = await runtime.marketplace.search_apps("jellyfin", limit=1, offset=1)
    assert ids(page) == ["jellyfin-nvidia"]  # pages follow the same order


async def test_prefixes_author_and_several_words(runtime: Runtime, catalog: str) -> None:
    assert ids(await runtime.marketplace.search_apps("jelly")) == ["jellyfin"]
    assert ids(await runtime.marketplace.search_apps("grafana labs")) == ["grafana"]
    assert ids(await runtime.marketplace.search_apps("foundation")) == ["syncthing"]
    # Both match both words; "sync" is also a prefix of Syncthing's name.
    assert ids(await runtime.marketplace.search_apps("files sync")) == ["syncthing", "nextcloud"]
    assert ids(await runtime.marketplace.search_apps("files music")) == []


async def test_query_syntax_never_reaches_the_engine(runtime: Runtime, catalog: str) -> None:
    for hostile in [
        '"',
        "NEAR(",
        "jelly* OR 1=1",
        "'; DROP TABLE marketplace_apps; --",
        "!!!",
        "a:b",
    ]:
        await runtime.marketplace.search_apps(hostile)  # must not raise
    assert (await runtime.marketplace.search_apps("")).total == 5


async def test_category_tags_and_repo_filters(runtime: Runtime, catalog: str) -> None:
    search = runtime.marketplace.search_apps
    assert ids(await search(category="storage")) == ["nextcloud", "syncthing"]
    assert ids(await search(tags=["files"])) == ["nextcloud", "syncthing"]
    assert ids(await search(tags=["files", "p2p"])) == ["syncthing"]
    assert ids(await search("sync", category="storage", tags=["p2p"])) == ["syncthing"]
    assert ids(await search(repo="main catalog", category="media")) == ["jellyfin", "navidrome"]
    with pytest.raises(RepoNotFound):
        await search(repo="nope")


async def test_sorts(runtime: Runtime, catalog: str) -> None:
    async with runtime.db.session() as session, session.begin():
        for app_id, rating, installs in [
            ("grafana", 4.5, 3),
            ("nextcloud", 3.0, 40),
            ("jellyfin", 5.0, 10),
        ]:
            await session.execute(
                update(MarketplaceAppRow)
                .where(MarketplaceAppRow.id == app_id)
                .values(avg_rating=rating, rating_count=1, install_count=installs)
            )
    search = runtime.marketplace.search_apps
    assert ids(await search(sort="name")) == [
        "grafana",
        "jellyfin",
        "navidrome",
        "nextcloud",
        "syncthing",
    ]
    assert ids(await search(sort="rating"))[:3] == ["jellyfin", "grafana", "nextcloud"]
    assert ids(await search(sort="popularity"))[:3] == ["nextcloud", "jellyfin", "grafana"]
    assert ids(await search("streaming", sort="name")) == ["jellyfin", "navidrome"]


async def test_sort_by_updated(runtime: Runtime, make_repo) -> None:
    repo = make_repo()
    repo.add_app("older")
    repo.add_app("newer")
    repo.commit()
    repo_id = await subscribe(runtime, repo, "updates")
    repo.add_app("older", description="Changed later.")
    repo.commit()
    await runtime.marketplace.sync_repo(repo_id)
    assert ids(await runtime.marketplace.search_apps(sort="updated")) == ["older", "newer"]


async def test_pages_and_totals(runtime: Runtime, catalog: str) -> None:
    first = await runtime.marketplace.search_apps(limit=2)
    second = await runtime.marketplace.search_apps(limit=2, offset=2)
    last = await runtime.marketplace.search_apps(limit=2, offset=4)
    assert (first.total, second.total, last.total) == (5, 5, 5)
    assert ids(first) + ids(second) + ids(last) == [
        "grafana", "jellyfin", "navidrome", "nextcloud", "syncthing",
    ]  # fmt: skip
    for bad in ({"limit": 0}, {"limit": 201}, {"offset": -1}):
        with pytest.raises(InvalidInput):
            await runtime.marketplace.search_apps(**bad)  # type: ignore[arg-type]


async def test_search_hit_carries_the_pinned_fields(runtime: Runtime, catalog: str) -> None:
    hit = (await runtime.marketplace.search_apps("jellyfin")).items[0]
    assert hit.model_dump() == {
        "id": "jellyfin", "repo_id": catalog, "name": "Jellyfin", "version": "1.0.0",
        "category": "media", "tags": ["media", "streaming"], "avg_rating": 0.0,
        "install_count": 0, "risks": [], "installable": True,
    }  # fmt: skip


async def test_only_what_tomo_can_install(runtime: Runtime, make_repo) -> None:
    """`installable_only` is one more filter: with words, with other filters, alone
    (no words), and a re-sync that changes an app's verdict changes the results."""
    repo = make_repo()
    repo.add_app("bitcoin", "finance", name="Bitcoin Node", description="A full node.",
                 tags=["node"], not_installable="it needs umbrelOS's Tor service")  # fmt: skip
    repo.add_app("electrum", "finance", name="Electrum Server", description="A node index.",
                 tags=["node"])  # fmt: skip
    repo.add_app("photos", "media", name="Photos", description="A gallery.")
    repo.commit()
    repo_id = await subscribe(runtime, repo, "with a blocked app")
    search = runtime.marketplace.search_apps
    everything = await search(search="node")
    assert {(hit.id, hit.installable) for hit in everything.items} == {
        ("bitcoin", False), ("electrum", True)}  # fmt: skip
    assert ids(await search(search="node", installable_only=True)) == ["electrum"]
    assert ids(await search(category="finance", installable_only=True)) == ["electrum"]
    assert ids(await search(tags=["node"], installable_only=True)) == ["electrum"]
    alone = await search(installable_only=True)
    assert (alone.total, ids(alone)) == (2, ["electrum", "photos"])
    for sort in ("name", "rating", "popularity", "updated", "relevance"):
        assert ids(await search(installable_only=True, sort=sort)) in (
            ["electrum", "photos"], ["photos", "electrum"])  # fmt: skip
    # A typo finds nothing exact: the look-alike search keeps the filter.
    assert ids(await search(search="bitcoinn", installable_only=True)) == []
    assert ids(await search(search="bitcoinn")) == ["bitcoin"]

    repo.add_app("bitcoin", "finance", name="Bitcoin Node", description="A full node.",
                 tags=["node"])  # fmt: skip
    repo.commit()
    await runtime.marketplace.sync_repo(repo_id)
    assert ids(await search(search="node", installable_only=True)) == ["bitcoin", "electrum"]


async def test_disabled_repos_are_hidden_from_discovery(runtime: Runtime, catalog: str) -> None:
    await runtime.marketplace.update_repo(catalog, RepoUpdate(enabled=False))
    assert (await runtime.marketplace.search_apps()).total == 0
    assert await runtime.marketplace.get_categories() == []
    with pytest.raises(AppNotFound):
        await runtime.marketplace.get_app("jellyfin")
    # Naming the repo still shows the app (installations may refer to it).
    assert (await runtime.marketplace.get_app(f"{catalog}/jellyfin")).id == "jellyfin"


async def test_categories_with_counts(runtime: Runtime, catalog: str) -> None:
    found = await runtime.marketplace.get_categories()
    assert [(c.name, c.count) for c in found] == [("media", 2), ("monitoring", 1), ("storage", 2)]


async def test_get_app_returns_the_full_definition(runtime: Runtime, catalog: str) -> None:
    app = await runtime.marketplace.get_app(f"{catalog}/jellyfin")
    assert app.docker.image == "example/jellyfin:1.0.0"
    assert app.docker.ports[0].host == 8080
    assert app.docker.volumes[0].host_path == "./data"
    assert app.author == "Jellyfin Team"
    assert app.source_path == "apps/media/jellyfin.yaml"
    assert app.repo_id == catalog


async def test_get_app_by_bare_id(runtime: Runtime, make_repo) -> None:
    official, community, personal = make_repo(), make_repo(), make_repo()
    official.add_app("shared", name="Official")
    community.add_app("shared", name="Community")
    community.add_app("only-here")
    personal.add_app("twice")
    community.add_app("twice")
    for repo in (official, community, personal):
        repo.commit()
    await subscribe(runtime, official, "off", "official")
    await subscribe(runtime, community, "com")
    await subscribe(runtime, personal, "mine", "personal")

    get = runtime.marketplace.get_app
    assert (await get("shared")).name == "Official"  # official first
    assert (await get("only-here")).repo_id == "com"
    assert (await get("com/shared")).name == "Community"
    with pytest.raises(AmbiguousApp, match="name one of: com/twice, mine/twice"):
        await get("twice")
    with pytest.raises(AppNotFound, match="no app 'ghost' in any enabled repo"):
        await get("ghost")
    with pytest.raises(AppNotFound, match="repo 'com' has no app 'ghost'"):
        await get("com/ghost")
    with pytest.raises(RepoNotFound, match="no repo with id or name 'nope'"):
        await get("nope/shared")


async def test_one_per_app_and_categories_that_follow_the_search(
    runtime: Runtime, make_repo
) -> None:
    """The same app in two repositories is found once (the installable copy, or the
    official one); categories count what a search finds, in one vocabulary."""
    first = make_repo()
    first.add_app("jellyfin", "media", name="Jellyfin", description="Films.",
                  not_installable="it needs a domain")  # fmt: skip
    first.add_app("gitea", "development", name="Gitea", description="Git hosting.")
    first.commit()
    second = make_repo()
    second.add_app("jellyfin-server", "video", name="JellyFin!", description="Films too.")
    second.add_app("code", "developer", name="Code", description="An editor.")
    second.commit()
    one = await subscribe(runtime, first, "one")
    two = await subscribe(runtime, second, "two")
    search = runtime.marketplace.search_apps
    everything = await search(limit=10)
    assert everything.total == 4
    once = await search(one_per_app=True, limit=10)
    assert [(hit.repo_id, hit.id) for hit in once.items] == [
        (two, "code"), (one, "gitea"), (two, "jellyfin-server")]  # fmt: skip
    assert once.total == 3
    assert ids(await search("films", one_per_app=True)) == ["jellyfin-server"]
    categories = runtime.marketplace.get_categories
    assert [(c.name, c.count) for c in await categories()] == [("developer", 2), ("media", 2)]
    assert [(c.name, c.count) for c in await categories(one_per_app=True)] == [
        ("developer", 2), ("media", 1)]  # fmt: skip
    assert [(c.name, c.count) for c in await categories("git")] == [("developer", 1)]
    # The installable copy's repository removed: the other one represents the app.
    await runtime.marketplace.remove_repo(two)
    assert [(hit.repo_id, hit.id) for hit in (await search(one_per_app=True)).items] == [
        (one, "gitea"), (one, "jellyfin")]  # fmt: skip
