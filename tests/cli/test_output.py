"""Tables stay usable in a narrow terminal."""

from __future__ import annotations

import pytest
from rich.console import Console

from tomo.cli import output


def test_the_first_column_is_never_cut_short(monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = Console(width=60, record=True, highlight=False)
    monkeypatch.setattr(output, "console", lambda: narrow)
    output.table(None, ["id", "name", "server", "app", "version", "status", "ports", "note"], [
        ("968d510252ca", "web2", "box", "mine/web", "1.0.0", "error", "43321/tcp",
         "box: host port 43321/tcp is claimed by another installation"),
    ])  # fmt: skip
    text = narrow.export_text()
    assert "968d510252ca" in text
    assert "[bold]" not in text
