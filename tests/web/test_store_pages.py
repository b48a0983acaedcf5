"""The store and an app's page, as a browser without JavaScript sees them, on real
catalog git repositories synced by the real service."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from tests.gitrepo import CatalogRepo
from tests.web.conftest import Page, Web, text_of
from tomo.marketplace.models import MarketplaceRepo
from tomo.runtime import Runtime

MakeRepo = Callable[..., CatalogRepo]


def subscribe(web: Web, repo: CatalogRepo | str, name: str, *, sync: bool = True) -> str:
    """Add a repository (and sync it) through the API, as an admin would; its id."""
    url = repo if isinstance(repo, str) else repo.url
    added = web.api.admin.post("/api/marketplace/repos",
                               json={"url": url, "name": name, "branch": "main"})  # fmt: skip
    assert added.status_code == 201, added.text
    repo_id = str(added.json()["id"])
    if sync:
        synced = web.api.admin.post(f"/api/marketplace/repos/{repo_id}/sync")
        assert synced.status_code == 200, synced.text
    return repo_id


def cards_of(answer: httpx.Response) -> list[str]:
    """The app pages the grid's cards link to, in order."""
    return re.findall(r'<h3><a href="(/apps/[^"]+)">', answer.text)


def catalog_of(make_repo: MakeRepo, *apps: tuple[str, str, Mapping[str, Any]]) -> CatalogRepo:
    repo = make_repo()
    for app_id, category, overrides in apps:
        repo.add_app(app_id, category=category, **overrides)
    repo.commit()
    return repo


def media_and_tools(make_repo: MakeRepo) -> CatalogRepo:
    return catalog_of(
        make_repo,
        ("jellyfin", "media", {"description": "Streams your films to every screen.",
                               "tags": ["streaming", "video"]}),
        ("navidrome", "media", {"description": "A music server for your own songs.",
                                "tags": ["music", "streaming"]}),
        ("it-tools", "tools", {"description": "Handy converters for developers.",
                               "tags": ["developer"]}),
    )  # fmt: skip


# -- the grid -----------------------------------------------------------------


def test_the_grid_shows_each_app_as_a_card_and_pages_through_them(
    web: Web, make_repo: MakeRepo
) -> None:
    apps = [(f"app-{n:02d}", "tools", {"description": f"Number {n} of the test apps."})
            for n in range(30)]  # fmt: skip
    repo_id = subscribe(web, catalog_of(make_repo, *apps), "Home Lab")
    first = web.viewer().get("/store")
    assert first.status_code == 200
    assert cards_of(first) == [f"/apps/{repo_id}/app-{n:02d}" for n in range(24)]
    text = text_of(first)
    assert "Number 0 of the test apps." in text and "App 00" in text
    assert "Home Lab" in text and "No ratings yet" in text and "0 installs" in text
    assert "no risks" in text and "Tools · 1.0.0" in text
    assert "1–24 of 30" in text
    assert 'id="results" data-summary="30 apps"' in first.text
    assert "data-live" in first.text and 'id="results-status"' in first.text
    assert 'href="/store?page=2"' in first.text and 'rel="prev"' not in first.text

    second = web.viewer().get("/store?page=2")
    assert cards_of(second) == [f"/apps/{repo_id}/app-{n:02d}" for n in range(24, 30)]
    assert "25–30 of 30" in text_of(second) and 'href="/store" rel="prev"' in second.text
    past = web.viewer().get("/store?page=9")
    assert "This page is past the last one" in text_of(past)


def test_an_app_icon_sits_over_its_letter(web: Web, make_repo: MakeRepo) -> None:
    icon = "https://icons.example/jellyfin.png"
    subscribe(web, catalog_of(make_repo, ("jellyfin", "media", {"icon": icon}),
                              ("navidrome", "media", {})), "Lab")  # fmt: skip
    page = web.viewer().get("/store").text
    assert re.search(rf'<span class="icon" aria-hidden="true">J<img src="{re.escape(icon)}"', page)
    assert re.search(r'<span class="icon" aria-hidden="true">N\s*</span>', page)  # the letter alone


