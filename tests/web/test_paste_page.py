"""The page that turns a pasted compose file into an app of the personal catalog."""

from __future__ import annotations

from tests.web.conftest import Web
from tests.web.test_repo_pages import field_error

SITE = "services:\n  web:\n    image: nginx:1.27\n    ports: ['8080:80']\n"


def test_a_pasted_compose_file_leads_to_its_install_page(web: Web) -> None:
    admin = web.admin()
    assert 'href="/apps/paste"' in admin.get("/store").text
    assert admin.get("/apps/paste").status_code == 200

    added = admin.post("/apps/paste", {"name": "site", "compose": SITE})

    assert (added.status_code, added.headers["location"]) == (303, "/apps/personal/site/install")
    assert "nginx:1.27" in admin.get("/apps/personal/site").text


def test_a_file_that_cannot_be_an_app_is_told_beside_it_and_kept(web: Web) -> None:
    refused = web.admin().post("/apps/paste", {"name": "site", "compose": "services: [web]\n"})
    assert refused.status_code == 422
    assert "the compose file: not a compose file" in field_error(refused, "compose")
    assert "services: [web]" in refused.text  # what was typed is kept
    named = web.admin().post("/apps/paste", {"name": "No Good", "compose": SITE})
    assert "is not a name a personal app can have" in field_error(named, "name")


def test_a_viewer_may_not_paste(web: Web) -> None:
    assert 'href="/apps/paste"' not in web.viewer().get("/store").text
    assert web.viewer().post("/apps/paste", {"name": "site", "compose": SITE}).status_code == 403


def test_a_docker_run_line_in_the_same_box_is_read_as_one(web: Web) -> None:
    admin = web.admin()
    line = "docker run -d -p 8080:80 nginx:1.27"
    added = admin.post("/apps/paste", {"name": "runsite", "compose": line})
    assert (added.status_code, added.headers["location"]) == (
        303, "/apps/personal/runsite/install",
    )  # fmt: skip
    refused = admin.post("/apps/paste", {"name": "bad", "compose": "docker run --env-file x y"})
    assert "the docker run command: --env-file" in field_error(refused, "compose")
