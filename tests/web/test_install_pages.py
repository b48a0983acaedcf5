"""The install form and the job page, as a browser without JavaScript uses them,
against the real sshd + Docker test server and a registry of test images."""

from __future__ import annotations

import html
import itertools
import re
import shlex
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deployment import conftest as deployment
from tests.deployment.conftest import STABLE_SECONDS
from tests.deployment.test_install import container_env
from tests.gitrepo import CatalogRepo, app_definition
from tests.registry import TestImages
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.conftest import Page, Web, text_of
from tomo.config import Settings

JOB_SECONDS = 60
# The deployment tests' server fixtures, used here too: the registry of test images,
# the server's data root, a port a plain process holds.
registry, images, data_root, busy_port = (
    deployment.registry, deployment.images, deployment.data_root, deployment.busy_port
)  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Containers published on loopback only, and a short wait for them to be up."""
    return Settings(data_dir=tmp_path / "data", builtin_catalog=False, git_timeout=20,
                    sync_interval=0, publish_address="127.0.0.1", install_wait_timeout=20,
                    install_stable_seconds=STABLE_SECONDS)  # fmt: skip


@dataclass
class Store:
    """A tomo with a catalog repo ('test') and one server ('box') added over the API."""

    web: Web
    repo: CatalogRepo
    images: TestImages

    def publish(self, app_id: str, **docker: Any) -> str:
        """An app on the web test image; returns its install form's address."""
        definition = {"image": self.images.web_v1, "ports": [{"container": 80, "host": free_port()}],
                      "volumes": [{"host_path": "./data", "container_path": "/data"}], **docker}  # fmt: skip
        self.repo.write(f"apps/tools/{app_id}.yaml",
                        yaml.safe_dump(app_definition(app_id, docker=definition)))  # fmt: skip
        self.repo.commit()
        synced = self.web.api.admin.post("/api/marketplace/repos/test/sync")
        assert synced.status_code == 200, synced.text
        return f"/apps/test/{app_id}/install"

    def remove_containers(self) -> None:
        """This test's containers only: other tests may be using the same Docker."""
        for installation in self.installations():
            label = f"label=tomo.installation={installation['id']}"
            found = subprocess.run(["docker", "ps", "-aq", "--filter", label],
                                   capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
            if found:
                subprocess.run(
                    ["docker", "rm", "-f", "-v", *found], capture_output=True, check=False
                )

    def installations(self) -> list[dict[str, Any]]:
        answer = self.web.api.admin.get("/api/installations")
        assert answer.status_code == 200, answer.text
        return list(answer.json())


@pytest.fixture
def store(
    web: Web, make_repo: Any, images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path
) -> Iterator[Store]:  # fmt: skip
    repo = make_repo()
    repo.write("README.md", "test catalog")
    repo.commit()
    added = web.api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "test"})
    assert added.status_code == 201, added.text
    server = {"name": "box", "host": "127.0.0.1", "port": sshd.port, "username": ssh_users.user,
              "private_key": ssh_users.key.read_text(), "fingerprint": sshd.fingerprint,
              "data_root": str(data_root)}  # fmt: skip
    made = web.api.admin.post("/api/servers", json=server)
    assert made.status_code == 201, made.text
    made_here = Store(web, repo, images)
    yield made_here
    made_here.remove_containers()


def field_error(answer: httpx.Response, name: str) -> str:
    """The error shown beside the input `name` ('' if none)."""
    start = answer.text.find(f'id="e-{name}"')
    if start < 0:
        return ""
    shown = answer.text[answer.text.index(">", start) + 1 :].split("</p>")[0]
    return html.unescape(re.sub(r"<span aria-hidden=\"true\">.*?</span>|<[^>]+>", "", shown))


def follow_job(page: Page, job_page: str) -> httpx.Response:
    """The job's page, read again (as its no-JavaScript refresh does) until the job ends."""
    deadline = time.monotonic() + JOB_SECONDS
    while True:
        answer = page.get(job_page)
        assert answer.status_code == 200, answer.text[:2000]
        if 'data-running="no"' in answer.text:
            return answer
        assert time.monotonic() < deadline, f"the job did not end in {JOB_SECONDS} s"
        time.sleep(0.5)


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if (
            tag == "input"
            and found.get("type") in ("text", "number", "hidden")
            and found.get("name")
        ):
            self.values[str(found["name"])] = found.get("value") or ""


