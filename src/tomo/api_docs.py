"""The API's documentation page, `/docs`, that works offline.

FastAPI's own page loads Swagger UI from a CDN; a homelab's tomo may have no
internet (and should not tell a CDN who reads its docs). The same Swagger UI
comes here from an installed package (swagger-ui-bundle-v2) and is served by
tomo itself, started by tomo's own script (web/static/api-docs.js): the page
runs no inline script, and "Try it out" sends a logged-in browser's writes
with the session's CSRF token, as the API asks of a cookie's writes.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
STARTER_URL = "/static/api-docs.js"  # tomo's own, beside the web UI's scripts


def add_api_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets; for an app made with `docs_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    page = docs_page(title=f"{app.title} API", openapi_url=app.openapi_url or "/openapi.json")

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(page)


def docs_page(*, title: str, openapi_url: str) -> str:
    """Swagger UI's page: its stylesheet and bundle, then the script that starts it
    on the API description named in a data attribute."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
<link rel="icon" href="{ASSETS_URL}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{STARTER_URL}"></script>
</body>
</html>
"""
