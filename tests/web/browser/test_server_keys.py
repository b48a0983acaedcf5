"""A server that tomo logs in to with a key it generates, in a real browser against
a real `tomo serve` and the real test sshd: the public key shown and copied, put
on the server (in the test user's authorized keys, as the harness does for its
own keys), then "Test and save"; and a wrong password for it later, refused
beside its field while the key keeps working."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from tests.servers.authorized_keys import authorized
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page

CLIPBOARD = ["clipboard-read", "clipboard-write"]


async def test_a_generated_key_then_a_refused_password(
    browser: Browser, with_users: Served, watched: Watched, sshd: Sshd, ssh_users: SshUsers
) -> None:
    base = with_users.url
    page = await new_page(browser, watched, permissions=CLIPBOARD)
    await log_in(page, base, ADMIN)
    public_key = await add_with_a_generated_key(page, base, sshd, ssh_users)
    with authorized(ssh_users, public_key):
        await page.get_by_role("button", name="Test and save").click()
        await expect(page).to_have_url(f"{base}/servers/box")
        await expect(page.get_by_text("Logged in to box with tomo's key; online")).to_be_visible(
            timeout=30_000
        )
        await refuse_a_wrong_password(page, base)
        await page.goto(f"{base}/servers/box")
        await page.get_by_role("button", name="Test now").click()
        await expect(page.get_by_text("Tested box; online")).to_be_visible(timeout=30_000)
    assert watched.problems == []


async def add_with_a_generated_key(page: Page, base: str, sshd: Sshd, users: SshUsers) -> str:
    """Add the server with a key tomo makes; the public key its page shows (and copies)."""
    await page.goto(f"{base}/servers/add")
    await labelled(page, "Name").fill("box")
    await labelled(page, "Host").fill("127.0.0.1")
    await labelled(page, "SSH port").fill(str(sshd.port))
    await labelled(page, "User").fill(users.user)
    await page.get_by_role("radio", name="Generate a key for me").check()
    await expect(page.get_by_role("textbox", name="Private key")).to_be_hidden()
    await expect(page.get_by_text("tomo makes an Ed25519 key pair")).to_be_visible()
    await look(page, "server-add-generated-key")
    await page.get_by_role("button", name="Add and check its host key").click()

    await expect(page).to_have_url(f"{base}/servers/box/key")
    shown = page.locator("#public-key")
    await expect(shown).to_have_text(re.compile(r"^ssh-ed25519 \S+ tomo@box$"))
    public_key = (await shown.text_content() or "").strip()
    await expect(page.get_by_text(sshd.fingerprint)).to_be_visible()  # the host key, to check
    await page.get_by_role("button", name="Copy the public key").click()
    await expect(page.locator('[data-copy-status="public-key"]')).to_have_text("Copied.")
    assert await page.evaluate("navigator.clipboard.readText()") == public_key
    assert "PRIVATE KEY" not in await page.content()
    await look(page, "server-key")
    return public_key


async def refuse_a_wrong_password(page: Page, base: str) -> None:
    await page.goto(f"{base}/servers/box/edit")
    login = page.locator("#login")
    await login.get_by_role("radio", name="Password").check()
    await expect(login.get_by_role("textbox", name="Private key")).to_be_hidden()
    await page.locator("#f-password").fill("not-the-password")
    await login.get_by_role("button", name="Test and save").click()
    refused = page.locator("#e-password")
    await expect(refused).to_contain_text("(password not accepted); the old login is kept")
    await expect(page.locator("#f-password")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#f-password")).to_have_value("")  # never sent back
    await look(page, "server-login-refused")
