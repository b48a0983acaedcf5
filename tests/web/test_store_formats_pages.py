"""The store pages for apps of several containers and from other stores' catalogs:
their services, why one cannot be installed, and images served from the synced
repository (never fetched from elsewhere)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from html import unescape
from pathlib import Path

import yaml
from sqlalchemy import update

from tests.gitrepo import CatalogRepo
from tests.marketplace.test_services_definition import WIKI
from tests.web.conftest import Web, text_of
from tests.web.test_store_pages import subscribe
from tomo.marketplace.models import MarketplaceRepo
from tomo.runtime import Runtime

MakeRepo = Callable[..., CatalogRepo]
FIXTURES = Path(__file__).parents[1] / "marketplace" / "formats" / "fixtures"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


def wiki_catalog(make_repo: MakeRepo) -> CatalogRepo:
    repo = make_repo()
    repo.write("apps/tools/wiki.yaml", WIKI + "icon: apps/tools/wiki.png\n"
               "screenshots: [apps/tools/shot.png]\n")  # fmt: skip
    repo.write("apps/tools/wiki.png", PNG)
    repo.write("apps/tools/shot.png", PNG + b"shot")
    repo.commit()
    return repo


def test_an_app_of_several_containers_shows_each_and_its_settings(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, wiki_catalog(make_repo), "Lab")

    page = text_of(web.admin().get(f"/apps/{repo_id}/wiki"))

    assert "3 containers" in page
    assert "web (main) example/wiki:2.5 after db (healthy), migrate (done)" in page
    assert "db postgres:16" in page
    assert "the Docker volume dbdata tomo makes for the app" in page
    assert "Values you fill in once for the whole app" in page
    assert "DB_PASSWORD" in page and "SITE_NAME" in page
    assert "Install Wiki" in page


def test_images_in_the_repository_are_served_from_the_synced_commit(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, wiki_catalog(make_repo), "Lab")
    viewer = web.viewer()

    page = viewer.get(f"/apps/{repo_id}/wiki").text
    icon = viewer.get(f"/images/{repo_id}/apps/tools/wiki.png")
    shot = viewer.get(f"/images/{repo_id}/apps/tools/shot.png")

    assert f'<img src="/images/{repo_id}/apps/tools/wiki.png"' in page
    assert f'src="/images/{repo_id}/apps/tools/shot.png" alt="Screenshot 1 of Wiki"' in page
    assert (icon.status_code, icon.content, icon.headers["content-type"]) == (200, PNG, "image/png")
    assert shot.content == PNG + b"shot"
    assert "sandbox" in icon.headers["content-security-policy"]
    for path in ("apps/tools/wiki.yaml", "apps/%2E%2E/x.png", "apps/none.png", ".git/x.png"):
        assert viewer.get(f"/images/{repo_id}/{path}").status_code == 404, path
    assert web.anonymous().get(f"/images/{repo_id}/apps/tools/wiki.png").status_code == 303


def test_an_app_tomo_cannot_install_says_why_and_offers_no_install(
    web: Web, make_repo: MakeRepo
) -> None:
    repo = make_repo()
    shutil.copytree(FIXTURES / "umbrel", repo.path, dirs_exist_ok=True)
    repo.commit()
    repo_id = subscribe(web, repo, "Umbrel")
    admin = web.admin()
    blocked = web.api.admin.get(f"/api/marketplace/apps?repo={repo_id}&limit=100").json()
    apps = [web.api.admin.get(f"/api/marketplace/apps/{repo_id}/{a['id']}").json()
            for a in blocked["items"]]  # fmt: skip
    refused = next(app for app in apps if app["not_installable"])

    page = unescape(text_of(admin.get(f"/apps/{repo_id}/{refused['id']}")))
    install = admin.get(f"/apps/{repo_id}/{refused['id']}/install")

    assert f"tomo cannot install {refused['name']}." in page
    assert refused["not_installable"].split(";")[0] in page
    assert f"Install {refused['name']}" not in page
    assert install.status_code in (200, 422)
    assert "cannot be installed by tomo" in text_of(install)


# -- images a catalog names by a URL of its own repository ----------------------

GITHUB = "https://github.com/Example-Store/AppStore.git"
OWN_ICON = "https://cdn.jsdelivr.net/gh/example-store/appstore@main/Apps/Gallery/icon.png"
OWN_SHOT = "https://raw.githubusercontent.com/Example-Store/AppStore/main/Apps/Gallery/shot%201.png"
OTHERS_SHOT = "https://cdn.jsdelivr.net/gh/someone-else/AppStore@main/Apps/Gallery/icon.png"
OFFLINE_SHOT = "https://images.example.invalid/gallery/3.png"


def casaos_gallery(make_repo: MakeRepo) -> CatalogRepo:
    """A CasaOS store whose app names its own files by CDN URLs, as CasaOS's does."""
    compose = {
        "name": "gallery",
        "services": {"gallery": {"image": "example/gallery:1.0", "ports": ["8080:80"]}},
        "x-casaos": {"main": "gallery", "title": {"en_us": "Gallery"}, "category": "Media",
                     "description": {"en_us": "Shows your photos."}, "icon": OWN_ICON,
                     "screenshot_link": [OWN_SHOT, OTHERS_SHOT, OFFLINE_SHOT]},
    }  # fmt: skip
    repo = make_repo()
    repo.write("Apps/Gallery/docker-compose.yml", yaml.safe_dump(compose))
    repo.write("Apps/Gallery/icon.png", PNG)
    repo.write("Apps/Gallery/shot 1.png", PNG + b"shot")
    repo.commit()
    return repo


