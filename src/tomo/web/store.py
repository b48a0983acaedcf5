"""Pages: the store (the catalog as cards, searched and filtered) and an app's
page (everything its definition says, its risks in plain words, its rating).

Every filter is a plain link and the search a plain GET form, so the store
works without JavaScript; tomo.js re-runs the search as the user types and
swaps `#results` (sidebar and grid: their links carry the current query).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from tomo.deployment.app_spec import user_variables
from tomo.deployment.spec import publishes_ports
from tomo.errors import ImageNotFound, RepoNotFound
from tomo.http.deps import get_marketplace
from tomo.marketplace.requirements import requirement_tree, tree_problem
from tomo.marketplace.risk_words import explain_risk, severity
from tomo.marketplace.schemas import (
    AppSource,
    AppSummary,
    Category,
    MarketplaceApp,
    RatingRequest,
    RepoPublic,
    SearchPage,
)
from tomo.marketplace.search.query import MAX_OFFSET, SORT_KEYS, SortKey, facet_value
from tomo.marketplace.service import MarketplaceService
from tomo.web.forms import errors_of, form_values
from tomo.web.markdown import plain_text
from tomo.web.session import Viewer
from tomo.web.templating import image_url, redirect, render

router = APIRouter()
PAGE_SIZE = 24
LAST_PAGE = MAX_OFFSET // PAGE_SIZE + 1
# The sorts the search accepts, as a person reads them; "" lets the search choose
# (relevance when there is text, else the name).
SORT_LABELS: dict[str, str] = {
    "": "Best match", "name": "Name", "rating": "Rating", "popularity": "Most installed",
    "updated": "Recently updated",
}  # fmt: skip
assert set(SORT_LABELS) - {""} <= set(SORT_KEYS)
SHORT_DESCRIPTION = 180
_LONE_HEADING = re.compile(r"#{1,6}\s[^\n]*")


# -- the store ----------------------------------------------------------------


@dataclass(frozen=True)
class StoreQuery:
    """What the store shows, and the links that change one part of it."""

    q: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    repo: str = ""
    sort: str = ""
    page: int = 1
    # The store shows what tomo can install unless asked for every app: a card that
    # cannot be installed is noise to someone choosing what to run (Umbrel's store
    # has 180 of them), while a line under the results says how many were left out
    # and shows them in one click, so an app someone looks for is never "missing".
    everything: bool = False

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.category or self.tags or self.repo)

    @property
    def one_per_app(self) -> bool:
        """One card per app (the same app from several repositories, once) unless the
        user looks at one repository: then it is that repository's copy they want."""
        return not self.repo

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    def link(self, **changes: Any) -> str:
        """The store with `changes` (back to page 1 unless a page is given)."""
        changed = replace(self, **{"page": 1, **changes})
        page = str(changed.page) if changed.page > 1 else ""
        params = [("q", changed.q), ("category", changed.category),
                  *[("tag", tag) for tag in changed.tags], ("repo", changed.repo),
                  ("all", "1" if changed.everything else ""), ("sort", changed.sort),
                  ("page", page)]  # fmt: skip
        kept = urlencode([(name, value) for name, value in params if value])
        return f"/store?{kept}" if kept else "/store"

    def with_tag(self, tag: str) -> str:
        return self.link(tags=(*self.tags, tag)) if tag not in self.tags else self.link()

    def without_tag(self, tag: str) -> str:
        return self.link(tags=tuple(t for t in self.tags if t != tag))


@dataclass
class Card:
    """One app of the grid: its search hit and what a card shows beyond it."""

    hit: AppSummary
    description: str = ""
    icon: str | None = None  # where the browser loads it from (image_url)
    rating_count: int = 0
    also_in: list[AppSource] = field(default_factory=list)  # the same app elsewhere


@dataclass
class Catalog:
    """The repositories behind the store, and what to say when it is empty."""

    repos: list[RepoPublic]
    enabled: list[RepoPublic] = field(init=False)
    # Apps of enabled repositories as the store counts them, each app once (however
    # many repositories have it): all of them, and those tomo can install.
    apps: int = 0
    installable: int = 0

    def __post_init__(self) -> None:
        self.enabled = [repo for repo in self.repos if repo.enabled]

    @property
    def size(self) -> int:
        return sum(repo.app_count for repo in self.enabled)

    @property
    def failed(self) -> list[RepoPublic]:
        return [repo for repo in self.enabled if repo.status == "error"]

    @property
    def syncing(self) -> list[RepoPublic]:
        return [repo for repo in self.enabled if repo.status == "syncing"]

    @property
    def never_synced(self) -> list[RepoPublic]:
        return [r for r in self.enabled if r.last_synced is None and r.status == "active"]

    def why_empty(self) -> str | None:
        """Why the catalog has no app at all (None: it has some)."""
        if self.size:
            return None
        if not self.repos:
            return "no-repos"
        if not self.enabled:
            return "all-disabled"
        for state, repos in (("syncing", self.syncing), ("failed", self.failed),
                             ("never-synced", self.never_synced)):  # fmt: skip
            if repos:
                return state
        return "no-apps"

    def name_of(self, repo_id: str) -> str:
        return next((repo.name for repo in self.repos if repo.id == repo_id), repo_id)


