"""`tomo repo …`: subscribe to catalog repositories and sync them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, read, run
from tomo.cli.output import emit, emit_json, err_console, fields, table
from tomo.errors import SyncFailed
from tomo.marketplace.kinds import CatalogFormatName, FormatChoice, RepoType

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.marketplace.schemas import (
        RepoDetail,
        RepoPublic,
        RepoUpdate,
        SyncProblem,
        SyncReport,
    )

app = typer.Typer(help="Catalog repositories.", no_args_is_help=True)
RepoArg = Annotated[str, typer.Argument(help="Repo id or name.")]
CATALOG_KEPT = "catalog kept"


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
    json_: JsonOption = False,
) -> None:
    """Add a repository of app definitions (tomo's, or a CasaOS, Runtipi, Umbrel or
    Portainer catalog as published), then sync it."""
    from tomo.marketplace.schemas import RepoCreate

    request = RepoCreate(url=url, name=name, branch=branch, repo_type=repo_type, id=repo_id,
                         format=format_)  # fmt: skip

    async def action(runtime: Services) -> None:
        repo = await runtime.marketplace.add_repo(request)
        if not json_:
            err_console().print(f"Added repo {repo.id} ({repo.url})", markup=False)
        for warning in repo.warnings:  # on stderr, so --json output stays one document
            err_console().print(f"warning: {warning}", markup=False)
        if sync:
            failed = "repo added, its first sync failed"
            await _sync_and_show(runtime, repo.id, json_=json_, force=False, failed=failed)
        elif json_:
            emit_json(repo)

    run(ctx, action)


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
    )


@app.command("show")
def show(ctx: typer.Context, repo: RepoArg, json_: JsonOption = False) -> None:
    """Show one repository and the report of its last sync."""
    detail = run(ctx, lambda runtime: runtime.marketplace.get_repo(repo))
    emit(detail, json_, lambda: _print_detail(detail))


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
    sync: Annotated[
        bool, typer.Option("--sync/--no-sync", help="Sync right away after --branch.")
    ] = True,
    json_: JsonOption = False,
) -> None:
    """Rename a repository, change its branch (and sync it), enable or disable it."""
    from tomo.marketplace.schemas import RepoUpdate

    changes = RepoUpdate(name=name, branch=branch, enabled=enabled, format=format_)
    if branch is not None and sync:
        run(ctx, lambda runtime: _switch_branch(runtime, repo, changes, json_=json_))
        return
    updated = run(ctx, lambda runtime: runtime.marketplace.update_repo(repo, changes))
    emit(updated, json_, f"Updated repo {updated.id}")


async def _switch_branch(runtime: Services, repo: str, changes: RepoUpdate, *, json_: bool) -> None:
    """Update, then sync the branch now followed; with --json, print the sync report
    (as `repo add` does)."""
    before = await runtime.marketplace.get_repo(repo)
    updated = await runtime.marketplace.update_repo(repo, changes)
    if not json_:
        message = f"Updated repo {updated.id}; it follows branch {updated.branch}"
        err_console().print(message, markup=False)
    failed = _old_catalog_note(before, updated)
    await _sync_and_show(runtime, updated.id, json_=json_, force=False, failed=failed)


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
    json_: JsonOption = False,
) -> None:
    """Fetch a repository and update its apps in the catalog."""
    run(ctx, lambda runtime: _sync_and_show(runtime, repo, json_=json_, force=force))


@app.command("remove")
def remove(ctx: typer.Context, repo: RepoArg, json_: JsonOption = False) -> None:
    """Remove a repository and its apps from the catalog."""
    removed = run(ctx, lambda runtime: runtime.marketplace.remove_repo(repo))
    emit(removed, json_, f"Removed repo {removed.id} and its {removed.app_count} apps")


async def _sync_and_show(
    runtime: Services, repo: str, *, json_: bool, force: bool, failed: str = CATALOG_KEPT
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
    emit(report, json_, lambda: _print_report(report))


def _print_report(report: SyncReport) -> None:
    summary = (
        f"{report.repo_id}: {report.status}, {report.format or 'tomo'} catalog, "
        f"branch {report.branch} at {report.commit[:12]}; "
        f"{report.app_count} apps "
        f"(+{report.added} ~{report.updated} -{report.removed})"
    )
    err_console().print(summary, markup=False)
    if report.errors:
        table(
            f"{len(report.errors)} file(s) not stored",
            ["file", "problem"],
            [(e.path, e.message) for e in report.errors],
        )
    _print_warnings(report.warnings)


def _print_warnings(warnings: list[SyncProblem]) -> None:
    if warnings:
        table(
            f"{len(warnings)} stored file(s) with warnings",
            ["file", "warning"],
            [(w.path, w.message) for w in warnings],
        )


def _print_detail(detail: RepoDetail) -> None:
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
    if detail.last_report and detail.last_report.errors:
        table(
            "files not stored by the last sync",
            ["file", "problem"],
            [(e.path, e.message) for e in detail.last_report.errors],
        )
    if detail.last_report:
        _print_warnings(detail.last_report.warnings)
