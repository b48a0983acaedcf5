"""`tomo backup create|list|show|restore|forget|settings`: an installation's backups
(see tomo/backups). Making and restoring one is a job, shown live like an update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tomo.cli import backup_repositories
from tomo.cli.context import JsonOption, run
from tomo.cli.deploy import InstallationArg, PortOption, ServerOption, operate, print_done
from tomo.cli.install_options import config_from_options
from tomo.cli.output import emit, err_console, fields, table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.backups.schemas import BackupPublic, BackupSettings
    from tomo.cli.services import Services
    from tomo.deployment.schemas import OperationDone

app = typer.Typer(help="Backups of installations: make, list, restore, forget.",
                  no_args_is_help=True)  # fmt: skip
app.add_typer(backup_repositories.app, name="repository")
BackupArg = Annotated[str, typer.Argument(help="A backup's id (tomo backup list).",
                                          metavar="BACKUP")]  # fmt: skip


@app.command("create")
def create(
    ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Back an installation up now: its containers stop for the snapshot and start
    again right after; every folder and volume it keeps data in, and its settings."""

    async def action(runtime: Services) -> OperationDone:
        prepared = await runtime.backups.prepare_backup(installation, server)
        return await operate(runtime, prepared, quiet=json_)

    result = run(ctx, action)
    emit(result, json_, lambda: print_done(result))


@app.command("list")
def list_(
    ctx: typer.Context,
    installation: Annotated[str | None, typer.Argument(
        help="Id or instance name (default: every installation's).", metavar="[INSTALLATION]",
    )] = None,
    server: ServerOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """The backups, newest first: when, how much data, how much of it was new."""
    found = run(ctx, lambda runtime: runtime.backups.list_backups(installation, server))
    emit(found, json_, lambda: _table(found))


def _table(found: list[BackupPublic]) -> None:
    from tomo.monitor.stats import human_bytes

    table(None, ["BACKUP", "INSTALLATION", "SERVER", "MADE", "TRIGGER", "DATA", "NEW", "DOWN"],
          [(b.id, b.installation_name, b.server_id, b.created_at, b.trigger,
            human_bytes(b.bytes_read), human_bytes(b.bytes_added), f"{b.downtime_seconds:.1f} s")
           for b in found], empty="no backups yet (tomo backup create INSTALLATION)")  # fmt: skip


@app.command("show")
def show(ctx: typer.Context, backup: BackupArg, json_: JsonOption = False) -> None:
    """One backup: what it holds, part by part."""
    found = run(ctx, lambda runtime: runtime.backups.get_backup(backup))
    emit(found, json_, lambda: _details(found))


def _details(backup: BackupPublic) -> None:
    from tomo.monitor.stats import human_bytes

    fields([("backup", backup.id), ("installation", backup.installation_name),
            ("server", backup.server_id), ("app", f"{backup.app} {backup.version}"),
            ("made", backup.created_at), ("trigger", backup.trigger),
            ("repository", backup.repository_id), ("data", human_bytes(backup.bytes_read)),
            ("new", human_bytes(backup.bytes_added)),
            ("app stopped", f"{backup.downtime_seconds:.1f} s")])  # fmt: skip
    table(None, ["PART", "DATA"], [(p.name, human_bytes(p.bytes_read)) for p in backup.parts])


@app.command("restore")
def restore(
    ctx: typer.Context,
    backup: BackupArg,
    to: Annotated[str | None, typer.Option(
        "--to", help="Another installation of the same app to restore over.",
        metavar="INSTALLATION")] = None,
    server: Annotated[str | None, typer.Option(
        "--server", help="Install the backup's app on this server first (as it was backed "
        "up: its settings, secrets and image), then restore over it.", metavar="SERVER")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="The new installation's name (with --server; default: the backup's).",
        metavar="NAME")] = None,
    port: PortOption = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", metavar="SERVICE:PATH", help="Restore this folder only (repeat for more; "
        "tomo backup show lists them); the others stay as they are.")] = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Put a backup's data back over its installation's: the app stops, each folder is
    replaced whole once all of them are restored (until then nothing changes), and
    the app starts again. With --server, the app is installed there first: an app
    moves to another server, or comes back after its uninstall. With --only, some
    folders only."""
    changes = config_from_options(None, None, port, None, None)
    if server is not None and to is not None:
        raise typer.BadParameter("restore over an installation (--to) or install one "
                                 "(--server), not both", param_hint="--to / --server")  # fmt: skip
    if server is None and (name is not None or port):
        raise typer.BadParameter("goes with --server (the server to install on)",
                                 param_hint="--name / --port")  # fmt: skip

    async def action(runtime: Services) -> OperationDone:
        target = to
        if server is not None:
            made = await runtime.backups.prepare_restore_install(backup, server, name, changes)
            target = (await operate(runtime, made, quiet=json_)).installation.id
        prepared = await runtime.backups.prepare_restore(backup, target, None, only)
        return await operate(runtime, prepared, quiet=json_)

    result = run(ctx, action)
    emit(result, json_, lambda: print_done(result))


@app.command("forget")
def forget(ctx: typer.Context, backup: BackupArg, json_: JsonOption = False) -> None:
    """Remove a backup from its repository, with the data no other backup shares."""
    gone = run(ctx, lambda runtime: runtime.backups.forget_backup(backup))
    emit(gone, json_, lambda: err_console().print(
        f"forgot backup {gone.backup.id} of {gone.backup.installation_name} "
        f"({gone.backup.created_at:%Y-%m-%d %H:%M} UTC)", markup=False))  # fmt: skip


def _keep_option(name: str, what: str) -> Any:
    return typer.Option(name, min=1, metavar="N", help=f"Keep {what}.")


@app.command("settings")
def settings(
    ctx: typer.Context,
    installation: Annotated[str | None, typer.Argument(
        help="Id or instance name (or --all).", metavar="[INSTALLATION]")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Set them for every installation, "
                                       "whole: what is not given is the default.")] = False,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", metavar="WHEN", help="When it is backed up on its own: hourly, "
        "'daily HH:MM' or 'weekly DAY HH:MM' (mon…sun), in tomo's local time.")] = None,
    no_schedule: Annotated[bool, typer.Option(
        "--no-schedule", help="Backed up on demand only.")] = False,
    keep_last: Annotated[int | None, _keep_option("--keep-last", "the newest N backups")] = None,
    keep_daily: Annotated[int | None, _keep_option("--keep-daily", "the newest of each of the "
                                                   "last N days")] = None,
    keep_weekly: Annotated[int | None, _keep_option("--keep-weekly", "the newest of each of "
                                                    "the last N weeks")] = None,
    keep_monthly: Annotated[int | None, _keep_option("--keep-monthly", "the newest of each "
                                                     "of the last N months")] = None,
    before_update: Annotated[bool | None, typer.Option(
        "--before-update/--no-before-update",
        help="Whether an update backs the data up first (and puts it back if it fails).")] = None,
    repository: Annotated[str | None, typer.Option(
        "--repository", metavar="NAME", help="Back up into this repository "
        "(tomo backup repository list).")] = None,
    default_repository: Annotated[bool, typer.Option(
        "--default-repository", help="Back up into whichever repository is the default.",
    )] = False,
    server: ServerOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Show or set when an installation is backed up on its own and which backups it
    keeps (applied after each backup). A schedule with no --keep-* keeps the last 3
    and the newest of each of 7 days, 4 weeks and 6 months."""
    keeps = {"keep_last": keep_last, "keep_daily": keep_daily, "keep_weekly": keep_weekly,
             "keep_monthly": keep_monthly}  # fmt: skip
    changes = _changes(schedule, no_schedule, keeps, before_update)
    if repository is not None and default_repository:
        raise InvalidInput("--default-repository: give --repository or --default-repository")
    if repository is not None or default_repository:
        changes["repository"] = repository
    if all_:
        _set_for_all(ctx, installation, changes, json_)
        return
    if installation is None:
        raise InvalidInput("INSTALLATION: name one, or give --all")

    async def action(runtime: Services) -> BackupSettings:
        current = await runtime.backups.get_settings(installation, server)
        if not changes:
            return current
        wanted = current.model_validate({**current.model_dump(), **changes})
        return await runtime.backups.set_settings(installation, wanted, server)

    shown = run(ctx, action)
    emit(shown, json_, lambda: _settings(installation, shown))