def test_search_finds_by_text_and_filters_ignore_case(web: Web, make_repo: MakeRepo) -> None:
    lab = subscribe(web, media_and_tools(make_repo), "Lab")
    extra = subscribe(web, catalog_of(make_repo, ("plex", "media", {"tags": ["streaming"]})),
                      "Extra Apps")  # fmt: skip
    page = web.viewer()
    assert cards_of(page.get("/store?q=music")) == [f"/apps/{lab}/navidrome"]
    assert cards_of(page.get("/store?q=FILMS")) == [f"/apps/{lab}/jellyfin"]
    media = page.get("/store?category=MEDIA")
    assert cards_of(media) == [f"/apps/{lab}/jellyfin", f"/apps/{lab}/navidrome",
                               f"/apps/{extra}/plex"]  # fmt: skip
    assert "Category: Media" in text_of(media)  # the filter shown, with a link to drop it
    assert cards_of(page.get("/store?tag=Streaming&tag=MUSIC")) == [f"/apps/{lab}/navidrome"]
    assert cards_of(page.get(f"/store?repo={extra}")) == [f"/apps/{extra}/plex"]
    assert cards_of(page.get("/store?repo=Extra+Apps&category=media")) == [f"/apps/{extra}/plex"]
    by_name = page.get("/store?q=films&category=media&sort=name")
    assert cards_of(by_name) == [f"/apps/{lab}/jellyfin"]
    assert '<option value="name" selected>' in by_name.text
    assert cards_of(page.get("/store?sort=bogus")) != []  # an unknown sort is ignored


def test_the_sidebar_counts_categories_and_offers_tags_and_repos(
    web: Web, make_repo: MakeRepo
) -> None:
    lab = subscribe(web, media_and_tools(make_repo), "Lab")
    subscribe(web, catalog_of(make_repo, ("plex", "media", {})), "Extra")
    sidebar = web.viewer().get("/store?q=server").text
    assert re.search(r"Media</span><span class=\"count\">3</span>", sidebar)
    assert re.search(r"Tools</span><span class=\"count\">1</span>", sidebar)
    assert 'href="/store?q=server&amp;category=media"' in sidebar  # the query is kept
    assert 'href="/store?q=server&amp;tag=music"' in sidebar
    assert f'href="/store?q=server&amp;repo={lab}"' in sidebar
    tagged = web.viewer().get("/store?tag=streaming").text
    assert 'href="/store"' in tagged and "Remove the tag filter" in tagged


# -- why the store is empty ---------------------------------------------------


def test_no_repository_at_all(web: Web) -> None:
    admin = text_of(web.admin().get("/store"))
    assert "No app repositories yet" in admin and "Add a repository" in admin
    assert 'href="/repos/add"' in web.admin().get("/store").text
    viewer = web.viewer().get("/store")
    assert "ask one to add a repository" in text_of(viewer)
    assert 'href="/repos/add"' not in viewer.text


