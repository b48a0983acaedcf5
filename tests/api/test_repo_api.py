"""Repositories through the API: a URL and branch subscribed again is refused with a
precise 409 unless asked for, a repository's kind changes, a removal names the
installations of its apps, and a sync report carries its summary."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.gitrepo import CatalogRepo


def catalog(make_repo, *app_ids: str) -> CatalogRepo:
    repo: CatalogRepo = make_repo()
    for app_id in app_ids:
        repo.add_app(app_id)
    repo.commit()
    return repo


def test_a_url_and_branch_subscribed_again_is_refused_unless_asked(api: Api, make_repo) -> None:
    repo = catalog(make_repo, "notes")
    first = api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "Home"})
    assert first.status_code == 201, first.text

    again = api.admin.post("/api/marketplace/repos", json={"url": f"{repo.url}/", "name": "Two"})
    assert again.status_code == 409
    assert again.json() == {
        "type": "urn:tomo:problem:repo-already-subscribed", "title": "Repo already subscribed",
        "status": 409,
        "detail": f"repo 'home' already follows {repo.url} on branch 'main' (another "
                  "subscription would list each of its apps again)",
        "errors": [{"field": "url", "message": again.json()["detail"]}],
    }  # fmt: skip
    anyway = api.admin.post("/api/marketplace/repos",
                            json={"url": repo.url, "name": "Two", "allow_duplicate": True})  # fmt: skip
    assert anyway.status_code == 201
    assert anyway.json()["warnings"] == [
        f"repo 'home' already subscribes to this repository ({repo.url}, branch main)"
    ]


def test_a_repos_kind_changes_and_a_bad_kind_is_refused(api: Api, make_repo) -> None:
    repo = catalog(make_repo, "notes")
    api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "Home"})

    changed = api.admin.patch("/api/marketplace/repos/home", json={"repo_type": "official"})
    refused = api.admin.patch("/api/marketplace/repos/home", json={"repo_type": "vendor"})

    assert (changed.status_code, changed.json()["repo_type"]) == (200, "official")
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["body.repo_type"]
    assert api.viewer.patch("/api/marketplace/repos/home", json={"name": "x"}).status_code == 403


def test_a_sync_report_carries_its_summary_and_a_removal_its_installations(
    api: Api, make_repo
) -> None:
    repo: CatalogRepo = make_repo()
    for app_id in ("one", "two"):
        repo.add_app(app_id, licence="MIT")  # sic: a key that looks misspelt
    repo.commit()
    api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "Home"})

    report = api.admin.post("/api/marketplace/repos/home/sync").json()
    shown = api.viewer.get("/api/marketplace/repos/home").json()["last_report"]
    removed = api.admin.delete("/api/marketplace/repos/home").json()

    assert (report["unchanged"], report["not_installable"]) == (0, [])
    assert report["summary"] == shown["summary"] == {
        "errors": [], "not_installable": [],
        "warnings": [{"kind": "licence: unknown key, ignored (did you mean 'license'?)",
                      "count": 2, "examples": ["apps/tools/one.yaml", "apps/tools/two.yaml"]}],
    }  # fmt: skip
    assert (removed["id"], removed["installations"]) == ("home", [])
