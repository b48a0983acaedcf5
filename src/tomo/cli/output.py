"""Rendering: results as stable JSON or as Rich tables; never mixed with logic."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def emit_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        payload: Any = data.model_dump(mode="json")
    elif isinstance(data, dict):
        payload = data
    else:
        payload = [item.model_dump(mode="json") for item in data]
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def emit(
    data: BaseModel | Sequence[BaseModel] | dict[str, Any],
    as_json: bool,
    human: str | Callable[[], object],
) -> None:
    """The result as JSON on stdout when asked; else its human form: a one-line
    message on stderr, or a printer of its own."""
    if as_json:
        emit_json(data)
    elif isinstance(human, str):
        err_console.print(human, markup=False)
    else:
        human()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    cells = [[cell_text(cell) for cell in row] for row in rows]
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
    console.print(grid)


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
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        console.print(Text.assemble((f"{key:<{width}}", "bold"), "  ", cell_text(value)))