def install_form_values(answer: httpx.Response) -> dict[str, str]:
    """The form's text, number and hidden inputs as the page fills them in (its own
    CSRF token too: sent back as a browser would, the Page adds none)."""
    inputs = _Inputs()
    inputs.feed(answer.text.split('<form method="post" action="/apps/', 1)[-1])
    return inputs.values


def test_the_form_asks_for_what_the_definition_declares(store: Store) -> None:
    form_url = store.publish("form-notes", environment=[
        {"name": "GREETING", "required": True, "description": "What the page says"},
        {"name": "TZ", "default": "UTC"},
        {"name": "DB_PASSWORD", "secret": True, "required": True},
        {"name": "API_KEY", "secret": True, "generate": "hex"},
    ], volumes=[{"host_path": "./data", "container_path": "/data"},
                {"container_path": "/config", "readonly": True}])  # fmt: skip
    page = store.web.admin()
    form = page.get(form_url)
    assert form.status_code == 200, form.text[:2000]
    text = text_of(form)
    assert "box" in text and "fits" in text  # the server, checked on the server itself
    assert "can take Form Notes" in text, text
    assert '<label for="f-env.GREETING">GREETING <span class="required"' in form.text
    assert "What the page says" in text
    assert 'name="env.TZ" type="text" value="UTC"' in form.text
    assert 'name="env.DB_PASSWORD" type="password" value=""' in form.text
    assert "tomo generates a hex" in text
    values = install_form_values(form)
    port = int(values["port.0"])
    assert values["name"] == "form-notes" and values["volume.0"] == "./data"
    assert '<label for="f-port.0">Host port for 80/tcp</label>' in form.text
    assert '<label for="f-volume.1">Host folder for /config</label>' in form.text
    assert "Read-only in the container" in text
    assert 'value="preview"' in form.text and 'value="install"' in form.text

    preview = page.post(form_url, {**values, "env.GREETING": "hi there", "env.DB_PASSWORD": "pw 1",
                                   "action": "preview"})  # fmt: skip
    assert preview.status_code == 200, text_of(preview)
    shown = text_of(preview)
    shell = html.unescape(preview.text.split('<pre class="command"><code>')[1].split("</code>")[0])
    command = shlex.split(shell.replace("\\\n", ""))  # a shell drops backslash-newline; shlex not
    asked = store.web.api.admin.post("/api/installations", params={"preview": "true"}, json={
        "server": "box", "app": "test/form-notes", "name": "form-notes", "ports": [
            {"host": port, "container": 80}], "env": {"GREETING": "hi there", "DB_PASSWORD": "x"}})  # fmt: skip
    assert command == asked.json()["argv"]  # the API's preview, to the letter
    assert ("--publish", f"127.0.0.1:{port}:80/tcp") in itertools.pairwise(command)
    assert "GREETING hi there" in html.unescape(shown) and "pw 1" not in preview.text
    assert "can take this container" in shown
    assert 'value="hi there"' in preview.text  # what was typed is kept
    assert store.installations() == []  # a preview changes nothing


def test_without_a_server_the_form_says_to_add_one_first(web: Web, make_repo: Any) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("lonely")
    repo.commit()
    web.api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "test"})
    assert web.api.admin.post("/api/marketplace/repos/test/sync").status_code == 200
    form = web.admin().get("/apps/test/lonely/install")
    assert form.status_code == 200
    assert "No server yet" in text_of(form) and 'href="/servers/add"' in form.text
    assert 'name="action"' not in form.text  # nothing to send until a server exists
    assert web.admin().get("/apps/test/nothing/install").status_code == 404


def test_a_viewer_is_refused_the_form_and_its_post(store: Store) -> None:
    form_url = store.publish("form-web")
    viewer = store.web.viewer()
    assert viewer.get(form_url).status_code == 403
    forged = viewer.post(form_url, {"server": "box", "action": "install", "name": "form-web"})
    assert forged.status_code == 403
    assert "this page is for admins" in text_of(forged)
    assert store.installations() == []


