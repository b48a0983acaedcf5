"""The marketplace API, through the real app and its lifespan, as its users."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Api, As, users_of
from tests.gitrepo import CatalogRepo
from tomo.app import create_app
from tomo.config import Settings
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import open_runtime


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"builtin_catalog": True})


@pytest.fixture
def client(api: Api) -> As:
    return api.viewer  # reading the catalog is a viewer's right


def test_health(api: Api) -> None:
    assert api.anonymous.get("/api/health").json()["status"] == "ok"


def test_search_show_and_categories(client: As) -> None:
    page = client.get("/api/marketplace/apps", params={"q": "jellyfin"}).json()
    assert [item["id"] for item in page["items"]] == ["jellyfin"]
    media = client.get("/api/marketplace/apps", params={"category": "media", "limit": 2}).json()
    assert media["total"] >= 2 and len(media["items"]) == 2
    app = client.get("/api/marketplace/apps/official/jellyfin").json()
    assert app["docker"]["image"].startswith("jellyfin/jellyfin:")
    categories = client.get("/api/marketplace/categories").json()
    assert {"name": "media", "count": media["total"]} in categories
    repos = client.get("/api/marketplace/repos").json()
    assert [repo["id"] for repo in repos] == ["official"]
    assert client.get("/api/marketplace/repos/official").json()["last_report"]["errors"] == []


def test_errors_map_to_statuses_with_a_message(client: As) -> None:
    missing = client.get("/api/marketplace/apps/official/ghost")
    assert missing.headers["content-type"] == "application/problem+json"
    assert (missing.status_code, missing.json()) == (404, {
        "type": "urn:tomo:problem:app-not-found", "title": "App not found", "status": 404,
        "detail": "repo 'official' has no app 'ghost'",
    })  # fmt: skip
    assert client.get("/api/marketplace/repos/ghost").status_code == 404
    assert client.get("/api/marketplace/apps", params={"limit": 0}).status_code == 422
    assert client.get("/api/marketplace/apps", params={"sort": "bogus"}).status_code == 422


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": "99999999999999999999"}, "offset"),
        ({"offset": "1000000001"}, "offset"),
        ({"offset": "-1"}, "offset"),
        ({"limit": "99999999999999999999"}, "limit"),
    ],
)
def test_paging_out_of_bounds_is_refused(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    refused = client.get("/api/marketplace/apps", params=params)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == [f"query.{field}"]


def test_the_last_allowed_offset_gives_an_empty_page(client: As) -> None:
    page = client.get("/api/marketplace/apps", params={"offset": "1000000000"})
    assert (page.status_code, page.json()["items"]) == (200, [])


def test_repo_credentials_are_never_returned(settings: Settings) -> None:
    async def add_private_repo() -> None:
        async with open_runtime(settings) as runtime:
            url = "https://user:s3cret@example.invalid/x/y.git"
            await runtime.marketplace.add_repo(RepoCreate(url=url, name="private", branch="main"))

    asyncio.run(add_private_repo())
    with TestClient(create_app(settings)) as anonymous:
        client = users_of(anonymous).admin
        listed = client.get("/api/marketplace/repos")
        shown = client.get("/api/marketplace/repos/private")
    assert "s3cret" not in listed.text + shown.text
    assert [(r["url"], r["has_credentials"]) for r in listed.json()] == [
        ("https://example.invalid/x/y.git", True)
    ]
    assert shown.json()["has_credentials"] is True


def test_a_refused_subscription_names_its_field(api: Api, tmp_path: Path) -> None:
    """errors[].field says which field was refused, for every kind of refusal (a
    client never reads it from the words)."""
    repo = CatalogRepo(tmp_path / "catalog")
    add = {"url": repo.url, "name": "Home", "branch": "main"}
    assert api.admin.post("/api/marketplace/repos", json=add).status_code == 201

    def fields_of(changes: dict[str, str]) -> list[str]:
        refused = api.admin.post("/api/marketplace/repos", json={**add, **changes})
        assert refused.status_code in (409, 422, 502), refused.text
        return [error["field"] for error in refused.json()["errors"]]

    assert fields_of({}) == ["name"]  # taken
    assert fields_of({"name": "Other", "id": "home"}) == ["id"]  # taken
    assert fields_of({"name": "Other", "branch": "-x"}) == ["branch"]
    assert fields_of({"name": "Other", "url": "ext::sh -c id"}) == ["url"]
    # no branch given: the remote is asked for its default, and does not answer
    nowhere = {"name": "Other", "url": f"file://{tmp_path / 'nowhere'}"}
    refused = api.admin.post("/api/marketplace/repos", json=nowhere)
    assert [error["field"] for error in refused.json()["errors"]] == ["url"], refused.text


def test_an_admin_pastes_a_compose_file_a_viewer_may_not(api: Api) -> None:
    body = {"name": "site", "compose": "services:\n  web:\n    image: nginx:1.27\n"}
    assert api.viewer.post("/api/marketplace/personal-apps", json=body).status_code == 403
    added = api.admin.post("/api/marketplace/personal-apps", json=body)
    assert added.status_code == 201, added.text
    assert added.json() == {"app": "personal/site", "not_installable": None, "warnings": []}
    shown = api.viewer.get("/api/marketplace/apps/personal/site")
    assert shown.json()["docker"]["image"] == "nginx:1.27"
    refused = api.admin.post("/api/marketplace/personal-apps", json={**body, "compose": "x: 1"})
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["compose"]


def test_other_containers_on_a_server_are_for_admins(api: Api) -> None:
    assert api.viewer.get("/api/servers/nas/containers").status_code == 403
    assert api.admin.get("/api/servers/nas/containers").status_code == 404  # no such server
