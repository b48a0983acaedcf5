"""MarketplaceService: repositories, sync, search, ratings.

All marketplace logic lives here; the CLI and the API only parse input,
call these methods and render what they return.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.auth.models import User
from tomo.config import Settings
from tomo.crypto import Secrets
from tomo.db import Database, find_by_id_or_name
from tomo.errors import (
    AmbiguousApp,
    AppNotFound,
    GitError,
    ImageNotFound,
    InvalidInput,
    NotFound,
    Refusal,
    RepoAlreadySubscribed,
    RepoExists,
    RepoNotFound,
    SyncInProgress,
    TomoError,
)
from tomo.marketplace.categories import canonical_category
from tomo.marketplace.credentials import RepoCredentials
from tomo.marketplace.families import families_of_repo, refresh_representatives
from tomo.marketplace.formats.umbrel import umbrel_gallery_image
from tomo.marketplace.git import RepoUrl, check_branch, check_repo_url, repo_url_key
from tomo.marketplace.models import MarketplaceAppRow, MarketplaceRating, MarketplaceRepo
from tomo.marketplace.schemas import (
    AppCard,
    AppSource,
    AppSummary,
    Category,
    InstalledFrom,
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
    catalog_entry,
)
from tomo.marketplace.search.catalog import run_category_counts, run_search
from tomo.marketplace.search.query import SortKey
from tomo.marketplace.search.reader import SessionSql
from tomo.marketplace.sync import (
    Progress,
    RepoSnapshot,
    RepoSync,
    clone_dir_for,
    finish_repo,
    make_git,
)
from tomo.slugs import allocate_id

log = logging.getLogger("tomo.marketplace")
# A lease older than this belongs to a sync that died; another may take over.
STALE_SYNC_AFTER = timedelta(minutes=30)
# Icons and screenshots a catalog ships in its repository (see read_image).
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp", ".svg": "image/svg+xml"}  # fmt: skip
MAX_IMAGE_BYTES = 2 * 1024**2


def image_type(path: str) -> str | None:
    """The media type of an image a repository may serve at `path` (read_image),
    None for any other path: not an image, or reaching out of the tree or into
    hidden files (.git)."""
    if ".." in path.split("/") or path.startswith(("/", ".")):
        return None
    return IMAGE_TYPES.get(posixpath.splitext(path)[1].lower())


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    pass


class MarketplaceService:
    def __init__(self, db: Database, settings: Settings, secrets: Secrets) -> None:
        self.db = db
        self.settings = settings
        self.secrets = secrets  # repository credentials at rest
        self._local_locks: dict[str, asyncio.Lock] = {}
        # Told of each sync that failed (repo id, why): the event list (tomo.runtime).
        self.on_sync_failed: Callable[[str, str], Awaitable[None]] | None = None

    # -- repositories -------------------------------------------------------

    async def add_repo(self, request: RepoCreate, *, trusted_local: bool = False) -> RepoAdded:
        """Register a repository (not synced yet); refuses URLs git must not see.

        Without a branch, asks the remote which is its default. A URL and branch
        another repo follows already is refused (RepoAlreadySubscribed names it)
        unless `allow_duplicate`; the same URL on another branch is added, with a
        warning naming that repo."""
        allow_local = self.settings.allow_local_repos or trusted_local
        checked = check_repo_url(request.url, allow_local=allow_local)
        branch = check_branch(request.branch) if request.branch is not None else None
        name = request.name.strip()
        async with self.db.session() as session:
            repo_id = await self._new_repo_id(session, request.id, name)
            if await session.scalar(select(MarketplaceRepo.id).where(MarketplaceRepo.name == name)):
                raise RepoExists(f"a repo named '{name}' already exists", fields=("name",))
        if branch is None:  # asked with no session open: the remote may take a while
            branch = await self._default_branch(checked, allow_local=allow_local)
        async with self.db.session() as session:
            same = await _same_repository(session, checked.url)
        warnings = _duplicate_warnings(same, checked.url, branch, allowed=request.allow_duplicate)
        repo = MarketplaceRepo(
            id=repo_id,
            name=name,
            url=checked.url,
            credentials_enc=self._seal(checked.credentials),
            branch=branch,
            repo_type=request.repo_type,
            enabled=True,
            format=request.format,
            status="active",
            app_count=0,
            created_at=datetime.now(UTC),
        )
        await self._insert_repo(repo)
        return RepoAdded.model_validate(repo).model_copy(update={"warnings": warnings})

    async def _default_branch(self, checked: RepoUrl, *, allow_local: bool) -> str:
        git, url = make_git(
            checked.url,
            None,
            timeout=self.settings.git_timeout,
            allow_local=allow_local,
            credentials=checked.credentials,
        )
        try:
            return check_branch(await git.default_branch(url))
        except GitError as exc:  # the remote did not answer as a repository: the URL's fault
            raise exc.concerning("url") from None

    async def _insert_repo(self, repo: MarketplaceRepo) -> None:
        async with self.db.session() as session:
            session.add(repo)
            try:
                await session.commit()
            except IntegrityError:  # added by someone else while the remote answered
                message = f"a repo with id '{repo.id}' or name '{repo.name}' exists"
                raise RepoExists(message) from None

    def _seal(self, credentials: RepoCredentials | None) -> str | None:
        return self.secrets.encrypt(credentials.to_json()) if credentials else None

    def _unseal(self, sealed: str | None) -> RepoCredentials | None:
        return RepoCredentials.from_json(self.secrets.decrypt(sealed)) if sealed else None

    async def _new_repo_id(self, session: AsyncSession, wanted: str | None, name: str) -> str:
        return await allocate_id(session, MarketplaceRepo.id, wanted=wanted, name=name,
                                 what="repo", taken_error=RepoExists)  # fmt: skip

    async def add_personal_app(self, request: PersonalAppCreate) -> PersonalApp:
        """A compose file of the user's (or a docker run line, as the compose file that
        runs it) as an app of the personal catalog, synced."""
        from tomo.marketplace.personal import add_personal_app, compose_of

        return await add_personal_app(self, request.name, compose_of(request))

    async def apps_by_image(self, images: set[str]) -> dict[str, list[str]]:
        """image repository (definition.image_repository) -> `repo/app` of the catalog
        apps whose main container runs it, for those of `images`."""
        from tomo.marketplace.definition import image_repository

        found: dict[str, list[str]] = {}
        if not images:
            return found
        async with self.db.session() as session:
            rows = await session.execute(select(MarketplaceAppRow.repo_id, MarketplaceAppRow.id,
                                                MarketplaceAppRow.docker_config))  # fmt: skip
        for repo_id, app_id, docker in rows:
            name = image_repository(str((docker or {}).get("image", "")))
            if name in images:
                found.setdefault(name, []).append(f"{repo_id}/{app_id}")
        return {name: sorted(apps) for name, apps in found.items()}

    async def list_repos(self) -> list[RepoPublic]:
        async with self.db.session() as session:
            repos = await session.scalars(select(MarketplaceRepo).order_by(MarketplaceRepo.id))
            return [RepoPublic.model_validate(repo) for repo in repos]

    async def get_repo(self, ref: str) -> RepoDetail:
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            return _repo_detail(repo)

    async def update_repo(self, ref: str, changes: RepoUpdate) -> RepoPublic:
        """Change the repo row only. A new branch is not fetched here: the catalog
        keeps the old branch's apps (and the repo its old report) until a sync
        succeeds, which then fetches the new branch in full."""
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            _apply_changes(repo, changes)
            if changes.enabled is not None:  # its apps now represent, or no longer, theirs
                await session.flush()
                await refresh_representatives(session, await families_of_repo(session, repo.id))
            try:
                await session.commit()
            except IntegrityError:
                raise RepoExists(
                    f"a repo named '{changes.name}' already exists", fields=("name",)
                ) from None
            return RepoPublic.model_validate(repo)

    async def remove_repo(self, ref: str) -> RepoRemoved:
        """Forget a repo, its apps and its clone (ratings go with it). Installations
        of its apps are left as they are, and named in the answer: they keep
        running as installed, and no newer version of them is offered."""
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            installed = await _installed_from(session, repo.id)
            removed = RepoRemoved.model_validate(repo).model_copy(
                update={"installations": installed}
            )
            families = await families_of_repo(session, repo.id)
            await session.delete(repo)
            await session.flush()
            await refresh_representatives(session, families)
            await session.commit()
        shutil.rmtree(clone_dir_for(self.settings.repos_dir, removed.id), ignore_errors=True)
        return removed

    async def installations_from(self, ref: str) -> list[InstalledFrom]:
        """The installations of a repository's apps (what removing it leaves running)."""
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            return await _installed_from(session, repo.id)

    async def _find_repo(self, session: AsyncSession, ref: str) -> MarketplaceRepo:
        missing = RepoNotFound(f"no repo with id or name '{ref}'")
        return await find_by_id_or_name(session, MarketplaceRepo, ref, missing)

    # -- images the catalog ships ------------------------------------------------

    async def read_image(self, ref: str, path: str) -> tuple[bytes, str]:
        """An image of a repository (an app's icon or screenshot given as a path), read
        from the commit the catalog was synced from: tomo never fetches it elsewhere."""
        media_type = image_type(path)
        if media_type is None:
            raise ImageNotFound(f"'{path}' is not an image of a repository")
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            repo_id, commit, url = repo.id, repo.last_commit, repo.url
        if commit is None:
            raise ImageNotFound(f"repo '{repo_id}' has not been synced yet")
        git, _ = make_git(url, clone_dir_for(self.settings.repos_dir, repo_id),
                          timeout=self.settings.git_timeout, allow_local=True)  # fmt: skip
        data = await git.read_file(commit, path, max_bytes=MAX_IMAGE_BYTES)
        if data is None:
            raise ImageNotFound(f"repo '{repo_id}' has no image '{path}' (up to "
                                f"{MAX_IMAGE_BYTES // 1024**2} MB)")  # fmt: skip
        return data, media_type

    async def image_elsewhere(self, ref: str, path: str) -> str | None:
        """Where a store keeps an image its repository lacks: the official Umbrel
        store's icons and gallery live on its gallery site (formats/umbrel.py)."""
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            url = repo.url
        return umbrel_gallery_image(url, path)

    # -- sync ---------------------------------------------------------------

    async def sync_repo(
        self, ref: str, *, progress: Progress = _no_progress, force: bool = False
    ) -> SyncReport:
        """Fetch and re-parse one repo; on failure the last good catalog stays."""
        async with self.db.session() as session:
            repo = await self._find_repo(session, ref)
            snapshot = RepoSnapshot(
                repo.id, repo.url, repo.branch, repo.last_commit, repo.last_report,
                repo.credentials_enc, repo.format,
            )  # fmt: skip
        lock = self._local_locks.setdefault(snapshot.id, asyncio.Lock())
        if lock.locked():
            raise SyncInProgress(f"repo '{snapshot.id}' is already syncing")
        async with lock:
            await self._take_lease(snapshot.id)
            try:
                return await self._sync_leased(snapshot, progress, force)
            except BaseException as exc:
                # Shielded: a cancelled sync must still give up its lease.
                await asyncio.shield(self._record_failure(snapshot.id, _failure_message(exc)))
                if isinstance(exc, Exception):  # not an interruption: a failure to tell
                    await self._tell_sync_failed(snapshot.id, _failure_message(exc))
                raise

    async def _sync_leased(self, repo: RepoSnapshot, progress: Progress, force: bool) -> SyncReport:
        allow_local = self.settings.allow_local_repos or repo.url == self.builtin_url
        git, url = make_git(
            repo.url,
            clone_dir_for(self.settings.repos_dir, repo.id),
            timeout=self.settings.git_timeout,
            allow_local=allow_local,
            credentials=self._unseal(repo.credentials_enc),
        )
        sync = RepoSync(
            repo=repo,
            git=git,
            url=url,
            max_bytes=self.settings.max_definition_bytes,
            progress=progress,
        )
        unchanged_commit = None if force else await sync.remote_unchanged()
        async with self.db.session() as session, session.begin():
            if unchanged_commit is not None:
                report = _unchanged_report(repo, unchanged_commit)
            else:
                report = await sync.run(session)
            await finish_repo(session, repo.id, report)
        return report

    async def _take_lease(self, repo_id: str) -> None:
        now = datetime.now(UTC)
        async with self.db.session() as session, session.begin():
            result = await session.execute(
                update(MarketplaceRepo)
                .where(MarketplaceRepo.id == repo_id)
                .where(
                    (MarketplaceRepo.status != "syncing")
                    | (MarketplaceRepo.sync_started_at.is_(None))
                    | (MarketplaceRepo.sync_started_at < now - STALE_SYNC_AFTER)
                )
                .values(status="syncing", sync_started_at=now)
            )
            if getattr(result, "rowcount", 0) != 1:
                raise SyncInProgress(f"repo '{repo_id}' is already syncing")

    async def _tell_sync_failed(self, repo_id: str, message: str) -> None:
        if self.on_sync_failed is None:
            return
        try:
            await self.on_sync_failed(repo_id, message)
        except Exception:  # the sync's own failure is what its caller hears
            log.exception("telling of the failed sync of %s failed", repo_id)

    async def _record_failure(self, repo_id: str, message: str) -> None:
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(MarketplaceRepo)
                .where(MarketplaceRepo.id == repo_id)
                .values(status="error", last_error=message, sync_started_at=None)
            )

    @property
    def builtin_url(self) -> str:
        return str(self.settings.builtin_catalog_dir.resolve())

    # -- discovery ----------------------------------------------------------

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
        request = {"text": search, "category": category, "tags": tags, "repo": repo,
                   "installable_only": installable_only, "one_per_app": one_per_app,
                   "sort": sort, "limit": limit, "offset": offset}  # fmt: skip
        dialect = self.db.dialect
        async with self.db.session() as session:
            found = await session.run_sync(
                lambda sync: run_search(SessionSql(sync), dialect, **request)  # type: ignore[arg-type]
            )
        return SearchPage.model_validate(found)

    async def get_app(self, ref: str) -> MarketplaceApp:
        """By `repo/app`, or by bare id when one repo (or one official repo) has it."""
        async with self.db.session() as session:
            return catalog_entry(await self._find_app(session, ref))

    async def get_apps(self, refs: list[str]) -> list[MarketplaceApp]:
        """Several apps (as get_app finds each), each repo's asked for at once."""
        by_repo: dict[str, list[str]] = {}
        for ref in dict.fromkeys(refs):
            repo_ref, _, app_id = ref.rpartition("/")
            if repo_ref:
                by_repo.setdefault(repo_ref, []).append(app_id)
        async with self.db.session() as session:
            found: dict[str, MarketplaceAppRow] = {}
            for repo_ref, app_ids in by_repo.items():
                repo = await self._find_repo(session, repo_ref)
                rows = await session.scalars(select(MarketplaceAppRow).where(
                    MarketplaceAppRow.repo_id == repo.id, MarketplaceAppRow.id.in_(app_ids),
                ))  # fmt: skip
                found |= {f"{repo_ref}/{row.id}": row for row in rows}
            for ref in refs:  # bare ids, and what is missing (said as get_app says it)
                if ref not in found:
                    found[ref] = await self._find_app(session, ref)
            return [catalog_entry(found[ref]) for ref in refs]

    async def _find_app(self, session: AsyncSession, ref: str) -> MarketplaceAppRow:
        repo_ref, _, app_id = ref.rpartition("/")
        if repo_ref:
            repo = await self._find_repo(session, repo_ref)
            row = await session.scalar(
                select(MarketplaceAppRow).where(
                    MarketplaceAppRow.repo_id == repo.id, MarketplaceAppRow.id == app_id
                )
            )
            if row is None:
                raise AppNotFound(f"repo '{repo.id}' has no app '{app_id}'")
            return row
        return await self._find_bare_app(session, app_id)

    async def _find_bare_app(self, session: AsyncSession, app_id: str) -> MarketplaceAppRow:
        rows = list(
            await session.execute(
                select(MarketplaceAppRow, MarketplaceRepo.repo_type)
                .join(MarketplaceRepo, MarketplaceRepo.id == MarketplaceAppRow.repo_id)
                .where(MarketplaceAppRow.id == app_id, MarketplaceRepo.enabled.is_(True))
                .order_by(MarketplaceAppRow.repo_id)
            )
        )
        if not rows:
            raise AppNotFound(f"no app '{app_id}' in any enabled repo")
        official = [row for row, repo_type in rows if repo_type == "official"]
        if len(rows) == 1 or len(official) == 1:
            return rows[0][0] if len(rows) == 1 else official[0]
        raise AmbiguousApp(app_id, [f"{row.repo_id}/{row.id}" for row, _ in rows])

    async def get_categories(
        self,
        search: str | None = None,
        tags: Sequence[str] = (),
        repo: str | None = None,
        *,
        installable_only: bool = False,
        one_per_app: bool = False,
    ) -> list[Category]:
        """Categories with the number of apps a search with these words and filters
        finds in each (every visible app by default), in the store's one vocabulary:
        apps stored before it (an older parser's rows) count under their category's
        word in it."""
        request = {"text": search, "tags": tags, "repo": repo,
                   "installable_only": installable_only, "one_per_app": one_per_app}  # fmt: skip
        dialect = self.db.dialect
        async with self.db.session() as session:
            counts = await session.run_sync(
                lambda sync: run_category_counts(SessionSql(sync), dialect, **request)  # type: ignore[arg-type]
            )
        merged: Counter[str] = Counter()
        for name, count in counts:
            merged[canonical_category(name)] += count
        return [Category(name=name, count=count) for name, count in sorted(merged.items())]

    # -- ratings ------------------------------------------------------------

    async def rate_app(self, ref: str, *, user: str, rating: int) -> RatingResult:
        """Record one account's 1-5 rating; a second rating by the same account replaces
        it. `user` is the account's id (the API's and the pages' logged-in user) or,
        from the local CLI, its name; either way the rating is kept under the id: a
        name freed by a deleted account can be taken by another."""
        if not 1 <= rating <= 5:
            raise InvalidInput([Refusal(f"rating must be between 1 and 5, got {rating}",
                                        ("rating",))])  # fmt: skip
        async with self.db.session() as session, session.begin():
            app = await self._find_app(session, ref)
            account = await _account(session, user)
            key = {"repo_id": app.repo_id, "app_id": app.id, "user_id": account.id}
            existing = await session.get(MarketplaceRating, key, with_for_update=True)
            previous = existing.rating if existing else None
            if existing:
                existing.rating, existing.updated_at = rating, datetime.now(UTC)
            else:
                session.add(MarketplaceRating(**key, rating=rating, updated_at=datetime.now(UTC)))
            await session.execute(_adjust_totals(app.pk, rating, previous))
            await session.refresh(app)
            totals = {"avg_rating": app.avg_rating, "rating_count": app.rating_count}
            return RatingResult(**key, username=account.username, rating=rating, **totals)

    async def user_rating(self, repo_id: str, app_id: str, user_id: str) -> int | None:
        """One account's own rating of an app, by the account's id (None: not rated)."""
        async with self.db.session() as session:
            rating: int | None = await session.scalar(
                select(MarketplaceRating.rating).where(
                    MarketplaceRating.repo_id == repo_id, MarketplaceRating.app_id == app_id,
                    MarketplaceRating.user_id == user_id,
                )
            )  # fmt: skip
        return rating

    async def card_details(self, hits: Sequence[AppSummary]) -> dict[tuple[str, str], AppCard]:
        """What a store card shows beyond a search hit, for a page of hits in one query:
        (repo id, app id) -> description, icon, number of ratings."""
        if not hits:
            return {}
        apps = MarketplaceAppRow
        keys = [(hit.repo_id, hit.id) for hit in hits]
        async with self.db.session() as session:
            rows = await session.execute(
                select(apps.repo_id, apps.id, apps.description, apps.details, apps.rating_count)
                .where(tuple_(apps.repo_id, apps.id).in_(keys))
            )  # fmt: skip
            return {(row.repo_id, row.id): AppCard(description=row.description,
                                                    icon=(row.details or {}).get("icon"),
                                                    rating_count=row.rating_count)
                    for row in rows}  # fmt: skip

    async def other_sources(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], list[AppSource]]:
        """(repo id, app id) -> the same app in the other enabled repositories (its
        family, families.py), the one the store shows first."""
        if not keys:
            return {}
        app, repo = MarketplaceAppRow, MarketplaceRepo
        async with self.db.session() as session:
            own = {(row.repo_id, row.id): row.family for row in await session.execute(
                select(app.repo_id, app.id, app.family)
                .where(tuple_(app.repo_id, app.id).in_(list(keys)))
            )}  # fmt: skip
            if not own:
                return {}
            rows = await session.execute(
                select(app.family, app.repo_id, app.id, repo.name, app.version, app.installable,
                       app.represents)
                .join(repo, repo.id == app.repo_id)
                .where(app.family.in_(set(own.values())), repo.enabled.is_(True))
                .order_by(app.represents.desc(), repo.name, app.id)
            )  # fmt: skip
            members: dict[str, list[AppSource]] = {}
            for row in rows:
                members.setdefault(row.family, []).append(AppSource(
                    repo_id=row.repo_id, app_id=row.id, repo_name=row.name, version=row.version,
                    installable=row.installable, shown=row.represents))  # fmt: skip
        return {key: [s for s in members.get(family, []) if (s.repo_id, s.app_id) != key]
                for key, family in own.items()}  # fmt: skip

    async def count_install(self, repo_id: str, app_id: str) -> None:
        """One more successful install of the app (its popularity)."""
        async with self.db.session() as session, session.begin():
            await session.execute(
                update(MarketplaceAppRow)
                .where(MarketplaceAppRow.repo_id == repo_id, MarketplaceAppRow.id == app_id)
                .values(install_count=MarketplaceAppRow.install_count + 1)
            )


