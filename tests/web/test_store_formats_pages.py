"""The store pages for apps of several containers and from other stores' catalogs:
their services, why one cannot be installed, and images served from the synced
repository (never fetched from elsewhere)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from html import unescape
from pathlib import Path

from tests.gitrepo import CatalogRepo
from tests.marketplace.test_services_definition import WIKI
from tests.web.conftest import Web, text_of
from tests.web.test_store_pages import subscribe

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
