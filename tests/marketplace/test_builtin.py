"""The built-in catalog: every app valid, registered once as the official repo."""

from __future__ import annotations

import pytest

from tomo.config import Settings
from tomo.marketplace.builtin import BUILTIN_REPO_ID
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.packaged import catalog_files
from tomo.marketplace.parse import load_definition, parse_definition
from tomo.runtime import open_runtime


@pytest.fixture
def builtin_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"builtin_catalog": True})


def definitions() -> dict[str, AppDefinition]:
    return {
        path: parse_definition(path, content, max_bytes=256 * 1024)
        for path, content in catalog_files().items()
        if path.endswith(".yaml")
    }


def test_every_builtin_definition_is_valid_pinned_and_well_placed() -> None:
    found = definitions()
    assert len(found) >= 20
    for path, app in found.items():
        assert path == f"apps/{app.category}/{app.id}.yaml"
        name, _, tag = app.docker.image.rpartition(":")
        assert name and tag and tag != "latest", f"{path}: image {app.docker.image} is not pinned"
        assert app.requirements.architectures, f"{path}: no architectures"


def test_no_builtin_definition_has_a_misspelt_key() -> None:
    for path, content in catalog_files().items():
        if path.endswith(".yaml"):
            assert load_definition(path, content, max_bytes=256 * 1024)[1] == [], path


def test_builtin_ports_do_not_clash_except_for_alternatives() -> None:
    owners: dict[tuple[int, str], list[str]] = {}
    for app in definitions().values():
        if app.docker.network_mode == "host":
            continue
        for port in app.docker.ports:
            owners.setdefault((port.host or port.container, port.protocol), []).append(app.id)
    clashes = {key: apps for key, apps in owners.items() if len(apps) > 1}
    # Pi-hole and AdGuard Home are alternatives: both serve DNS on 53.
    assert clashes == {
        (53, "tcp"): ["adguard-home", "pihole"],
        (53, "udp"): ["adguard-home", "pihole"],
    }


async def test_first_start_registers_and_syncs_the_official_repo(
    builtin_settings: Settings,
) -> None:
    async with open_runtime(builtin_settings) as runtime:
        repo = await runtime.marketplace.get_repo(BUILTIN_REPO_ID)
        assert (repo.repo_type, repo.status, repo.name) == ("official", "active", "tomo official")
        assert repo.app_count == len(definitions())
        assert repo.last_report is not None and repo.last_report.errors == []
        dozzle = await runtime.marketplace.get_app("dozzle")
        assert dozzle.risks == ["docker-socket"]


async def test_later_starts_do_not_resync_and_removal_is_respected(
    builtin_settings: Settings,
) -> None:
    async with open_runtime(builtin_settings) as runtime:
        first = await runtime.marketplace.get_repo(BUILTIN_REPO_ID)
    async with open_runtime(builtin_settings) as runtime:
        again = await runtime.marketplace.get_repo(BUILTIN_REPO_ID)
        assert again.last_synced == first.last_synced
        await runtime.marketplace.remove_repo(BUILTIN_REPO_ID)
    async with open_runtime(builtin_settings) as runtime:
        assert await runtime.marketplace.list_repos() == []


async def test_changed_packaged_catalog_is_committed_and_synced(
    builtin_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_runtime(builtin_settings) as runtime:
        before = await runtime.marketplace.get_repo(BUILTIN_REPO_ID)
    files = catalog_files()
    files["apps/tools/extra-app.yaml"] = files["apps/tools/it-tools.yaml"].replace(
        b"id: it-tools", b"id: extra-app"
    )
    monkeypatch.setattr("tomo.marketplace.builtin.catalog_files", lambda: files)
    async with open_runtime(builtin_settings) as runtime:
        after = await runtime.marketplace.get_repo(BUILTIN_REPO_ID)
        assert after.last_commit != before.last_commit
        assert after.app_count == before.app_count + 1
        assert (await runtime.marketplace.get_app("extra-app")).repo_id == BUILTIN_REPO_ID


async def test_builtin_syncs_even_when_local_repos_are_forbidden(
    builtin_settings: Settings,
) -> None:
    strict = builtin_settings.model_copy(update={"allow_local_repos": False})
    async with open_runtime(strict) as runtime:
        assert (await runtime.marketplace.get_repo(BUILTIN_REPO_ID)).status == "active"


def test_catalog_readme_is_shipped() -> None:
    assert "README.md" in catalog_files()
