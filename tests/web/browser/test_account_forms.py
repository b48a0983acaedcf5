"""Setup and account forms in a real browser: every error at once beside its field,
the password rule in full; and /docs, whose "Try it out" writes as the person
logged in to tomo in that browser."""

from __future__ import annotations

import json

from playwright.async_api import Browser, Page, expect

from tests.web.browser.conftest import (
    ADMIN,
    VIEWER,
    Served,
    Watched,
    labelled,
    log_in,
    look,
    new_page,
)


async def error_of(page: Page, label: str) -> str:
    """The error an input is described by (its aria-describedby), as a screen reader
    would read it with the field."""
    field = labelled(page, label)
    await expect(field).to_have_attribute("aria-invalid", "true")
    described = (await field.get_attribute("aria-describedby") or "").split()
    errors = [name for name in described if name.startswith("e-")]
    assert len(errors) == 1, described
    return (await page.locator(f"#{errors[0]}").inner_text()).removeprefix("⚠ ").strip()


async def test_setup_shows_every_error_at_once_then_lands_on_the_store(
    browser: Browser, served: Served, watched: Watched
) -> None:
    page = await new_page(browser, watched)
    await page.goto(f"{served.url}/setup")
    rule = page.locator("#h-password")
    await expect(rule).to_have_text(
        "At least 10 and at most 1024 characters. Any characters count, spaces too; a few "
        "words make a good one."
    )
    await labelled(page, "User name").fill("-ada")
    await labelled(page, "Password").fill("short")
    await labelled(page, "Password again").fill("other")
    await page.get_by_role("button", name="Create the admin and log in").click()

    assert (await error_of(page, "User name")).startswith("A user name is 1 to 64 lowercase")
    assert await error_of(page, "Password") == "At least 10 characters are needed, this one has 5."
    assert (await error_of(page, "Password again")).startswith("The two passwords differ")
    await expect(rule).to_be_visible()  # the rule stays beside the field
    await look(page, "setup-errors")

    await labelled(page, "User name").fill(ADMIN[0])
    await labelled(page, "Password").fill(ADMIN[1])
    await labelled(page, "Password again").fill(ADMIN[1])
    await page.get_by_role("button", name="Create the admin and log in").click()
    await expect(page).to_have_url(f"{served.url}/store")
    await expect(page.get_by_role("status")).to_have_text("Welcome to tomo.")
    assert watched.problems == []


async def test_a_wrong_current_password_is_marked_on_its_field(
    browser: Browser, with_users: Served, watched: Watched
) -> None:
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, VIEWER)
    await page.goto(f"{with_users.url}/account")
    await labelled(page, "Current password").fill("not the password")
    await labelled(page, "New password").fill("short")
    await labelled(page, "New password again").fill("short")
    await page.get_by_role("button", name="Change password").click()

    assert await error_of(page, "Current password") == "The current password is wrong."
    assert await error_of(page, "New password") == (
        "At least 10 characters are needed, this one has 5."
    )
    await expect(labelled(page, "New password again")).not_to_have_attribute("aria-invalid", "true")
    await look(page, "account-password-errors")
    assert watched.problems == []


async def test_try_it_out_on_docs_writes_as_the_logged_in_user(
    browser: Browser, with_users: Served, watched: Watched
) -> None:
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)
    await page.goto(f"{with_users.url}/docs#/accounts/create_token")
    operation = page.locator("#operations-accounts-create_token")
    await expect(operation.locator(".opblock-body")).to_be_visible()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.locator("textarea.body-param__text").fill('{"name": "made on /docs"}')
    await operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    await expect(status).to_have_text("201")  # a 403 without the session's CSRF token

    tokens = json.loads(with_users.tomo("token", "list", "--json"))
    assert [t["username"] for t in tokens if t["name"] == "made on /docs"] == [ADMIN[0]], tokens
    assert watched.problems == []  # the page's own scripts only: nothing refused
