"""`tomo repo …`: subscribe to catalog repositories and sync them."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, read, run
from tomo.cli.output import console, emit, emit_json, err_console, fields, table
from tomo.errors import RepoAlreadySubscribed, SyncFailed
from tomo.marketplace.kinds import CatalogFormatName, FormatChoice, RepoType

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.marketplace.schemas import (
        ProblemKind,
        RepoAdded,
        RepoCreate,
        RepoDetail,
        RepoPublic,
        RepoRemoved,
        RepoUpdate,
        SyncReport,
    )

app = typer.Typer(help="Catalog repositories.", no_args_is_help=True)
RepoArg = Annotated[str, typer.Argument(help="Repo id or name.")]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Every line of the report, not its summary.")
]
CATALOG_KEPT = "catalog kept"
SHOWN_KINDS = 5  # lines per part of a report's summary: it fits a screen
SHOWN_EXAMPLES = 2


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="https://, ssh://, git@host:path or a local path.")],
    name: Annotated[str, typer.Option("--name", help="Display name (the id is derived from it).")],
    branch: Annotated[
        str | None, typer.Option("--branch", help="Default: the remote's default branch.")
    ] = None,
    repo_type: Annotated[RepoType, typer.Option("--type")] = "community",
    repo_id: Annotated[str | None, typer.Option("--id", help="Choose the id.")] = None,
    format_: Annotated[
        CatalogFormatName | None,
        typer.Option("--format", help="Default: detected from the files on each sync."),
    ] = None,
    sync: Annotated[bool, typer.Option("--sync/--no-sync", help="Sync right away.")] = True,
    allow_duplicate: Annotated[
        bool,
        typer.Option(
            "--allow-duplicate", help="Subscribe even if another repo follows this URL and branch."
        ),
    ] = False,
    verbose: VerboseOption = False,
    json_: JsonOption = False,
) -> None:
    """Add a repository of app definitions (tomo's, or a CasaOS, Runtipi, Umbrel or
    Portainer catalog as published), then sync it. A URL and branch another repo
    follows already is asked about (refused when nobody can answer)."""
    from tomo.marketplace.schemas import RepoCreate

    request = RepoCreate(url=url, name=name, branch=branch, repo_type=repo_type, id=repo_id,
                         format=format_, allow_duplicate=allow_duplicate)  # fmt: skip

    async def action(runtime: Services) -> None:
        repo = await _add(runtime, request, ask=not json_)
        if not json_:
            err_console().print(f"Added repo {repo.id} ({repo.url})", markup=False)
        for warning in repo.warnings:  # on stderr, so --json output stays one document
            err_console().print(f"warning: {warning}", markup=False)
        if sync:
            failed = "repo added, its first sync failed"
            await _sync_and_show(runtime, repo.id, json_=json_, force=False, failed=failed,
                                 verbose=verbose)  # fmt: skip
        elif json_:
            emit_json(repo)

    run(ctx, action)


async def _add(runtime: Services, request: RepoCreate, *, ask: bool) -> RepoAdded:
    """Add; a URL and branch subscribed already is added again only if a person at a
    terminal says so (or --allow-duplicate did)."""
    try:
        return await runtime.marketplace.add_repo(request)
    except RepoAlreadySubscribed as exc:
        if not ask or not sys.stdin.isatty():
            raise exc.with_message(
                f"{exc.message}; add --allow-duplicate to subscribe all the same"
            ) from None
        err_console().print(f"{exc.message[0].upper()}{exc.message[1:]}.", markup=False)
        if not typer.confirm("Subscribe again all the same?", default=False):
            raise exc.with_message(f"{exc.message}; nothing was added") from None
    return await runtime.marketplace.add_repo(request.model_copy(update={"allow_duplicate": True}))


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List subscribed repositories."""
    from tomo.marketplace import readonly

    repos = read(ctx, readonly.list_repos, lambda runtime: runtime.marketplace.list_repos())
    if json_:
        emit_json(repos)
        return
    table(
        None,
        ["id", "name", "type", "enabled", "status", "apps", "last synced", "url"],
        [
            (r.id, r.name, r.repo_type, r.enabled, r.status, r.app_count, r.last_synced, r.url)
            for r in repos
        ],
        empty="No repositories yet. Add one with `tomo repo add URL --name NAME`.",
    )


