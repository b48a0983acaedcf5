"""Pasting a compose file of one's own, in a real browser: the form, a refusal
beside the file, then the app's install page."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.web.browser.conftest import (
    ADMIN,
    Served,
    Watched,
    labelled,
    log_in,
    look,
    new_page,
)

SITE = "services:\n  web:\n    image: nginx:1.27\n    ports: ['8080:80']\n"


async def test_a_pasted_compose_file_becomes_an_app_to_install(
    browser: Browser, with_users: Served, watched: Watched
) -> None:
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)
    await page.goto(f"{with_users.url}/store")
    await page.get_by_role("link", name="Install your own compose file").click()
    await look(page, "paste-compose")

    await labelled(page, "Name").fill("site")
    await labelled(page, "Compose file or docker run command").fill("services: [web]\n")
    await page.get_by_role("button", name="Add and continue").click()
    await expect(page.get_by_text("the compose file: not a compose file")).to_be_visible()
    await expect(labelled(page, "Compose file or docker run command")).to_have_value(
        "services: [web]\n"
    )
    await look(page, "paste-compose-refused")

    await labelled(page, "Compose file or docker run command").fill(SITE)
    await page.get_by_role("button", name="Add and continue").click()
    await expect(page).to_have_url(f"{with_users.url}/apps/personal/site/install")
    await expect(page.get_by_role("status")).to_contain_text("Added personal/site")
    assert watched.problems == []
