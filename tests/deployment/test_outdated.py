"""Which installations the catalog offers a newer version of (deployment/outdated.py):
the version rule, what an update changes, and the service's answers after real
syncs of a real git catalog (the installations are recorded as an install leaves
them: no server is reached to decide what the catalog offers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import update

from tests.gitrepo import CatalogRepo, app_definition
from tomo.deployment.models import Installation
from tomo.deployment.outdated import ImageChange, is_newer, update_changes
from tomo.deployment.schemas import UpdateOffer
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime
from tomo.servers.models import Server
from tomo.updates.policy import UpdatePolicy


@pytest.mark.parametrize(
    ("catalog", "installed", "newer"),
    [
        ("1.1.0", "1.0.0", True),
        ("1.10", "1.9", True),  # numbers, not text: 10 > 9
        ("1.0.0", "1.1.0", False),  # the catalog moved back: not offered
        ("1.2.0", "1.2", False),  # one release, written twice
        ("v1.2", "1.2", False),
        ("2.0", "v1.9", True),
        ("1.0", "1.0-rc1", True),  # the release after its candidate
        ("1.0-rc1", "1.0", False),
        ("1.0-rc2", "1.0-rc1", True),
        ("10.1-ls46", "10.1-ls45", True),  # a packager's suffix: the catalog's word
        ("2024.06.1", "2024.05.3", True),
        ("stable", "latest", True),  # not numbers: any change is the catalog's word
        ("16", "latest", True),
        ("latest", "latest", False),
        (" 1.0 ", "1.0", False),
    ],
)
def test_the_catalogs_version_is_newer_by_this_rule(
    catalog: str, installed: str, newer: bool
) -> None:
    assert is_newer(catalog, installed) is newer


def definition(**overrides: Any) -> AppDefinition:
    """The tests' app; a key given as None is left out (`docker` for `services:`)."""
    fields = app_definition("web", **overrides)
    return AppDefinition.model_validate({k: v for k, v in fields.items() if v is not None})


def test_an_update_names_its_images_ports_volumes_and_settings() -> None:
    installed = definition(docker={
        "image": "example/web:1.0.0", "ports": [{"container": 80}, {"container": 9000}],
        "volumes": [{"container_path": "/data"}, {"container_path": "/cache"}],
        "environment": [{"name": "TZ", "default": "UTC"}, {"name": "OLD_FLAG"},
                        {"name": "NAME", "required": True}],
    })  # fmt: skip
    offered = definition(docker={
        "image": "example/web:2.0.0", "ports": [{"container": 80}, {"container": 443}],
        "volumes": [{"container_path": "/data"}, {"container_path": "/config"}],
        "environment": [{"name": "TZ", "default": "UTC"}, {"name": "NAME", "required": True},
                        {"name": "GREETING", "required": True},
                        {"name": "LANG", "required": True, "default": "en"},
                        {"name": "TOKEN", "required": True, "secret": True, "generate": "hex"},
                        {"name": "SET_BEFORE", "required": True}],
    })  # fmt: skip

    changes = update_changes(installed, offered, images={"app": "example/web:1.0.0"},
                             values={"NAME", "SET_BEFORE"})  # fmt: skip

    assert changes.images == [ImageChange("app", "example/web:1.0.0", "example/web:2.0.0")]
    assert (changes.ports_added, changes.ports_removed) == (["443/tcp"], ["9000/tcp"])
    assert (changes.volumes_added, changes.volumes_removed) == (["/config"], ["/cache"])
    # Only GREETING has no value: LANG has a default, TOKEN is generated, SET_BEFORE is set.
    assert changes.settings_required == ["GREETING"]
    assert changes.settings_removed == ["OLD_FLAG"]
    assert not changes.nothing


def test_an_update_to_the_same_definition_changes_nothing() -> None:
    same = definition()
    changes = update_changes(same, same, images={"app": same.docker.image}, values=set())
    assert changes.nothing and changes.images == []


def test_the_image_an_installation_runs_is_compared_not_its_definitions() -> None:
    """An installation moved to another tag (`tomo update --tag`) runs that tag."""
    same = definition()
    changes = update_changes(same, same, images={"app": "example/web:edge"}, values=set())
    assert changes.images == [ImageChange("app", "example/web:edge", "example/web:1.0.0")]