async def _account(session: AsyncSession, ref: str) -> User:
    """An account by id, else by name (a name like another account's id finds no one
    else, as in AuthService)."""
    found = await session.get(User, ref) or await session.scalar(
        select(User).where(User.username == ref)
    )
    if found is None:
        raise NotFound(f"no tomo user with id or name '{ref}': a rating is a tomo account's")
    return found


def _adjust_totals(app_pk: int, rating: int, previous: int | None) -> Any:
    """Update sum and count in place (no rescan of ratings), then the average."""
    apps = MarketplaceAppRow
    new_sum = apps.rating_sum + rating - (previous or 0)
    new_count = apps.rating_count + (0 if previous else 1)
    return (
        update(apps)
        .where(apps.pk == app_pk)
        .values(rating_sum=new_sum, rating_count=new_count, avg_rating=new_sum * 1.0 / new_count)
    )


def _failure_message(exc: BaseException) -> str:
    """What a repo shows after its sync ended by `exc`; never a traceback."""
    if isinstance(exc, TomoError):
        return exc.message
    if isinstance(exc, Exception):  # a bug: the caller logs the traceback
        return (
            f"sync failed with an internal error ({type(exc).__name__}); "
            "the details are in tomo's log"
        )
    return "sync was interrupted"  # cancelled, Ctrl-C, exiting


