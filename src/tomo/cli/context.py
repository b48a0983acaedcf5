"""Shared CLI plumbing: settings from options, one runtime per command.

Where a command acts: on the tomo the CLI is logged in to (`tomo login`),
through its API; on the local data directory when not logged in, or when one
is named (`--data-dir` or TOMO_DATA_DIR: a named directory is always local).

Nothing heavy is imported here at load time: `tomo --help` must not pay for
the database, SSH and web stacks (see benchmarks/bench_cli.py).
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar, cast

import typer

from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.client.login_file import RemoteLogin
    from tomo.config import Settings
    from tomo.runtime import Runtime

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


def run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
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
        async with opened as runtime:
            return await action(runtime)

    return asyncio.run(call())


def _local(state: CliState) -> AbstractAsyncContextManager[Runtime]:
    from tomo.logs import configure_logging
    from tomo.runtime import open_runtime

    settings = state.settings()
    configure_logging(settings)
    return open_runtime(settings)


def _remote(login: RemoteLogin) -> AbstractAsyncContextManager[Runtime]:
    """The remote tomo's API in the local services' place: a RemoteRuntime has the
    same services with the methods commands call, same parameters, same models
    (tests/cli/test_remote.py holds them to that)."""
    from tomo.client.runtime import open_remote

    return cast("AbstractAsyncContextManager[Runtime]", open_remote(login))
