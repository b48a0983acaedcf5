"""The installed-app pages on the real test server (sshd, Docker, a registry of
test images), as a browser without JavaScript uses them: the list, one
installation, start and stop, logs, update and uninstall. Apps are installed
through the API (the install pages are tested on their own)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import users_of
from tests.deployment import conftest as deployment
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker, page
from tests.deployment.test_multi_container import two_services
from tests.services import free_port
from tests.web.conftest import Page, Web, text_of
from tomo.app import create_app

# The deployment tests' server: sshd and Docker, a registry with test images, a
# catalog repo synced and the server "box" added (tests/deployment/conftest.py).
deploy = deployment.deploy
registry = deployment.registry
images = deployment.images
data_root = deployment.data_root

JOB_SECONDS = 60


@pytest.fixture
def site(deploy: Deploy) -> Iterator[Web]:
    """The web app on the deploy fixture's data: its catalog, its server."""
    with TestClient(create_app(deploy.runtime.settings)) as client:
        yield Web(users_of(client), client)


def finished(site: Web, job_id: str) -> dict[str, Any]:
    """The job once it has ended (within JOB_SECONDS)."""
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        job: dict[str, Any] = site.api.admin.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("pending", "running"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.2)


def install(site: Web, app: str, **config: Any) -> str:
    """Install through the API; the installation's id once it runs."""
    started = site.api.admin.post("/api/installations", json={"server": "box", "app": app,
                                                              **config})  # fmt: skip
    assert started.status_code == 202, started.text
    job = finished(site, started.json()["job_id"])
    assert job["status"] == "done", job
    return str(started.json()["installation"]["id"])


def job_of(browser: Page, answer: Any) -> str:
    """The job a page's form started: the See Other leads to its page."""
    assert answer.status_code == 303, (answer.status_code, answer.text[:2000])
    match = re.fullmatch(r"/jobs/([\w-]+)", answer.headers["location"])
    assert match, answer.headers["location"]
    assert browser.follow(answer).status_code == 200
    return match.group(1)


def tile_of(answer: Any, installation: str) -> str:
    """The dashboard's tile of one installation, as HTML."""
    found = re.search(rf'<li class="tile">((?:(?!</li>).)*?href="/installed/{installation}".*?)</li>',
                      answer.text, re.S)  # fmt: skip
    assert found, answer.text[:3000]
    return found.group(1)


def said_in(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def status_on_page(admin: Page, installation: str) -> str:
    found = re.search(r'<h1>[^<]*<span class="badge[^"]*" data-status="(\w+)"',
                      admin.get(f"/installed/{installation}").text)  # fmt: skip
    assert found
    return found.group(1)


async def test_the_list_shows_every_installation_running_with_its_links(
    deploy: Deploy, site: Web
) -> None:
    admin = site.admin()
    empty = admin.get("/installed")
    assert empty.status_code == 200
    assert "Nothing installed yet" in text_of(empty) and 'href="/store"' in empty.text

    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port, environment=[
        {"name": "TZ", "default": "UTC"}, {"name": "TOKEN", "secret": True, "generate": "hex"}]))  # fmt: skip
    installation = install(site, app, env={"TZ": "Europe/Paris"})
    token = docker("exec", "web", "sh", "-c", 'printf %s "$TOKEN"')

    tiles = admin.get("/installed")  # tiles first, as other stores' dashboards
    assert 'id="results" data-refresh="10"' in tiles.text
    assert 'href="/installed" aria-current="page">Tiles' in tiles.text
    tile = tile_of(tiles, installation)
    assert 'data-status="running"' in tile and "running" in said_in(tile)
    assert re.search(rf'href="http://127.0.0.1:{port}"[^>]*>Open<span class="sr-only"> web ', tile)
    assert "Update available" not in tile  # the catalog offers what runs
    assert "<table" not in tiles.text

    listed = admin.get("/installed?view=table")
    assert 'href="/installed?view=table" aria-current="page">Table' in listed.text
    row = re.search(rf'<tr>\s*<td data-label="App"><a href="/installed/{installation}".*?</tr>',
                    listed.text, re.S)  # fmt: skip
    assert row, listed.text
    assert 'data-status="running"' in row.group(0)
    assert f'href="http://127.0.0.1:{port}"' in row.group(0)
    assert deploy.images.web_v1 in row.group(0) and "box" in row.group(0)
    assert 'data-status="running"' in admin.get("/installed?server=box").text
    kept = admin.get("/installed?server=box&view=table").text  # the other view keeps the server
    assert (
        'href="/installed?server=box">Tiles' in kept and '<table class="installed-table">' in kept
    )
    assert admin.get("/installed?server=nowhere").status_code == 404

    shown = admin.get(f"/installed/{installation}")
    text = text_of(shown)
    assert shown.status_code == 200 and 'data-status="running"' in shown.text
    assert f'href="/apps/{deploy.repo_id}/web"' in shown.text
    assert f"{deploy.data_root}/web/data" in text and "/data" in text
    assert "TZ Europe/Paris" in text and "TOKEN secret: kept encrypted, never shown" in text
    assert token not in shown.text and token not in listed.text
    first_job = site.api.admin.get(f"/api/jobs?installation={installation}").json()[0]
    assert f'href="/jobs/{first_job["id"]}">install</a>' in shown.text
    assert f'action="/installed/{installation}/stop"' in shown.text
    assert re.search(r'<button type="submit" class="btn" disabled>Start</button>', shown.text)
    assert f'href="/installed/{installation}/uninstall"' in shown.text


