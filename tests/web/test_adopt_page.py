"""The page of what else runs on a server, and adopting a container from it, on the
real test server (sshd, Docker, the registry of test images), as a browser
without JavaScript uses it; and the API's adoption route."""

from __future__ import annotations

import html
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.deployment import conftest as deployment
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker, page
from tests.services import free_port
from tests.web.conftest import Web, text_of
from tests.web.test_installed_pages import site

deploy = deployment.deploy
registry = deployment.registry
images = deployment.images
data_root = deployment.data_root
__all__ = ["site"]


@pytest.fixture
def handmade(deploy: Deploy) -> Iterator[tuple[str, int]]:
    """A container made by hand on the test server; removed after."""
    name, port = f"byhand-{uuid.uuid4().hex[:6]}", free_port()
    docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", deploy.images.web_v1)
    yield name, port
    for gone in (name, "kept-site"):
        subprocess.run(["docker", "rm", "-f", gone], capture_output=True, check=False)


async def test_a_container_made_by_hand_is_listed_and_adopted_from_its_page(
    deploy: Deploy, site: Web, handmade: tuple[str, int]
) -> None:
    name, port = handmade
    app = await deploy.publish("web", docker=deploy.web_app())
    admin = site.admin()
    assert 'href="/servers/box/containers"' in admin.get("/servers/box").text
    listing = admin.get("/servers/box/containers")
    assert listing.status_code == 200
    text = text_of(listing)
    assert name in text and deploy.images.web_v1 in text
    assert f'<option value="{app}">' in listing.text  # the catalog app that runs its image

    answer = admin.post("/servers/box/containers/adopt",
                        {"container": name, "app": "", "name": "kept-site"})  # fmt: skip
    assert answer.status_code == 303, text_of(answer)[:1000]
    assert answer.headers["location"].startswith("/installed/")
    shown = text_of(admin.follow(answer))
    assert "Adopted kept-site as it runs: nothing was restarted." in shown
    assert "a container made outside tomo" in shown
    assert page(port) == "web v1\n"
    assert name not in text_of(admin.get("/servers/box/containers"))

    again = admin.post("/servers/box/containers/adopt", {"container": "kept-site", "app": ""})
    assert again.status_code == 303 and again.headers["location"] == "/servers/box/containers"
    assert "already an installation of tomo's" in html.unescape(text_of(admin.follow(again)))
    assert site.viewer().get("/servers/box/containers").status_code == 403


async def test_the_api_adopts_for_admins_only(
    deploy: Deploy, site: Web, handmade: tuple[str, int]
) -> None:
    name, _ = handmade
    body = {"containers": [{"container": name, "name": "kept-site"}]}
    assert site.api.viewer.post("/api/servers/box/adoptions", json=body).status_code == 403
    adopted = site.api.admin.post("/api/servers/box/adoptions", json=body)
    assert adopted.status_code == 201, adopted.text
    assert [a["installation"]["adopted"] for a in adopted.json()] == [True]
    listed = site.api.admin.get("/api/installations").json()
    assert [(i["name"], i["repo_id"]) for i in listed] == [("kept-site", "personal")]
    missing = site.api.admin.post("/api/servers/box/adoptions",
                                  json={"containers": [{"container": "nope"}]})  # fmt: skip
    assert missing.status_code == 404
    assert "no container 'nope' on box" in missing.json()["detail"]