def test_a_repository_never_synced(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab", sync=False)
    admin = web.admin().get("/store")
    assert "Lab has not been synced yet" in text_of(admin)
    assert f'href="/repos/{repo_id}">Sync Lab</a>' in admin.text
    viewer = web.viewer().get("/store")
    assert "once an admin of this tomo syncs it" in text_of(viewer)
    assert "Sync Lab" not in viewer.text


def test_a_repository_whose_sync_failed(web: Web, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-catalog")
    repo_id = subscribe(web, missing, "Broken", sync=False)
    failed = web.api.admin.post(f"/api/marketplace/repos/{repo_id}/sync")
    assert failed.status_code >= 400
    error = web.api.admin.get(f"/api/marketplace/repos/{repo_id}").json()["last_error"]
    assert error
    page = web.viewer().get("/store")
    text = unescape(text_of(page))
    assert "The last sync of Broken failed" in text
    assert error in text and missing in text
    assert f'href="/repos/{repo_id}"' in page.text


def test_a_failed_repository_is_named_above_the_apps_of_the_others(
    web: Web, make_repo: MakeRepo, tmp_path: Path
) -> None:
    subscribe(web, media_and_tools(make_repo), "Lab")
    broken = subscribe(web, str(tmp_path / "gone"), "Broken", sync=False)
    web.api.admin.post(f"/api/marketplace/repos/{broken}/sync")
    page = web.viewer().get("/store")
    assert len(cards_of(page)) == 3
    assert "The last sync of Broken failed" in text_of(page)
    assert f'href="/repos/{broken}"' in page.text


def test_a_repository_syncing_now(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab", sync=False)

    async def syncing(runtime: Runtime) -> None:  # a sync under way, seen from outside
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(MarketplaceRepo).where(MarketplaceRepo.id == repo_id)
                                  .values(status="syncing"))  # fmt: skip

    web.api.run(syncing)
    page = web.viewer().get("/store")
    assert "Fetching apps from Lab" in text_of(page)
    assert 'data-refresh="5"' in page.text  # tomo.js re-reads it until the apps are in


def test_no_app_matches(web: Web, make_repo: MakeRepo) -> None:
    subscribe(web, media_and_tools(make_repo), "Lab")
    page = web.viewer()
    nothing = page.get("/store?q=spreadsheet")
    assert cards_of(nothing) == []
    assert "No app matches “spreadsheet”" in text_of(nothing)
    assert 'href="/store">Clear the search and filters</a>' in nothing.text
    narrowed = page.get("/store?q=music&category=tools")
    assert "Nothing matches every filter at once" in text_of(narrowed)
    assert 'href="/store?q=music">Search “music” everywhere</a>' in narrowed.text
    gone = page.get("/store?repo=removed-long-ago")
    assert "There is no repository “removed-long-ago” any more" in text_of(gone)


def test_the_store_needs_a_login_and_a_bad_page_number_is_refused(web: Web) -> None:
    assert web.anonymous().get("/store").headers["location"] == "/login?next=%2Fstore"
    refused = web.viewer().get("/store?page=0")
    assert refused.status_code == 422 and "<html" in refused.text


# -- an app's page ------------------------------------------------------------

RISKY = {
    "description": "Watches containers.\n\nSecond paragraph\nwith a line break.",
    "license": "MIT",
    "repository": "https://example.org/watcher",
    "documentation": "https://docs.example.org/watcher",
    "requirements": {"min_ram": 512, "min_storage": 2048, "architectures": ["amd64"]},
    "docker": {
        "image": "example/watcher:2.1",
        "privileged": True,
        "capabilities": ["NET_ADMIN"],
        "devices": ["/dev/ttyUSB0"],
        "ports": [{"container": 9000, "host": 9443, "description": "Web interface"}],
        "volumes": [
            {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock"},
            {"host_path": "/etc", "container_path": "/host/etc"},
            {"host_path": "./state", "container_path": "/state", "description": "Its database"},
        ],
        "environment": [
            {"name": "ADMIN_EMAIL", "required": True, "description": "Where alerts go"},
            {"name": "DB_PASSWORD", "secret": True, "default": "hunter2-default"},
            {"name": "API_KEY", "secret": True, "generate": "hex"},
            {"name": "LOG_LEVEL", "default": "info"},
        ],
    },
}


def test_the_app_page_explains_every_risk_and_marks_the_env(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, catalog_of(make_repo, ("watcher", "monitoring", RISKY)), "Lab")
    page = web.viewer().get(f"/apps/{repo_id}/watcher")
    assert page.status_code == 200
    text = text_of(page)
    for title in ("Full control of the server", "Controls Docker on the server",
                  "Extra power: NET_ADMIN", "Direct access to /dev/ttyUSB0",
                  "Can change /etc on the server"):  # fmt: skip
        assert title in text, title
    assert "same as root on the server" in text
    for flag in ("privileged", "docker-socket", "cap:NET_ADMIN", "device:/dev/ttyUSB0",
                 "system-path:/etc"):  # fmt: skip
        assert f"<code>{flag}</code>" in page.text
    assert re.search(r"ADMIN_EMAIL</code>\s*<span class=\"env-marks\">\s*<span class=\"badge "
                     r"badge-warn\"><span aria-hidden=\"true\">\* </span>required", page.text)  # fmt: skip
    assert "hunter2-default" not in page.text  # a secret's default is never shown
    assert "a default is set (hidden)" in text and "generated for you (random hex)" in text
    assert text.count("secret") >= 2 and "<code>info</code>" in page.text
    assert "<p>Watches containers.</p>" in page.text
    assert "<p>Second paragraph\nwith a line break.</p>" in page.text
    for fact in ("example/watcher:2.1", "9443/tcp", "9000/tcp", "Web interface", "/var/run/docker.sock",
                 "state in the app's own directory", "Its database", "read and write",
                 "amd64", "512.0 MB", "2.0 GB", "MIT", "Version 1.0.0"):  # fmt: skip
        assert fact in text, fact
    assert 'href="https://example.org/watcher"' in page.text
    assert 'href="https://docs.example.org/watcher"' in page.text


def test_an_app_without_risks_says_so(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab")
    text = text_of(web.viewer().get(f"/apps/{repo_id}/jellyfin"))
    assert "no risks It runs in its own container" in text


def test_only_an_admin_sees_the_install_button(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab")
    install = f'href="/apps/{repo_id}/jellyfin/install"'
    assert install in web.admin().get(f"/apps/{repo_id}/jellyfin").text
    viewer = web.viewer().get(f"/apps/{repo_id}/jellyfin")
    assert install not in viewer.text and "jellyfin/install" not in viewer.text
    assert "An admin installs apps on servers" in text_of(viewer)


def test_rating_as_a_viewer_changes_the_average_and_shows_ones_own(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab")
    url = f"/apps/{repo_id}/jellyfin"
    viewer, admin = web.viewer(), web.admin()
    form = viewer.get(url)
    assert "No one has rated it yet" in text_of(form)
    token = re.findall(r'name="csrf_token" value="([^"]*)"', form.text)[-1]
    rated = viewer.post(f"{url}/rating", {"rating": "4", "csrf_token": token}, csrf=False)
    assert rated.headers["location"] == f"{url}#rating"
    shown = viewer.follow(rated)
    assert "You gave it 4 stars" in text_of(shown)
    assert re.search(r'value="4" checked', shown.text)
    assert len(re.findall(r"\bchecked\b", shown.text)) == 1
    admin.follow(admin.post(f"{url}/rating", {"rating": "2"}))
    viewer.follow(viewer.post(f"{url}/rating", {"rating": "5"}))  # again: replaces the first
    after = text_of(viewer.get(url))
    assert "3.5" in after and "from 2 ratings" in after
    assert re.search(r'value="2" checked', admin.get(url).text)
    card = text_of(viewer.get("/store?q=jellyfin"))
    assert "★ 3.5 (2)" in card and "rated 3.5 out of 5 by 2 users" in card


def test_a_bad_rating_is_shown_beside_the_field(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab")
    url = f"/apps/{repo_id}/jellyfin"
    page = web.viewer()
    too_many = page.post(f"{url}/rating", {"rating": "9"})
    assert too_many.status_code == 422
    assert re.search(r'id="e-rating">.*less than or equal to 5', too_many.text)
    none = page.post(f"{url}/rating", {})
    assert none.status_code == 422 and "choose how many stars" in text_of(none)
    assert "No one has rated it yet" in text_of(page.get(url))
    assert page.post(f"{url}/rating", {"rating": "3"}, csrf=False).status_code == 403


def test_catalog_html_is_shown_as_text(web: Web, make_repo: MakeRepo) -> None:
    hostile = {"name": "Evil <b>App</b>",
               "description": '<script>alert("x")</script> <img src=x onerror=alert(1)>',
               "author": "<i>me</i>"}  # fmt: skip
    repo_id = subscribe(web, catalog_of(make_repo, ("evil", "tools", hostile)), "Lab")
    for answer in (web.viewer().get("/store"), web.viewer().get(f"/apps/{repo_id}/evil")):
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in answer.text
        assert "Evil &lt;b&gt;App&lt;/b&gt;" in answer.text


def test_an_unknown_app_is_a_404_page(web: Web, make_repo: MakeRepo) -> None:
    repo_id = subscribe(web, media_and_tools(make_repo), "Lab")
    missing = web.viewer().get(f"/apps/{repo_id}/ghost")
    assert missing.status_code == 404
    assert f"repo '{repo_id}' has no app 'ghost'" in unescape(text_of(missing))
    assert web.viewer().get("/apps/nowhere/ghost").status_code == 404
    assert web.viewer().post(f"/apps/{repo_id}/ghost/rating", {"rating": "3"}).status_code == 404


def test_pages_reach_the_app_page_from_a_card(web: Web, make_repo: MakeRepo) -> None:
    subscribe(web, media_and_tools(make_repo), "Lab")
    page: Page = web.viewer()
    first = cards_of(page.get("/store?q=jellyfin"))[0]
    assert "Streams your films to every screen." in text_of(page.get(first))
