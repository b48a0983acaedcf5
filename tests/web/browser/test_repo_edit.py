"""A repository in a real browser: its last sync's report read at a glance (a line
per kind, the lines folded), edited (a new branch is synced right away, a refusal
is told beside its field), and subscribed to a second time (asked first)."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect

from tests.gitrepo import CatalogRepo, app_yaml
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page


def noisy_catalog(make_repo: Any) -> CatalogRepo:
    """Main: 40 apps whose files have a key that looks misspelt, and a broken file;
    testing: one app more."""
    repo: CatalogRepo = make_repo("noisy")
    for index in range(40):
        repo.write(f"apps/tools/app{index}.yaml", app_yaml(f"app{index}", licence="MIT"))
    repo.write("apps/tools/broken.yaml", "id: broken\nname: [unclosed\n")
    repo.commit("apps")
    repo.git("checkout", "--quiet", "-b", "testing")
    repo.add_app("extra")
    repo.commit("one more")
    repo.git("checkout", "--quiet", "main")
    return repo


async def test_a_repo_is_read_at_a_glance_edited_and_not_subscribed_twice(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any
) -> None:
    repo = noisy_catalog(make_repo)
    with_users.tomo("repo", "add", repo.url, "--name", "Home")
    base = with_users.url
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)

    await page.goto(f"{base}/repos/home")
    warnings = page.locator("details.report-kind", has_text="licence: unknown key")
    await expect(warnings.locator("summary")).to_contain_text("40 files")
    await expect(warnings.get_by_text("apps/tools/app39.yaml")).to_be_hidden()
    await look(page, "repo-report")
    await warnings.locator("summary").click()
    await expect(warnings.get_by_text("apps/tools/app39.yaml")).to_be_visible()
    await look(page, "repo-report-unfolded")

    await page.get_by_role("link", name="Edit").click()
    await expect(page).to_have_url(f"{base}/repos/home/edit")
    await look(page, "repo-edit")
    await labelled(page, "Name").fill("")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator("#e-name")).to_contain_text("at least 1 character")
    await look(page, "repo-edit-refused")

    await labelled(page, "Name").fill("Home lab")
    await labelled(page, "Branch").fill("testing")
    await labelled(page, "Kind").select_option("official")
    await page.get_by_role("button", name="Save").click()
    await expect(page).to_have_url(re.compile(r"/repos/home\?sync=done"), timeout=30_000)
    await expect(page.get_by_role("status").first).to_contain_text("Synced branch testing")
    await expect(page.get_by_role("heading", name="Home lab")).to_be_visible()
    await expect(page.locator(".facts").first).to_contain_text("official")

    await page.goto(f"{base}/repos/add")
    await labelled(page, "Repository URL").fill(repo.url)
    await labelled(page, "Name").fill("Again")
    await labelled(page, "Branch").fill("testing")
    await page.get_by_role("button", name="Add and sync").click()
    await expect(page.get_by_role("alert")).to_contain_text("Already subscribed: Home lab")
    await look(page, "repo-add-subscribed-already")
    await page.get_by_role("link", name="Go to Home lab").click()
    await expect(page).to_have_url(f"{base}/repos/home")
    assert watched.problems == []