def test_a_required_value_left_empty_is_told_beside_it_and_the_rest_kept(store: Store) -> None:
    form_url = store.publish("form-web", environment=[
        {"name": "GREETING", "required": True}, {"name": "TZ", "default": "UTC"},
        {"name": "TOKEN", "secret": True},
    ])  # fmt: skip
    page = store.web.admin()
    values = install_form_values(page.get(form_url))
    chosen_port = free_port()
    sent = {**values, "env.GREETING": "", "env.TZ": "Europe/Paris", "env.TOKEN": "s3cret-value",
            "port.0": str(chosen_port), "name": "my-form-web", "action": "install"}  # fmt: skip
    refused = page.post(form_url, sent)
    assert refused.status_code == 422, text_of(refused)
    assert field_error(refused, "env.GREETING").endswith("required: give it a value")
    assert field_error(refused, "env.TZ") == ""
    kept = install_form_values(refused)
    assert (kept["env.TZ"], kept["port.0"], kept["name"]) == ("Europe/Paris", str(chosen_port),
                                                               "my-form-web")  # fmt: skip
    assert "s3cret-value" not in refused.text  # a secret is never sent back…
    assert "type it again" in text_of(refused)  # …and the page says so
    assert store.installations() == []


def test_a_risky_app_is_refused_until_its_flag_is_accepted(store: Store) -> None:
    socket = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
              "readonly": True}  # fmt: skip
    form_url = store.publish("form-watcher", volumes=[socket])
    page = store.web.admin()
    form = page.get(form_url)
    assert 'name="risk" value="docker-socket"' in form.text
    assert "I accept: Controls Docker on the server" in text_of(form)
    values = install_form_values(form)

    refused = page.post(form_url, {**values, "action": "install"})
    assert refused.status_code == 422
    assert "not accepted" in field_error(refused, "risk.docker-socket")
    assert store.installations() == []

    started = page.post(form_url, {**values, "risk": ["docker-socket"], "action": "install"})
    assert started.status_code == 303, text_of(started)
    done = follow_job(page, started.headers["location"])
    assert "Installed form-watcher" in text_of(done), text_of(done)


def test_an_install_through_the_form_is_followed_to_the_running_app(store: Store) -> None:
    form_url = store.publish("form-web", environment=[{"name": "GREETING", "required": True}])
    page = store.web.admin()
    values = install_form_values(page.get(form_url))
    port = free_port()
    started = page.post(form_url, {**values, "env.GREETING": "hello", "port.0": str(port),
                                   "action": "install"})  # fmt: skip
    assert started.status_code == 303, text_of(started)
    job_url = started.headers["location"]
    job_id = job_url.removeprefix("/jobs/")
    first = page.get(job_url)
    assert first.status_code == 200
    assert f'data-events="/api/jobs/{job_id}/events"' in first.text
    assert '<ol class="steps" id="job-steps"' in first.text
    refresh = '<noscript><meta http-equiv="refresh" content="3"></noscript>'
    if 'data-running="yes"' in first.text:  # without JavaScript, the page reloads itself
        assert refresh in first.text and "Reload now" in text_of(first)

    done = follow_job(page, job_url)
    text = text_of(done)
    assert "Installed form-web" in text, text
    assert refresh not in done.text
    for label in ("Check the settings", "Check the server", "Pull the image",
                  "Create the container", "Wait until it runs"):  # fmt: skip
        assert label in text
    assert re.findall(
        r'<li data-name="(\w+)" data-started="[^"]+" data-status="done"', done.text
    ) == ["validate", "preflight", "pull", "create", "wait"]
    assert f'href="http://127.0.0.1:{port}"' in done.text
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert "web v1" in response.read().decode()
    (installation,) = store.installations()
    assert f'href="/installed/{installation["id"]}"' in done.text
    assert 'href="/apps/test/form-web"' in done.text

    # What progress.js reads: the API's event stream, with the page's session cookie.
    events = page.get(f"/api/jobs/{job_id}/events")
    assert events.headers["content-type"].startswith("text/event-stream")
    assert "event: step" in events.text and "event: end" in events.text
    seen = store.web.viewer().get(job_url)  # viewers follow jobs too
    assert seen.status_code == 200 and "Installed form-web" in text_of(seen)


def test_a_port_already_in_use_is_told_beside_the_port(store: Store, busy_port: int) -> None:
    form_url = store.publish("form-web")
    page = store.web.admin()
    values = install_form_values(page.get(form_url))
    refused = page.post(form_url, {**values, "port.0": str(busy_port), "action": "install"})
    assert refused.status_code == 422, text_of(refused)
    assert field_error(refused, "port.0") == (
        f"host port {busy_port}/tcp is already in use on the server"
    )
    assert install_form_values(refused)["port.0"] == str(busy_port)
    assert store.installations() == []
    assert store.web.api.admin.get("/api/jobs").json() == []  # nothing was started