def _unchanged_report(repo: RepoSnapshot, commit: str) -> SyncReport:
    last = dict(repo.last_report or {})
    last.pop("parser", None)
    return SyncReport.model_validate(
        {
            **last,
            "repo_id": repo.id,
            "status": "unchanged",
            "branch": repo.branch,
            "commit": commit,
            "added": 0,
            "updated": 0,
            "removed": 0,
        }
    )


async def _same_repository(session: AsyncSession, url: str) -> list[tuple[str, str, str]]:
    """(id, URL, branch) of each repo already subscribed to this URL (in any spelling)."""
    key = repo_url_key(url)
    rows = await session.execute(
        select(MarketplaceRepo.id, MarketplaceRepo.url, MarketplaceRepo.branch)
        .order_by(MarketplaceRepo.id)
    )  # fmt: skip
    return [(repo_id, known, branch) for repo_id, known, branch in rows
            if repo_url_key(known) == key]  # fmt: skip


def _duplicate_warnings(
    same: list[tuple[str, str, str]], url: str, branch: str, *, allowed: bool
) -> list[str]:
    """A warning per repo at the same URL; a repo on the same branch too refuses the
    add, unless a duplicate is what the user asked for: it lists every app twice."""
    twins = [repo_id for repo_id, _, known_branch in same if known_branch == branch]
    if twins and not allowed:
        repos = ", ".join(f"'{repo_id}'" for repo_id in twins)
        follows = "follows" if len(twins) == 1 else "follow"
        raise RepoAlreadySubscribed(
            f"repo {repos} already {follows} {url} on branch '{branch}' (another "
            "subscription would list each of its apps again)", twins,
        )  # fmt: skip
    return [
        f"repo '{repo_id}' already subscribes to this repository ({known}, branch {known_branch})"
        for repo_id, known, known_branch in same
    ]


