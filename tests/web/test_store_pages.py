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
    assert "no risks" in text and "Utilities and tools · 1.0.0" in text
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
    everything = web.viewer().get("/store").text
    assert re.search(r"Media</span><span class=\"count\">3</span>", everything)
    assert re.search(r"Utilities and tools</span><span class=\"count\">1</span>", everything)
    # The counts follow the search: what it finds in each category.
    music = web.viewer().get("/store?q=music").text
    assert re.search(r"Media</span><span class=\"count\">1</span>", music)
    assert "Utilities and tools" not in music
    sidebar = web.viewer().get("/store?q=server").text
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
        # Shown as text, whichever way the quotes are escaped (Jinja's or Markdown's).
        assert '<script>alert("x")</script>' in unescape(text_of(answer))
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


# -- apps tomo cannot install ------------------------------------------------

BLOCKED = (
    "docker-compose.yml: services.server.volumes[1]: ${APP_DATA} is computed by the app's "
    "exports.sh, a shell script tomo does not run; docker-compose.yml: "
    "services.server.environment.RPC_USER: ${APP_RPC_USER} is computed by the app's exports.sh, "
    "a shell script tomo does not run; hooks/pre-start: it uses systemctl, which exists on "
    "umbrelOS itself, not in the app's container where tomo runs hooks"
)


def with_a_blocked_app(make_repo: MakeRepo) -> CatalogRepo:
    return catalog_of(
        make_repo,
        ("node", "finance", {"name": "Node", "description": "A full node.",
                             "not_installable": BLOCKED}),
        ("wallet", "finance", {"name": "Wallet", "description": "A wallet for the node."}),
        ("photos", "media", {"name": "Photos", "description": "A gallery."}),
    )  # fmt: skip


def test_the_store_shows_what_tomo_can_install_and_counts_the_rest(
    web: Web, make_repo: MakeRepo
) -> None:
    subscribe(web, with_a_blocked_app(make_repo), "Umbrelish")
    store = web.viewer().get("/store")
    assert (
        "2 apps ready to install on your servers, from 1 repository (1 more that tomo cannot "
        "install)." in text_of(store)
    )
    assert cards_of(store) == ["/apps/umbrelish/photos", "/apps/umbrelish/wallet"]
    assert "<span>Every app</span>" in store.text
    # A search that would find it says so, and one click shows it, marked.
    found = web.viewer().get("/store?q=node")
    assert cards_of(found) == ["/apps/umbrelish/wallet"]
    assert "One more app matches “node”, but tomo cannot install it." in text_of(found)
    everything = web.viewer().get("/store?q=node&all=1")
    assert cards_of(everything) == ["/apps/umbrelish/node", "/apps/umbrelish/wallet"]
    blocked = re.search(
        r'<article class="app-card app-card-blocked">.*?</article>', everything.text, re.S
    )
    assert blocked is not None and "/apps/umbrelish/node" in blocked.group(0)
    assert "tomo cannot install it" in blocked.group(0) and "no risks" not in blocked.group(0)
    # Links made from the everything view keep it (the sidebar, the search form).
    assert 'href="/store?q=node&amp;category=finance&amp;all=1"' in everything.text
    assert '<input type="hidden" name="all" value="1">' in everything.text
    # Nothing installable matches: the empty state says so, with the way to the rest.
    only_blocked = web.viewer().get("/store?q=full")
    assert "No app tomo can install matches “full”" in only_blocked.text
    assert "One app matches “full”, but tomo cannot install it." in text_of(only_blocked)


def test_the_app_page_says_why_in_words_and_keeps_the_files_in_a_fold(
    web: Web, make_repo: MakeRepo
) -> None:
    subscribe(web, with_a_blocked_app(make_repo), "Umbrelish")
    page = web.admin().get("/apps/umbrelish/node")
    assert "Install Node" not in page.text
    reasons = re.findall(
        r"<li>(.*?)</li>", page.text.split('class="why-not-list"')[1].split("</ul>")[0]
    )
    assert [unescape(reason) for reason in reasons] == [
        "${APP_DATA} is computed by the app's exports.sh, a shell script tomo does not run "
        "(also ${APP_RPC_USER}).",
        "Its pre-start hook uses systemctl, which exists on umbrelOS itself, not in the app's "
        "container where tomo runs hooks.",
    ]
    fold = page.text.split('<details class="why-not-files">')[1].split("</details>")[0]
    assert "docker-compose.yml: services.server.volumes[1]: ${APP_DATA}" in unescape(fold)
    form = web.admin().get("/apps/umbrelish/node/install")
    assert "Why tomo cannot install Node" in form.text


