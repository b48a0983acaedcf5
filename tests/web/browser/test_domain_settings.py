"""A server's domain settings in a real browser, against a real `tomo serve` and the
real test server (its front door not made yet): the ACME fields show only with
ACME; a DNS provider's credentials are typed once, saved, and the page never shows
them again; a line that is not KEY=VALUE is told beside the field."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page

TOKEN = "s3cret-dns-token"


async def test_dns_credentials_are_typed_once_and_the_page_never_shows_them(
    browser: Browser, with_users: Served, watched: Watched, sshd: Sshd, ssh_users: SshUsers,
    data_root: Path, docker_engine: None,
) -> None:  # fmt: skip
    base = with_users.url
    with_users.add_box(sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)
    await page.goto(f"{base}/servers/box/domain")
    provider = labelled(page, "DNS provider (DNS-01 challenge)")
    await expect(provider).to_be_hidden()  # tls internal: no ACME field
    await labelled(page, "Base domain").fill("home.example")
    await page.get_by_label("ACME: certificates from a certificate authority").check()
    await expect(provider).to_be_visible()
    await provider.fill("cloudflare")
    credentials = labelled(page, "The DNS provider's credentials")
    await credentials.fill("only-the-token")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-dns_credentials")).to_contain_text("Line 1 is not KEY=VALUE")
    await expect(credentials).to_have_value("")  # a secret typed is never sent back
    await look(page, "domain-dns-refused")

    await credentials.fill(f"api_token={TOKEN}")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(f"{base}/servers/box#domains-title")
    await expect(page.locator(".domains")).to_contain_text("DNS-01 through cloudflare")
    await page.goto(f"{base}/servers/box/domain")
    await expect(provider).to_have_value("cloudflare")
    await expect(credentials).to_have_value("")
    await expect(page.locator("#h-dns_credentials")).to_contain_text("Saved ones are kept")
    assert TOKEN not in await page.content()
    await look(page, "domain-dns-saved")
    assert watched.problems == []
