"""The catalog's answers on the CLI's quick path (see tomo.readonly): what
MarketplaceService answers, read with sqlite3 and made public by the same
functions. None leaves the answer to the service: it words every refusal."""

from __future__ import annotations

from tomo.errors import RepoNotFound
from tomo.marketplace.schemas import MarketplaceApp, RepoPublic, catalog_entry
from tomo.marketplace.search.reader import resolve_repo
from tomo.readonly import LocalDatabase


def list_repos(db: LocalDatabase) -> list[RepoPublic]:
    repos = db.records(
        "SELECT *, credentials_enc IS NOT NULL AS has_credentials FROM marketplace_repos "
        "ORDER BY id"
    )
    return [RepoPublic.model_validate(repo) for repo in repos]


def get_app(db: LocalDatabase, ref: str) -> MarketplaceApp | None:
    """By `repo/app`, or by a bare id that one enabled repo (or one official repo) has."""
    repo_ref, _, app_id = ref.rpartition("/")
    if repo_ref:
        try:
            repo_id = resolve_repo(db, repo_ref)
        except RepoNotFound:
            return None
        found = db.records("SELECT * FROM marketplace_apps WHERE repo_id = :repo AND id = :app",
                           {"repo": repo_id, "app": app_id})  # fmt: skip
        return catalog_entry(found[0]) if found else None
    found = db.records(
        "SELECT a.*, r.repo_type FROM marketplace_apps a JOIN marketplace_repos r "
        "ON r.id = a.repo_id WHERE a.id = :app AND r.enabled IS 1 ORDER BY a.repo_id",
        {"app": app_id},
    )
    official = [row for row in found if row.repo_type == "official"]
    chosen = found if len(found) == 1 else official
    return catalog_entry(chosen[0]) if len(chosen) == 1 else None
