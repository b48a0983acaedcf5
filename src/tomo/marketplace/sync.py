"""One repository sync: fetch, find what changed, parse only that, write once.

The sync keeps, per repo, the blob of every definition file it saw
(`marketplace_sources`). A re-sync compares blobs, parses only new or changed
files, and rewrites only apps whose file changed. Everything is written in
one transaction at the end, so a sync that fails midway leaves the last good
catalog in place.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tomo.db import table_of
from tomo.errors import InvalidDefinition, SyncFailed
from tomo.marketplace.categories import canonical_category
from tomo.marketplace.credentials import RepoCredentials
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.families import families_of_rows, family_of, refresh_representatives
from tomo.marketplace.formats.base import CatalogFormat
from tomo.marketplace.formats.tomo import TomoFormat
from tomo.marketplace.git import Git, RemoteLogin, TreeEntry, check_repo_url
from tomo.marketplace.invisible import removed_warning
from tomo.marketplace.models import (
    MarketplaceAppRow,
    MarketplaceRating,
    MarketplaceRepo,
    MarketplaceSource,
)
from tomo.marketplace.report import not_installable_apps
from tomo.marketplace.risk import app_risks
from tomo.marketplace.scan import (
    Selection,
    SourceFile,
    blob_tree,
    choose_winners,
    resolve_blob,
    select_sources,
    symlink_blobs,
)
from tomo.marketplace.schemas import SyncProblem, SyncReport

# Bump when parsing or validation rules change: stored outcomes of unchanged
# files are then stale and every file is parsed again.
# 2: warnings about misspelt keys; 3: about files named unlike their id; 4: catalog formats;
# 5: invisible formatting characters removed from every text (see invisible.py).
# 6: env names by Docker's rule, merge keys, shown texts normalised, GPUs, Runtipi's
#    empty fields, Portainer's copies, the files a store ships (issue 19).
# 7: apps that require other apps, and what apps export to them (issue 19).
# 8: Umbrel's dependencies, exports and hooks read as tomo's requires, exports, hooks.
# 9: blocked values left out (not made empty), graces capped, Windows templates listed,
#    one-container apps that use built-ins templated.
# 10: sysctls of the container's own namespaces.
# 11: store templates (Umbrel's, Runtipi's *.template) filled in at install.
# 12: devices chosen at install (a setting as the server side).
# 13: one vocabulary of categories (categories.py); apps marked installable or not;
#     `$$` of tomo's own files is a `$` in one-container apps without settings too.
# 14: Umbrel's icon where its store finds it (`<folder>/icon.svg`, its gallery site).
# 15: release notes (tomo's `release_notes`, Umbrel's `releaseNotes`), kept with the app.
# 16: the front door's `proxy` (Umbrel's app_proxy, Runtipi's exposed apps), kept with
# the app; Runtipi's force_expose apps installable, their addresses tomo's built-ins.
# 17: the app's web page (web_path) kept; limits and options (mem_limit, cpus, init,
#     ulimits, extra_hosts, tmpfs, shm_size); env_file; secrets' length; Umbrel's
#     derived exports; Portainer's newest-named file and Edge stacks; compose configs
#     written out in the file.
# 18: Umbrel: optional manifest texts written as mappings read; a fixed-address
#     variable is its service's host exported or not; a template wins over a shipped
#     file of its name.
# 19: other apps' variables an app does not list (optional_imports); folders of a
#     required app's data as volumes (imported_folder).
# Apps stored by an older parser are rewritten from the new parse, even from files
# that did not change: what the catalog shows must be what this parser makes of them.
PARSER_VERSION = 19

log = logging.getLogger("tomo.marketplace")
# A file holding a whole catalog (Portainer's templates) is bound by this, not by
# the per-definition limit: 1,000 templates are over a megabyte.
MAX_INDEX_BYTES = 32 * 1024**2
Progress = Callable[[str, int, int], None]
# Fields kept in the row's `details` JSON: shown, not searched.
_DETAIL_FIELDS = ("license", "repository", "documentation", "icon", "maintainers",
                  "services", "main", "settings", "not_installable", "tagline",
                  "screenshots", "files", "requires", "exports", "optional_imports",
                  "hooks", "templated", "release_notes", "backup", "proxy",
                  "web_path")  # fmt: skip


def _no_progress(_phase: str, _done: int, _total: int) -> None:
    pass


@dataclass(frozen=True)
class RepoSnapshot:
    """What a sync needs to know of the repo row, read before it starts."""

    id: str
    url: str
    branch: str
    last_commit: str | None
    last_report: dict[str, Any] | None
    credentials_enc: str | None = None  # decrypted only when the sync runs
    format: str | None = None  # None: detected on each sync


@dataclass
class ParsedFile:
    """What parsing one file gave: an app id (and definition if parsed now) or an error."""

    blob: str
    app_id: str | None = None
    definition: AppDefinition | None = None
    error: str | None = None
    warning: str | None = None  # misspelt-looking keys, the app is stored regardless


@dataclass
class Plan:
    added: dict[str, AppDefinition] = field(default_factory=dict)
    updated: dict[str, AppDefinition] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    kept: dict[str, str] = field(default_factory=dict)  # path of a now-invalid file -> its app


class RepoSync:
    """Runs one sync of one repo; the caller holds the repo's sync lease."""

    def __init__(
        self,
        *,
        repo: RepoSnapshot,
        git: Git,
        url: str,
        max_bytes: int,
        progress: Progress = _no_progress,
    ) -> None:
        self.repo = repo
        self.git = git
        self.url = url
        self.max_bytes = max_bytes
        self.progress = progress
        self.format: CatalogFormat = TomoFormat()  # until the tree says otherwise

    async def remote_unchanged(self) -> str | None:
        """The remote commit if it is the one synced last time, else None."""
        self.progress("checking remote", 0, 0)
        head = await self.git.remote_head(self.url, self.repo.branch)
        same_parser = (self.repo.last_report or {}).get("parser") == PARSER_VERSION
        return head if head == self.repo.last_commit and same_parser else None

    async def run(self, session: AsyncSession) -> SyncReport:
        with _collector_paused():
            return await self._run(session)

    async def _run(self, session: AsyncSession) -> SyncReport:
        self.progress("fetching", 0, 0)
        commit = await self.git.fetch(self.url, self.repo.branch)
        selection = await self._select(commit)
        previous = await _previous_outcomes(session, self.repo)
        outcomes = await self._parse_changed(selection.sources, previous)
        winners = choose_winners(
            {path: o.app_id for path, o in outcomes.items() if o.app_id is not None}
        )
        stored = await _stored_apps(session, self.repo.id)
        # Files still there that no longer load: unparsable, too large, bad links.
        broken = set(selection.errors) | {p for p, o in outcomes.items() if o.error is not None}
        plan = await self._plan(winners.paths, outcomes, stored, broken, selection.sources)
        errors = {**selection.errors, **_parse_errors(outcomes), **winners.errors}
        for path, app_id in plan.kept.items():
            errors[path] += f" (the last good version of '{app_id}' stays in the catalog)"
        self.progress("writing", 0, 0)
        await _write(session, self.repo.id, plan, stored, winners.paths, selection)
        await _write_sources(session, self.repo.id, outcomes, previous, selection)
        blocked = await not_installable_apps(session, self.repo.id)
        return SyncReport(
            repo_id=self.repo.id,
            status="synced",
            format=self.format.name,
            branch=self.repo.branch,
            commit=commit,
            app_count=len(winners.paths) + len(plan.kept),
            added=len(plan.added),
            updated=len(plan.updated),
            removed=len(plan.removed),
            errors=[SyncProblem(path=p, message=m) for p, m in sorted(errors.items())],
            warnings=_warnings(outcomes),
            not_installable=blocked,
        )

    async def _select(self, commit: str) -> Selection:
        self.progress("reading tree", 0, 0)
        entries = await self.git.list_tree(commit)
        links = await self.git.read_blobs(symlink_blobs(entries))
        tree = blob_tree(entries)
        self.format = self._format_of(tree)
        indexes = await self._read_indexes(tree, links)
        found = self.format.find_sources(list(tree), indexes)
        return select_sources(tree, links, found, max_bytes=self.max_bytes,
                              larger={path: MAX_INDEX_BYTES for path in indexes})  # fmt: skip

    def _format_of(self, tree: dict[str, TreeEntry]) -> CatalogFormat:
        # Imported here: the other stores' adapters are a tenth of the CLI's start-up,
        # and only a sync needs them.
        from tomo.marketplace.formats.registry import describe_formats, detect_format, format_named

        if self.repo.format is not None:
            return format_named(self.repo.format)
        detected = detect_format(list(tree))
        if detected is None:
            raise SyncFailed("the repository holds no apps in a format tomo knows (looked "
                             f"for: {describe_formats()}); if it is in one of "
                             "these, set the repository's format")  # fmt: skip
        return detected

    async def _read_indexes(
        self, tree: dict[str, TreeEntry], links: dict[str, bytes]
    ) -> dict[str, bytes]:
        """The files a format reads to know its apps (a templates file); a bad one is
        the sync's error: without it there is no catalog to speak of."""
        blobs = {}
        for path in self.format.index_files(list(tree)):
            try:
                blobs[path] = resolve_blob(path, tree, links, max(self.max_bytes, MAX_INDEX_BYTES))
            except ValueError as exc:
                raise SyncFailed(f"{path}: {exc}") from None
        contents = await self.git.read_blobs(sorted(set(blobs.values())))
        return {path: contents[blob] for path, blob in blobs.items()}

    async def _parse_changed(
        self, sources: dict[str, SourceFile], previous: dict[str, ParsedFile]
    ) -> dict[str, ParsedFile]:
        changed = [s for s in sources.values() if _needs_parse(s, previous.get(s.path))]
        changed_paths = {source.path for source in changed}
        outcomes = {path: previous[path] for path in sources if path not in changed_paths}
        outcomes.update(await self._parse(changed))
        return outcomes

    async def _parse(self, files: list[SourceFile]) -> dict[str, ParsedFile]:
        contents = await self.git.read_blobs(sorted({b for f in files for b in f.blobs}))
        outcomes: dict[str, ParsedFile] = {}
        for done, source in enumerate(files, start=1):
            outcomes[source.path] = self._parse_one(source, contents)
            if done % 500 == 0 or done == len(files):
                self.progress("parsing", done, len(files))
        return outcomes

    def _parse_one(self, source: SourceFile, contents: dict[str, bytes]) -> ParsedFile:
        assert source.spec is not None  # sources come from select_sources
        files = {path: contents[blob] for path, blob in source.members}
        try:
            parsed = self.format.parse(source.spec, files, max_bytes=self.max_bytes)
        except InvalidDefinition as exc:
            return ParsedFile(blob=source.blob, error=exc.reason)
        except Exception:  # a format's bug must not end the sync or hide the file
            log.exception("parsing %s of repo %s failed", source.path, self.repo.id)
            return ParsedFile(blob=source.blob, error="tomo could not read this file "
                           "(an internal error; details in tomo's log)")  # fmt: skip
        removed = removed_warning(parsed.definition.invisible_removed)
        warnings = [*parsed.warnings, *([removed] if removed else [])]
        return ParsedFile(blob=source.blob, app_id=parsed.definition.id,
                       definition=parsed.definition,
                       warning="; ".join(warnings) or None)  # fmt: skip

    async def _plan(
        self,
        winners: dict[str, str],
        outcomes: dict[str, ParsedFile],
        stored: dict[str, tuple[int, str, str]],
        broken: set[str],
        sources: dict[str, SourceFile],
    ) -> Plan:
        # An app whose file is still there but no longer loads keeps its last good
        # version (a broken commit must not take it away); deleting the file removes it.
        kept = {path: app_id for app_id, (_, path, _) in stored.items()
                if app_id not in winners and path in broken}  # fmt: skip
        plan = Plan(removed=set(stored) - set(winners) - set(kept.values()), kept=kept)
        # Unchanged files whose app was not stored before (it lost an id clash
        # that has since been settled) were not parsed this time: parse now.
        late = [
            sources[path]
            for app_id, path in winners.items()
            if outcomes[path].definition is None
            and not _is_stored(stored, app_id, path, outcomes[path].blob)
        ]
        outcomes.update(await self._parse(late))
        new_parser = (self.repo.last_report or {}).get("parser") != PARSER_VERSION
        for app_id, path in winners.items():
            outcome = outcomes[path]
            if app_id not in stored:
                plan.added[app_id] = _definition(outcome, path)
            elif new_parser or not _is_stored(stored, app_id, path, outcome.blob):
                plan.updated[app_id] = _definition(outcome, path)
        return plan


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A sync allocates many objects (definitions, rows) that live until it ends
    and form no cycles; the cyclic collector would scan them again and again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _needs_parse(source: SourceFile, before: ParsedFile | None) -> bool:
    return before is None or before.blob != source.blob


