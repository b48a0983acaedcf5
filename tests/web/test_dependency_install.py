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
    started = site.api.admin.post(
        "/api/installations",
        json={
            "server": "box",
            "app": viewer,
            "with_dependencies": True,
            "accept_risks": ["app:node"],
        },
    )
    assert started.status_code == 202, started.text
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
