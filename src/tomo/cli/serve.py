"""`tomo serve`: the API (and the scheduled sync) as a long-running process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tomo.cli.context import state_of

LOOPBACK = ("127.0.0.1", "::1", "localhost")
PROXY = (
    "Addresses of the reverse proxy that terminates TLS in front of tomo (its "
    "X-Forwarded-* headers are trusted)."
)


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Default 127.0.0.1.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Default 8420.")] = None,
    forwarded_allow_ips: Annotated[
        str | None, typer.Option("--forwarded-allow-ips", help=PROXY)
    ] = None,
) -> None:
    """Run tomo's server: the REST API and scheduled catalog syncs."""
    import uvicorn  # the web stack loads only for this command

    from tomo.app import create_app
    from tomo.logs import configure_logging

    settings = state_of(ctx).settings()
    updates = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    configure_logging(settings, stderr_level=logging.INFO)
    if settings.host not in LOOPBACK and forwarded_allow_ips is None:
        logging.getLogger("tomo").warning(
            "serving on %s without TLS: passwords and tokens would cross the network in "
            "clear text; put a reverse proxy with TLS in front and pass "
            "--forwarded-allow-ips (see the README)", settings.host,
        )  # fmt: skip
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                proxy_headers=forwarded_allow_ips is not None,
                forwarded_allow_ips=forwarded_allow_ips)  # fmt: skip