def _is_stored(stored: dict[str, tuple[int, str, str]], app_id: str, path: str, blob: str) -> bool:
    """Whether the catalog already holds this app from this very file content."""
    entry = stored.get(app_id)
    return entry is not None and entry[1:] == (path, blob)


def _definition(outcome: ParsedFile, path: str) -> AppDefinition:
    if outcome.definition is None:  # pragma: no cover - guarded by _plan
        raise RuntimeError(f"{path} was not parsed")
    return outcome.definition


def _warnings(outcomes: dict[str, ParsedFile]) -> list[SyncProblem]:
    return [SyncProblem(path=path, message=outcome.warning)
            for path, outcome in sorted(outcomes.items()) if outcome.warning]  # fmt: skip


def _parse_errors(outcomes: dict[str, ParsedFile]) -> dict[str, str]:
    return {path: o.error for path, o in outcomes.items() if o.error is not None}


async def _previous_outcomes(session: AsyncSession, repo: RepoSnapshot) -> dict[str, ParsedFile]:
    if (repo.last_report or {}).get("parser") != PARSER_VERSION:
        return {}
    rows = await session.execute(
        select(
            MarketplaceSource.path,
            MarketplaceSource.blob,
            MarketplaceSource.app_id,
            MarketplaceSource.error,
            MarketplaceSource.warning,
        ).where(MarketplaceSource.repo_id == repo.id)
    )
    return {
        path: ParsedFile(blob=blob, app_id=app_id, error=error, warning=warning)
        for path, blob, app_id, error, warning in rows
    }