def test_services_added_and_gone_are_led_by_their_name() -> None:
    installed = definition(docker=None, services={
        "web": {"image": "example/web:1", "ports": [{"container": 80}]},
        "cache": {"image": "redis:7", "volumes": [{"container_path": "/data"}]},
    })  # fmt: skip
    offered = definition(docker=None, services={
        "web": {"image": "example/web:2", "ports": [{"container": 80}]},
        "db": {"image": "postgres:16", "volumes": [{"container_path": "/var/lib/postgresql"}]},
    })  # fmt: skip
    images = {"web": "example/web:1", "cache": "redis:7"}

    changes = update_changes(installed, offered, images=images, values=set())

    assert changes.images == [ImageChange("web", "example/web:1", "example/web:2"),
                              ImageChange("cache", "redis:7", None),
                              ImageChange("db", None, "postgres:16")]  # fmt: skip
    assert changes.ports_added == changes.ports_removed == []
    assert changes.volumes_added == ["db: /var/lib/postgresql"]
    assert changes.volumes_removed == ["cache: /data"]


# -- the service, after real syncs ------------------------------------------------


async def installed(runtime: Runtime, repo_id: str, app_id: str, name: str,
                    version: str = "1.0.0") -> str:  # fmt: skip
    """An installation of a repo's app, as an install leaves it (no server is reached)."""
    now = datetime.now(UTC)
    async with runtime.db.session() as session, session.begin():
        if await session.get(Server, "nas") is None:
            session.add(Server(id="nas", name="NAS", host="127.0.0.1", port=22, username="tomo",
                               auth_type="key", private_key_enc="sealed", data_root="/srv/apps",
                               use_sudo=False, status="online", created_at=now))  # fmt: skip
            await session.flush()
        session.add(Installation(
            id=f"i-{name}", server_id="nas", name=name, repo_id=repo_id, app_id=app_id,
            version=version, image=f"example/{app_id}:{version}",
            definition=app_definition(app_id, version=version), config={"env": {}},
            status="running", created_at=now, updated_at=now,
        ))  # fmt: skip
    return f"i-{name}"


async def synced(runtime: Runtime, repo: CatalogRepo) -> None:
    repo.commit()
    report = await runtime.marketplace.sync_repo("home")
    assert report.errors == [], report.errors


@pytest.fixture
async def home(runtime: Runtime, make_repo) -> CatalogRepo:
    """A catalog `home` with two apps at 1.0.0, synced."""
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
    await runtime.marketplace.sync_repo("home")
    return repo


@pytest.mark.both_databases
async def test_after_a_sync_each_installation_knows_its_update(
    runtime: Runtime, home: CatalogRepo
) -> None:
    deployment = runtime.deployment
    notes = await installed(runtime, "home", "notes", "notes")
    pics = await installed(runtime, "home", "photos", "pics")
    await installed(runtime, "elsewhere", "notes", "stray")  # its catalog is gone
    assert [i.update for i in await deployment.list_installations()] == [None, None, None]
    assert await deployment.list_outdated() == []

    home.add_app("notes", version="1.1.0", release_notes="- Faster search\n- Dark mode")
    await synced(runtime, home)

    offer = UpdateOffer(from_version="1.0.0", to_version="1.1.0",
                        release_notes="- Faster search\n- Dark mode")  # fmt: skip
    listed = {i.name: i.update for i in await deployment.list_installations()}
    assert listed == {"notes": offer, "pics": None, "stray": None}
    assert (await deployment.get_installation(notes)).update == offer
    assert (await deployment.get_installation(pics)).update is None
    assert [i.name for i in await deployment.list_outdated("NAS")] == ["notes"]
    assert await deployment.count_updates_offered() == 1

    home.add_app("photos", version="2.0.0")  # no release notes: none made up
    await synced(runtime, home)
    assert (await deployment.get_installation("pics")).update == UpdateOffer(
        from_version="1.0.0", to_version="2.0.0", release_notes=None
    )
    assert await deployment.count_updates_offered() == 2


