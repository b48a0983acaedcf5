"""Search as a person types it: categories, word forms, typos, case, on both backends."""

from __future__ import annotations

import pytest

from tests.marketplace.test_search import ids, subscribe
from tomo.marketplace.search import postgres
from tomo.runtime import Runtime


@pytest.fixture
async def homelab(runtime: Runtime, make_repo) -> str:
    repo = make_repo()
    repo.add_app("jellyfin", "media", name="Jellyfin", description="Stream movies and shows.",
                 tags=["streaming"])  # fmt: skip
    repo.add_app("navidrome", "media", name="Navidrome", description="Your music, anywhere.",
                 tags=["music"])  # fmt: skip
    repo.add_app("audiobookshelf", "media", name="Audiobookshelf",
                 description="Audiobooks and podcasts.", tags=["books"])  # fmt: skip
    repo.add_app("photoprism", "photos", name="PhotoPrism",
                 description="Browse and share your media library of photos.", tags=["photos"])  # fmt: skip
    repo.add_app("pihole", "networking", name="Pi-hole",
                 description="A DNS server that blocks ads and trackers.", tags=["dns"])  # fmt: skip
    repo.add_app("dozzle", "monitoring", name="Dozzle", description="Docker log viewer.",
                 tags=["docker", "logs"])  # fmt: skip
    repo.add_app("qbittorrent", "downloads", name="qBittorrent", description="Torrents.",
                 tags=["torrent"])  # fmt: skip
    repo.add_app("paperless", "documents", name="Paperless", description="Scan and file papers.",
                 tags=["documents"])  # fmt: skip
    repo.commit()
    return await subscribe(runtime, repo, "homelab")


async def test_the_category_is_searched_and_ranks_first(runtime: Runtime, homelab: str) -> None:
    found = ids(await runtime.marketplace.search_apps("media"))
    # Every app of the media category, then the one whose description mentions media.
    assert sorted(found[:3]) == ["audiobookshelf", "jellyfin", "navidrome"]
    assert found[3:] == ["photoprism"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("jellyfn", "jellyfin"), ("navidrom", "navidrome"), ("paperles", "paperless"),
    ("blocker", "pihole"), ("ad blocking", "pihole"), ("blocks ad", "pihole"),
    ("streams", "jellyfin"), ("jell", "jellyfin"),
])  # fmt: skip
async def test_word_forms_and_typos_find_the_app(
    runtime: Runtime, homelab: str, typed: str, meant: str
) -> None:
    assert ids(await runtime.marketplace.search_apps(typed))[0] == meant


async def test_unrelated_words_find_nothing_even_with_typo_tolerance(
    runtime: Runtime, homelab: str
) -> None:
    assert (await runtime.marketplace.search_apps("spreadsheet")).total == 0
    # Both words exist, never together: no app is "like" both.
    assert (await runtime.marketplace.search_apps("torrent podcasts")).total == 0


async def test_typo_tolerance_keeps_the_filters(runtime: Runtime, homelab: str) -> None:
    search = runtime.marketplace.search_apps
    assert ids(await search("jellyfn", category="media")) == ["jellyfin"]
    assert ids(await search("jellyfn", category="photos")) == []


async def test_filters_ignore_case_and_empty_ones_are_no_filter(
    runtime: Runtime, homelab: str
) -> None:
    search = runtime.marketplace.search_apps
    assert sorted(ids(await search(category="MEDIA"))) == [
        "audiobookshelf", "jellyfin", "navidrome",
    ]  # fmt: skip
    assert ids(await search(tags=["books"])) == ["audiobookshelf"]
    assert ids(await search(tags=["BOOKS"], category=" media ")) == ["audiobookshelf"]
    assert (await search(category="", tags=["", " "])).total == 8
    assert (await search(repo="")).total == 8


async def test_sorting_by_name_ignores_case(runtime: Runtime, homelab: str) -> None:
    names = ids(await runtime.marketplace.search_apps(sort="name"))
    assert names == ["audiobookshelf", "dozzle", "jellyfin", "navidrome", "paperless",
                     "photoprism", "pihole", "qbittorrent"]  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite counts exactly
async def test_postgres_estimates_a_total_too_broad_to_count(
    runtime: Runtime, homelab: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not runtime.db.is_sqlite
    monkeypatch.setattr(postgres, "COUNT_LIMIT", 2)
    page = await runtime.marketplace.search_apps("media")
    assert page.estimated and page.total >= 3
    assert len(page.items) == 4  # the page itself is exact
    exact = await runtime.marketplace.search_apps("jellyfin")
    assert (exact.estimated, exact.total) == (False, 1)


@pytest.fixture
async def keepers(runtime: Runtime, make_repo) -> str:
    """Apps whose own words are not the words a person looking for them types."""
    repo = make_repo()
    repo.add_app("vaultwarden", "security", name="Vaultwarden",
                 description="An unofficial Bitwarden-compatible server written in Rust.")  # fmt: skip
    repo.add_app("adguard-home", "networking", name="AdGuard Home",
                 description="Network-wide software that stops ads and trackers.")  # fmt: skip
    repo.add_app("pihole", "networking", name="Pi-hole",
                 description="A DNS sinkhole for the whole network.")  # fmt: skip
    repo.add_app("jellyfin", "media", name="Jellyfin", description="The free media system.")
    repo.add_app("plex", "media", name="Plex", description="Your films everywhere.")
    repo.add_app("wiki-js", "productivity", name="Wiki.js", description="A modern wiki.")
    repo.commit()
    return await subscribe(runtime, repo, "keepers")


@pytest.mark.parametrize(("typed", "found"), [
    ("password manager", ["vaultwarden"]),
    ("ad blocking", ["adguard-home", "pihole"]),
    ("adblock", ["adguard-home", "pihole"]),
    ("media server", ["jellyfin", "plex"]),
    ("self hosted password manager", []),  # every group must still match
    ("jellyfin", ["jellyfin"]),  # a product's name is not widened to its kind
    ("note taking", ["wiki-js"]),
])  # fmt: skip
async def test_a_homelab_vocabulary_finds_what_a_person_means(
    runtime: Runtime, keepers: str, typed: str, found: list[str]
) -> None:
    assert sorted(ids(await runtime.marketplace.search_apps(typed))) == found