async def _stored_apps(session: AsyncSession, repo_id: str) -> dict[str, tuple[int, str, str]]:
    """app id -> (pk, source path, source blob) of what the catalog holds now."""
    rows = await session.execute(
        select(
            MarketplaceAppRow.id,
            MarketplaceAppRow.pk,
            MarketplaceAppRow.source_path,
            MarketplaceAppRow.source_blob,
        ).where(MarketplaceAppRow.repo_id == repo_id)
    )
    return {app_id: (pk, path, blob) for app_id, pk, path, blob in rows}


def app_row(
    definition: AppDefinition, *, repo_id: str, path: str, blob: str, now: datetime
) -> dict[str, Any]:
    """The marketplace_apps columns for one definition."""
    dump = definition.model_dump(mode="json")
    return {
        "repo_id": repo_id,
        "id": definition.id,
        "name": definition.name,
        "description": definition.description,
        "version": definition.version,
        "category": canonical_category(definition.category),
        "tags": dump["tags"],
        "author": definition.author,
        "featured": definition.featured,
        "installable": definition.not_installable is None,
        "family": family_of(definition.name, definition.id),
        "docker_config": dump["docker"],
        "requirements": dump["requirements"],
        "details": {key: dump[key] for key in _DETAIL_FIELDS}
        | _store_category(definition.category),
        "risks": app_risks(definition),
        "source_path": path,
        "source_blob": blob,
        "updated_at": now,
    }


