"""Installing an app with what it requires, from its install page and through the
API, on the real test server (sshd, Docker, the registry of test images): the
apps it needs first, each a job of its own run in order, all taken back when
one fails."""

from __future__ import annotations

import time
from html import unescape
from typing import Any

from tests.deployment import conftest as deployment
from tests.deployment.conftest import Deploy
from tests.deployment.test_dependencies import publish_pair
from tests.web.conftest import Web, text_of
from tests.web.test_install_pages import install_form_values
from tests.web.test_installed_pages import finished, site

deploy = deployment.deploy
registry = deployment.registry
images = deployment.images
data_root = deployment.data_root
__all__ = ["site"]


def settled(web: Web, count: int, deadline: float = 90) -> list[dict[str, Any]]:
    """The installations once no job of theirs is under way (within `deadline` s)."""
    limit = time.monotonic() + deadline
    while True:
        jobs = web.api.admin.get("/api/jobs", params={"limit": count}).json()
        if jobs and all(job["status"] not in ("pending", "running") for job in jobs):
            return list(web.api.admin.get("/api/installations").json())
        assert time.monotonic() < limit, jobs
        time.sleep(0.2)


def install_with_node(web: Web, app: str) -> Any:
    """Install `app` with what it requires through the API (node's risk accepted)."""
    started = web.api.admin.post(
        "/api/installations",
        json={"server": "box", "app": app, "with_dependencies": True, "accept_risks": ["app:node"]},
    )
    assert started.status_code == 202, started.text
    return started


def all_at(web: Web, status: str, deadline: float = 60) -> None:
    """Wait until every installation has this status (within `deadline` s)."""
    limit = time.monotonic() + deadline
    while {i["status"] for i in web.api.admin.get("/api/installations").json()} != {status}:
        assert time.monotonic() < limit, web.api.admin.get("/api/installations").json()
        time.sleep(0.2)


def all_gone(web: Web, deadline: float = 90) -> None:
    """Wait until no installation is left (within `deadline` s)."""
    limit = time.monotonic() + deadline
    while web.api.admin.get("/api/installations").json():
        assert time.monotonic() < limit, web.api.admin.get("/api/installations").json()
        time.sleep(0.2)


async def test_the_install_page_installs_what_the_app_needs_first(
    deploy: Deploy, site: Web
) -> None:
    viewer = await publish_pair(deploy)
    admin = site.admin()
    form_url = f"/apps/{viewer}/install"
    form = admin.get(form_url, params={"server": "box"})
    shown = unescape(text_of(form))
    assert "Viewer needs another app on box first." in shown
    assert f"Install what it needs first: {deploy.repo_id}/node" in shown
    values = install_form_values(form)
    started = admin.post(form_url, {**values, "action": "install", "with_dependencies": "on",
                                    "risk": ["app:node"]})  # fmt: skip
    assert started.status_code == 303, text_of(started)[:2000]
    assert "Installing node first, then viewer" in unescape(text_of(admin.follow(started)))
    job = finished(site, started.headers["location"].rsplit("/", 1)[1])
    assert job["status"] == "done", job
    listed = site.api.admin.get("/api/installations").json()
    assert sorted((i["name"], i["status"]) for i in listed) == [
        ("node", "running"), ("viewer", "running")]  # fmt: skip


async def test_a_dependency_that_fails_leaves_nothing_and_the_app_never_starts(
    deploy: Deploy, site: Web
) -> None:
    await deploy.publish("node", docker=deploy.web_app(image=deploy.images.broken),
                         exports=[{"name": "NODE_HOST", "host": "app"}])  # fmt: skip
    viewer = await deploy.publish("viewer", docker=deploy.web_app(environment=[
        {"name": "UPSTREAM", "default": "${NODE_HOST}"}]),
        requires=[{"app": "node", "imports": ["NODE_HOST"]}])  # fmt: skip
    started = install_with_node(site, viewer)
    body = started.json()
    assert [d["installation"]["name"] for d in body["dependencies"]] == ["node"]
    assert settled(site, 2) == []
    app_job = site.api.admin.get(f"/api/jobs/{body['job_id']}").json()
    assert (app_job["status"], app_job["error"]) == (
        "failed",
        "not started: node, which it needs, failed",
    )
    node_job = site.api.admin.get(f"/api/jobs/{body['dependencies'][0]['job_id']}").json()
    assert node_job["status"] == "failed"


async def test_the_uninstall_page_takes_the_apps_that_need_it_along_when_asked(
    deploy: Deploy, site: Web
) -> None:
    viewer = await publish_pair(deploy)
    started = install_with_node(site, viewer)
    assert len(settled(site, 2)) == 2
    node = started.json()["dependencies"][0]["installation"]["id"]
    admin = site.admin()
    form = unescape(text_of(admin.get(f"/installed/{node}/uninstall")))
    assert "viewer needs node." in form
    assert "Uninstall viewer first, with the same choice about data" in form

    refused = admin.post(f"/installed/{node}/uninstall", {"remove_data": "yes"})
    assert refused.status_code == 303
    assert "node is needed by viewer" in unescape(text_of(admin.follow(refused)))
    assert len(site.api.admin.get("/api/installations").json()) == 2

    taken = admin.post(f"/installed/{node}/uninstall", {"remove_data": "yes",
                       "with_dependants": "yes", "confirm_delete": "yes"})  # fmt: skip
    assert taken.status_code == 303, text_of(taken)[:1000]
    all_gone(site)  # viewer's uninstall, then node's (prepared once viewer's has ended)
    kinds = [(j["installation_name"], j["kind"], j["status"])
             for j in site.api.admin.get("/api/jobs", params={"limit": 2}).json()]  # fmt: skip
    assert kinds == [("node", "uninstall", "done"), ("viewer", "uninstall", "done")]


async def test_the_installation_page_stops_an_app_with_the_apps_that_need_it(
    deploy: Deploy, site: Web
) -> None:
    viewer = await publish_pair(deploy)
    node = install_with_node(site, viewer).json()["dependencies"][0]["installation"]["id"]
    assert len(settled(site, 2)) == 2
    admin = site.admin()
    page = unescape(text_of(admin.get(f"/installed/{node}")))
    assert "viewer needs node: stopping it alone is refused while it runs." in page
    refused = admin.post(f"/installed/{node}/stop", {})
    assert "node is needed by viewer" in unescape(text_of(admin.follow(refused)))
    stopped = admin.post(f"/installed/{node}/stop", {"with_dependants": "yes"})
    assert stopped.status_code == 303, text_of(stopped)[:1000]
    all_at(site, "stopped")
    assert "stopping it alone is refused" not in unescape(text_of(admin.get(f"/installed/{node}")))
