"""The web application: `create_app(settings)` builds it, nothing at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tomo import __version__
from tomo.api import api_router
from tomo.api_docs import add_api_docs
from tomo.config import Settings
from tomo.errors import TomoError
from tomo.logs import log_internal_error
from tomo.marketplace.scheduler import SyncScheduler
from tomo.runtime import open_runtime


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings) as runtime:
            app.state.runtime = runtime
            scheduler = SyncScheduler(runtime.marketplace, settings.sync_interval)
            scheduler.start()
            try:
                yield
            finally:
                await scheduler.stop()

    # Documentation only from tomo's own assets: FastAPI's pages load theirs from CDNs.
    app = FastAPI(
        title="tomo", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.include_router(api_router)
    add_api_docs(app)

    @app.exception_handler(TomoError)
    async def domain_error(_request: Request, exc: TomoError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.http_status)

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, exc: Exception) -> JSONResponse:
        # A bug: its traceback goes to tomo's log, never into a response.
        where = log_internal_error(exc)
        return JSONResponse({"detail": f"internal error; {where}"}, status_code=500)

    return app