def _store_category(category: str) -> dict[str, str]:
    """The store's own word for the category, kept when the store shows another."""
    return {"store_category": category} if canonical_category(category) != category else {}


async def _write(
    session: AsyncSession,
    repo_id: str,
    plan: Plan,
    stored: dict[str, tuple[int, str, str]],
    winners: dict[str, str],
    selection: Selection,
) -> None:
    now = datetime.now(UTC)
    apps = table_of(MarketplaceAppRow)
    # The families of the apps that change, before and after: in each, another app
    # may represent it now (families.py).
    leaving = [stored[app_id][0] for app_id in (*plan.removed, *plan.updated)]
    families = await families_of_rows(session, leaving)
    if plan.removed:
        await session.execute(
            delete(apps).where(apps.c.pk.in_([stored[app_id][0] for app_id in plan.removed]))
        )
    sources = {app_id: selection.sources[path] for app_id, path in winners.items()}
    if plan.updated:
        updated = _rows(repo_id, plan.updated, sources, now)
        families |= {row["family"] for row in updated.values()}
        await _update_apps(session, updated, stored)
    if plan.added:
        added = _rows(repo_id, plan.added, sources, now)
        families |= {row["family"] for row in added.values()}
        await _insert_apps(session, repo_id, added, now)
    await refresh_representatives(session, families)


def _rows(
    repo_id: str,
    definitions: dict[str, AppDefinition],
    sources: dict[str, SourceFile],
    now: datetime,
) -> dict[str, dict[str, Any]]:
    """app id -> its marketplace_apps columns, from the definition and its file."""
    return {
        app_id: app_row(definition, repo_id=repo_id, path=sources[app_id].path,
                        blob=sources[app_id].blob, now=now)
        for app_id, definition in definitions.items()
    }  # fmt: skip


