"""The OpenAPI document is complete and honest: every operation has a summary,
its security requirement and its error responses; every body has a schema; an
error is a problem document; public routes ask for nothing; a wrong method is
answered 405 with every method the path allows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from tomo.http.security import PUBLIC

CREDENTIALS: list[dict[str, list[str]]] = [{"HTTPBearer": []}, {"APIKeyCookie": []}]
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    answer = api.anonymous.get("/openapi.json")
    assert answer.status_code == 200
    return dict(answer.json())


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation)
            for path, by_method in document["paths"].items()
            for method, operation in by_method.items()]  # fmt: skip


def test_every_operation_is_named_summarised_and_secured(document: dict[str, Any]) -> None:
    found = operations(document)
    assert len(found) >= 45
    for method, path, operation in found:
        where = f"{method} {path}"
        assert operation.get("summary"), where
        assert operation.get("description"), f"{where}: no docstring"
        if operation["operationId"] in PUBLIC:
            assert "security" not in operation, where
        else:
            assert operation["security"] == CREDENTIALS, where
            assert "401" in operation["responses"], where
        if method not in ("GET", "HEAD") and operation["operationId"] not in PUBLIC:
            assert "403" in operation["responses"], f"{where}: a viewer, or no CSRF token"
        assert "500" in operation["responses"], where


def test_every_body_has_a_schema(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        where = f"{method} {path}"
        body = operation.get("requestBody")
        if body is not None:
            assert body["content"]["application/json"]["schema"], where
            assert {"400", "422"} <= set(operation["responses"]), where
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert response["content"] == PROBLEM, f"{where} {status}"
            elif method != "HEAD" and status != "204":
                (media, content), *others = response["content"].items()
                assert not others, f"{where} {status}: one media type"
                assert content.get("schema"), f"{where} {status} {media}: no schema"


def test_fastapis_own_error_shape_is_gone(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    assert set(document["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyCookie"}


def test_operations_are_known_by_their_route_names(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert {"search_apps", "install", "job_events", "create_token", "setup"} <= set(ids)


def test_a_wrong_method_names_every_method_of_the_path(api: Api) -> None:
    answer = api.anonymous.request("PATCH", "/api/users")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "GET, POST"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "PATCH is not allowed on /api/users; allowed: GET, POST"