def test_a_failed_install_says_what_went_wrong_was_undone_and_what_next(store: Store) -> None:
    form_url = store.publish("form-broken", image=store.images.broken)
    page = store.web.admin()
    started = page.post(form_url, {**install_form_values(page.get(form_url)), "action": "install"})
    assert started.status_code == 303, text_of(started)
    done = follow_job(page, started.headers["location"])
    text = html.unescape(text_of(done))
    assert "Install of form-broken failed" in text
    assert "What went wrong" in text and "What was cleaned up" in text
    assert "the container exited with code 3" in text
    assert "removed container 'form-broken'" in text, text
    assert "did not stay up; its last output above says why" in text
    assert re.search(r'<li data-name="wait" data-started="[^"]+" data-status="failed"', done.text)
    job_id = started.headers["location"].removeprefix("/jobs/")
    assert f'href="/apps/test/form-broken/install?server=box&amp;job={job_id}"' in done.text
    assert store.installations() == []
    seen = store.web.viewer().get(started.headers["location"])
    assert "What went wrong" in text_of(seen)
    assert "Back to the install form" not in text_of(seen)  # no control a viewer may not use


def back_to_the_form(done: httpx.Response) -> str:
    """The failed job page's "Back to the install form" link."""
    found = re.search(r'href="([^"]+)">Back to the install form</a>', done.text)
    assert found, text_of(done)
    return html.unescape(found.group(1))


def offered(answer: httpx.Response, key: str) -> str:
    """The free value offered beside the input `key` ('' if none), as its button fills it."""
    found = re.search(rf'name="fill" value="{re.escape(key)}=([^"]*)"', answer.text)
    return html.unescape(found.group(1)) if found else ""


def test_back_to_the_form_after_a_failed_install_keeps_what_was_typed(store: Store) -> None:
    form_url = store.publish("form-broken", image=store.images.broken, environment=[
        {"name": "GREETING", "required": True}, {"name": "TZ", "default": "UTC"},
        {"name": "TOKEN", "secret": True, "required": True},
    ], volumes=[{"host_path": "./data", "container_path": "/data"}])  # fmt: skip
    page = store.web.admin()
    typed = {"name": "my-broken", "env.GREETING": "hello there", "env.TZ": "Asia/Tokyo",
             "env.TOKEN": "s3cret-typed", "port.0": str(free_port()), "volume.0": "./mine"}  # fmt: skip
    started = page.post(form_url, {**install_form_values(page.get(form_url)), **typed,
                                   "action": "install"})  # fmt: skip
    assert started.status_code == 303, text_of(started)
    done = follow_job(page, started.headers["location"])
    assert "Install of my-broken failed" in text_of(done)

    again = page.get(back_to_the_form(done))
    assert again.status_code == 200
    refilled = install_form_values(again)
    assert {key: refilled[key] for key in typed if key != "env.TOKEN"} == {
        key: value for key, value in typed.items() if key != "env.TOKEN"}  # fmt: skip
    assert "s3cret-typed" not in again.text and 'name="env.TOKEN" type="password" value=""' in (
        again.text
    )  # a secret is never kept: the page asks for it again, by name
    assert "Secrets are never kept: type it again (TOKEN)" in text_of(again)
    # Only for the job it came from, and only for the one who sent it.
    assert install_form_values(page.get(f"{form_url}?server=box&job=other"))["name"] == (
        "form-broken"
    )
    other_admin = store.web.admin()  # another browser: it never held the form
    assert install_form_values(other_admin.get(back_to_the_form(done)))["name"] == "form-broken"


def test_a_port_in_use_comes_with_a_free_one_filled_in_by_one_click(
    store: Store, busy_port: int
) -> None:
    form_url = store.publish("form-web", ports=[{"container": 80, "host": busy_port}])
    page = store.web.admin()
    form = page.get(form_url)
    assert f"host port {busy_port}/tcp is already in use on the server" in text_of(form)
    free = offered(form, "port.0")  # said before anything is typed: the form's own default
    assert free and int(free) != busy_port
    assert f"Use {free}" in text_of(form) and f"{free} is free on box." in text_of(form)

    filled = page.post(form_url, {**install_form_values(form), "fill": f"port.0={free}"})
    assert filled.status_code == 200, text_of(filled)
    assert install_form_values(filled)["port.0"] == free
    assert "can take this container" in text_of(filled)  # previewed with it, on the server
    assert offered(filled, "port.0") == ""
    assert store.installations() == []

    started = page.post(form_url, {**install_form_values(filled), "action": "install"})
    assert started.status_code == 303, text_of(started)
    assert "Installed form-web" in text_of(follow_job(page, started.headers["location"]))


