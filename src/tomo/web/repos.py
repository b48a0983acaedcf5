"""Pages: catalog repositories. Subscribe to one, sync it now with live progress,
edit, enable, disable or remove it, and read what its last sync found (its
problems by kind, every line folded under its kind).

A sync started here runs as a background task of the app (one per repo) so the
page can answer at once and show where the sync is: the task records its phase,
counts and outcome in memory (`SyncRun`), the repo page shows them, and
static/sync.js re-reads them until the sync ends. The catalog itself, the
repo's status and its report are the service's, as for the API and the CLI.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from pydantic import ValidationError

from tomo.errors import RepoAlreadySubscribed, TomoError
from tomo.http.deps import get_marketplace
from tomo.logs import log_internal_error
from tomo.marketplace.kinds import REPO_TYPES
from tomo.marketplace.report import report_groups
from tomo.marketplace.schemas import (
    InstalledFrom,
    RepoCreate,
    RepoDetail,
    RepoPublic,
    RepoUpdate,
    SyncReport,
)
from tomo.marketplace.service import MarketplaceService
from tomo.web.forms import errors_of, form_status, form_values, with_stop
from tomo.web.session import Admin, Viewer
from tomo.web.templating import accepted, local_path, redirect, render

router = APIRouter()
log = logging.getLogger("tomo.web")
ADD_FIELDS = {"url", "name", "branch", "repo_type"}
EDIT_FIELDS = {"name", "branch", "format", "repo_type", "enabled"}
AUTO_FORMAT = "auto"  # the format choice that means: detect it from the files
ADD_WAIT_SECONDS = 8.0  # a first sync done this soon is told at once; a longer one is followed
# What each phase of RepoSync's progress means to a person.
PHASES = {
    "starting": "Starting",
    "checking remote": "Asking the remote for its latest commit",
    "fetching": "Fetching the branch",
    "reading tree": "Listing the definition files",
    "parsing": "Reading app definitions",
    "writing": "Saving the catalog",
}


@dataclass
class SyncRun:
    """One sync started from a page: its latest progress, then its outcome (kept
    in memory until the next sync of the same repo starts)."""

    repo_id: str
    phase: str = "starting"
    done: int = 0
    total: int = 0
    report: SyncReport | None = None
    error: str | None = None
    finished: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def progress(self, phase: str, done: int, total: int) -> None:
        self.phase, self.done, self.total = phase, done, total

    @property
    def state(self) -> str:
        if not self.finished:
            return "running"
        return "failed" if self.error is not None else "done"

    @property
    def phase_text(self) -> str:
        return PHASES.get(self.phase, self.phase.capitalize())


def _runs(app: FastAPI) -> dict[str, SyncRun]:
    """The page-started syncs of this app, by repo id."""
    runs: dict[str, SyncRun] | None = getattr(app.state, "repo_syncs", None)
    if runs is None:
        runs = app.state.repo_syncs = {}
    return runs


def start_sync(request: Request, repo_id: str, *, force: bool = False) -> SyncRun:
    """The repo's running sync, or a new one in the background. The app's
    shutdown cancels it (the service then records the sync as interrupted)."""
    runs = _runs(request.app)
    current = runs.get(repo_id)
    if current is not None and not current.finished:
        return current
    run = runs[repo_id] = SyncRun(repo_id)
    run.task = asyncio.create_task(_sync(get_marketplace(request), run, force),
                                   name=f"tomo-web-sync-{repo_id}")  # fmt: skip
    background: set[asyncio.Task[None]] = request.app.state.background
    background.add(run.task)
    run.task.add_done_callback(background.discard)
    return run


async def _sync(marketplace: MarketplaceService, run: SyncRun, force: bool) -> None:
    """Run one sync and record how it ended: no exception is left unrecorded."""
    try:
        run.report = await marketplace.sync_repo(run.repo_id, progress=run.progress, force=force)
    except TomoError as exc:
        run.error = exc.message
        log.warning("sync of repo %s (started from a page) failed: %s", run.repo_id, exc.message)
    except asyncio.CancelledError:
        run.error = "the sync was interrupted: tomo is stopping"
        raise
    except Exception as exc:  # a bug: the traceback goes to the log, the page gets one line
        run.error = f"an internal error in tomo; {log_internal_error(exc)}"
    finally:
        run.finished = True


def _kind(run: SyncRun) -> str:
    """How a finished sync's message looks: failed, stored with problems, or fine."""
    if run.error is not None:
        return "error"
    return "warning" if run.report is not None and run.report.errors else "ok"


def shown_status(repo: RepoPublic, run: SyncRun | None) -> str:
    """One word for a repo's state, for its badge."""
    if (run is not None and not run.finished) or repo.status == "syncing":
        return "syncing"
    if repo.status == "error":
        return "error"
    return "never_synced" if repo.last_synced is None else "synced"


