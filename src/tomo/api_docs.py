"""The API's documentation page, `/docs`, that works offline.

FastAPI's own page loads Swagger UI from a CDN; a homelab's tomo may have no
internet (and should not tell a CDN who reads its docs). The same Swagger UI
comes here from an installed package (swagger-ui-bundle-v2) and is served by
tomo itself.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def add_api_docs(app: FastAPI) -> None:
    """Serve `/docs` and its assets; for an app made with `docs_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_URL, include_in_schema=False)
    async def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon-32x32.png",
            # Otherwise Swagger UI may send the whole API description to
            # validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )
