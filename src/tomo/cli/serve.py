"""`tomo serve`: the API (and the scheduled sync) as a long-running process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tomo.cli.context import CliState


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8420.")] = None,
) -> None:
    """Run tomo's server: the REST API and scheduled catalog syncs."""
    import uvicorn  # the web stack loads only for this command

    from tomo.app import create_app
    from tomo.logs import configure_logging

    state: CliState = ctx.find_root().obj
    settings = state.settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    configure_logging(settings, stderr_level=logging.INFO)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
