"""`tomo state export|import`: tomo's own state as one encrypted file, for the day
tomo's disk dies (docs/disaster-recovery.md). Local data directories only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, state_of
from tomo.cli.output import emit, err_console, table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.config import Settings
    from tomo.state.service import StateSummary

app = typer.Typer(
    help="tomo's own state (database, secret key, settings, personal catalog) as one "
    "encrypted file.",
    no_args_is_help=True,
)
FileArg = Annotated[Path, typer.Argument(help="The archive file.", metavar="FILE")]
PassphraseStdinOption = Annotated[
    bool, typer.Option("--passphrase-stdin", help="Read the passphrase from standard input.")
]


@app.command("export")
def export(
    ctx: typer.Context,
    file: FileArg,
    passphrase_stdin: PassphraseStdinOption = False,
    force: Annotated[bool, typer.Option("--force", help="Write over an existing FILE.")] = False,
    json_: JsonOption = False,
) -> None:
    """Write the database, the secret key, the settings and the personal catalog to
    FILE, encrypted with a passphrase (at least 12 characters; keep it apart)."""
    import asyncio

    from tomo.state.archive import check_passphrase
    from tomo.state.service import export_state, refuse_existing

    settings = _local_settings(ctx, "tomo state export")
    refuse_existing(file, force=force)  # before asking for a passphrase
    passphrase = check_passphrase(_passphrase(passphrase_stdin, confirm=True))
    summary = asyncio.run(export_state(settings, file=file, passphrase=passphrase, force=force))
    emit(summary, json_, lambda: _show(summary, f"Wrote {file}"))


@app.command("import")
def import_(
    ctx: typer.Context,
    file: FileArg,
    passphrase_stdin: PassphraseStdinOption = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the state the data directory holds.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Load an archive of `tomo state export` into this data directory (one holding
    no tomo state yet, unless --force): all of it, or nothing."""
    import asyncio

    from tomo.state.service import import_state

    settings = _local_settings(ctx, "tomo state import")
    passphrase = _passphrase(passphrase_stdin, confirm=False)
    summary = asyncio.run(import_state(settings, file=file, passphrase=passphrase, force=force))
    done = f"Imported {file} into {settings.data_dir}"
    if summary.migrated_from:
        from tomo.migrations import SCHEMA_REVISION

        done += f" (migrated from schema revision {summary.migrated_from} to {SCHEMA_REVISION})"
    emit(summary, json_, lambda: _show(summary, done))


def _local_settings(ctx: typer.Context, what: str) -> Settings:
    state = state_of(ctx)
    state.refuse_remote(what)
    return state.settings()


def _passphrase(from_stdin: bool, *, confirm: bool) -> str:
    """One line of standard input, or typed hidden at a terminal (twice for a new
    archive); never an argument, where other users of the machine could read it."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("expected the passphrase on standard input, got nothing")
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InvalidInput("give the passphrase on standard input with --passphrase-stdin "
                           "(standard input is not a terminal)")  # fmt: skip
    typed: str = typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm, err=True)
    return typed


def _show(summary: StateSummary, done: str) -> None:
    table(None, ["TABLE", "ROWS"], sorted(summary.tables.items()))
    held = [what for what, there in (("the secret key", summary.secret_key),
            ("the personal catalog", summary.personal_catalog)) if there]  # fmt: skip
    rows = sum(summary.tables.values())
    err_console().print(
        f"{done}: {summary.bytes} bytes, {rows} rows of schema revision "
        f"{summary.schema_revision}" + (f", {' and '.join(held)}" if held else ""),
        markup=False,
    )