def test_categories_of_several_stores_read_as_one(web: Web, make_repo: MakeRepo) -> None:
    """Runtipi's "development" and CasaOS's "developer" are one category; the app page
    still says the store's own word."""
    subscribe(web, catalog_of(make_repo, ("gitea", "development", {"name": "Gitea"}),
                              ("ollama", "ai", {"name": "Ollama"})), "Runtipi-ish")  # fmt: skip
    subscribe(web, catalog_of(make_repo, ("code-server", "developer", {"name": "Code"}),
                              ("adguard", "network", {"name": "AdGuard"})), "CasaOS-ish")  # fmt: skip
    store = web.viewer().get("/store").text
    assert re.search(r"Developer tools</span><span class=\"count\">2</span>", store)
    assert re.search(r"Networking</span><span class=\"count\">1</span>", store)
    assert re.search(r">AI</span><span class=\"count\">1</span>", store)
    assert "Development</span>" not in store
    chosen = web.viewer().get("/store?category=developer")
    assert sorted(cards_of(chosen)) == ["/apps/casaos-ish/code-server", "/apps/runtipi-ish/gitea"]
    page = text_of(web.viewer().get("/apps/runtipi-ish/gitea"))
    assert "Category Developer tools (“development” in Runtipi-ish)" in page


def test_the_same_app_from_several_repositories_is_one_card(web: Web, make_repo: MakeRepo) -> None:
    casaos = subscribe(web, catalog_of(make_repo, ("jellyfin", "media", {"name": "Jellyfin"}),
                                       ("pihole", "network", {"name": "Pi-hole"})), "CasaOS")  # fmt: skip
    runtipi = subscribe(web, catalog_of(make_repo, ("jellyfin", "media", {"name": "Jellyfin"}),
                                        ("pi-hole", "network", {"name": "PiHole",
                                         "not_installable": "it needs a domain"})), "Runtipi")  # fmt: skip
    store = web.viewer().get("/store")
    assert cards_of(store) == [f"/apps/{casaos}/jellyfin", f"/apps/{casaos}/pihole"]
    assert text_of(store).count("Also in Runtipi") == 2
    assert "2 apps ready to install" in text_of(store)
    assert re.search(r"Media</span><span class=\"count\">1</span>", store.text)
    # One repository chosen: its own copies, even the one tomo cannot install.
    only = web.viewer().get(f"/store?repo={runtipi}&all=1")
    assert cards_of(only) == [f"/apps/{runtipi}/jellyfin", f"/apps/{runtipi}/pi-hole"]
    # The app page offers each source, with its version and whether tomo can install it.
    page = text_of(web.viewer().get(f"/apps/{runtipi}/pi-hole"))
    assert "Pi-hole is in 2 repositories" not in page  # the page names its own app
    assert "PiHole is in 2 repositories." in page
    assert "CasaOS · version 1.0.0 · tomo can install it (the store's card)" in page
    # Disabled, CasaOS no longer represents them: Runtipi's copies do, where tomo can.
    web.api.admin.patch(f"/api/marketplace/repos/{casaos}", json={"enabled": False})
    after = web.viewer().get("/store?all=1")
    assert cards_of(after) == [f"/apps/{runtipi}/jellyfin", f"/apps/{runtipi}/pi-hole"]
    assert "Also in" not in text_of(after)


# -- descriptions in Markdown ---------------------------------------------------

MARKDOWN_DESCRIPTION = """\
# Notes

**Key Features:**
- Fast *search*
- Sync with [the phone app](https://notes.example.org/app)

## Setup

Read [this](javascript:alert(1)) first. <b>bold?</b>

![Screenshot](https://images.example.org/notes.png)
"""


def test_a_markdown_description_is_formatted_on_the_app_page_and_plain_on_its_card(
    web: Web, make_repo: MakeRepo
) -> None:
    described = {"description": MARKDOWN_DESCRIPTION}
    repo_id = subscribe(web, catalog_of(make_repo, ("notes", "tools", described)), "Lab")
    viewer = web.viewer()

    page = viewer.get(f"/apps/{repo_id}/notes").text
    store = viewer.get("/store")

    about = page[page.index('id="about-title"') :]
    assert "<h3>Notes</h3>" in about and "<h4>Setup</h4>" in about
    assert "<p><strong>Key Features:</strong></p>\n<ul>\n<li>Fast <em>search</em></li>" in about
    assert ('<a href="https://notes.example.org/app" rel="noopener noreferrer nofollow">'
            "the phone app</a>") in about  # fmt: skip
    assert "Read this first." in about and "javascript:" not in page
    assert "&lt;b&gt;bold?&lt;/b&gt;" in about
    assert "images.example.org" not in re.sub(r'href="[^"]*"', "", page)  # a link, never loaded
    assert "Key Features: Fast search Sync with the phone app" in text_of(store)
    assert "**" not in store.text and "# Notes" not in store.text
