"""The read-only marketplace API, through the real app and its lifespan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tomo.app import create_app
from tomo.config import Settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"builtin_catalog": True}))) as client:
        yield client


def test_health(client: TestClient) -> None:
    assert client.get("/api/health").json()["status"] == "ok"


def test_search_show_and_categories(client: TestClient) -> None:
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


def test_errors_map_to_statuses_with_a_message(client: TestClient) -> None:
    missing = client.get("/api/marketplace/apps/official/ghost")
    assert (missing.status_code, missing.json()) == (
        404,
        {"detail": "repo 'official' has no app 'ghost'"},
    )
    assert client.get("/api/marketplace/repos/ghost").status_code == 404
    assert client.get("/api/marketplace/apps", params={"limit": 0}).status_code == 422
    assert client.get("/api/marketplace/apps", params={"sort": "bogus"}).status_code == 422