@pytest.mark.both_databases
async def test_a_catalog_that_moves_back_offers_nothing(
    runtime: Runtime, home: CatalogRepo
) -> None:
    await installed(runtime, "home", "notes", "notes", version="1.5.0")
    assert (await runtime.deployment.get_installation("notes")).update is None
    home.add_app("notes", version="1.4.0")
    await synced(runtime, home)
    assert await runtime.deployment.list_outdated() == []
    assert await runtime.deployment.count_updates_offered() == 0


async def test_what_an_update_changes_is_read_from_the_installation_and_the_catalog(
    runtime: Runtime, home: CatalogRepo
) -> None:
    await installed(runtime, "home", "notes", "notes")
    home.add_app("notes", version="2.0.0", docker={
        "image": "example/notes:2.0.0", "ports": [{"container": 80, "host": 8080}],
        "volumes": [{"host_path": "./data", "container_path": "/data"}],
        "environment": [{"name": "TZ", "default": "UTC"}, {"name": "SECRET_KEY", "required": True}],
    })  # fmt: skip
    await synced(runtime, home)

    changes = await runtime.deployment.update_changes("notes")

    assert changes is not None
    assert changes.images == [ImageChange("app", "example/notes:1.0.0", "example/notes:2.0.0")]
    assert changes.settings_required == ["SECRET_KEY"]
    assert changes.ports_added == changes.volumes_added == changes.settings_removed == []
    await installed(runtime, "elsewhere", "notes", "stray")
    assert await runtime.deployment.update_changes("stray") is None  # the catalog lost it


# -- new images of floating tags (tomo/updates/images.py records them) -------------

RUNS, MOVED = "sha256:" + "1" * 64, "sha256:" + "2" * 64


async def image_check_found(runtime: Runtime, installation: str, latest: str, *,
                            policy: UpdatePolicy = UpdatePolicy.MANUAL) -> None:  # fmt: skip
    """What a check of the installation's image (`example/<app>:latest`) recorded."""
    found = {"app": {"image": "example/app:latest", "running": RUNS, "latest": latest}}
    async with runtime.db.session() as session, session.begin():
        await session.execute(update(Installation).where(Installation.id == installation)
                              .values(image_updates=found, update_policy=policy))  # fmt: skip


@pytest.mark.both_databases
async def test_a_new_image_under_a_floating_tag_is_offered_even_at_the_same_version(
    runtime: Runtime, home: CatalogRepo
) -> None:
    deployment = runtime.deployment
    notes = await installed(runtime, "home", "notes", "notes")
    pics = await installed(runtime, "home", "photos", "pics")
    await image_check_found(runtime, notes, MOVED)
    await image_check_found(runtime, pics, RUNS)  # the tag names what it runs: nothing new

    moved = ["example/app:latest has a new image (sha256:222222222222…)"]
    assert (await deployment.get_installation(notes)).update == UpdateOffer(
        from_version="1.0.0", to_version="1.0.0", images=moved)  # fmt: skip
    assert (await deployment.get_installation(pics)).update is None
    assert await deployment.count_updates_offered() == 1

    home.add_app("notes", version="1.1.0", release_notes="Faster.")  # both at once: one offer
    await synced(runtime, home)
    assert (await deployment.get_installation(notes)).update == UpdateOffer(
        from_version="1.0.0", to_version="1.1.0", release_notes="Faster.", images=moved)  # fmt: skip


@pytest.mark.both_databases
async def test_a_pinned_installation_is_offered_nothing(
    runtime: Runtime, home: CatalogRepo
) -> None:
    notes = await installed(runtime, "home", "notes", "notes")
    await image_check_found(runtime, notes, MOVED, policy=UpdatePolicy.PINNED)
    home.add_app("notes", version="2.0.0")
    await synced(runtime, home)
    assert (await runtime.deployment.get_installation(notes)).update is None
    assert await runtime.deployment.list_outdated() == []
    assert await runtime.deployment.count_updates_offered() == 0


async def test_a_catalog_that_moved_back_offers_no_new_image_either(
    runtime: Runtime, home: CatalogRepo
) -> None:
    """The update would put the catalog's older definition in place."""
    notes = await installed(runtime, "home", "notes", "notes", version="1.5.0")
    await image_check_found(runtime, notes, MOVED)
    assert (await runtime.deployment.get_installation(notes)).update is None