@router.get("/store", name="web_store")
async def store(
    request: Request,
    _principal: Viewer,
    q: str = "",
    category: str = "",
    tag: Annotated[list[str] | None, Query()] = None,
    repo: str = "",
    sort: str = "",
    page: Annotated[int, Query(ge=1, le=LAST_PAGE)] = 1,
    everything: Annotated[str, Query(alias="all")] = "",
) -> Response:
    """The catalog as a grid of cards; a stale or hand-typed sort is ignored."""
    tags = tuple(dict.fromkeys(t.strip() for t in tag or () if t.strip()))
    query = StoreQuery(q.strip(), category.strip(), tags, repo.strip(),
                       sort if sort in SORT_LABELS else "", page, everything == "1")  # fmt: skip
    marketplace = get_marketplace(request)
    catalog = Catalog(await marketplace.list_repos())
    found, missing_repo = await _search(marketplace, query)
    if catalog.size:  # as the store counts them: each app once (families.py)
        catalog.installable = await _count(marketplace, StoreQuery())
        catalog.apps = await _count(marketplace, StoreQuery(everything=True))
    context = {
        "query": query, "found": found, "catalog": catalog, "missing_repo": missing_repo,
        "left_out": await _left_out(marketplace, query, found),
        "cards": await _cards(marketplace, found.items, {r.id: r.url for r in catalog.repos}),
        "categories": await _categories(marketplace, query, missing_repo),
        "tag_counts": _tag_counts(found.items, query.tags), "sorts": SORT_LABELS,
        "pager": _pager(query, found.total),
    }  # fmt: skip
    return render(request, "store/store.html", context)


async def _search(marketplace: MarketplaceService, query: StoreQuery) -> tuple[SearchPage, bool]:
    """A page of hits; no hits (and True) for a repo filter naming no repo, such
    as an old bookmark of a removed repo."""
    sort = cast("SortKey | None", query.sort or None)  # one of SORT_LABELS: checked
    try:
        found = await marketplace.search_apps(
            search=query.q or None, category=query.category or None, tags=query.tags,
            repo=query.repo or None, sort=sort, limit=PAGE_SIZE, offset=query.offset,
            installable_only=not query.everything, one_per_app=query.one_per_app,
        )  # fmt: skip
    except RepoNotFound:
        return SearchPage(total=0, items=[]), True
    return found, False


async def _categories(
    marketplace: MarketplaceService, query: StoreQuery, missing_repo: bool
) -> list[Category]:
    """Each category with the number of apps the current search finds in it (its
    words, tags and repository; whatever category is chosen), the chosen one kept
    even when none is found."""
    if missing_repo:
        return []
    found = await marketplace.get_categories(
        query.q or None, query.tags, query.repo or None, installable_only=not query.everything,
        one_per_app=query.one_per_app,
    )  # fmt: skip
    shown = [category for category in found if category.count]
    chosen = facet_value(query.category)
    if chosen and all(category.name != chosen for category in shown):
        shown = sorted([*shown, Category(name=chosen, count=0)], key=lambda c: c.name)
    return shown


async def _count(marketplace: MarketplaceService, query: StoreQuery) -> int:
    """How many apps match `query` (as the store shows them: installable unless
    `everything`)."""
    found, _missing = await _search(marketplace, replace(query, page=1))
    return found.total


async def _left_out(marketplace: MarketplaceService, query: StoreQuery, found: SearchPage) -> int:
    """Apps matching the query that tomo cannot install, left out of the results."""
    if query.everything:
        return 0
    return max(await _count(marketplace, replace(query, everything=True)) - found.total, 0)


async def _cards(
    marketplace: MarketplaceService, hits: list[AppSummary], repo_urls: dict[str, str]
) -> list[Card]:
    """The hits with their description, icon and number of ratings (a search hit
    carries none of them); `repo_urls` tells which icon URLs are the repository's own."""
    details = await marketplace.card_details(hits)
    elsewhere = await marketplace.other_sources([(hit.repo_id, hit.id) for hit in hits])
    cards = []
    for hit in hits:
        card = Card(hit, also_in=elsewhere.get((hit.repo_id, hit.id), []))
        if (found := details.get((hit.repo_id, hit.id))) is not None:
            card.description = _shortened(found.description)
            card.icon = image_url(hit.repo_id, found.icon, repo_urls.get(hit.repo_id))
            card.rating_count = found.rating_count
        cards.append(card)
    return cards


