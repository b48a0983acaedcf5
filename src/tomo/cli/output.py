"""Rendering: results as stable JSON or as Rich tables; never mixed with logic.

Rich loads on first use, so a command that prints JSON (or nothing) never pays
for it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console


class Dumpable(Protocol):
    """A pydantic model (imported only by the commands that make them)."""

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


Data = Dumpable | Sequence[Dumpable] | Mapping[str, Any]


# Wider than any line tomo prints: what reads a pipe gets every cell whole.
PIPE_WIDTH = 1_000_000


@functools.cache
def console() -> Console:
    """Standard output (see `_fitted`)."""
    from rich.console import Console

    return _fitted(Console(highlight=False))


@functools.cache
def err_console() -> Console:
    """Standard error (see `_fitted`): a command to type next, written to a log,
    stays on one line."""
    from rich.console import Console

    return _fitted(Console(stderr=True, highlight=False))


def _fitted(stream: Console) -> Console:
    """A terminal's width is honoured (tables fit it, keeping the first column
    whole); a pipe or a file has no width to fit, so nothing there is cut or
    wrapped, whatever COLUMNS says."""
    if not stream.is_terminal:
        stream.width = PIPE_WIDTH
    return stream


def emit_json(data: Data) -> None:
    print(json.dumps(_plain(data), indent=2, ensure_ascii=False))


def _plain(data: Data) -> Any:
    if isinstance(data, Mapping):
        return data
    if isinstance(data, Sequence):
        return [item.model_dump(mode="json") for item in data]
    return data.model_dump(mode="json")


def emit(data: Data, as_json: bool, human: str | Callable[[], object]) -> None:
    """The result as JSON on stdout when asked; else its human form: a one-line
    message on stderr, or a printer of its own."""
    if as_json:
        emit_json(data)
    elif isinstance(human, str):
        err_console().print(human, markup=False)
    else:
        human()


def table(
    title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
    empty: str | None = None,
) -> None:  # fmt: skip
    """The rows as a table; with no row, the sentence `empty` in its place (on
    stderr, as every message: a table with no row says nothing to a person)."""
    cells = [[cell_text(cell) for cell in row] for row in rows]
    if not cells and empty is not None:
        err_console().print(empty, markup=False)
        return
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=title, title_justify="left", header_style="bold")
    # The first column is what users type next (an id or a name): never cut short.
    key_width = max([len(columns[0]) if columns else 0, *(len(row[0]) for row in cells if row)])
    for index, column in enumerate(columns):
        if index == 0:
            grid.add_column(column, no_wrap=True, min_width=key_width)
        else:
            grid.add_column(column)
    for row in cells:
        # Text() keeps catalog data from being read as Rich markup.
        grid.add_row(*(Text(cell) for cell in row))
    console().print(grid)


def cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """A two-column key/value listing."""
    from rich.text import Text

    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        console().print(Text.assemble((f"{key:<{width}}", "bold"), "  ", cell_text(value)))
