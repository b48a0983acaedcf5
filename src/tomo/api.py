"""Routes of every feature package, wired in one place, all behind `authenticate`.

The dependency sits on the router, so a new route is protected unless it opts
out by name (http/security.py: PUBLIC), and roles are decided there too. A second
one, after it, refuses a JSON body holding text that is not text (http/text.py),
for every route's model at once.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from tomo import __version__
from tomo.auth.api import router as accounts_router
from tomo.backups.api import router as backups_router
from tomo.deployment.api import router as deployment_router
from tomo.events.api import router as events_router
from tomo.http.security import authenticate
from tomo.http.text import refuse_non_text_json
from tomo.marketplace.api import router as marketplace_router
from tomo.proxy.api import router as proxy_router
from tomo.servers.api import router as servers_router

api_router = APIRouter(
    prefix="/api", dependencies=[Depends(authenticate), Depends(refuse_non_text_json)]
)
for router in (accounts_router, marketplace_router, servers_router, deployment_router,
               events_router, backups_router, proxy_router):  # fmt: skip
    api_router.include_router(router)


@api_router.get("/health", name="health", tags=["health"])
async def health() -> dict[str, str]:
    """Liveness: tomo is up and its database was opened."""
    return {"status": "ok", "version": __version__}


# HEAD too: uptime monitors and load balancers often probe with it (kept out of
# the schema, where it would only repeat GET).
api_router.add_api_route(
    "/health", health, methods=["HEAD"], include_in_schema=False, name="health_head"
)
