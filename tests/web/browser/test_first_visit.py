"""A new user's first minutes in a real browser: setup, logging in and out."""

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


async def test_setup_then_log_out_and_in_again(
    browser: Browser, served: Served, watched: Watched
) -> None:
    page = await new_page(browser, watched)
    await page.goto(served.url)
    await expect(page).to_have_url(f"{served.url}/setup")
    await expect(page.get_by_role("heading", name="Welcome to tomo")).to_be_visible()
    await look(page, "setup")

    await labelled(page, "User name").fill(ADMIN[0])
    await labelled(page, "Password").fill(ADMIN[1])
    await labelled(page, "Password again").fill("something else")
    await page.get_by_role("button", name="Create the admin and log in").click()
    await expect(page.get_by_text("the two passwords differ")).to_be_visible()
    await expect(labelled(page, "User name")).to_have_value(ADMIN[0])
    await labelled(page, "Password").fill(ADMIN[1])
    await labelled(page, "Password again").fill(ADMIN[1])
    await page.get_by_role("button", name="Create the admin and log in").click()
    await expect(page.get_by_role("status")).to_have_text("Welcome to tomo.")

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{served.url}/login")
    await look(page, "login")
    await labelled(page, "User name").fill(ADMIN[0])
    await labelled(page, "Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("wrong user name or password.")
    await expect(labelled(page, "User name")).to_have_value(ADMIN[0])
    await log_in(page, served.url, ADMIN)
    await page.goto(f"{served.url}/account")
    await expect(page.get_by_role("heading", name=ADMIN[0])).to_be_visible()
    await look(page, "account")
    assert watched.problems == []
