"""What the marketplace's faces send and receive (CLI JSON, REST API)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.kinds import CatalogFormatName, FormatChoice, RepoType
from tomo.slugs import SLUG

if TYPE_CHECKING:
    from tomo.marketplace.models import MarketplaceAppRow


class RepoCreate(BaseModel):
    """Sent to add a repository."""

    url: str = Field(min_length=1, max_length=2048)
    name: str = Field(min_length=1, max_length=128)
    branch: str | None = None  # None: the remote's default branch (its HEAD), resolved on add
    repo_type: RepoType = "community"
    id: str | None = Field(default=None, json_schema_extra={"pattern": f"^{SLUG.pattern}$"})
    format: CatalogFormatName | None = None  # None: detected from the files on each sync
    # A repository already subscribed at this URL and branch is refused unless this is
    # set: two subscriptions list every app twice.
    allow_duplicate: bool = False


class RepoUpdate(BaseModel):
    """Sent to change a repository; absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=128)
    branch: str | None = None
    enabled: bool | None = None
    format: FormatChoice | None = None  # "auto": detect it again
    repo_type: RepoType | None = None


class RepoPublic(BaseModel):
    """A repository as every face shows it (its credentials never)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    url: str  # without credentials: those are stored apart, encrypted
    branch: str
    repo_type: RepoType
    enabled: bool
    format: CatalogFormatName | None  # as set by its owner; None: detected
    status: Literal["active", "syncing", "error"]
    last_synced: datetime | None
    app_count: int
    last_error: str | None
    last_commit: str | None
    has_credentials: bool


class RepoAdded(RepoPublic):
    """A repository just added, with what its owner should know (a URL already
    subscribed as another repo)."""

    warnings: list[str] = []


class InstalledFrom(BaseModel):
    """An installation of one of a repository's apps."""

    name: str
    server: str  # the server's name
    app: str  # the app's id in the repository


class RepoRemoved(RepoPublic):
    """A repository just removed, and the installations of its apps: they keep
    running as installed, with no newer version offered."""

    installations: list[InstalledFrom] = []


class SyncProblem(BaseModel):
    """One file a sync could not store and why, or a warning about one it stored."""

    path: str
    message: str


class AppNotInstallable(BaseModel):
    """An app the catalog lists but tomo cannot install, and why."""

    app: str
    reasons: str  # each "where: why", joined by "; "


class ProblemKind(BaseModel):
    """One line of a sync's summary: the problems of one kind."""

    kind: str  # the problem, with what differs from file to file left out
    count: int  # the files (or apps) with it
    examples: list[str]  # the first few of them


class SyncSummary(BaseModel):
    """A sync's problems by kind, the commonest first: what a screen has room for."""

    errors: list[ProblemKind]
    warnings: list[ProblemKind]
    not_installable: list[ProblemKind] | None  # None: a report from before tomo counted them


class SyncReport(BaseModel):
    """The outcome of one sync; kept on the repo until the next one."""

    repo_id: str
    status: Literal["synced", "unchanged"]
    # The catalog format the files were read as; None only in reports from before formats.
    format: CatalogFormatName | None = None
    branch: str | None = None  # None only in reports kept from before tomo named it
    commit: str
    app_count: int
    added: int
    updated: int
    removed: int
    errors: list[SyncProblem]
    # Stored files with keys that look misspelt, or named unlike their app's id.
    warnings: list[SyncProblem] = []
    # Apps listed but not installable; None only in reports from before tomo counted them.
    not_installable: list[AppNotInstallable] | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unchanged(self) -> int:
        """Apps in the catalog as they were before the sync."""
        return max(self.app_count - self.added - self.updated, 0)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def summary(self) -> SyncSummary:
        """The problems by kind (made from the lines above, never stored)."""
        from tomo.marketplace.report import summarize

        return summarize(self)


class RepoDetail(RepoPublic):
    """A repository with the report of its last sync."""

    last_report: SyncReport | None


class AppSummary(BaseModel):
    """One search hit."""

    id: str
    repo_id: str
    name: str
    version: str
    category: str
    tags: list[str]
    avg_rating: float
    install_count: int
    risks: list[str]
    installable: bool = True  # False: its definition says why tomo cannot install it


class AppSource(BaseModel):
    """The same app in another repository (marketplace/families.py)."""

    repo_id: str
    app_id: str
    repo_name: str
    version: str
    installable: bool
    shown: bool  # the copy the store shows for the app


class AppCard(BaseModel):
    """What a store card shows of an app beyond its search hit."""

    description: str
    icon: str | None
    rating_count: int


class SearchPage(BaseModel):
    """A page of search hits and the number of all matches."""

    total: int
    estimated: bool = False  # a total so large it was estimated, not counted (PostgreSQL)
    items: list[AppSummary]


class Category(BaseModel):
    name: str
    count: int


class MarketplaceApp(AppDefinition):
    """A catalog entry: the definition plus where it came from and how it is rated."""

    repo_id: str
    risks: list[str]
    avg_rating: float = 0.0
    rating_count: int = 0
    install_count: int = 0
    source_path: str
    updated_at: datetime
    # The store's own word for the category when the store shows it under another
    # (categories.py): "development" for an app in "developer".
    store_category: str | None = None


class RequiredApp(BaseModel):
    """An app another requires, as the catalog has it (marketplace/requirements.py)."""

    app: str  # repo/app
    name: str
    found: bool = False  # in the catalog
    imports: list[str] = []
    problem: str | None = None  # why it cannot meet the requirement
    requires: list[RequiredApp] = []


def catalog_entry(row: MarketplaceAppRow) -> MarketplaceApp:
    """An app's row as every face shows it (here, light, so that the CLI's quick path
    shows a row sqlite3 read the same way: see tomo.marketplace.readonly)."""
    return MarketplaceApp.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "description": row.description,
            "version": row.version,
            "category": row.category,
            "tags": row.tags,
            "author": row.author,
            "featured": row.featured,
            **row.details,
            "docker": row.docker_config,
            "requirements": row.requirements,
            "repo_id": row.repo_id,
            "risks": row.risks,
            "avg_rating": row.avg_rating,
            "rating_count": row.rating_count,
            "install_count": row.install_count,
            "source_path": row.source_path,
            "updated_at": row.updated_at,
        }
    )


class PersonalAppCreate(BaseModel):
    """Sent to put a compose file of the user's, or a `docker run …` line, into the
    personal catalog."""

    name: str = Field(min_length=1, max_length=63)  # the app's id there, and its folder
    compose: str | None = Field(default=None, min_length=1)  # the compose file's text
    run: str | None = Field(default=None, min_length=1)  # or a docker run command

    @model_validator(mode="after")
    def _one_source(self) -> PersonalAppCreate:
        if (self.compose is None) == (self.run is None):
            raise ValueError("give either a compose file or a docker run command")
        return self


class PersonalApp(BaseModel):
    """A pasted app, in the catalog: what to install, and what its reading said."""

    app: str  # `personal/<id>`
    not_installable: str | None = None
    warnings: list[str] = []


class RatingRequest(BaseModel):
    """Sent to rate an app as the logged-in user."""

    rating: int = Field(ge=1, le=5)


class RatingResult(BaseModel):
    """The app's rating after one user rated it."""

    repo_id: str
    app_id: str
    user_id: str  # the account's id: ratings belong to it, not to its name
    username: str
    rating: int
    avg_rating: float
    rating_count: int
