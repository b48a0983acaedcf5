"""The audit log tells how each request went: refused (with the refusal's status and
reason), failed, accepted or ok, whatever the answer's status (a page answers a
refusal with a See Other and a message, or with the login page). Refused writes
without a login are tallied, one row an hour, not stored one by one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from tests.cli.tomo_cli import Tomo
from tests.gitrepo import CatalogRepo
from tests.web.conftest import Page, Web
from tomo.auth.audit_tally import AnonymousRefusals
from tomo.config import Settings
from tomo.runtime import Runtime


def audit(web: Web) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = web.api.admin.get("/api/audit", params={"limit": 1000}).json()
    return events


def last_of(web: Web, action: str) -> dict[str, Any]:
    return next(event for event in audit(web) if event["action"] == action)


def user_id(web: Web, name: str) -> str:
    return next(u["id"] for u in web.api.admin.get("/api/users").json() if u["username"] == name)


def test_a_refusal_a_page_answers_with_a_see_other_is_recorded_as_refused(web: Web) -> None:
    admin = web.admin()
    last_admin = admin.post(f"/users/{user_id(web, 'admin')}/delete")

    assert last_admin.status_code == 303  # back to the users page, saying why
    event = last_of(web, "web_user_delete")
    assert (event["actor"], event["outcome"]) == ("admin", "409")
    assert event["detail"] == "'admin' is the last admin; make another first"


def test_refusals_of_logged_in_users_name_them_and_say_why(web: Web) -> None:
    viewer = web.viewer()
    assert viewer.post("/servers/add", {"name": "nas"}).status_code == 403
    assert web.api.viewer.post("/api/servers", json={}).status_code == 403
    assert web.admin().post("/tokens", {"name": "x"}, csrf=False).status_code == 403

    page, api = last_of(web, "web_server_add"), last_of(web, "add_server")
    assert (page["actor"], page["outcome"]) == ("vera", "403")
    assert (api["actor"], api["outcome"]) == ("vera", "403")
    assert "'vera' is a viewer" in page["detail"] and "'vera' is a viewer" in api["detail"]
    forged = last_of(web, "web_token_create")
    assert (forged["actor"], forged["outcome"]) == ("admin", "403")
    assert "security token is missing" in forged["detail"]


def test_work_started_is_recorded_as_accepted_and_changes_as_ok(web: Web, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("hello")
    repo.commit()
    added = web.api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "home"})
    assert added.status_code == 201, added.text
    admin = web.admin()

    assert admin.post("/repos/home/sync").status_code == 303  # to the sync, followed there
    assert admin.post("/tokens", {"name": "backups"}).status_code == 200

    assert last_of(web, "web_repo_sync")["outcome"] == "accepted"  # the sync tells its end
    assert last_of(web, "web_token_create")["outcome"] == "ok"
    assert last_of(web, "add_repo")["outcome"] == "ok"


def test_a_thousand_refused_anonymous_writes_are_a_tally_an_admin_still_sees(
    web: Web, settings: Settings
) -> None:
    anonymous = Page(web.client)
    wrong_token = {"Authorization": "Bearer tomo_" + "x" * 43}
    before = len(audit(web))
    sent = 0
    for number in range(250):
        assert anonymous.post("/servers/add", {"name": f"n{number}"}).status_code == 303
        assert anonymous.post("/setup", {"username": "eve"}).status_code == 303  # closed
        assert web.client.post("/api/servers", json={}).status_code == 401
        assert web.client.post("/api/users", json={}, headers=wrong_token).status_code == 401
        sent += 4

    events = audit(web)
    tallies = [e for e in events if e["action"] == "anonymous_writes"]
    assert len(events) - before == len(tallies) <= 2  # one an hour: the test may span two
    assert sum(tally["count"] for tally in tallies) == sent == 1000
    assert {tally["outcome"] for tally in tallies} == {"refused"}
    detail = " ".join(tally["detail"] for tally in tallies)
    for part in ("401 ×", "409 ×", "web_server_add ×", "web_setup ×", "add_server ×",
                 "create_user ×", "from testclient ×"):  # fmt: skip
        assert part in detail, part

    tomo = Tomo(settings.data_dir)
    listed = json.loads(tomo.run("audit", "--json").stdout)
    assert sum(e["count"] for e in listed if e["action"] == "anonymous_writes") == 1000
    table = tomo.run("audit").stdout
    assert "anonymous_writes" in table and "refused ×" in table
    assert "write(s) without a login refused" in table


def test_a_tally_stays_small_however_many_addresses_send(web: Web) -> None:
    """Only the busiest few addresses and routes are named; the rest are counted."""
    refusals = AnonymousRefusals()
    moment = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)

    async def from_many(runtime: Runtime) -> None:
        for number in range(300):
            await refusals.add(runtime.db, action=f"route_{number % 70}", outcome="401",
                               client=f"192.0.2.{number}", at=moment)  # fmt: skip

    web.api.run(from_many)

    tally = last_of(web, "anonymous_writes")
    assert (tally["count"], tally["client"]) == (300, "50+ addresses")
    assert tally["detail"].count("192.0.2.") == 5 and "others ×" in tally["detail"]
    assert len(tally["detail"]) < 600