def outcome(run: SyncRun) -> str:
    """A finished sync in one sentence."""
    if run.error is not None:
        return f"Sync failed: {with_stop(run.error)}"
    report = run.report
    assert report is not None
    if report.status == "unchanged":
        return f"Nothing new on branch {report.branch}: {_apps(report.app_count)}, as before."
    counts = f"{report.added} new, {report.updated} changed, {report.removed} removed"
    problems = f"; {len(report.errors)} file(s) could not be stored" if report.errors else ""
    where = f"branch {report.branch} at {report.commit[:12]}"
    return f"Synced {where}: {_apps(report.app_count)} ({counts}){problems}."


def _apps(count: int) -> str:
    return f"{count} app{'s' if count != 1 else ''}"


def left_running(installations: list[InstalledFrom]) -> str:
    """What removing a repository does to the installations of its apps."""
    if not installations:
        return ""
    names = ", ".join(f"{i.name} on {i.server}" for i in installations)
    return (f"The installations of its apps keep running as installed, and no newer "
            f"version of them is offered: {names}.")  # fmt: skip


# -- pages ---------------------------------------------------------------------


@router.get("/repos", name="web_repos")
async def repos_page(request: Request, principal: Viewer) -> Response:
    """Every repository with its state, so an admin sees at once what needs care."""
    marketplace = get_marketplace(request)
    repos = await marketplace.list_repos()
    runs = _runs(request.app)
    items = [{"repo": repo, "status": shown_status(repo, runs.get(repo.id)),
              "left_running": left_running(await marketplace.installations_from(repo.id))}
             for repo in repos]  # fmt: skip
    return render(request, "repos/list.html", {"items": items})


@router.get("/repos/add", name="web_repo_add_form")
async def add_form(request: Request, principal: Admin) -> Response:
    return _add_page(request, {"repo_type": "community"})


@router.post("/repos/add", name="web_repo_add")
async def add(request: Request, principal: Admin) -> Response:
    """Subscribe, then sync as `tomo repo add` does: a quick sync is told at once,
    a long one is followed on the repo's page."""
    values = await form_values(request)
    try:
        wanted = RepoCreate.model_validate({**values, "branch": values.get("branch") or None})
        added = await get_marketplace(request).add_repo(wanted)
    except RepoAlreadySubscribed as exc:
        return await _subscribed_already(request, values, exc)
    except (ValidationError, TomoError) as exc:
        return _add_page(request, values, exc)
    run = start_sync(request, added.id)
    if run.task is not None:
        await asyncio.wait({run.task}, timeout=ADD_WAIT_SECONDS)
    notes = "".join(f" Warning: {warning}." for warning in added.warnings)
    if not run.finished:
        return redirect(f"/repos/{added.id}?sync=running", f"Added {added.name}; syncing it now.")
    return redirect(f"/repos/{added.id}", f"Added {added.name}. {outcome(run)}{notes}",
                    kind=_kind(run) if not notes else "warning")  # fmt: skip


def _add_page(
    request: Request, values: dict[str, str], exc: ValidationError | TomoError | None = None
) -> Response:
    context: dict[str, Any] = {"values": values, "repo_types": REPO_TYPES}
    if exc is None:
        return render(request, "repos/add.html", context)
    found = errors_of(exc, ADD_FIELDS)
    context.update(errors=found.fields, general=found.general)
    return render(request, "repos/add.html", context, status=form_status(exc))


async def _subscribed_already(
    request: Request, values: dict[str, str], exc: RepoAlreadySubscribed
) -> Response:
    """The form again, asking: go to the repository that follows this URL already,
    or add another subscription all the same."""
    marketplace = get_marketplace(request)
    followers = [await marketplace.get_repo(repo_id) for repo_id in exc.repos]
    context = {"values": values, "repo_types": REPO_TYPES, "followers": followers}
    return render(request, "repos/add.html", context, status=exc.http_status)


@router.get("/repos/{repo}", name="web_repo")
async def repo_page(request: Request, repo: str, principal: Viewer, sync: str = "") -> Response:
    """One repository: its details, a sync under way, what the last sync reported
    (its problems by kind, each kind's lines folded)."""
    marketplace = get_marketplace(request)
    detail = await marketplace.get_repo(repo)
    run = _runs(request.app).get(detail.id)
    shown_run = run if run is not None and (not run.finished or sync) else None
    report = detail.last_report
    running = left_running(await marketplace.installations_from(detail.id))
    context = {"repo": detail, "status": shown_status(detail, run), "run": shown_run,
               "outcome": outcome(run) if run and run.finished else "",
               "groups": report_groups(report) if report else None,
               "left_running": running}  # fmt: skip
    return render(request, "repos/detail.html", context)


@router.get("/repos/{repo}/edit", name="web_repo_edit_form")
async def edit_form(request: Request, repo: str, principal: Admin) -> Response:
    found = await get_marketplace(request).get_repo(repo)
    return _edit_page(request, found, _edit_values(found))


