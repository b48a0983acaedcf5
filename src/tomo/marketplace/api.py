"""Marketplace routes: repositories (and their sync), the catalog, ratings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from tomo.http.deps import MarketplaceDep
from tomo.http.problems import error_responses
from tomo.http.security import PrincipalDep
from tomo.marketplace.schemas import (
    Category,
    MarketplaceApp,
    PersonalApp,
    PersonalAppCreate,
    RatingRequest,
    RatingResult,
    RepoAdded,
    RepoCreate,
    RepoDetail,
    RepoPublic,
    RepoRemoved,
    RepoUpdate,
    SearchPage,
    SyncReport,
)
from tomo.marketplace.search.query import MAX_OFFSET, MAX_PAGE, SortKey

router = APIRouter(prefix="/marketplace", tags=["marketplace"])


@router.get("/repos", name="list_repos", responses=error_responses(401))
async def list_repos(marketplace: MarketplaceDep) -> list[RepoPublic]:
    """List subscribed repositories."""
    return await marketplace.list_repos()


@router.post("/repos", name="add_repo", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 409, 422, 502))  # fmt: skip
async def add_repo(request: RepoCreate, marketplace: MarketplaceDep) -> RepoAdded:
    """Subscribe to a repository (sync it with POST …/sync). A URL and branch another
    repository follows already is refused (409) unless `allow_duplicate` is true."""
    return await marketplace.add_repo(request)


@router.post("/personal-apps", name="add_personal_app", status_code=status.HTTP_201_CREATED,
             responses=error_responses(401, 403, 422, 502))  # fmt: skip
async def add_personal_app(request: PersonalAppCreate, marketplace: MarketplaceDep) -> PersonalApp:
    """Put a compose file into the personal catalog (the repo `personal`) as an app to
    install like any other; the same name again replaces it."""
    return await marketplace.add_personal_app(request)


@router.get("/repos/{repo}", name="get_repo", responses=error_responses(401, 404))
async def get_repo(repo: str, marketplace: MarketplaceDep) -> RepoDetail:
    """One repository with its last sync report."""
    return await marketplace.get_repo(repo)


@router.patch("/repos/{repo}", name="update_repo",
              responses=error_responses(401, 403, 404, 409, 422))  # fmt: skip
async def update_repo(repo: str, changes: RepoUpdate, marketplace: MarketplaceDep) -> RepoPublic:
    """Rename a repository, change its branch or format (sync it then), its kind,
    enable or disable it."""
    return await marketplace.update_repo(repo, changes)


@router.delete("/repos/{repo}", name="remove_repo", responses=error_responses(401, 403, 404))
async def remove_repo(repo: str, marketplace: MarketplaceDep) -> RepoRemoved:
    """Remove a repository and its apps from the catalog; the installations of its apps
    (listed in the answer) keep running as installed, with no newer version offered."""
    return await marketplace.remove_repo(repo)


@router.post("/repos/{repo}/sync", name="sync_repo",
             responses=error_responses(401, 403, 404, 409, 502))  # fmt: skip
async def sync_repo(repo: str, marketplace: MarketplaceDep, force: bool = False) -> SyncReport:
    """Fetch a repository and update its apps; on failure the last good catalog stays."""
    return await marketplace.sync_repo(repo, force=force)


INSTALLABLE = "Only apps tomo can install (each hit says `installable`)."
ONE_PER_APP = ("The same app from several repositories once (as the store shows it: the "
               "copy tomo can install, from an official repository, first).")  # fmt: skip


@router.get("/apps", name="search_apps", responses=error_responses(401, 404, 422))
async def search_apps(
    marketplace: MarketplaceDep,
    q: str | None = None,
    category: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    repo: str | None = None,
    sort: SortKey | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    installable: Annotated[bool, Query(description=INSTALLABLE)] = False,
    one_per_app: Annotated[bool, Query(description=ONE_PER_APP)] = False,
) -> SearchPage:
    """Search the catalog."""
    return await marketplace.search_apps(
        search=q, category=category, tags=tag or (), repo=repo, sort=sort, limit=limit,
        offset=offset, installable_only=installable, one_per_app=one_per_app,
    )  # fmt: skip


@router.get("/categories", name="categories", responses=error_responses(401, 404))
async def categories(
    marketplace: MarketplaceDep,
    q: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    repo: str | None = None,
    installable: Annotated[bool, Query(description=INSTALLABLE)] = False,
    one_per_app: Annotated[bool, Query(description=ONE_PER_APP)] = False,
) -> list[Category]:
    """Categories with the number of apps a search with these words and filters
    finds in each (every app by default), in the store's one vocabulary."""
    return await marketplace.get_categories(
        q, tag or (), repo, installable_only=installable, one_per_app=one_per_app
    )


@router.get("/apps/{repo}/{app_id}", name="get_app", responses=error_responses(401, 404))
async def get_app(repo: str, app_id: str, marketplace: MarketplaceDep) -> MarketplaceApp:
    """One app's full definition."""
    return await marketplace.get_app(f"{repo}/{app_id}")


@router.put("/apps/{repo}/{app_id}/rating", name="rate_app",
            responses=error_responses(401, 403, 404, 422))  # fmt: skip
async def rate_app(
    repo: str, app_id: str, request: RatingRequest, principal: PrincipalDep,
    marketplace: MarketplaceDep,
) -> RatingResult:  # fmt: skip
    """Rate an app 1 to 5 as the logged-in user (rating again replaces it)."""
    return await marketplace.rate_app(
        f"{repo}/{app_id}", user=principal.user_id, rating=request.rating
    )