@app.command("show")
def show(
    ctx: typer.Context, repo: RepoArg, verbose: VerboseOption = False, json_: JsonOption = False
) -> None:
    """Show one repository and the summary of its last sync (--verbose: every line)."""
    detail = run(ctx, lambda runtime: runtime.marketplace.get_repo(repo))
    emit(detail, json_, lambda: _print_detail(detail, verbose=verbose))


@app.command("update")
def update(
    ctx: typer.Context,
    repo: RepoArg,
    name: Annotated[str | None, typer.Option("--name")] = None,
    branch: Annotated[str | None, typer.Option("--branch")] = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    format_: Annotated[
        FormatChoice | None,
        typer.Option("--format", help="A catalog format, or 'auto' to detect it again."),
    ] = None,
    repo_type: Annotated[RepoType | None, typer.Option("--type")] = None,
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="Sync right away after --branch or --format.")
    ] = True,
    verbose: VerboseOption = False,
    json_: JsonOption = False,
) -> None:
    """Rename a repository, change its branch or format (and sync it), its type,
    enable or disable it."""
    from tomo.marketplace.schemas import RepoUpdate

    changes = RepoUpdate(name=name, branch=branch, enabled=enabled, format=format_,
                         repo_type=repo_type)  # fmt: skip
    if (branch is not None or format_ is not None) and sync:
        run(ctx, lambda runtime: _switch_branch(runtime, repo, changes, json_=json_,
                                                verbose=verbose))  # fmt: skip
        return
    updated = run(ctx, lambda runtime: runtime.marketplace.update_repo(repo, changes))
    emit(updated, json_, f"Updated repo {updated.id}")


async def _switch_branch(
    runtime: Services, repo: str, changes: RepoUpdate, *, json_: bool, verbose: bool
) -> None:
    """Update, then sync the branch (or format) now followed; with --json, print the
    sync report (as `repo add` does)."""
    before = await runtime.marketplace.get_repo(repo)
    updated = await runtime.marketplace.update_repo(repo, changes)
    if not json_:
        message = f"Updated repo {updated.id}; it follows branch {updated.branch}"
        err_console().print(message, markup=False)
    failed = _old_catalog_note(before, updated)
    await _sync_and_show(runtime, updated.id, json_=json_, force=False, failed=failed,
                         verbose=verbose)  # fmt: skip


def _old_catalog_note(before: RepoPublic, after: RepoPublic) -> str:
    """What the catalog shows while the new branch has not synced."""
    if before.branch == after.branch:
        return CATALOG_KEPT
    if before.last_synced is None:
        return f"branch changed to '{after.branch}'; no sync of this repo has succeeded yet"
    return (
        f"branch changed to '{after.branch}'; the catalog still shows the apps of "
        f"branch '{before.branch}' until a sync succeeds"
    )


@app.command("sync")
def sync(
    ctx: typer.Context,
    repo: RepoArg,
    force: Annotated[bool, typer.Option("--force", help="Re-parse even if unchanged.")] = False,
    verbose: VerboseOption = False,
    json_: JsonOption = False,
) -> None:
    """Fetch a repository and update its apps in the catalog; print a summary of what
    the sync found (--verbose: every line; --json: the whole report)."""
    run(ctx, lambda runtime: _sync_and_show(runtime, repo, json_=json_, force=force,
                                            verbose=verbose))  # fmt: skip


@app.command("remove")
def remove(ctx: typer.Context, repo: RepoArg, json_: JsonOption = False) -> None:
    """Remove a repository and its apps from the catalog. Installations of its apps
    keep running as installed; no newer version of them is offered any more."""
    removed = run(ctx, lambda runtime: runtime.marketplace.remove_repo(repo))
    emit(removed, json_, lambda: _print_removed(removed))


def _print_removed(removed: RepoRemoved) -> None:
    err_console().print(f"Removed repo {removed.id} and its {removed.app_count} apps", markup=False)
    if removed.installations:
        names = ", ".join(f"{i.name} on {i.server}" for i in removed.installations)
        err_console().print(
            f"Installations of its apps keep running as installed: {names}. No newer "
            "version of them is offered any more.", markup=False,
        )  # fmt: skip