def _changes(
    schedule: str | None, no_schedule: bool, keeps: dict[str, int | None],
    before_update: bool | None,
) -> dict[str, object]:  # fmt: skip
    """The settings the options change, each problem named by its option."""
    from tomo.backups.schedule import parse_schedule

    if schedule is not None and no_schedule:
        raise InvalidInput("--no-schedule: give --schedule or --no-schedule, not both")
    changes: dict[str, object] = {key: n for key, n in keeps.items() if n is not None}
    if schedule is not None:
        try:
            changes["schedule"] = str(parse_schedule(schedule, ("--schedule",)))
        except InvalidInput as exc:
            (problem,) = exc.problems
            raise InvalidInput(f"{problem.fields[0]}: {problem.text}") from None
    if no_schedule:
        changes["schedule"] = None
    if before_update is not None:
        changes["before_update"] = before_update
    return changes


def _set_for_all(
    ctx: typer.Context, installation: str | None, changes: dict[str, object], json_: bool
) -> None:
    from tomo.backups.schemas import BackupSettings

    if installation is not None:
        raise InvalidInput(f"--all: name no installation with it (got {installation!r})")
    if not changes:
        raise InvalidInput(
            "--all: say what to set (--schedule, --keep-…, --before-update, --repository)"
        )
    wanted = BackupSettings.model_validate(changes)
    names = run(ctx, lambda runtime: runtime.backups.set_settings_for_all(wanted))
    said = f"backup settings set for {len(names)} installations: {', '.join(names) or 'none'}"
    emit({"installations": names}, json_, said)


def _settings(installation: str, shown: BackupSettings) -> None:
    keeps = {"last": shown.keep_last, "daily": shown.keep_daily, "weekly": shown.keep_weekly,
             "monthly": shown.keep_monthly}  # fmt: skip
    kept = ", ".join(f"{rule} {n}" for rule, n in keeps.items() if n is not None)
    first = "backs the data up first" if shown.before_update else "does not back it up"
    fields([("installation", installation),
            ("schedule", shown.schedule or "none (on demand only)"),
            ("keeps", kept or "every backup"),
            ("an update", first),
            ("repository", shown.repository or "the default one")])  # fmt: skip
