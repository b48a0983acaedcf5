"""Every page router wired in one place, and tomo's own static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from tomo.web import (
    admin,
    adopt,
    auth,
    backup_repositories,
    backup_settings,
    backups,
    domains,
    door,
    events,
    install,
    installed,
    paste,
    repos,
    servers,
    store,
    update_policy,
)

STATIC = Path(__file__).parent / "static"

# The navigation's figures (unread events, updates offered) are read once per page,
# before the page runs (web/events.py, web/installed.py).
web_router = APIRouter(include_in_schema=False,
                       dependencies=[Depends(events.count_unread_events),
                                     Depends(installed.count_updates_offered)])  # fmt: skip
# Before `installed` (its /installed/{installation}/{verb}) and `backups` (its
# /backups/{backup_id}/…): their paths would take these pages' own.
for feature in (auth, store, paste, install, update_policy, backup_settings,
                backup_repositories, backups, domains, door, installed, servers, adopt, repos,
                admin, events):  # fmt: skip
    web_router.include_router(feature.router)


@web_router.get("/", name="web_home")
async def home() -> RedirectResponse:
    return RedirectResponse("/store", status_code=303)


def add_web_ui(app: FastAPI) -> None:
    app.include_router(web_router)
    app.include_router(door.check_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
