"""The repositories pages, as a browser without JavaScript uses them, with real git
repositories made in tmp_path."""

from __future__ import annotations

import re
import shutil
import time
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.gitrepo import CatalogRepo, app_yaml
from tests.marketplace.test_repos import installed
from tests.web.conftest import Page, Web, text_of
from tomo.auth.service import csrf_token_for
from tomo.http.security import SESSION_COOKIE
from tomo.marketplace.models import MarketplaceRepo
from tomo.runtime import Runtime
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


def test_a_failed_sync_never_reads_as_no_sync_having_finished(web: Web, make_repo: Any) -> None:
    never, worked = catalog_with(make_repo, "notes"), catalog_with(make_repo, "wiki")
    never_id = subscribed(web, never, "Never", sync=False)
    worked_id = subscribed(web, worked, "Worked")
    for catalog, repo_id in ((never, never_id), (worked, worked_id)):
        shutil.rmtree(catalog.path)
        assert web.api.admin.post(f"/api/marketplace/repos/{repo_id}/sync").status_code == 502
    page = web.admin()
    first = text_of(page.get(f"/repos/{never_id}"))
    assert "No sync has finished yet" not in first
    assert re.search(r"Last sync failed: git ls-remote failed: [^.]*\. Repository", first), first
    assert re.search(r"Last sync report No sync of this repository has worked yet: the last one "
                     r"failed, for the reason above\. Fix what it names, then use Sync now ?\.",
                     first), first  # fmt: skip
    assert "Last sync that worked never" in first
    second = text_of(page.get(f"/repos/{worked_id}"))
    assert (
        "Report of the last sync that worked The last sync failed, for the reason above; "
        "this is the report of the one before it that worked ( just now )." in second
    )
    assert "Synced: branch main" in second  # the report it keeps
    viewer = text_of(web.viewer().get(f"/repos/{never_id}"))
    assert "worked yet: the last one failed, for the reason above." in viewer
    assert "Sync now" not in viewer


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
    said = text_of(page.follow(disabled))
    assert "Disabled Home lab: its apps are hidden from the store." in said
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


# -- the report read at a glance, editing, subscribing twice, removing (issue 20) --------


def folded(html: str) -> tuple[list[str], str]:
    """The report's kinds (each fold's summary line) and the page without the folds."""
    kinds = [text_of_html(s) for s in re.findall(r"<summary>(.*?)</summary>", html, re.S)]
    return kinds, re.sub(r"<details\b.*?</details>", "", html, flags=re.S)