def test_a_name_and_a_port_another_installation_has_come_with_free_ones(store: Store) -> None:
    form_url = store.publish("form-web")
    page = store.web.admin()
    values = install_form_values(page.get(form_url))
    first = page.post(form_url, {**values, "action": "install"})
    assert "Installed form-web" in text_of(follow_job(page, first.headers["location"]))

    refused = page.post(form_url, {**values, "action": "install"})  # the same again
    assert refused.status_code == 422, text_of(refused)
    assert field_error(refused, "name") == (
        "an installation named 'form-web' already exists on this server"
    )
    assert field_error(refused, "port.0") == (
        f"host port {values['port.0']}/tcp is claimed by another installation"
    )
    assert offered(refused, "name") == "form-web-2"
    free_port_offered = offered(refused, "port.0")
    assert free_port_offered not in ("", values["port.0"])
    # What the API says of the same request: the free values beside their fields.
    asked = store.web.api.admin.post("/api/installations", params={"preview": "true"}, json={
        "server": "box", "app": "test/form-web", "ports": [
            {"host": int(values["port.0"]), "container": 80}]})  # fmt: skip
    assert {(p["fields"][0], p["suggestion"]) for p in asked.json()["problems"]} == {
        ("name", "form-web-2"), ("ports[0]", free_port_offered)}  # fmt: skip
    taken = store.web.api.admin.post("/api/installations", json={
        "server": "box", "app": "test/form-web", "name": "form-web"})  # fmt: skip
    assert taken.status_code == 422
    assert taken.json()["errors"] == [{
        "field": "name", "message": "an installation named 'form-web' already exists on this "
        "server", "hint": "choose --name", "suggestion": "form-web-2"}]  # fmt: skip

    renamed = page.post(form_url, {**install_form_values(refused), "fill": "name=form-web-2"})
    assert install_form_values(renamed)["name"] == "form-web-2"
    assert offered(renamed, "port.0") == free_port_offered  # the port still is taken
    assert len(store.installations()) == 1


def test_a_preview_needs_no_risk_accepted_and_names_those_to_accept(store: Store) -> None:
    socket = {"host_path": "/var/run/docker.sock", "container_path": "/var/run/docker.sock",
              "readonly": True}  # fmt: skip
    form_url = store.publish("form-watcher", volumes=[socket])
    page = store.web.admin()
    values = install_form_values(page.get(form_url))
    preview = page.post(form_url, {**values, "action": "preview"})  # nothing ticked
    assert preview.status_code == 200, text_of(preview)
    shown = text_of(preview)
    assert "Installing it needs your consent to this risk: Controls Docker on the server" in shown
    assert 'href="#f-risk.docker-socket"' in preview.text
    assert "Container form-watcher from" in shown
    assert f"port {values['port.0']} on box leads to 80/tcp in the container" in shown
    assert "folder /var/run/docker.sock at /var/run/docker.sock (read-only)" in shown
    assert "not accepted" not in shown and 'id="e-risk.docker-socket"' not in preview.text
    assert store.installations() == []

    ticked = page.post(form_url, {**values, "risk": ["docker-socket"], "action": "preview"})
    assert "Every risk flag it carries is accepted: docker-socket" in text_of(ticked)
    assert 'id="risks-to-accept"' not in ticked.text


def test_generated_secrets_are_shown_once_when_the_install_succeeded(store: Store) -> None:
    generated = [{"name": "API_KEY", "secret": True, "generate": "hex"}]
    form_url = store.publish("form-keys", environment=generated)
    page = store.web.admin()
    started = page.post(form_url, {**install_form_values(page.get(form_url)), "action": "install"})
    assert started.status_code == 303, text_of(started)
    job_url = started.headers["location"]
    done = follow_job(page, job_url)
    assert "Installed form-keys" in text_of(done)
    key = container_env("form-keys", "API_KEY")
    assert len(key) == 32
    assert "Values tomo generated" in text_of(done)
    assert f'<code class="secret-value">{key}</code>' in done.text
    assert key not in page.get(job_url).text  # once
    assert key not in store.web.viewer().get(job_url).text

    failing = store.publish("form-keys-broken", image=store.images.broken, environment=generated)
    started = page.post(failing, {**install_form_values(page.get(failing)), "action": "install"})
    assert "tomo_generated" in page.cookies  # sealed, for the job's page only
    assert "API_KEY" not in page.cookies["tomo_generated"]
    failed = follow_job(page, started.headers["location"])
    assert "Install of form-keys-broken failed" in text_of(failed)
    assert "Values tomo generated" not in text_of(failed)
    assert "tomo_generated" not in page.cookies  # dropped unseen


