"""Shared CLI plumbing: settings from options, one runtime per command."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tomo.config import Settings
from tomo.logs import configure_logging
from tomo.runtime import Runtime, open_runtime

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print stable JSON instead of a table.")]


@dataclass
class CliState:
    data_dir: Path | None

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir) if self.data_dir else Settings()


def run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open tomo, run one service call, close tomo.

    Ctrl-C (asyncio turns it into a cancellation) and SIGTERM both interrupt the
    call the same way, so an operation in progress is undone before tomo exits.
    """
    state: CliState = ctx.find_root().obj
    settings = state.settings()
    configure_logging(settings)

    async def call() -> T:
        task = asyncio.current_task()
        if task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        async with open_runtime(settings) as runtime:
            return await action(runtime)

    return asyncio.run(call())