def on_github(web: Web, repo_id: str) -> None:
    """The repository as tomo knows one added from GitHub: synced here from a local
    copy (GitHub is out of the tests' reach), then given GitHub's URL."""

    async def move(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(MarketplaceRepo).where(MarketplaceRepo.id == repo_id)
                                  .values(url=GITHUB))  # fmt: skip

    web.api.run(move)


def test_images_named_by_a_url_of_the_same_repository_are_served_by_tomo(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, casaos_gallery(make_repo), "CasaOS")
    on_github(web, repo_id)
    viewer = web.viewer()

    card = viewer.get("/store").text
    page = viewer.get(f"/apps/{repo_id}/gallery").text
    icon = viewer.get(f"/images/{repo_id}/Apps/Gallery/icon.png")
    shot = viewer.get(f"/images/{repo_id}/Apps/Gallery/shot%201.png")

    assert f'<img src="/images/{repo_id}/Apps/Gallery/icon.png"' in card
    assert f'<img src="/images/{repo_id}/Apps/Gallery/icon.png"' in page
    served_shot = f'src="/images/{repo_id}/Apps/Gallery/shot%201.png"'
    assert f'{served_shot} alt="Screenshot 1 of Gallery"' in page
    assert (icon.status_code, icon.content, icon.headers["content-type"]) == (200, PNG, "image/png")
    assert (shot.status_code, shot.content) == (200, PNG + b"shot")
    assert f'src="{OTHERS_SHOT}" alt="Screenshot 2 of Gallery"' in page  # another repository's
    assert "cdn.jsdelivr.net/gh/example-store" not in card + page


def test_the_catalogs_own_urls_stay_as_they_are_for_a_repository_elsewhere(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, casaos_gallery(make_repo), "CasaOS")  # a local path, not GitHub

    page = web.viewer().get(f"/apps/{repo_id}/gallery").text

    assert f'<img src="{OWN_ICON}"' in page and f'src="{OWN_SHOT}"' in page


def test_an_image_from_elsewhere_is_left_to_the_browser_to_load_lazily(
    web: Web, make_repo: MakeRepo
) -> None:
    repo_id = subscribe(web, casaos_gallery(make_repo), "CasaOS")

    page = web.viewer().get(f"/apps/{repo_id}/gallery").text
    images = re.findall(r"<img [^>]*>", page)

    # tomo never fetches it: the page names it for the browser, which loads it when
    # shown, and tomo.js leaves out one that cannot load (offline).
    assert any(OFFLINE_SHOT in image for image in images)
    assert images and all('loading="lazy" decoding="async"' in image for image in images)
    assert '<script src="/static/tomo.js' in page


def test_umbrel_gallery_images_show_from_the_app_folder(web: Web, make_repo: MakeRepo) -> None:
    repo = make_repo()
    shutil.copytree(FIXTURES / "umbrel" / "notes-hub", repo.path / "notes-hub")
    (repo.path / "notes-hub" / "2.jpg").unlink()  # as in Umbrel's own store: not in the folder
    repo.commit()
    repo_id = subscribe(web, repo, "Umbrel")
    viewer = web.viewer()

    page = viewer.get(f"/apps/{repo_id}/notes-hub").text
    first = viewer.get(f"/images/{repo_id}/notes-hub/1.jpg")
    second = viewer.get(f"/images/{repo_id}/notes-hub/2.jpg")

    assert f'src="/images/{repo_id}/notes-hub/1.jpg" alt="Screenshot 1 of Notes Hub"' in page
    assert (first.status_code, first.headers["content-type"]) == (200, "image/jpeg")
    assert first.content == (FIXTURES / "umbrel" / "notes-hub" / "1.jpg").read_bytes()
    assert second.status_code == 404  # the page's script leaves it out (browser test)


def test_the_official_umbrel_stores_images_come_from_its_gallery_site(
    web: Web, make_repo: MakeRepo
) -> None:
    """Umbrel keeps its icons and screenshots out of its app repository, on its gallery
    site: tomo sends the browser there for an image the repository lacks (only for
    the official store, whose gallery it is); an image the repository has is served."""
    repo = make_repo()
    shutil.copytree(FIXTURES / "umbrel" / "notes-hub", repo.path / "notes-hub")
    manifest = (repo.path / "notes-hub" / "umbrel-app.yml").read_text()
    repo.write("notes-hub/umbrel-app.yml", re.sub(r"(?m)^icon: .*\n", "", manifest))  # as Umbrel's
    repo.write(
        "notes-hub/kept.png", (FIXTURES / "casaos" / "Apps" / "Mediabox" / "icon.png").read_bytes()
    )
    repo.commit()
    repo_id = subscribe(web, repo, "Umbrel")
    viewer = web.viewer()
    page = viewer.get(f"/apps/{repo_id}/notes-hub").text
    assert f'src="/images/{repo_id}/notes-hub/icon.svg"' in page
    assert viewer.get(f"/images/{repo_id}/notes-hub/icon.svg").status_code == 404  # not Umbrel's

    async def as_umbrels_own(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(MarketplaceRepo).where(MarketplaceRepo.id == repo_id)
                                  .values(url="https://github.com/getumbrel/umbrel-apps.git"))  # fmt: skip

    web.api.run(as_umbrels_own)
    sent = viewer.get(f"/images/{repo_id}/notes-hub/icon.svg")  # never followed
    assert (sent.status_code, sent.headers["location"]) == (
        302, "https://getumbrel.github.io/umbrel-apps-gallery/notes-hub/icon.svg")  # fmt: skip
    kept = viewer.get(f"/images/{repo_id}/notes-hub/kept.png")
    assert (kept.status_code, kept.headers["content-type"]) == (200, "image/png")
    assert viewer.get(f"/images/{repo_id}/notes-hub/../x.png").status_code == 404
