"""`tomo serve`: the API (and the scheduled sync) as a long-running process."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from tomo.cli.context import state_of

LOOPBACK = ("127.0.0.1", "::1", "localhost")
PROXY = (
    "Addresses or networks of the reverse proxy that terminates TLS in front of tomo (its "
    "X-Forwarded-For and -Proto headers are trusted); default TOMO_TRUSTED_PROXIES."
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
    from tomo.config import Settings
    from tomo.logs import configure_logging

    settings = state_of(ctx).settings()
    updates = {"host": host, "port": port, "trusted_proxies": forwarded_allow_ips}
    # Validated as the environment's would be: a proxy that is no address trusts nobody.
    settings = Settings.model_validate(
        {**settings.model_dump(), **{k: v for k, v in updates.items() if v is not None}}
    )
    configure_logging(settings, stderr_level=logging.INFO)
    if settings.host not in LOOPBACK and not settings.trusted_proxies:
        logging.getLogger("tomo").warning(
            "serving on %s without TLS: passwords and tokens would cross the network in "
            "clear text; put a reverse proxy with TLS in front and set TOMO_TRUSTED_PROXIES "
            "(see the README)", settings.host,
        )  # fmt: skip
    # The app applies settings.trusted_proxies itself (tomo.app), whoever serves it.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                proxy_headers=False)  # fmt: skip
