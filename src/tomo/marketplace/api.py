"""Read-only marketplace routes (writes arrive with authentication)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from tomo.marketplace.schemas import Category, MarketplaceApp, RepoDetail, RepoPublic, SearchPage
from tomo.marketplace.search.query import MAX_OFFSET, MAX_PAGE, SortKey
from tomo.marketplace.service import MarketplaceService

router = APIRouter(prefix="/marketplace", tags=["marketplace"])


def get_marketplace(request: Request) -> MarketplaceService:
    service: MarketplaceService = request.app.state.runtime.marketplace
    return service


MarketplaceDep = Annotated[MarketplaceService, Depends(get_marketplace)]


@router.get("/repos")
async def list_repos(marketplace: MarketplaceDep) -> list[RepoPublic]:
    """List subscribed repositories."""
    return await marketplace.list_repos()


@router.get("/repos/{repo}")
async def get_repo(repo: str, marketplace: MarketplaceDep) -> RepoDetail:
    """One repository with its last sync report."""
    return await marketplace.get_repo(repo)


@router.get("/apps")
async def search_apps(
    marketplace: MarketplaceDep,
    q: str | None = None,
    category: str | None = None,
    tag: Annotated[list[str] | None, Query()] = None,
    repo: str | None = None,
    sort: SortKey | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> SearchPage:
    """Search the catalog."""
    return await marketplace.search_apps(
        search=q,
        category=category,
        tags=tag or (),
        repo=repo,
        sort=sort,
        limit=limit,
        offset=offset,
    )


@router.get("/categories")
async def categories(marketplace: MarketplaceDep) -> list[Category]:
    """Categories with their number of apps."""
    return await marketplace.get_categories()


@router.get("/apps/{repo}/{app_id}")
async def get_app(repo: str, app_id: str, marketplace: MarketplaceDep) -> MarketplaceApp:
    """One app's full definition."""
    return await marketplace.get_app(f"{repo}/{app_id}")