def _shortened(description: str) -> str:
    """The first paragraph as plain text (Markdown's marks left out), cut at a word
    near SHORT_DESCRIPTION characters."""
    first = plain_text(_first_paragraph(description))
    if len(first) <= SHORT_DESCRIPTION:
        return first
    return first[:SHORT_DESCRIPTION].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def _first_paragraph(description: str) -> str:
    """The first paragraph that is more than a heading: `# Jellyfin` alone would
    only say the card's title again."""
    paragraphs = [part.strip() for part in re.split(r"\n\s*\n", description) if part.strip()]
    return next((part for part in paragraphs if not _LONE_HEADING.fullmatch(part)),
                (paragraphs or [""])[0])  # fmt: skip


def _tag_counts(hits: list[AppSummary], chosen: tuple[str, ...]) -> list[tuple[str, int]]:
    """Tags to narrow by: the commonest among the hits shown, chosen ones left out."""
    counts = Counter(tag for hit in hits for tag in hit.tags if tag not in chosen)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:16]


def _pager(query: StoreQuery, total: int) -> dict[str, Any]:
    first = min(query.offset + 1, total)
    last = min(query.offset + PAGE_SIZE, total)
    return {
        "first": first, "last": last, "total": total,
        "previous": query.link(page=query.page - 1) if query.page > 1 else None,
        "next": query.link(page=query.page + 1) if last < total else None,
        "beyond": query.offset >= total > 0,  # a page past the last one
        "pages": (total - 1) // PAGE_SIZE + 1,
    }  # fmt: skip


# -- an app's page ------------------------------------------------------------


@router.get("/images/{repo}/{path:path}", name="web_image")
async def image(request: Request, principal: Viewer, repo: str, path: str) -> Response:
    """An icon or screenshot the catalog keeps in its repository, from its synced commit;
    one its store keeps on a site of its own (Umbrel's gallery) is sent there."""
    marketplace = get_marketplace(request)
    try:
        data, media_type = await marketplace.read_image(repo, path)
    except ImageNotFound:
        elsewhere = await marketplace.image_elsewhere(repo, path)
        if elsewhere is None:
            raise
        return RedirectResponse(elsewhere, status_code=302,
                                headers={"cache-control": "private, max-age=3600"})  # fmt: skip
    return Response(data, media_type=media_type,
                    headers={"cache-control": "private, max-age=3600"})  # fmt: skip


@router.get("/apps/{repo}/{app}", name="web_app")
async def app_page(request: Request, principal: Viewer, repo: str, app: str) -> Response:
    """One app: what installing it does, what it may do to a server, its rating."""
    return render(request, "store/app.html", await _app_context(request, principal.user_id,
                                                                 repo, app))  # fmt: skip


@router.post("/apps/{repo}/{app}/rating", name="web_rate")
async def rate(request: Request, principal: Viewer, repo: str, app: str) -> Response:
    """Rate an app as the logged-in user, as the API does (a viewer may rate)."""
    values = await form_values(request)
    try:
        chosen = RatingRequest.model_validate({"rating": values.get("rating")})
    except ValidationError as exc:
        message = errors_of(exc, {"rating"}).fields.get("rating", "choose from 1 to 5 stars")
        if not values.get("rating"):
            message = "choose how many stars, from 1 to 5"
        context = await _app_context(request, principal.user_id, repo, app, message)
        return render(request, "store/app.html", context, status=422)
    result = await get_marketplace(request).rate_app(f"{repo}/{app}", user=principal.user_id,
                                                  rating=chosen.rating)  # fmt: skip
    stars = f"{result.rating} star{'s' if result.rating > 1 else ''}"
    return redirect(f"/apps/{result.repo_id}/{result.app_id}#rating", f"You gave it {stars}")


async def _app_context(
    request: Request, user_id: str, repo: str, app_id: str, rating_error: str | None = None
) -> dict[str, Any]:
    marketplace = get_marketplace(request)
    app = await marketplace.get_app(f"{repo}/{app_id}")  # AppNotFound: the 404 page
    source = await marketplace.get_repo(app.repo_id)
    required = await requirement_tree(marketplace, app) if app.requires else []
    return {
        "required": required, "required_problem": tree_problem(required),
        "sources": (await marketplace.other_sources([(app.repo_id, app.id)])).get(
            (app.repo_id, app.id), []),
        "app": app, "repo": source,
        "risks": [(flag, *explain_risk(flag)) for flag in sorted(app.risks, key=severity)],
        "own_rating": await marketplace.user_rating(app.repo_id, app.id, user_id),
        "rating_error": rating_error, "links": _links(app),
        "publishes_ports": publishes_ports(app.docker.network_mode),
        "variables": user_variables(app),
    }  # fmt: skip


def _links(app: MarketplaceApp) -> list[tuple[str, str]]:
    """The definition's links, only those a browser may safely follow."""
    named = (("Source code", app.repository), ("Documentation", app.documentation))
    return [(label, url) for label, url in named
            if url and url.lower().startswith(("https://", "http://"))]  # fmt: skip
