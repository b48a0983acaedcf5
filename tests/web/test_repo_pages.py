"""The repositories pages, as a browser without JavaScript uses them, with real git
repositories made in tmp_path."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import httpx
import pytest

from tests.gitrepo import CatalogRepo
from tests.web.conftest import Page, Web, text_of
from tomo.auth.service import csrf_token_for
from tomo.http.security import SESSION_COOKIE
from tomo.web.repos import SyncRun

SYNC_WAIT = 30.0  # seconds a small local repository may take to sync


def catalog_with(make_repo: Any, *app_ids: str) -> CatalogRepo:
    catalog: CatalogRepo = make_repo()
    for app_id in app_ids:
        catalog.add_app(app_id)
    catalog.commit("apps")
    return catalog


def subscribed(web: Web, catalog: CatalogRepo, name: str = "Home lab", sync: bool = True) -> str:
    """A repo added (and synced) through the API; its id."""
    added = web.api.admin.post("/api/marketplace/repos", json={"url": catalog.url, "name": name})
    assert added.status_code == 201, added.text
    repo_id = str(added.json()["id"])
    if sync:
        assert web.api.admin.post(f"/api/marketplace/repos/{repo_id}/sync").status_code == 200
    return repo_id


def finished(page: Page, repo_id: str) -> httpx.Response:
    """The sync fragment once the page's sync has ended (at most SYNC_WAIT)."""
    deadline = time.monotonic() + SYNC_WAIT
    while True:
        status = page.get(f"/repos/{repo_id}/sync/status")
        assert status.status_code == 200
        if 'data-state="running"' not in status.text or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def field_error(answer: httpx.Response, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', answer.text, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else ""


def repo_total(web: Web, repo_id: str) -> int:
    page = web.api.admin.get("/api/marketplace/apps", params={"repo": repo_id}).json()
    return int(page["total"])


def test_adding_a_repo_through_the_form_syncs_it(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes", "photos")
    page = web.admin()
    form = page.get("/repos/add")
    assert form.status_code == 200
    assert f'value="{csrf_token_for(page.cookies[SESSION_COOKIE])}"' in form.text
    for label in ("Repository URL", "Name", "Branch", "Kind"):
        assert f">{label}" in form.text

    added = page.post("/repos/add", {"url": catalog.url, "name": "Home lab", "branch": "",
                                     "repo_type": "community"})  # fmt: skip
    assert added.headers["location"] == "/repos/home-lab"
    shown = text_of(page.follow(added))
    assert "Added Home lab. Synced branch main" in shown
    assert "2 apps" in shown and "synced" in shown
    assert 'href="/store?repo=home-lab"' in page.get("/repos/home-lab").text
    listed = page.get("/repos")
    assert "Home lab" in text_of(listed) and ">2</a>" in listed.text
    assert repo_total(web, "home-lab") == 2


@pytest.mark.parametrize(
    ("typed", "field", "message"),
    [
        ({"url": "/no/such/repository"}, "url", "git ls-remote failed"),
        ({"url": "ext::sh -c touch% /tmp/pwned"}, "url", "transport tomo does not allow"),
        ({"url": "", "name": "Mine"}, "url", "at least 1 character"),
        ({"branch": "-evil"}, "branch", "not a valid branch name"),
    ],
)
def test_a_refused_repo_is_told_beside_its_field_with_what_was_typed_kept(
    web: Web, make_repo: Any, typed: dict[str, str], field: str, message: str
) -> None:
    catalog = catalog_with(make_repo, "notes")
    values = {"url": catalog.url, "name": "Mine", "branch": "", "repo_type": "personal", **typed}
    refused = web.admin().post("/repos/add", values)
    assert refused.status_code == 422
    assert message in field_error(refused, field)
    assert 'value="Mine"' in refused.text
    assert '<option value="personal" selected>' in refused.text
    if values["url"]:
        assert f'value="{values["url"]}"' in refused.text
    assert web.api.admin.get("/api/marketplace/repos").json() == []


def test_a_name_taken_is_told_beside_the_name(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes")
    subscribed(web, catalog, name="Mine", sync=False)
    taken = web.admin().post("/repos/add", {"url": catalog.url, "name": "Mine"})
    assert taken.status_code == 409
    assert "already exists" in field_error(taken, "name")


def test_the_repo_page_lists_each_file_the_last_sync_could_not_store(
    web: Web, make_repo: Any
) -> None:
    catalog: CatalogRepo = make_repo()
    catalog.add_app("notes")
    catalog.write("apps/tools/broken.yaml", "id: broken\nname: [unclosed\n")
    catalog.commit("apps")
    repo_id = subscribed(web, catalog)
    shown = web.viewer().get(f"/repos/{repo_id}")
    problems = re.search(r'<ul class="problem-list problem-errors".*?</ul>', shown.text, re.S)
    assert problems is not None
    assert "apps/tools/broken.yaml" in problems.group(0)
    assert "invalid YAML" in problems.group(0)
    assert "1 file not stored" in text_of(shown)


def test_sync_now_follows_the_sync_to_its_end(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes")
    repo_id = subscribed(web, catalog, sync=False)
    page = web.admin()
    assert "never synced" in text_of(page.get(f"/repos/{repo_id}"))
    started = page.post(f"/repos/{repo_id}/sync")
    assert started.headers["location"] == f"/repos/{repo_id}?sync=running"
    assert "Synced branch main" in text_of(finished(page, repo_id))
    after = page.get(started.headers["location"])
    assert 'data-status="synced"' in after.text
    assert "Synced branch main" in text_of(after) and "1 app " in text_of(after)
    catalog.add_app("photos")
    catalog.commit("one more")
    page.post(f"/repos/{repo_id}/sync")
    assert "2 apps (1 new" in text_of(finished(page, repo_id))
    assert repo_total(web, repo_id) == 2


def test_a_running_sync_shows_its_progress_and_is_not_started_twice(
    web: Web, make_repo: Any
) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    running = SyncRun(repo_id)
    running.progress("parsing", 3, 10)
    web.client.app.state.repo_syncs = {repo_id: running}  # type: ignore[attr-defined]
    page = web.admin()
    fragment = page.get(f"/repos/{repo_id}/sync/status")
    assert '<progress max="10" value="3"' in fragment.text
    assert "Reading app definitions 3 of 10 files" in text_of(fragment)
    again = page.post(f"/repos/{repo_id}/sync")
    assert again.headers["location"] == f"/repos/{repo_id}?sync=running"
    assert web.client.app.state.repo_syncs[repo_id] is running  # type: ignore[attr-defined]
    shown = page.get(f"/repos/{repo_id}")  # the run is shown without ?sync=, while it runs
    assert 'data-status="syncing"' in shown.text and "/static/sync.js" in shown.text
    assert "Reload the page" in text_of(shown)  # the way to follow it without JavaScript


def test_a_failed_sync_is_shown_with_its_reason(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes")
    repo_id = subscribed(web, catalog)
    shutil.rmtree(catalog.path)
    page = web.admin()
    page.post(f"/repos/{repo_id}/sync")
    assert "Sync failed: git" in text_of(finished(page, repo_id))
    shown = text_of(page.get(f"/repos/{repo_id}?sync=done"))
    assert "Sync failed" in shown and "keeps the apps of the last good sync" in shown
    listed = page.get("/repos")
    assert 'data-status="error"' in listed.text and "Last sync failed" in text_of(listed)


def test_a_sync_that_fails_with_a_bug_is_recorded_not_lost(
    web: Web, make_repo: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))

    async def broken(*_args: Any, **_options: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(web.client.app.state.runtime.marketplace, "sync_repo", broken)  # type: ignore[attr-defined]
    page = web.admin()
    page.post(f"/repos/{repo_id}/sync")
    shown = text_of(finished(page, repo_id))
    assert "Sync failed: an internal error in tomo" in shown
    assert "RuntimeError" not in shown and "Traceback" not in shown


def test_disable_hides_the_repo_from_the_store_until_enabled(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes", "photos"))
    page = web.admin()
    disabled = page.post(f"/repos/{repo_id}/disable", {"next": "/repos"})
    assert disabled.headers["location"] == "/repos"
    assert "hidden from the store" in text_of(page.follow(disabled))
    assert web.api.admin.get("/api/marketplace/apps").json()["total"] == 0
    assert "disabled" in text_of(page.get(f"/repos/{repo_id}"))
    enabled = page.post(f"/repos/{repo_id}/enable")
    assert enabled.headers["location"] == f"/repos/{repo_id}"
    assert web.api.admin.get("/api/marketplace/apps").json()["total"] == 2


def test_remove_forgets_the_repo_and_its_apps(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    page = web.admin()
    assert 'data-confirm="Remove Home lab and its 1 app' in page.get(f"/repos/{repo_id}").text
    removed = page.post(f"/repos/{repo_id}/remove")
    assert removed.headers["location"] == "/repos"
    assert "Removed Home lab and its 1 app" in text_of(page.follow(removed))
    assert page.get(f"/repos/{repo_id}").status_code == 404
    assert "No repositories yet" in text_of(page.get("/repos"))


def test_a_viewer_sees_no_controls_and_a_forged_post_is_refused(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    viewer = web.viewer()
    for url in ("/repos", f"/repos/{repo_id}"):
        shown = viewer.get(url)
        assert shown.status_code == 200 and "Home lab" in text_of(shown)
        assert '<form method="post" action="/repos' not in shown.text
        assert "Sync now" not in shown.text and "/repos/add" not in shown.text
    assert viewer.get("/repos/add").status_code == 403
    for action in ("sync", "disable", "remove"):
        assert viewer.post(f"/repos/{repo_id}/{action}").status_code == 403
    assert viewer.post("/repos/add", {"url": "/tmp", "name": "x"}).status_code == 403
    assert web.api.admin.get(f"/api/marketplace/repos/{repo_id}").json()["enabled"] is True
    assert web.anonymous().get("/repos").headers["location"] == "/login?next=%2Frepos"


def test_empty_states_say_what_to_do(web: Web) -> None:
    assert "Add a git repository of app definitions" in text_of(web.admin().get("/repos"))
    assert "An admin of this tomo adds" in text_of(web.viewer().get("/repos"))
