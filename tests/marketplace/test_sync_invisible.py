"""Invisible formatting characters (bidirectional overrides and isolates, zero-width
characters, direction marks) would make lookalike names in the store: a sync removes
them from every text of a definition, in every catalog format, and says where."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.gitrepo import CatalogRepo, app_definition
from tests.marketplace.test_sync import app_rows, subscribe
from tomo.marketplace.invisible import strip_invisible
from tomo.runtime import Runtime

# Every character removed, one after another: in a text they show as nothing at all
# (or reverse what follows), so "Gi" + HIDDEN + "tea" looks like "Gitea".
HIDDEN = (
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    "\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u061c"
)


def hide(text: str) -> str:
    """`text` with HIDDEN in its middle."""
    return text[:2] + HIDDEN + text[2:]


def tomo_catalog(repo: CatalogRepo) -> None:
    definition = app_definition(
        "gitea", name=hide("Gitea"), tagline=hide("Git with a cup of tea"),
        description=hide("A painless self-hosted Git service."), category=hide("development"),
        tags=[hide("git"), "code"], author=hide("The Gitea Authors"), license=hide("MIT"),
        maintainers=[hide("someone")],
        settings=[{"name": "ADMIN_NAME", "description": hide("Admin name"),
                   "default": hide("admin"), "choices": [hide("admin"), "root"]}],
    )  # fmt: skip
    definition["docker"]["environment"] = [
        {"name": "TZ", "default": "UTC", "description": hide("Time zone")},
        {"name": "ADMIN", "default": "${ADMIN_NAME}"},
    ]
    # Written as YAML escapes ("\u202E") and as the raw characters: both spellings load.
    repo.write("apps/development/gitea.yaml", yaml.safe_dump(definition, sort_keys=False))
    raw = {**definition, "id": "gitea-raw"}
    repo.write("apps/development/gitea-raw.yaml",
               yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))  # fmt: skip


def casaos_catalog(repo: CatalogRepo) -> None:
    compose = {
        "name": "gitea",
        "services": {"gitea": {
            "image": "example/gitea:1.21", "ports": ["3000:3000"],
            "environment": {"TZ": "UTC"},
            "x-casaos": {"envs": [{"container": "TZ", "description": {"en_us": hide("Time zone")}}]},
        }},
        "x-casaos": {
            "main": "gitea", "title": {"en_us": hide("Gitea")},
            "tagline": {"en_us": hide("Git with a cup of tea")},
            "description": {"en_us": hide("A painless self-hosted Git service.")},
            "category": hide("Developer"), "developer": hide("The Gitea Authors"),
            "architectures": ["amd64"],
        },
    }  # fmt: skip
    repo.write("Apps/Gitea/docker-compose.yml", yaml.safe_dump(compose, allow_unicode=True))


def runtipi_catalog(repo: CatalogRepo) -> None:
    config = {
        "name": hide("Gitea"), "id": "gitea", "available": True,
        "short_desc": hide("Git with a cup of tea"), "author": hide("The Gitea Authors"),
        "port": 8230, "categories": ["development"], "tipi_version": 1, "version": "1.21",
        "description": hide("A painless self-hosted Git service."), "exposable": True,
        "source": "https://example.org/gitea", "supported_architectures": ["amd64"],
        "form_fields": [{"type": "text", "label": hide("Site name"), "hint": hide("In titles"),
                         "required": True, "env_variable": "GITEA_SITE_NAME"}],
    }  # fmt: skip
    compose = {"schemaVersion": 2, "services": [{
        "name": "gitea", "image": "example/gitea:1.21", "isMain": True, "internalPort": 3000,
        "environment": [{"key": "APP_NAME", "value": "${GITEA_SITE_NAME}"}],
    }]}  # fmt: skip
    repo.write("apps/gitea/config.json", json.dumps(config))  # JSON escapes: "\u202e"
    repo.write("apps/gitea/docker-compose.json", json.dumps(compose))


def umbrel_catalog(repo: CatalogRepo) -> None:
    manifest = {
        "manifestVersion": 1, "id": "gitea", "category": "developer", "name": hide("Gitea"),
        "version": "1.21", "tagline": hide("Git with a cup of tea"),
        "description": hide("A painless self-hosted Git service."),
        "developer": hide("The Gitea Authors"), "port": 4700, "gallery": [], "dependencies": [],
    }  # fmt: skip
    compose = {"services": {"server": {"image": "example/gitea:1.21", "ports": ["4700:4700"]}}}
    repo.write("gitea/umbrel-app.yml", yaml.safe_dump(manifest, allow_unicode=True))
    repo.write("gitea/docker-compose.yml", yaml.safe_dump(compose))
    repo.write("umbrel-app-store.yml", "id: example\nname: Example\n")


def portainer_catalog(repo: CatalogRepo) -> None:
    template = {
        "type": 1, "name": "gitea", "title": hide("Gitea"),
        "description": hide("Git with a cup of tea"), "note": hide("Log in as admin."),
        "categories": ["Development"], "platform": "linux", "image": "example/gitea:1.21",
        "ports": ["3000:3000/tcp"],
        "env": [{"name": "TZ", "label": hide("Time zone"), "description": hide("Where you are"),
                 "default": "UTC"}],
    }  # fmt: skip
    repo.write("templates.json", json.dumps({"version": "2", "templates": [template]}))


CATALOGS = {"tomo": tomo_catalog, "casaos": casaos_catalog, "runtipi": runtipi_catalog,
            "umbrel": umbrel_catalog, "portainer": portainer_catalog}  # fmt: skip


def hidden_in(value: Any) -> list[str]:
    """Every text in `value` (however nested) that still holds an invisible character."""
    if isinstance(value, str):
        return [value] if any(c in value for c in HIDDEN) else []
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in hidden_in(k) + hidden_in(v)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in hidden_in(item)]
    return []


@pytest.mark.parametrize("fmt", sorted(CATALOGS))
async def test_a_sync_removes_invisible_characters_from_every_text(
    runtime: Runtime, make_repo, fmt: str
) -> None:
    repo: CatalogRepo = make_repo()
    CATALOGS[fmt](repo)
    repo.commit()
    repo_id = await subscribe(runtime, repo)

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.format, report.errors) == (fmt, [])
    rows = await app_rows(runtime, repo_id)
    assert rows and {row.name for row in rows.values()} == {"Gitea"}
    for app_id, row in rows.items():
        stored = [row.name, row.description, row.category, row.tags, row.author, row.details,
                  row.docker_config, row.requirements]  # fmt: skip
        assert hidden_in(stored) == [], app_id
        app = await runtime.marketplace.get_app(f"{repo_id}/{app_id}")
        assert hidden_in(app.model_dump(mode="json")) == [], app_id
        assert app.tagline in ("Git with a cup of tea", "")
    found = await runtime.marketplace.search_apps("Gitea", repo=repo_id)
    assert found.total == len(rows) and hidden_in(found.model_dump(mode="json")) == []
    warnings = " ".join(w.message for w in report.warnings)
    assert "invisible formatting characters" in warnings and "name" in warnings


async def test_every_text_of_tomos_own_format_is_cleaned_field_by_field(
    runtime: Runtime, make_repo
) -> None:
    repo: CatalogRepo = make_repo()
    tomo_catalog(repo)
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)

    app = await runtime.marketplace.get_app(f"{repo_id}/gitea")

    # "development" is "developer" in the store's vocabulary (categories.py), its word kept.
    assert (app.name, app.tagline, app.category, app.store_category, app.tags, app.author,
            app.license) == ("Gitea", "Git with a cup of tea", "developer", "development",
                             ["git", "code"], "The Gitea Authors", "MIT")  # fmt: skip
    assert app.description == "A painless self-hosted Git service."
    assert app.maintainers == ["someone"]
    setting = app.settings[0]
    assert (setting.description, setting.default, setting.choices) == (
        "Admin name", "admin", ["admin", "root"])  # fmt: skip
    assert app.docker.environment[0].description == "Time zone"


async def test_a_catalog_synced_before_is_cleaned_by_the_next_sync(
    runtime: Runtime, make_repo
) -> None:
    """Apps stored by an older tomo (which kept the characters) are rewritten by the
    next sync, though their files did not change."""
    repo: CatalogRepo = make_repo()
    repo.add_app("gitea", name="Gitea")
    repo.commit()
    repo_id = await subscribe(runtime, repo)
    await runtime.marketplace.sync_repo(repo_id)
    await _as_an_older_tomo_left_it(runtime, repo_id, name=hide("Gitea"))

    report = await runtime.marketplace.sync_repo(repo_id)

    assert (report.status, report.updated) == ("synced", 1)
    assert (await app_rows(runtime, repo_id))["gitea"].name == "Gitea"


async def _as_an_older_tomo_left_it(runtime: Runtime, repo_id: str, *, name: str) -> None:
    from sqlalchemy import update

    from tomo.marketplace.models import MarketplaceAppRow, MarketplaceRepo

    async with runtime.db.session() as session, session.begin():
        repo = await session.get(MarketplaceRepo, repo_id)
        assert repo is not None and repo.last_report is not None
        repo.last_report = {**repo.last_report, "parser": 4}
        await session.execute(update(MarketplaceAppRow)
                              .where(MarketplaceAppRow.repo_id == repo_id).values(name=name))  # fmt: skip


def test_a_definition_without_them_is_kept_as_it_is_and_one_deep_inside_is_found() -> None:
    """Most definitions hold none (and non-ASCII text is not one): those are not copied."""
    clean = {"name": "Café", "settings": [{"name": "A", "choices": ["a", "ü", 3, None]}]}
    assert strip_invisible(clean) == (clean, []) and strip_invisible(clean)[0] is clean

    hidden = {"name": "Café", "settings": [{"name": "A", "choices": ["a", hide("ü"), 3, None]}]}
    assert strip_invisible(hidden) == (clean, ["settings[0].choices[1]"])