async def test_open_goes_to_the_app_s_page_on_its_web_port_not_its_lowest_port(
    deploy: Deploy, site: Web
) -> None:
    """The store's web port comes first (CasaOS's port_map) and its page is a path
    (`index`, Umbrel's `path`, Runtipi's `url_suffix`): the tile's Open link goes
    there, though the app also publishes a lower port."""
    web, other = free_port(), free_port()
    web, other = max(web, other), min(web, other)
    app = await deploy.publish("paged", web_path="/admin/", docker=deploy.web_app(ports=[
        {"container": 80, "host": web}, {"container": 8080, "host": other}]))  # fmt: skip
    installation = install(site, app)
    admin = site.admin()
    tile = tile_of(admin.get("/installed"), installation)
    assert re.search(rf'href="http://127.0.0.1:{web}/admin/"[^>]*>Open<span', tile), tile
    listed = site.api.admin.get(f"/api/installations/{installation}").json()
    assert listed["web"] == {"port": web, "scheme": "http", "path": "/admin/"}


async def test_a_viewer_sees_no_actions_and_a_forged_form_is_refused(
    deploy: Deploy, site: Web
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    installation = install(site, app)
    viewer = site.viewer()
    shown = viewer.get(f"/installed/{installation}")
    assert shown.status_code == 200 and 'data-status="running"' in shown.text
    for action in ("start", "stop", "restart", "update", "uninstall"):
        assert f"/installed/{installation}/{action}" not in shown.text
    assert "<form" not in shown.text.split("<main", 1)[1]  # the nav's Log out is the only form
    # Logs may hold secrets an app printed: for admins (unless TOMO_VIEWERS_READ_LOGS).
    assert f'href="/installed/{installation}/logs"' not in shown.text
    assert viewer.get(f"/installed/{installation}/logs").status_code == 403

    for forged in ("stop", "restart", "uninstall", "update"):
        refused = viewer.post(f"/installed/{installation}/{forged}", {"remove_data": "yes"})
        assert refused.status_code == 403, forged
        assert "admin" in text_of(refused)
    assert viewer.get(f"/installed/{installation}/uninstall").status_code == 403
    assert viewer.get(f"/installed/{installation}/update").status_code == 403
    assert site.api.admin.get(f"/api/installations/{installation}").json()["status"] == "running"
    assert site.api.admin.get(f"/api/jobs?installation={installation}").json()[0]["kind"] == (
        "install"
    )


async def test_a_tile_says_stopping_while_docker_waits_then_offers_the_update(
    deploy: Deploy, site: Web
) -> None:
    # An app that ignores SIGTERM: Docker waits out its grace period, then kills it.
    stubborn = deploy.web_app(command=["sh", "-c", "trap '' TERM; /bin/httpd -f -p 80 -h /www"],
                              stop_grace_period="4s")  # fmt: skip
    app = await deploy.publish("web", icon="https://icons.example/web.png", docker=stubborn)
    installation = install(site, app)
    admin = site.admin()
    tile = tile_of(admin.get("/installed"), installation)
    assert '<img src="https://icons.example/web.png"' in tile and "Update available" not in tile

    job = job_of(admin, admin.post(f"/installed/{installation}/stop"))
    # The stop holds the installation until Docker has waited the 4 s out.
    listed = admin.get("/installed")
    assert 'id="results" data-refresh="3"' in listed.text  # looked at again sooner
    tile = tile_of(listed, installation)
    assert 'data-operation="stop"' in tile and "stopping…" in said_in(tile)
    said = said_in(tile)
    assert (
        "Docker has asked web to stop and gives it up to 4s, its grace period, to finish " in said
    )
    assert f'href="/jobs/{job}">Follow the stop' in tile and ">Open<" not in tile
    shown = admin.get(f"/installed/{installation}")
    assert 'id="installation" data-refresh="3"' in shown.text
    assert "stopping…" in text_of(shown)
    assert "gives it up to 4s, its grace period, to finish before it forces it" in text_of(shown)
    assert status_on_page(admin, installation) == "running"  # what Docker said last

    assert finished(site, job)["status"] == "done"
    tile = tile_of(admin.get("/installed"), installation)
    assert 'data-status="stopped"' in tile and "data-operation" not in tile
    assert "stopping" not in said_in(tile) and ">Open<" not in tile

    await deploy.publish("web", version="2.0.0", icon="https://icons.example/web.png",
                         docker={**stubborn, "image": deploy.images.web_v2})  # fmt: skip
    tile = tile_of(admin.get("/installed"), installation)
    assert f'href="/installed/{installation}/update">Update available' in tile
    assert "Update available: 2.0.0 for web" in said_in(tile)
    viewers = tile_of(site.viewer().get("/installed"), installation)
    assert "Update available: 2.0.0" in said_in(viewers) and "/update" not in viewers
    assert "Update available: 2.0.0" in text_of(admin.get("/installed?view=table"))


async def test_stop_then_start_through_the_pages(deploy: Deploy, site: Web) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    installation = install(site, app)
    admin = site.admin()

    stopped = finished(site, job_of(admin, admin.post(f"/installed/{installation}/stop")))
    assert (stopped["kind"], stopped["status"]) == ("stop", "done")
    assert status_on_page(admin, installation) == "stopped"
    shown = admin.get(f"/installed/{installation}").text
    assert re.search(r'<button type="submit" class="btn" disabled>Stop</button>', shown)
    assert re.search(r'<button type="submit" class="btn btn-primary">Start</button>', shown)

    started = finished(site, job_of(admin, admin.post(f"/installed/{installation}/start")))
    assert (started["kind"], started["status"]) == ("start", "done")
    assert status_on_page(admin, installation) == "running"
    assert page(port) == "web v1\n"
    restarted = finished(site, job_of(admin, admin.post(f"/installed/{installation}/restart")))
    assert restarted["status"] == "done"
    assert admin.post(f"/installed/{installation}/explode").status_code == 422


async def test_the_logs_page_shows_what_the_container_printed_escaped(
    deploy: Deploy, site: Web
) -> None:
    app = await deploy.publish("web", docker=deploy.web_app())
    installation = install(site, app)
    docker("exec", "web", "sh", "-c", "echo '<b>bold</b> from-the-container' > /proc/1/fd/1")
    admin = site.admin()  # logs are for admins (see tests/web/test_log_access.py)

    logs = admin.get(f"/installed/{installation}/logs?tail=20")
    assert logs.status_code == 200
    assert "&lt;b&gt;bold&lt;/b&gt; from-the-container" in logs.text
    assert "<b>bold</b>" not in logs.text
    assert '<pre class="log" id="log"' in logs.text
    # Following carries on right after the page's last line (its Docker stamp, counted).
    follow = (rf'data-follow="/api/installations/{installation}/logs\?follow=true&amp;'
              r'timestamps=true&amp;after=app,[0-9T:.-]+Z,[0-9]+"')  # fmt: skip
    assert re.search(follow, logs.text), logs.text
    assert '<script src="/static/logs.js' in logs.text and 'href="?tail=20"' in logs.text
    # What the Follow toggle reads: the API's stream, with the page's session cookie.
    stream = admin.get(f"/api/installations/{installation}/logs?tail=5")
    assert stream.status_code == 200 and "<b>bold</b> from-the-container" in stream.text
    assert admin.get(f"/installed/{installation}/logs?tail=0").status_code == 422


async def test_an_app_of_several_containers_lists_them_and_shows_each_ones_logs(
    deploy: Deploy, site: Web
) -> None:
    app = await deploy.publish("pair", **two_services(deploy))
    installation = install(site, app)
    for container in ("pair", "pair-api"):
        docker("exec", container, "sh", "-c", f"echo said-by-{container} > /proc/1/fd/1")
    admin = site.admin()  # logs are for admins (see tests/web/test_log_access.py)

    detail = text_of(admin.get(f"/installed/{installation}"))
    assert "pair service client, the main one" in detail
    form = text_of(admin.get(f"/installed/{installation}/uninstall"))
    assert (
        "tomo removes its own containers ( pair-api , pair ), their network and their "
        "settings files" in form
    )
    assert "the Docker volume pair_shared , and its containers' own Docker volumes" in form
    confirm = text_of(admin.post(f"/installed/{installation}/uninstall", {"remove_data": "yes"}))
    assert "any volume Docker made for its own containers (a folder their images declare" in (
        confirm)  # fmt: skip
    assert f"pair-api service api {deploy.images.web_v1} · its logs" in detail

    merged = admin.get(f"/installed/{installation}/logs?tail=50")
    assert merged.status_code == 200 and "each line led by its service" in merged.text
    assert re.search(r"(^|>)client +\| said-by-pair$", merged.text, re.MULTILINE)
    assert re.search(r"(^|>)api +\| said-by-pair-api$", merged.text, re.MULTILINE)
    one = admin.get(f"/installed/{installation}/logs?tail=50&service=api")
    assert one.status_code == 200 and "The output of service api" in one.text
    assert re.search(r"(^|>)said-by-pair-api$", one.text, re.MULTILINE)  # its own lines, unled
    assert "said-by-pair\n" not in one.text
    follow = (rf'data-follow="/api/installations/{installation}/logs\?follow=true&amp;'
              r'timestamps=true&amp;service=api&amp;after=api,[0-9T:.-]+Z,[0-9]+"')  # fmt: skip
    assert re.search(follow, one.text), one.text
    assert 'href="?tail=1000&amp;service=api"' in one.text  # the line counts keep the service
    unknown = admin.get(f"/installed/{installation}/logs?service=nope")
    assert unknown.status_code == 422 and "has no service" in unknown.text
    listed = site.api.admin.get(f"/api/installations/{installation}").json()
    assert [(c["service"], c["name"]) for c in listed["containers"]] == [
        ("api", "pair-api"), ("client", "pair")]  # fmt: skip


async def test_uninstall_lists_the_data_and_deletes_it_only_when_asked_twice(
    deploy: Deploy, site: Web
) -> None:
    cache = {"volume": "cache", "container_path": "/cache"}  # a Docker volume of its own
    definition = deploy.web_app()
    app = await deploy.publish("web", docker={**definition,
                                              "volumes": [*definition["volumes"], cache]})  # fmt: skip
    kept = install(site, app, name="kept", ports=[{"host": free_port(), "container": 80}])
    dropped = install(site, app, name="dropped", ports=[{"host": free_port(), "container": 80}])
    admin = site.admin()
    kept_data = deploy.data_root / "kept" / "data"
    dropped_data = deploy.data_root / "dropped" / "data"
    assert kept_data.is_dir() and dropped_data.is_dir()
    assert {"kept_cache", "dropped_cache"} <= set(docker("volume", "ls", "-q").split())

    form = admin.get(f"/installed/{dropped}/uninstall")
    assert form.status_code == 200
    assert 'name="remove_data" value="yes"' in form.text
    assert f"<li><code>{dropped_data}</code></li>" in form.text
    assert "the Docker volume dropped_cache , and the container's own Docker volumes" in text_of(
        form)  # fmt: skip
    assert "Left unticked, all its data stays on the server" in text_of(form)
    assert "tomo removes the container dropped and its settings file" in text_of(form)

    # Ticked: a second page names what goes, and nothing starts before it is confirmed.
    asked = admin.post(f"/installed/{dropped}/uninstall", {"remove_data": "yes"})
    said = text_of(asked)
    assert asked.status_code == 200 and "Delete the data of dropped for good?" in said
    assert f"the folder {dropped_data} , with everything in it" in said
    assert "the Docker volume dropped_cache" in said
    assert "any volume Docker made for its container (a folder its image declares" in said
    assert f"{deploy.data_root}/dropped itself, if nothing else is left in it" in said
    assert 'name="confirm_delete" value="yes"' in asked.text
    assert 'href="/installed/' + dropped + '/uninstall">Go back, delete nothing' in asked.text
    assert [j["kind"] for j in site.api.admin.get(f"/api/jobs?installation={dropped}").json()] == [
        "install"]  # fmt: skip
    assert dropped_data.is_dir()

    confirmed = admin.post(f"/installed/{dropped}/uninstall",
                           {"remove_data": "yes", "confirm_delete": "yes"})  # fmt: skip
    done = finished(site, job_of(admin, confirmed))
    assert done["status"] == "done", done
    assert not dropped_data.exists() and not (deploy.data_root / "dropped").exists()
    assert "dropped_cache" not in docker("volume", "ls", "-q").split()
    done = finished(site, job_of(admin, admin.post(f"/installed/{kept}/uninstall")))
    assert done["status"] == "done", done
    assert kept_data.is_dir()
    assert "kept_cache" in docker("volume", "ls", "-q").split()
    docker("volume", "rm", "kept_cache")
    assert "Nothing installed yet" in text_of(admin.get("/installed"))
    assert admin.get(f"/installed/{kept}").status_code == 404


async def test_update_asks_for_what_the_new_version_needs(deploy: Deploy, site: Web) -> None:
    port = free_port()
    app = await deploy.publish("web", docker=deploy.web_app(port=port))
    installation = install(site, app)
    newer = deploy.web_app(port=port, image=deploy.images.web_v2, environment=[
        {"name": "TZ", "default": "UTC"}, {"name": "GREETING", "required": True},
        {"name": "API_KEY", "secret": True, "generate": "hex"}])  # fmt: skip
    await deploy.publish("web", version="2.0.0", docker=newer)
    admin = site.admin()

    form = admin.get(f"/installed/{installation}/update")
    text = text_of(form)
    assert form.status_code == 200
    assert "Installed 1.0.0" in text and "The catalog offers 2.0.0 new" in text
    assert deploy.images.web_v1 in text and deploy.images.web_v2 in text
    assert 'name="env.GREETING"' in form.text

    missing = admin.post(f"/installed/{installation}/update", {"new_env_name": "EXTRA",
                                                                "new_env_value": "kept"})  # fmt: skip
    assert missing.status_code == 422
    beside = re.search(r'id="e-env\.GREETING">(.*?)</p>', missing.text, re.S)
    assert beside and "the new version needs a value" in beside.group(1)
    assert 'value="kept"' in missing.text  # what was typed stays
    bad_tag = admin.post(f"/installed/{installation}/update", {"tag": "no good"})
    assert bad_tag.status_code == 422 and 'id="e-tag"' in bad_tag.text

    started = admin.post(f"/installed/{installation}/update", {"env.GREETING": "hello"})
    # The secret the new version asked for, generated: shown this once, then the job.
    assert started.status_code == 200 and "shown this once" in text_of(started)
    link = re.search(r'href="/jobs/([\w-]+)">Follow the update', started.text)
    assert link
    updated = finished(site, link.group(1))
    assert updated["status"] == "done", updated
    secret = docker("exec", "web", "sh", "-c", 'printf %s "$API_KEY"')
    assert len(secret) == 32 and f'<code class="secret">{secret}</code>' in started.text
    assert page(port) == "web v2\n"
    shown = text_of(admin.get(f"/installed/{installation}"))
    assert "2.0.0" in shown and "GREETING hello" in shown
    assert "up to date" in text_of(admin.get(f"/installed/{installation}/update"))
