"""A store's images and Markdown descriptions in a real browser: an app page whose
description is formatted (and whose raw HTML stays text), whose icon and
screenshot the catalog names by CDN URLs of its own repository and tomo serves
from the synced commit; and an Umbrel gallery whose images missing from the
repository, or out of reach (offline), are left out rather than shown broken."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import yaml
from playwright.async_api import Browser, Page, expect

from tests.web.browser.conftest import VIEWER, Served, Watched, log_in, look, new_page

FIXTURES = Path(__file__).parents[2] / "marketplace" / "formats" / "fixtures"
IMAGES = FIXTURES / "casaos" / "Apps" / "Mediabox"  # real PNGs, 64 and 480 pixels wide
GITHUB = "https://github.com/Example-Store/AppStore"
DESCRIPTION = """\
Gallery shows **your photos** on every screen.

## Key Features
- Albums by *date*
- Sharing with [the phone app](https://gallery.example.org/app)

Read [this](javascript:alert(1)) first. <script>alert("x")</script>
"""


def casaos_gallery(make_repo: Any) -> Any:
    compose = {
        "name": "gallery",
        "services": {"gallery": {"image": "example/gallery:1.0", "ports": ["8080:80"]}},
        "x-casaos": {
            "main": "gallery", "title": {"en_us": "Gallery"}, "category": "Media",
            "description": {"en_us": DESCRIPTION},
            "icon": "https://cdn.jsdelivr.net/gh/example-store/appstore@main/Apps/Gallery/icon.png",
            "screenshot_link": ["https://raw.githubusercontent.com/Example-Store/AppStore/main/"
                                "Apps/Gallery/screen.png"],
        },
    }  # fmt: skip
    repo = make_repo()
    repo.write("Apps/Gallery/docker-compose.yml", yaml.safe_dump(compose))
    repo.write("Apps/Gallery/icon.png", (IMAGES / "icon.png").read_bytes())
    repo.write("Apps/Gallery/screen.png", (IMAGES / "screenshot-1.png").read_bytes())
    repo.commit()
    return repo


def on_github(served: Served, repo_id: str) -> None:
    """The repository as tomo knows one added from GitHub: synced here from a local
    copy (GitHub is out of the tests' reach), then given GitHub's URL."""
    with sqlite3.connect(served.data_dir / "tomo.db") as db:
        db.execute("UPDATE marketplace_repos SET url = ? WHERE id = ?", (GITHUB, repo_id))


async def loaded_width(page: Page, selector: str) -> int:
    image = page.locator(selector)
    await image.scroll_into_view_if_needed()
    await expect(image).not_to_have_js_property("naturalWidth", 0)
    return int(await image.evaluate("img => img.naturalWidth"))


async def test_an_app_page_formats_its_description_and_serves_its_own_images(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any
) -> None:
    with_users.tomo("repo", "add", casaos_gallery(make_repo).url, "--name", "Casa")
    on_github(with_users, "casa")
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, VIEWER)

    await page.goto(f"{with_users.url}/apps/casa/gallery")
    about = page.locator(".prose")
    await expect(about.locator("strong")).to_have_text("your photos")
    await expect(about.get_by_role("heading", level=4)).to_have_text("Key Features")
    await expect(about.get_by_role("listitem")).to_have_text(
        ["Albums by date", "Sharing with the phone app"]
    )
    link = about.get_by_role("link", name="the phone app")
    await expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    await expect(about).to_contain_text('Read this first. <script>alert("x")</script>')
    await expect(about.get_by_role("link", name="this")).to_have_count(0)  # javascript:
    assert await loaded_width(page, ".app-hero .icon img") == 64
    assert await loaded_width(page, ".screens img") == 480
    await look(page, "app-markdown-own-images")

    await page.goto(f"{with_users.url}/store")
    await expect(page.locator(".app-card-desc")).to_have_text(
        "Gallery shows your photos on every screen."
    )
    assert await loaded_width(page, ".app-card .icon img") == 64
    assert watched.problems == []


def umbrel_store(make_repo: Any) -> Any:
    """notes-hub with one gallery image in its folder, one that (as in Umbrel's own
    store) lives elsewhere and one on a host out of reach; solo with none found."""
    repo = make_repo()
    for app, gallery in (("notes-hub", ["1.png", "2.jpg", "https://cdn.example.org/3.jpg"]),
                         ("solo", ["1.jpg"])):  # fmt: skip
        shutil.copytree(FIXTURES / "umbrel" / app, repo.path / app)
        manifest = yaml.safe_load((repo.path / app / "umbrel-app.yml").read_text())
        manifest["gallery"] = gallery
        repo.write(f"{app}/umbrel-app.yml", yaml.safe_dump(manifest))
        for name in ("1.jpg", "2.jpg"):
            (repo.path / app / name).unlink(missing_ok=True)
    repo.write("notes-hub/1.png", (IMAGES / "screenshot-1.png").read_bytes())
    repo.commit()
    return repo


async def test_gallery_images_that_cannot_load_are_left_out(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any
) -> None:
    with_users.tomo("repo", "add", umbrel_store(make_repo).url, "--name", "Umbrel")
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, VIEWER)

    await page.goto(f"{with_users.url}/apps/umbrel/notes-hub")
    shots = page.locator(".screens img")
    await expect(shots).to_have_count(1)  # the missing and the unreachable ones left out
    await expect(shots).to_have_attribute("alt", "Screenshot 1 of Notes Hub")
    assert await loaded_width(page, ".screens img") == 480
    # The icon's host cannot be reached: its letter shows instead, in the same box.
    await expect(page.locator(".app-hero .icon img")).to_have_count(0)
    await expect(page.locator(".app-hero .icon")).to_have_text("N")
    await look(page, "app-umbrel-gallery")

    await page.goto(f"{with_users.url}/apps/umbrel/solo")
    await expect(page.get_by_role("heading", name="Screenshots")).to_be_hidden()
    assert watched.problems == []