async def _sync_and_show(
    runtime: Services,
    repo: str,
    *,
    json_: bool,
    force: bool,
    failed: str = CATALOG_KEPT,
    verbose: bool = False,
) -> None:
    """Sync with a spinner, then the report; `failed` says what a failure left."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
        disable=json_ or not err_console().is_terminal,
    ) as bar:
        task = bar.add_task(f"syncing {repo}", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            counter = f" {done}/{total}" if total else ""
            bar.update(task, description=f"{repo}: {phase}{counter}")

        try:
            report = await runtime.marketplace.sync_repo(repo, progress=progress, force=force)
        except SyncFailed as exc:
            raise SyncFailed(f"sync of '{repo}' failed ({failed}): {exc.message}") from exc
    emit(report, json_, lambda: _print_report(report, verbose=verbose))


def _print_report(report: SyncReport, *, verbose: bool) -> None:
    """A line of counts, then what went wrong: by kind, or every line."""
    counts = (
        f"{report.repo_id}: {report.status}, {report.format or 'tomo'} catalog, "
        f"branch {report.branch} at {report.commit[:12]}; {report.app_count} apps: "
        f"{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged"
    )
    err_console().print(counts, markup=False)
    _print_problems(report, verbose=verbose)


def _print_problems(report: SyncReport, *, verbose: bool) -> None:
    if verbose:
        _print_every_line(report)
    else:
        _print_summary(report)


def _print_summary(report: SyncReport) -> None:
    """Each part of the report in a few lines, one per kind, the commonest first."""
    summary, blocked = report.summary, report.not_installable
    if blocked:
        _print_kinds(f"{len(blocked)} app(s) listed but not installable; the commonest reasons",
                     summary.not_installable or [])  # fmt: skip
    if 0 < len(report.errors) <= SHOWN_KINDS:  # each file whole: these need mending
        _say(f"{len(report.errors)} file(s) not stored:")
        for error in report.errors:
            _say(f"  {error.path}: {error.message}")
    elif report.errors:
        _print_kinds(f"{len(report.errors)} file(s) not stored", summary.errors)
    if report.warnings:
        _print_kinds(f"{len(report.warnings)} stored file(s) with warnings", summary.warnings)
    if blocked or report.errors or report.warnings:
        _say("(--verbose lists every line)")


def _print_kinds(title: str, kinds: list[ProblemKind]) -> None:
    _say(f"{title}:")
    for kind in kinds[:SHOWN_KINDS]:
        _say(f"  {kind.count:>5}  {kind.kind}  ({_examples(kind)})")
    if len(kinds) > SHOWN_KINDS:
        _say(f"         and {len(kinds) - SHOWN_KINDS} more kind(s)")


def _examples(kind: ProblemKind) -> str:
    shown = ", ".join(kind.examples[:SHOWN_EXAMPLES])
    more = kind.count - min(len(kind.examples), SHOWN_EXAMPLES)
    return f"{shown} and {more} more" if more else shown


def _say(line: str) -> None:
    """One line of a summary: a terminal cuts it to its width rather than wrapping
    it, so the summary stays a screenful (a pipe gets it whole)."""
    console().print(line, markup=False, no_wrap=True, overflow="ellipsis")


def _print_every_line(report: SyncReport) -> None:
    """The report's lines in tables, a warning or reason per row."""
    from tomo.marketplace.report import parts_of

    blocked = report.not_installable or []
    if blocked:
        rows = [(app.app, part) for app in blocked for part in parts_of(app.reasons)]
        table(f"{len(blocked)} app(s) listed but not installable", ["app", "reason"], rows)
    if report.errors:
        rows = [(error.path, error.message) for error in report.errors]
        table(f"{len(report.errors)} file(s) not stored", ["file", "problem"], rows)
    if report.warnings:
        rows = [(file.path, part) for file in report.warnings for part in parts_of(file.message)]
        table(f"{len(report.warnings)} stored file(s) with warnings", ["file", "warning"], rows)


def _print_detail(detail: RepoDetail, *, verbose: bool) -> None:
    fields(
        [
            ("id", detail.id),
            ("name", detail.name),
            ("url", detail.url),
            ("credentials", detail.has_credentials),
            ("branch", detail.branch),
            ("type", detail.repo_type),
            ("format", detail.format or "detected on sync"),
            ("format read", detail.last_report.format if detail.last_report else None),
            ("enabled", detail.enabled),
            ("status", detail.status),
            ("apps", detail.app_count),
            ("last synced", detail.last_synced),
            ("commit", detail.last_commit),
            ("last error", detail.last_error),
        ]
    )
    if detail.last_report:
        _print_problems(detail.last_report, verbose=verbose)
