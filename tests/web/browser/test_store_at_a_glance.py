"""The store with two stores' catalogs, in a real browser at desktop and phone
width: what tomo cannot install is left out and counted, then shown marked; the
stores' categories are one list whose counts follow the search; an app both
stores carry is one card, and its page offers both sources."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, expect

from tests.web.browser.conftest import VIEWER, Served, Watched, log_in, look, new_page

BLOCKED = ("docker-compose.yml: services.node.volumes[0]: ${APP_NODE_DATA} is computed by the "
           "app's exports.sh, a shell script tomo does not run")  # fmt: skip


def catalogs(make_repo: Any) -> tuple[str, str]:
    casa = make_repo()
    casa.add_app("jellyfin", "media", name="Jellyfin", description="Stream your films.")
    casa.add_app("code-server", "developer", name="Code Server", description="VS Code online.")
    casa.add_app("node", "bitcoin", name="Bitcoin Node", description="A full node.",
                 not_installable=BLOCKED)  # fmt: skip
    casa.commit()
    tipi = make_repo()
    tipi.add_app("jellyfin", "media", name="Jellyfin", description="The free media system.")
    tipi.add_app("gitea", "development", name="Gitea", description="Git with a cup of tea.")
    tipi.commit()
    return casa.url, tipi.url


async def test_the_store_reads_as_one_and_says_what_tomo_cannot_install(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any
) -> None:
    casa, tipi = catalogs(make_repo)
    with_users.tomo("repo", "add", casa, "--name", "Casa")
    with_users.tomo("repo", "add", tipi, "--name", "Tipi")
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, VIEWER)

    await page.goto(f"{with_users.url}/store")
    await expect(page.locator(".lead")).to_have_text(
        "3 apps ready to install on your servers, from 2 repositories "
        "(1 more that tomo cannot install)."
    )
    cards = page.locator(".app-card h3")
    await expect(cards).to_have_text(["Code Server", "Gitea", "Jellyfin"])
    jellyfin = page.locator(".app-card", has_text="Jellyfin")
    await expect(jellyfin.locator(".also-in")).to_have_text("Also in Tipi")
    categories = page.get_by_role("navigation", name="Categories")
    await expect(categories.get_by_role("link", name="Developer tools 2")).to_be_visible()
    await expect(categories.get_by_role("link", name="Media 1")).to_be_visible()
    await look(page, "store-installable")

    # Searching: the counts follow, and the app tomo cannot install is one click away.
    await page.get_by_label("Search apps").fill("node")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator(".left-out")).to_contain_text(
        "One app matches “node”, but tomo cannot install it."
    )
    await page.locator(".left-out").get_by_role("link", name="Show it as well").click()
    blocked = page.locator(".app-card-blocked")
    await expect(blocked.locator("h3")).to_have_text("Bitcoin Node")
    await expect(blocked.locator(".badge-blocked")).to_have_text("tomo cannot install it")
    await expect(categories.get_by_role("link", name="Bitcoin and crypto 1")).to_be_visible()
    await expect(categories.get_by_role("link", name="Media 1")).to_have_count(0)
    await look(page, "store-not-installable")

    await blocked.get_by_role("link", name="Bitcoin Node").click()
    reasons = page.locator(".why-not-list li")
    await expect(reasons).to_have_text([
        "${APP_NODE_DATA} is computed by the app's exports.sh, a shell script tomo does not run."
    ])  # fmt: skip
    await expect(page.locator(".why-not-files")).not_to_have_attribute("open", "")
    await look(page, "app-not-installable")

    # One card, two sources: the page says which is which.
    await page.goto(f"{with_users.url}/apps/tipi/gitea")
    details = page.locator(".facts", has_text="Category")
    await expect(details).to_contain_text("Developer tools (“development” in Tipi)")
    await page.goto(f"{with_users.url}/apps/tipi/jellyfin")
    sources = page.locator(".source-list li")
    await expect(sources).to_have_count(2)
    await sources.get_by_role("link", name="Casa").click()
    await expect(page).to_have_url(f"{with_users.url}/apps/casa/jellyfin")
    await look(page, "app-sources")
    assert watched.problems == []