def set_domain(store: Store, domain: str) -> None:
    """The server's base domain (its front door not made: no app is routed there)."""
    saved = store.web.api.admin.put("/api/servers/box/domain", json={"domain": domain,
                                                                     "tls": "internal"})  # fmt: skip
    assert saved.status_code == 200, saved.text


def test_a_preview_shows_the_names_who_gets_through_and_the_shared_network(
    store: Store, settings: Settings
) -> None:
    settings.public_url = "https://tomo.home.example"  # where a login sends people
    set_domain(store, "home.example")
    form_url = store.publish("form-named")
    page = store.web.admin()
    form = page.get(form_url)
    text = html.unescape(text_of(form))
    assert '<label for="f-hostnames">Names over HTTPS</label>' in form.text
    assert "a word is named under home.example (photos is photos.home.example)" in text
    assert "Empty: no name: it is reached on its ports." in text
    assert '<option value="" selected>As the app asks: none</option>' in form.text

    values = install_form_values(form)
    unnamed = html.unescape(text_of(page.post(form_url, {**values, "action": "preview"})))
    assert ("Network tomo-isolated if the server lacks it: shared by the apps without a "
            "network of their own, where no container reaches another") in unnamed  # fmt: skip
    assert "--network tomo-isolated" in unnamed and "Name " not in unnamed

    typed = {**values, "hostnames": "photos, www.example.test", "login": "admins"}
    preview = page.post(form_url, {**typed, "action": "preview"})
    assert preview.status_code == 200, text_of(preview)
    shown = html.unescape(text_of(preview))
    door = "routed by the server's front door; only tomo's admins get through"
    assert f"Name photos.home.example {door}" in shown, shown
    assert f"Name www.example.test {door}" in shown
    # Named, it has a network of its own, which the front door joins to reach it.
    assert "Network tomo-form-named" in shown and "tomo-isolated" not in shown
    assert "docker network create tomo-form-named" in shown
    assert "can take this container" in shown, shown
    assert 'value="photos, www.example.test"' in preview.text  # what was typed is kept
    assert '<option value="admins" selected>' in preview.text
    asked = store.web.api.admin.post("/api/installations", params={"preview": "true"}, json={
        "server": "box", "app": "test/form-named", "ports": [{"host": values["port.0"],
        "container": 80}], "hostnames": ["photos", "www.example.test"], "login": "admins"})  # fmt: skip
    assert asked.status_code == 200, asked.text
    found = asked.json()
    assert found["hostnames"] == ["photos.home.example", "www.example.test"]
    assert (found["login"], found["isolated_network"]) == ("admins", None)
    assert store.installations() == []  # a preview changes nothing


def test_a_name_or_a_login_the_server_cannot_route_is_told_beside_its_input(
    store: Store,
) -> None:
    set_domain(store, "home.example")
    form_url = store.publish("form-door")
    page = store.web.admin()
    values = install_form_values(page.get(form_url))

    unnamed = page.post(form_url, {**values, "login": "users", "action": "install"})
    assert unnamed.status_code == 422, text_of(unnamed)
    assert "guards its names, and it is given none" in field_error(unnamed, "login")
    assert '<option value="users" selected>' in unnamed.text

    no_address = page.post(form_url, {**values, "hostnames": "photos", "login": "admins",
                                      "action": "install"})  # fmt: skip
    assert no_address.status_code == 422, text_of(no_address)
    assert "needs tomo's address: set TOMO_PUBLIC_URL" in field_error(no_address, "login")

    bad = page.post(form_url, {**values, "hostnames": "photos bad_name!", "action": "install"})
    assert bad.status_code == 422, text_of(bad)
    assert "bad_name!" in field_error(bad, "hostnames"), text_of(bad)
    assert 'href="#f-hostnames"' in bad.text  # the list atop the form leads to it
    assert store.installations() == []