def _apply_changes(repo: MarketplaceRepo, changes: RepoUpdate) -> None:
    """A new branch or format makes the next sync read everything again."""
    if changes.branch is not None and changes.branch != repo.branch:
        repo.branch = check_branch(changes.branch)
        repo.last_commit = None  # the next sync must fetch the new branch
    if changes.name is not None:
        repo.name = changes.name.strip()
    if changes.enabled is not None:
        repo.enabled = changes.enabled
    if changes.repo_type is not None:
        repo.repo_type = changes.repo_type
    if changes.format is not None:
        wanted = None if changes.format == "auto" else changes.format
        if wanted != repo.format:
            repo.format, repo.last_commit = wanted, None


async def _installed_from(session: AsyncSession, repo_id: str) -> list[InstalledFrom]:
    # Imported here: only a removal asks the deployment's tables.
    from tomo.deployment.models import Installation
    from tomo.servers.models import Server

    rows = await session.execute(
        select(Installation.name, Server.name, Installation.app_id)
        .join(Server, Server.id == Installation.server_id)
        .where(Installation.repo_id == repo_id)
        .order_by(Server.name, Installation.name)
    )
    return [InstalledFrom(name=name, server=server, app=app) for name, server, app in rows]


def _repo_detail(repo: MarketplaceRepo) -> RepoDetail:
    public = RepoPublic.model_validate(repo).model_dump()
    report = dict(repo.last_report) if repo.last_report else None
    if report:
        report.pop("parser", None)
    return RepoDetail.model_validate({**public, "last_report": report})