def text_of_html(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


def test_a_report_of_500_warnings_shows_a_line_per_kind_and_folds_the_lines(
    web: Web, make_repo: Any
) -> None:
    catalog: CatalogRepo = make_repo()
    for index in range(500):  # a key that looks misspelt in each, a misnamed file in 100
        file_name = f"file{index}" if index < 100 else f"app{index}"
        catalog.write(f"apps/tools/{file_name}.yaml", app_yaml(f"app{index}", licence="MIT"))
    catalog.write("apps/tools/broken.yaml", "id: broken\nname: [unclosed\n")
    catalog.commit("a noisy catalog")
    repo_id = subscribed(web, catalog)

    shown = web.viewer().get(f"/repos/{repo_id}")

    kinds, outside = folded(shown.text)
    assert kinds == [
        "1 file invalid YAML, line 3: did not find expected ',' or ']'",
        "500 files licence: unknown key, ignored (did you mean 'license'?)",
        "100 files id '…' differs from the file name; the catalog expects …",
    ]
    assert shown.text.count("apps/tools/app499.yaml") == 1  # its one line, in its fold
    assert "apps/tools/app" not in outside and "apps/tools/file" not in outside
    assert "500 files with warnings" in text_of(shown)
    assert "(500 new, 0 changed, 0 removed, 0 unchanged)" in text_of(shown)


def test_a_report_stored_by_an_earlier_tomo_still_shows(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    old = {"repo_id": repo_id, "status": "synced", "commit": "a" * 40, "app_count": 1,
           "added": 1, "updated": 0, "removed": 0,
           "errors": [{"path": "apps/x.yaml", "message": "invalid YAML, line 2: oops"}]}  # fmt: skip

    async def stored_long_ago(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(MarketplaceRepo).values(last_report=old))

    web.api.run(stored_long_ago)
    shown = web.viewer().get(f"/repos/{repo_id}")
    assert shown.status_code == 200
    assert folded(shown.text)[0] == ["1 file invalid YAML, line 2: oops"]
    assert "not installable" not in text_of(shown)


def edit_values(**changes: str) -> dict[str, str]:
    return {"name": "Home lab", "branch": "main", "format": "auto", "repo_type": "community",
            "enabled": "on", **changes}  # fmt: skip


def test_editing_a_repo_changes_what_was_changed(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    page = web.admin()
    form = page.get(f"/repos/{repo_id}/edit")
    assert form.status_code == 200 and f'href="/repos/{repo_id}/edit"' in page.get(
        f"/repos/{repo_id}").text  # fmt: skip
    assert 'value="Home lab"' in form.text and 'value="main"' in form.text
    assert '<option value="auto" selected>' in form.text
    assert '<option value="community" selected>' in form.text
    assert 'name="enabled" checked' in form.text

    saved = page.post(f"/repos/{repo_id}/edit", edit_values(name="Lab", repo_type="official"))
    assert saved.headers["location"] == f"/repos/{repo_id}"
    assert "Saved Lab." in text_of(page.follow(saved))
    hidden = page.post(f"/repos/{repo_id}/edit", edit_values(name="Lab", repo_type="official",
                                                              enabled=""))  # fmt: skip
    assert hidden.headers["location"] == f"/repos/{repo_id}"
    shown = web.api.admin.get(f"/api/marketplace/repos/{repo_id}").json()
    assert (shown["name"], shown["repo_type"], shown["enabled"]) == ("Lab", "official", False)
    assert shown["last_commit"] is not None  # nothing that needs a sync changed


def test_a_new_branch_or_format_is_synced_right_away(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes")
    catalog.git("checkout", "--quiet", "-b", "testing")
    catalog.add_app("photos")
    catalog.commit("testing")
    catalog.git("checkout", "--quiet", "main")  # the branch a new subscription follows
    repo_id = subscribed(web, catalog)
    page = web.admin()

    moved = page.post(f"/repos/{repo_id}/edit", edit_values(branch="testing"))
    assert moved.headers["location"] == f"/repos/{repo_id}?sync=running"
    assert "Synced branch testing" in text_of(finished(page, repo_id))
    assert repo_total(web, repo_id) == 2
    formatted = page.post(f"/repos/{repo_id}/edit", edit_values(branch="testing", format="tomo"))
    assert formatted.headers["location"] == f"/repos/{repo_id}?sync=running"
    finished(page, repo_id)
    shown = web.api.admin.get(f"/api/marketplace/repos/{repo_id}").json()
    assert (shown["format"], shown["last_report"]["status"]) == ("tomo", "synced")


@pytest.mark.parametrize(
    ("typed", "field", "message", "status"),
    [
        ({"branch": "-evil"}, "branch", "not a valid branch name", 422),
        ({"name": ""}, "name", "at least 1 character", 422),
        ({"name": "Other"}, "name", "a repo named &#39;Other&#39; already exists", 409),
        ({"format": "zip"}, "format", "Input should be", 422),
        ({"repo_type": "vendor"}, "repo_type", "Input should be", 422),
    ],
)
def test_a_refused_edit_is_told_beside_its_field_and_changes_nothing(
    web: Web, make_repo: Any, typed: dict[str, str], field: str, message: str, status: int
) -> None:
    catalog = catalog_with(make_repo, "notes")
    repo_id = subscribed(web, catalog)
    subscribed(web, catalog_with(make_repo, "photos"), name="Other", sync=False)
    refused = web.admin().post(f"/repos/{repo_id}/edit", edit_values(**typed))
    assert refused.status_code == status
    assert message in field_error(refused, field)
    if field != "name":
        assert 'value="Home lab"' in refused.text  # what was typed is kept
    shown = web.api.admin.get(f"/api/marketplace/repos/{repo_id}").json()
    assert (shown["name"], shown["branch"], shown["format"]) == ("Home lab", "main", None)


def test_subscribing_to_a_url_again_asks_first(web: Web, make_repo: Any) -> None:
    catalog = catalog_with(make_repo, "notes")
    repo_id = subscribed(web, catalog)
    page = web.admin()

    asked = page.post("/repos/add", {"url": f"{catalog.url}/", "name": "Again", "branch": "",
                                     "repo_type": "community"})  # fmt: skip

    assert asked.status_code == 409
    said = text_of(asked)
    assert f"Already subscribed: Home lab already follows {catalog.url} on branch main" in said
    assert f'<a class="btn btn-primary" href="/repos/{repo_id}">Go to Home lab</a>' in asked.text
    assert len(web.api.admin.get("/api/marketplace/repos").json()) == 1
    anyway = re.search(r'<form method="post" action="/repos/add" class="inline">(.*?)</form>',
                       asked.text, re.S)  # fmt: skip
    assert anyway is not None and "Add it anyway" in anyway.group(1)
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', anyway.group(1)))
    added = page.post("/repos/add", {k: v for k, v in fields.items() if k != "csrf_token"})
    assert added.headers["location"] == "/repos/again"
    assert "already subscribes to this repository" in text_of(page.follow(added))


def test_removing_a_repo_says_which_installations_keep_running(web: Web, make_repo: Any) -> None:
    repo_id = subscribed(web, catalog_with(make_repo, "notes"))
    web.api.run(lambda runtime: installed(runtime, repo_id, "notes", "my-notes"))
    page = web.admin()
    running = ("The installations of its apps keep running as installed, and no newer version "
               "of them is offered: my-notes on NAS.")  # fmt: skip
    assert f"from the catalog? {running}" in page.get(f"/repos/{repo_id}").text
    assert f"from the catalog? {running}" in page.get("/repos").text

    removed = page.post(f"/repos/{repo_id}/remove")
    assert f"Removed Home lab and its 1 app. {running}" in text_of(page.follow(removed))
