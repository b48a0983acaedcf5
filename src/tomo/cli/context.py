"""Shared CLI plumbing: settings from options, one runtime per command.

Nothing heavy is imported here at load time: `tomo --help` must not pay for
the database, SSH and web stacks (see benchmarks/bench_cli.py).
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

if TYPE_CHECKING:
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


def state_of(ctx: typer.Context) -> CliState:
    state: CliState = ctx.find_root().obj
    return state


def run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open tomo, run one service call, close tomo.

    Ctrl-C (asyncio turns it into a cancellation) and SIGTERM both interrupt the
    call the same way, so an operation in progress is undone before tomo exits.
    """
    import asyncio

    from tomo.logs import configure_logging
    from tomo.runtime import open_runtime

    settings = state_of(ctx).settings()
    configure_logging(settings)

    async def call() -> T:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        async with open_runtime(settings) as runtime:
            return await action(runtime)

    return asyncio.run(call())
