"""Shared CLI plumbing: settings from options, one runtime per command (or, for
a command that only reads, the database file itself when that is enough: `read`).

Where a command acts: on the tomo the CLI is logged in to (`tomo login`),
through its API; on the local data directory when not logged in, or when one
is named (`--data-dir` or TOMO_DATA_DIR: a named directory is always local).

Nothing heavy is imported here at load time: `tomo --help` must not pay for
the database, SSH and web stacks (see benchmarks/bench_cli.py).
"""

from __future__ import annotations

import functools
import gc
import os
import signal
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.cli.services import Services
    from tomo.client.login_file import RemoteLogin
    from tomo.config import Settings
    from tomo.readonly import LocalDatabase

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print stable JSON instead of a table.")]


@dataclass
class CliState:
    data_dir: Path | None

    def settings(self) -> Settings:
        from tomo.config import Settings

        return Settings(data_dir=self.data_dir) if self.data_dir else Settings()

    @property
    def data_dir_path(self) -> Path:
        """The data directory without loading settings (--data-dir or TOMO_DATA_DIR,
        which typer reads, else the default)."""
        from tomo.paths import DEFAULT_DATA_DIR

        return self.data_dir or DEFAULT_DATA_DIR

    @functools.cached_property
    def remote(self) -> RemoteLogin | None:
        """The tomo this CLI is logged in to; None when commands act locally."""
        if self.data_dir is not None:
            return None
        from tomo.client.login_file import read_login

        return read_login()

    def refuse_remote(self, what: str) -> None:
        """For what only works on a local data directory."""
        if self.remote is not None:
            raise InvalidInput(
                f"{what} works on a local data directory only; this CLI is logged in to "
                f"{self.remote.url} (give --data-dir, or `tomo logout`)"
            )


def state_of(ctx: typer.Context) -> CliState:
    state: CliState = ctx.find_root().obj
    return state


def run(ctx: typer.Context, action: Callable[[Services], Awaitable[T]]) -> T:
    """Open tomo, run one service call, close tomo.

    Ctrl-C (asyncio turns it into a cancellation) and SIGTERM both interrupt the
    call the same way, so an operation in progress is undone before tomo exits.
    """
    import asyncio

    state = state_of(ctx)
    opened = _remote(state.remote) if state.remote else _local(state)

    async def call() -> T:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            async with opened as runtime:
                return await action(runtime)
        finally:
            # Subprocess transports left for the collector (git's, restic's, ssh's)
            # are finalized while the loop still runs: collected after asyncio.run
            # closed it, each printed "Event loop is closed" with a traceback.
            gc.collect()
            await asyncio.sleep(0)

    return asyncio.run(call())


def read(
    ctx: typer.Context,
    quick: Callable[[LocalDatabase], T | None],
    action: Callable[[Services], Awaitable[T]],
) -> T:
    """A call that only reads: answered by `quick` from the local database file when
    opening tomo would change nothing there (see tomo.readonly), else by `action`
    through `run`. `quick` gives None to leave it to `action` (which words every
    refusal); both must give the same answer (tests/cli/test_quick_reads.py)."""
    state = state_of(ctx)
    found = None if state.remote else _read_quick(state, quick)
    return found if found is not None else run(ctx, action)


def _read_quick(state: CliState, quick: Callable[[LocalDatabase], T | None]) -> T | None:
    from tomo.readonly import open_settled

    data_dir, database_url, builtin_catalog = _where(state)
    with open_settled(data_dir, database_url=database_url,
                      builtin_catalog=builtin_catalog) as database:  # fmt: skip
        return quick(database) if database is not None else None


def _where(state: CliState) -> tuple[Path, str | None, bool]:
    """The data directory, database URL and built-in catalog switch as Settings reads
    (and refuses) them. With no TOMO_ variable for it to read, they are its defaults,
    known without loading pydantic-settings (a tenth of a quick command's time)."""
    if not any(name.upper().startswith("TOMO_") and name != "TOMO_DATA_DIR" for name in os.environ):
        return state.data_dir_path, None, True
    settings = state.settings()
    return settings.data_dir, settings.database_url, settings.builtin_catalog


def _local(state: CliState) -> AbstractAsyncContextManager[Services]:
    from tomo.logs import configure_logging
    from tomo.runtime import open_runtime

    settings = state.settings()
    configure_logging(settings)
    return open_runtime(settings)


def _remote(login: RemoteLogin) -> AbstractAsyncContextManager[Services]:
    """The remote tomo's API in the local services' place (tomo.cli.services: both
    hold to the same Protocols)."""
    from tomo.client.runtime import open_remote

    return open_remote(login)
