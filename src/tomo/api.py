"""Routes of every feature package, wired in one place."""

from __future__ import annotations

from fastapi import APIRouter

from tomo import __version__
from tomo.marketplace.api import router as marketplace_router

api_router = APIRouter(prefix="/api")
api_router.include_router(marketplace_router)


@api_router.get("/health", tags=["health"])
async def health() -> dict[str, str]:
    """Liveness: tomo is up and its database was opened."""
    return {"status": "ok", "version": __version__}


# HEAD too: uptime monitors and load balancers often probe with it (kept out of
# the schema, where it would only repeat GET).
api_router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
