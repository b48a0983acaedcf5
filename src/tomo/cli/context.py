"""Shared CLI plumbing: settings from options, one runtime per command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from tomo.config import Settings
from tomo.runtime import Runtime, open_runtime

T = TypeVar("T")

JsonOption = Annotated[bool, typer.Option("--json", help="Print stable JSON instead of a table.")]


@dataclass
class CliState:
    data_dir: Path | None

    def settings(self) -> Settings:
        return Settings(data_dir=self.data_dir) if self.data_dir else Settings()


def run(ctx: typer.Context, action: Callable[[Runtime], Awaitable[T]]) -> T:
    """Open tomo, run one service call, close tomo."""
    state: CliState = ctx.find_root().obj

    async def call() -> T:
        async with open_runtime(state.settings()) as runtime:
            return await action(runtime)

    return asyncio.run(call())