@router.post("/repos/{repo}/edit", name="web_repo_edit")
async def edit(request: Request, repo: str, principal: Admin) -> Response:
    """Change a repository as `tomo repo update` does: a new branch or format is
    synced right away (until that sync succeeds, the store keeps the apps it had)."""
    values = await form_values(request)
    found = await get_marketplace(request).get_repo(repo)
    try:
        changes = RepoUpdate.model_validate(_edit_changes(found, values))
        changed = await get_marketplace(request).update_repo(found.id, changes)
    except (ValidationError, TomoError) as exc:
        return _edit_page(request, found, values, exc)
    if changes.branch is None and changes.format is None:
        return redirect(f"/repos/{changed.id}", f"Saved {changed.name}.")
    start_sync(request, changed.id)
    return accepted(request, f"/repos/{changed.id}?sync=running",
                    f"Saved {changed.name}; syncing branch {changed.branch} now.")  # fmt: skip


def _edit_values(repo: RepoPublic) -> dict[str, str]:
    """The edit form's fields as the repository has them now."""
    return {"name": repo.name, "branch": repo.branch, "format": repo.format or AUTO_FORMAT,
            "repo_type": repo.repo_type, "enabled": "on" if repo.enabled else ""}  # fmt: skip


def _edit_changes(repo: RepoPublic, values: dict[str, str]) -> dict[str, Any]:
    """Only the fields the form changed (sent as the API's RepoUpdate): a field left
    as it was changes nothing, as an option not given to the CLI."""
    current = _edit_values(repo)
    typed = {key: values.get(key, "") for key in EDIT_FIELDS}
    changed: dict[str, Any] = {key: value for key, value in typed.items()
                               if key != "enabled" and value != current[key]}  # fmt: skip
    if typed["enabled"] != current["enabled"]:
        changed["enabled"] = typed["enabled"] == "on"
    return changed


def _edit_page(
    request: Request,
    repo: RepoDetail,
    values: dict[str, str],
    exc: ValidationError | TomoError | None = None,
) -> Response:
    from tomo.marketplace.formats.registry import FORMATS  # the adapters: only this page

    formats = [(AUTO_FORMAT, "Detected on each sync")] + [
        (name, f"{fmt.title} ({name})") for name, fmt in FORMATS.items()
    ]
    kinds = [(kind, kind) for kind in REPO_TYPES]
    context: dict[str, Any] = {"repo": repo, "values": values, "kinds": kinds,
                               "formats": formats}  # fmt: skip
    if exc is None:
        return render(request, "repos/edit.html", context)
    found = errors_of(exc, EDIT_FIELDS)
    context.update(errors=found.fields, general=found.general)
    return render(request, "repos/edit.html", context, status=form_status(exc))


@router.get("/repos/{repo}/sync/status", name="web_repo_sync_status")
async def sync_status(request: Request, repo: str, principal: Viewer) -> Response:
    """The progress of the repo's sync, as the fragment sync.js swaps in."""
    detail = await get_marketplace(request).get_repo(repo)
    run = _runs(request.app).get(detail.id)
    context = {"repo": detail, "run": run, "outcome": outcome(run) if run and run.finished else ""}
    return render(request, "repos/_sync_run.html", context)


@router.post("/repos/{repo}/sync", name="web_repo_sync")
async def sync_now(request: Request, repo: str, principal: Admin) -> Response:
    """Start a sync (or show the one running) and follow it on the repo's page."""
    values = await form_values(request)
    detail = await get_marketplace(request).get_repo(repo)
    start_sync(request, detail.id, force=values.get("force") == "on")
    return accepted(request, f"/repos/{detail.id}?sync=running")


@router.post("/repos/{repo}/enable", name="web_repo_enable")
async def enable(request: Request, repo: str, principal: Admin) -> Response:
    return await _switch(request, repo, enabled=True)


@router.post("/repos/{repo}/disable", name="web_repo_disable")
async def disable(request: Request, repo: str, principal: Admin) -> Response:
    return await _switch(request, repo, enabled=False)


async def _switch(request: Request, repo: str, *, enabled: bool) -> Response:
    """Enable or disable, back to the page the button was on."""
    values = await form_values(request)
    changed = await get_marketplace(request).update_repo(repo, RepoUpdate(enabled=enabled))
    message = (f"Enabled {changed.name}: its apps are in the store again." if enabled
               else f"Disabled {changed.name}: its apps are hidden from the store.")  # fmt: skip
    return redirect(local_path(values.get("next"), f"/repos/{changed.id}"), message)


@router.post("/repos/{repo}/remove", name="web_repo_remove")
async def remove(request: Request, repo: str, principal: Admin) -> Response:
    """Forget a repository, its apps and its clone."""
    removed = await get_marketplace(request).remove_repo(repo)
    _runs(request.app).pop(removed.id, None)
    said = f"Removed {removed.name} and its {_apps(removed.app_count)}."
    if not removed.installations:
        return redirect("/repos", said)
    return redirect("/repos", f"{said} {left_running(removed.installations)}", kind="warning")