async def _insert_apps(
    session: AsyncSession, repo_id: str, rows: dict[str, dict[str, Any]], now: datetime
) -> None:
    ratings = await _rating_totals(session, repo_id, set(rows))
    for app_id, row in rows.items():
        total, count = ratings.get(app_id, (0, 0))
        average = total / count if count else 0.0
        row.update(created_at=now, rating_sum=total, rating_count=count, avg_rating=average,
                   install_count=0)  # fmt: skip
    apps = table_of(MarketplaceAppRow)
    # RETURNING makes SQLAlchemy send a thousand rows per INSERT ("insertmanyvalues")
    # rather than one statement per row: SQLite's full-text indexes write what they
    # hold out as a new segment at the end of every statement, and merge those again,
    # which made one row per statement cost about three times as much.
    await session.execute(insert(apps).returning(apps.c.pk), list(rows.values()))


async def _update_apps(
    session: AsyncSession, rows: dict[str, dict[str, Any]], stored: dict[str, tuple[int, str, str]]
) -> None:
    """Rewrite changed apps in place: same primary key, ratings and installs kept."""
    apps = table_of(MarketplaceAppRow)
    columns: dict[str, Any] = {key: bindparam(key) for key in next(iter(rows.values()))}
    await session.execute(
        update(apps).where(apps.c.pk == bindparam("row_pk")).values(columns),
        [{"row_pk": stored[app_id][0], **row} for app_id, row in rows.items()],
        execution_options={"synchronize_session": False},
    )


async def _rating_totals(
    session: AsyncSession, repo_id: str, app_ids: set[str]
) -> dict[str, tuple[int, int]]:
    """Ratings an app kept while it was absent from its repo (usually none)."""
    rating = MarketplaceRating
    rows = await session.execute(
        select(rating.app_id, func.sum(rating.rating), func.count())
        .where(rating.repo_id == repo_id)
        .group_by(rating.app_id)
    )
    return {app_id: (int(total), int(count)) for app_id, total, count in rows if app_id in app_ids}


async def _write_sources(
    session: AsyncSession,
    repo_id: str,
    outcomes: dict[str, ParsedFile],
    previous: dict[str, ParsedFile],
    selection: Selection,
) -> None:
    """Record each file's outcome, rewriting only rows whose file changed."""
    table = table_of(MarketplaceSource)
    current = [path for path in outcomes if path in selection.sources]
    # Unchanged files kept the very ParsedFile object read from the previous rows.
    changed = [path for path in current if outcomes[path] is not previous.get(path)]
    if not previous:  # first sync, or outcomes of an older parser: start afresh
        await session.execute(delete(table).where(table.c.repo_id == repo_id))
    else:
        stale = [path for path in previous if path not in selection.sources] + [
            path for path in changed if path in previous
        ]
        if stale:
            await session.execute(
                delete(table).where(table.c.repo_id == repo_id, table.c.path == bindparam("p")),
                [{"p": path} for path in stale],
            )
    rows = [
        {"repo_id": repo_id, "path": path, "blob": outcomes[path].blob,
         "app_id": outcomes[path].app_id, "error": outcomes[path].error,
         "warning": outcomes[path].warning}
        for path in changed
    ]  # fmt: skip
    if rows:
        await session.execute(insert(table), rows)


async def finish_repo(session: AsyncSession, repo_id: str, report: SyncReport) -> None:
    """Record a successful sync on the repo row and release its lease."""
    count = await session.scalar(
        select(func.count())
        .select_from(MarketplaceAppRow)
        .where(MarketplaceAppRow.repo_id == repo_id)
    )
    # What is made from the report's lines (its summary) is made again when shown.
    lines = report.model_dump(mode="json", exclude={"summary", "unchanged"})
    stored_report = {**lines, "parser": PARSER_VERSION}
    await session.execute(
        update(MarketplaceRepo)
        .where(MarketplaceRepo.id == repo_id)
        .values(
            status="active",
            last_error=None,
            last_commit=report.commit,
            last_synced=datetime.now(UTC),
            app_count=count or 0,
            last_report=stored_report,
            sync_started_at=None,
        )
    )


def clone_dir_for(repos_dir: Path, repo_id: str) -> Path:
    return repos_dir / f"{repo_id}.git"


def make_git(
    url: str,
    clone_dir: Path | None,
    *,
    timeout: float,
    allow_local: bool,
    credentials: RepoCredentials | None = None,
) -> tuple[Git, str]:
    """A Git runner allowed exactly the transports this repo's URL needs, and
    given the repo's credentials (if any) for its remote; without a clone
    directory it can only ask the remote (see Git)."""
    checked = check_repo_url(url, allow_local=allow_local)
    credentials = credentials or checked.credentials
    login = RemoteLogin(checked.url, credentials) if credentials else None
    git = Git(clone_dir, timeout=timeout, allow_file=checked.is_local, login=login)
    return git, checked.url
