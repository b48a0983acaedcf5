"""The OpenAPI document, made to say what the API really does.

FastAPI's own document is close but not honest in three ways this module
corrects: the access dependency sits on every route, so even public routes
would list credentials; every error is a problem document (problems.py), not
FastAPI's `HTTPValidationError` as `application/json`; and the answers every
route can give (401, 403 for a role or a CSRF token, 400 for a body that is
not JSON, 500) are written here once instead of on each route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from tomo.http.problems import DESCRIPTIONS, MEDIA_TYPE
from tomo.http.security import PUBLIC, SAFE_METHODS, needed_role

PROBLEM = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def operation_id(route: APIRoute) -> str:
    """An operation is known by its route's name: short, stable and the name
    PUBLIC and NEEDS use, so a client generator sees `search_apps`, not a name
    spliced from the path."""
    return route.name


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)  # fmt: skip
        for method, operation in _operations(document):
            _describe_errors(method.upper(), operation)
        schemas = document.get("components", {}).get("schemas", {})
        for name in _FASTAPI_ERROR_SCHEMAS:
            schemas.pop(name, None)
        app.openapi_schema = document
    return app.openapi_schema


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(method, operation) for operations in document.get("paths", {}).values()
            for method, operation in operations.items()]  # fmt: skip


def _describe_errors(method: str, operation: dict[str, Any]) -> None:
    name = operation["operationId"]
    responses = operation["responses"]
    statuses = {500}
    if name in PUBLIC:
        operation.pop("security", None)  # anyone may call it
    else:
        statuses.add(401)
        if method not in SAFE_METHODS or needed_role(name, method) == "admin":
            statuses.add(403)  # a viewer, or a session's write without its CSRF token
    if "requestBody" in operation:
        statuses |= {400, 413, 422}  # not JSON; too large; a field that is wrong
    for status in statuses:
        responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = {MEDIA_TYPE: {"schema": PROBLEM}}
            if status == "422":
                response["description"] = DESCRIPTIONS[422]
