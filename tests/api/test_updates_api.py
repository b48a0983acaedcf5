"""Every installation the API returns carries the update its catalog offers (`update`:
null, or from, to and release notes), in the list and alone, after a real sync."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.deployment.test_outdated import installed
from tests.gitrepo import CatalogRepo
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime


def test_the_api_returns_the_update_on_every_installation(api: Api, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()

    async def subscribe(runtime: Runtime) -> None:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
        await runtime.marketplace.sync_repo("home")
        await installed(runtime, "home", "notes", "notes")
        await installed(runtime, "home", "photos", "pics")

    api.run(subscribe)
    listed = api.viewer.get("/api/installations")
    assert listed.status_code == 200
    assert [(i["name"], i["update"]) for i in listed.json()] == [("notes", None), ("pics", None)]

    repo.add_app("notes", version="1.2.0", release_notes="Sharing with **links**.")
    repo.commit()
    synced = api.admin.post("/api/marketplace/repos/home/sync")
    assert synced.status_code == 200, synced.text

    offer = {"from_version": "1.0.0", "to_version": "1.2.0",
             "release_notes": "Sharing with **links**.", "images": []}  # fmt: skip
    listed = api.viewer.get("/api/installations", params={"server": "nas"})
    assert [(i["name"], i["update"]) for i in listed.json()] == [("notes", offer), ("pics", None)]
    one = api.viewer.get("/api/installations/notes")
    assert one.status_code == 200 and one.json()["update"] == offer
    assert api.viewer.get("/api/installations/i-pics").json()["update"] is None


def test_the_openapi_document_describes_the_update(api: Api) -> None:
    document = api.anonymous.get("/openapi.json").json()
    installation = document["components"]["schemas"]["InstallationPublic"]
    assert "update" in installation["properties"]
    offer = document["components"]["schemas"]["UpdateOffer"]
    assert set(offer["properties"]) == {"from_version", "to_version", "release_notes", "images"}
    assert offer["required"] == ["from_version", "to_version"]


def test_an_admin_sets_the_update_policy_and_bad_input_changes_nothing(api: Api, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.commit()

    async def subscribe(runtime: Runtime) -> None:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
        await runtime.marketplace.sync_repo("home")
        await installed(runtime, "home", "notes", "notes")

    api.run(subscribe)
    path = "/api/installations/notes/update-policy"
    assert api.viewer.get("/api/installations/notes").json()["updates"] == {
        "policy": "manual", "window": None, "major": False}  # fmt: skip

    auto = {"policy": "auto", "window": "2:30-4:00", "major": True}
    changed = api.admin.put(path, json=auto)
    assert changed.status_code == 200, changed.text
    expected = {"policy": "auto", "window": "02:30-04:00", "major": True}
    assert changed.json()["updates"] == expected
    assert api.viewer.get("/api/installations/notes").json()["updates"] == expected

    for body, field, said in (
        ({"policy": "auto", "window": "25:00"}, "window", "'25:00' is not a maintenance window"),
        ({"policy": "auto", "window": "03:00-24:00"}, "window", "24:00 is not a time of day"),
        ({"policy": "weekly"}, "policy", "'manual', 'notify', 'auto' or 'pinned'"),
    ):
        refused = api.admin.put(path, json=body)
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert error["field"] == f"body.{field}" and said in error["message"], error
    assert api.viewer.put(path, json={"policy": "pinned"}).status_code == 403
    assert api.viewer.get("/api/installations/notes").json()["updates"] == expected
