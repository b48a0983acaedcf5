"""MarketplaceService's calls, over the API: repositories, the catalog, ratings."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tomo.client.transport import Api, segment
from tomo.errors import AmbiguousApp, AppNotFound, NotFound
from tomo.marketplace.schemas import (
    Category,
    MarketplaceApp,
    PersonalApp,
    PersonalAppCreate,
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

if TYPE_CHECKING:
    from tomo.marketplace.search.query import SortKey
    from tomo.marketplace.sync import Progress


class RemoteMarketplace:
    def __init__(self, api: Api) -> None:
        self.api = api

    # -- repositories -------------------------------------------------------

    async def add_repo(self, request: RepoCreate) -> RepoAdded:
        body = request.model_dump(mode="json")
        return RepoAdded.model_validate(await self.api.call("POST", "/marketplace/repos",
                                                            body=body))  # fmt: skip

    async def add_personal_app(self, request: PersonalAppCreate) -> PersonalApp:
        body = request.model_dump(mode="json")
        return PersonalApp.model_validate(await self.api.call("POST", "/marketplace/personal-apps",
                                                              body=body))  # fmt: skip

    async def list_repos(self) -> list[RepoPublic]:
        return [RepoPublic.model_validate(r) for r in await self.api.get("/marketplace/repos")]

    async def get_repo(self, ref: str) -> RepoDetail:
        return RepoDetail.model_validate(await self.api.get(_repo_path(ref)))

    async def update_repo(self, ref: str, changes: RepoUpdate) -> RepoPublic:
        answer = await self.api.call("PATCH", _repo_path(ref), body=changes.model_dump(mode="json"))
        return RepoPublic.model_validate(answer)

    async def remove_repo(self, ref: str) -> RepoRemoved:
        return RepoRemoved.model_validate(await self.api.call("DELETE", _repo_path(ref)))

    async def sync_repo(
        self, ref: str, *, progress: Progress | None = None, force: bool = False
    ) -> SyncReport:
        """The sync runs in the server, which reports no phases on the way."""
        answer = await self.api.call("POST", f"{_repo_path(ref)}/sync", params={"force": force})
        return SyncReport.model_validate(answer)

    # -- the catalog --------------------------------------------------------

    async def search_apps(
        self,
        search: str | None = None,
        category: str | None = None,
        tags: Sequence[str] = (),
        repo: str | None = None,
        sort: SortKey | None = None,
        limit: int = 20,
        offset: int = 0,
        *,
        installable_only: bool = False,
        one_per_app: bool = False,
    ) -> SearchPage:
        params = {"q": search, "category": category, "tag": list(tags), "repo": repo,
                  "sort": sort, "limit": limit, "offset": offset,
                  "installable": installable_only, "one_per_app": one_per_app}  # fmt: skip
        return SearchPage.model_validate(await self.api.get("/marketplace/apps", params))

    async def get_app(self, ref: str) -> MarketplaceApp:
        return MarketplaceApp.model_validate(await self.api.get(await self._app_path(ref)))

    async def get_categories(self) -> list[Category]:
        return [Category.model_validate(c) for c in await self.api.get("/marketplace/categories")]

    async def rate_app(self, ref: str, *, user: str, rating: int) -> RatingResult:
        """The API rates as the logged-in user: `user` is not sent (the CLI refuses
        --user when logged in)."""
        path = f"{await self._app_path(ref)}/rating"
        answer = await self.api.call("PUT", path, body={"rating": rating})
        return RatingResult.model_validate(answer)

    async def _app_path(self, ref: str) -> str:
        repo, _, app_id = ref.rpartition("/")
        if not repo:
            repo = await self._repo_of_bare_id(app_id)
        return f"/marketplace/apps/{segment(repo)}/{segment(app_id)}"

    async def _repo_of_bare_id(self, app_id: str) -> str:
        """The repo of a bare app id, as MarketplaceService resolves one: the one
        enabled repo that has it, or the one official repo among several. The API
        takes only `repo/app`, so each enabled repo is asked."""
        repos = [repo for repo in await self.list_repos() if repo.enabled]
        found = await asyncio.gather(*(self._has_app(repo.id, app_id) for repo in repos))
        having = sorted((r for r, has in zip(repos, found, strict=True) if has), key=lambda r: r.id)
        official = [repo for repo in having if repo.repo_type == "official"]
        if len(having) == 1 or len(official) == 1:
            return having[0].id if len(having) == 1 else official[0].id
        if not having:
            raise AppNotFound(f"no app '{app_id}' in any enabled repo")
        raise AmbiguousApp(app_id, [f"{repo.id}/{app_id}" for repo in having])

    async def _has_app(self, repo: str, app_id: str) -> bool:
        try:
            await self.api.get(f"/marketplace/apps/{segment(repo)}/{segment(app_id)}")
        except NotFound:
            return False
        return True


def _repo_path(ref: str) -> str:
    return f"/marketplace/repos/{segment(ref)}"
