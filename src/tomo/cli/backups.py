"""`tomo backup create|list|show|restore|forget`: an installation's backups (see
tomo/backups). Making and restoring one is a job, shown live like an update."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run
from tomo.cli.deploy import InstallationArg, ServerOption, operate, print_done
from tomo.cli.output import emit, err_console, fields, table

if TYPE_CHECKING:
    from tomo.backups.schemas import BackupPublic
    from tomo.cli.services import Services
    from tomo.deployment.schemas import OperationDone

app = typer.Typer(help="Backups of installations: make, list, restore, forget.",
                  no_args_is_help=True)  # fmt: skip
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
def restore(ctx: typer.Context, backup: BackupArg, json_: JsonOption = False) -> None:
    """Put a backup's data back over its installation's: the app stops, each folder is
    replaced whole once all of them are restored (until then nothing changes), and
    the app starts again."""

    async def action(runtime: Services) -> OperationDone:
        prepared = await runtime.backups.prepare_restore(backup)
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
