"""Schemathesis against the live OpenAPI document, authenticated as an admin.

Run by tests/api/test_api_fuzz.py inside a network namespace of its own
(`unshare -n`): fuzzed requests add repos and servers at made-up addresses, and
those must not reach any network. Not collected by a plain `pytest` run (the
file name does not start with `test_`).

Every operation gets FUZZ_EXAMPLES generated requests (deterministic unless
FUZZ_RANDOM=1); each answer must not be a 500 and must match the document:
status, content type, headers and body schema. The document cannot know what
depends on stored data (that a URL is a git repository, that a variable is one
of the app's), so a schema-valid request refused 422 for such a reason is not
a failure: `positive_data_acceptance` is left out.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tomo.app import create_app
from tomo.config import Settings
from tomo.deployment.models import Installation, Job, JobStep
from tomo.marketplace.definition import AppDefinition
from tomo.runtime import Runtime
from tomo.servers.models import Server

ADMIN = {"username": "admin", "password": "admin password 1"}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))

app = create_app(Settings(data_dir=Path(tempfile.mkdtemp(prefix="tomo-fuzz-")), sync_interval=0))
client = TestClient(app)
client.__enter__()  # one app, one event loop, for the whole module


def _admin_token() -> str:
    client.post("/api/setup", json=ADMIN).raise_for_status()
    login = client.post("/api/auth/login", json=ADMIN)
    csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
    created = client.post("/api/tokens", json={"name": "fuzz"}, headers=csrf)
    client.cookies.clear()  # from here on the token alone speaks
    return str(created.json()["token"])


async def _seed(runtime: Runtime) -> None:
    """A server, an installation on it and a finished job, so reads answer with rows."""
    now = datetime.now(UTC)
    app = await runtime.marketplace.get_app("official/gitea")
    definition = AppDefinition.model_validate(app.model_dump()).model_dump(mode="json")
    async with runtime.db.session() as session:
        session.add(Server(id="nas", name="nas", host="192.0.2.10", port=22, username="tomo",
                           auth_type="password", created_at=now))  # fmt: skip
        await session.flush()  # rows that others refer to go first
        session.add(Installation(id="inst1", server_id="nas", name="web", repo_id="official",
                                 app_id="gitea", version=app.version, image=app.docker.image,
                                 definition=definition, config={}, status="stopped",
                                 created_at=now, updated_at=now))  # fmt: skip
        await session.flush()
        session.add(Job(id="job1", installation_id="inst1", server_id="nas",
                        installation_name="web", app="official/gitea", kind="install",
                        status="done", summary=["created container 'web'"], created_at=now,
                        started_at=now, ended_at=now))  # fmt: skip
        await session.flush()
        session.add(JobStep(job_id="job1", name="pull", status="done", message="pulled",
                            started_at=now, ended_at=now))  # fmt: skip
        await session.commit()


TOKEN = _admin_token()
AUTH = {"Authorization": f"Bearer {TOKEN}"}
client.portal.call(_seed, app.state.runtime)  # type: ignore[union-attr]
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          derandomize=os.environ.get("FUZZ_RANDOM") != "1",
          suppress_health_check=list(HealthCheck))  # fmt: skip
def test_every_operation(case: Any) -> None:
    excluded = [positive_data_acceptance, not_a_server_error]
    if (case.method.upper(), case.path) in ARRAY_IN_QUERY:
        excluded.append(negative_data_rejection)
    case.call_and_validate(headers=AUTH, additional_checks=[no_internal_error],
                           excluded_checks=excluded)  # fmt: skip


# Operations with an array in the query: `?tag=x` is a one-item array, but Schemathesis
# takes a lone value it generated as a string that breaks the schema, and expects a
# refusal for it (seen: `tag=Ä` "accepted"). Their other checks stay.
ARRAY_IN_QUERY = {("GET", "/api/marketplace/apps")}


def no_internal_error(_ctx: Any, response: Any, _case: Any) -> None:
    """A 500 is a bug; a 502 or 504 (a server tomo cannot reach) is an answer, and
    that it is a documented one is `status_code_conformance`'s to check."""
    if response.status_code == 500:
        raise AssertionError(f"500: {response.text}")


SEEDED_READS = [
    "/api/auth/me", "/api/users", "/api/tokens", "/api/audit", "/api/marketplace/repos",
    "/api/marketplace/repos/official", "/api/marketplace/apps?q=web",
    "/api/marketplace/categories", "/api/servers", "/api/servers/nas",
    "/api/installations", "/api/installations/web", "/api/jobs", "/api/jobs/job1",
    "/api/health", "/api/setup",
]  # fmt: skip


def test_reads_of_stored_rows_match_the_document() -> None:
    """Fuzzed paths rarely name a row that exists; these do."""
    apps = client.get("/api/marketplace/apps", headers=AUTH).json()
    first = apps["items"][0]
    paths = [*SEEDED_READS, f"/api/marketplace/apps/{first['repo_id']}/{first['id']}"]
    for path in paths:
        response = client.get(path, headers=AUTH)
        assert response.status_code == 200, (path, response.text)
        operation = schema.find_operation_by_path("GET", path.split("?")[0])
        assert operation is not None, path
        operation.validate_response(response)
