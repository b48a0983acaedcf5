"""The backup repositories on the Backups page, as a browser without JavaScript uses
them: listed to everyone; added (a real `restic init` in a folder of the test's
own), made the default and removed after asking by an admin; an add that fails
keeps what was typed but never the S3 secret; a repository still used is not
removed, and the page says why."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import httpx
import pytest

from tests.backups.conftest import restic_binary
from tests.deployment.test_outdated import installed
from tests.web.conftest import Web
from tests.web.conftest import text_of as tagged_text_of
from tests.web.test_every_form import posted_forms
from tomo.auth.service import csrf_token_for
from tomo.backups.schemas import BackupSettings, RepositoryCreate, RepositoryPublic
from tomo.http.security import SESSION_COOKIE
from tomo.runtime import Runtime

__all__ = ["restic_binary"]
ADD = "/backups/repositories/add"
SECRET = "s3cret-never-shown-9f27"
SECTION = re.compile(r'<section class="section repositories-section".*?</section>', re.S)


@pytest.fixture(autouse=True)
def _restic(restic_binary: str) -> None:
    """Adding a repository runs restic (skipped where it is not installed)."""


def text_of(answer: httpx.Response) -> str:
    """The page's text as read (`tomo's`, not `tomo&#39;s`)."""
    return html.unescape(tagged_text_of(answer))


def repositories(web: Web) -> dict[str, RepositoryPublic]:
    async def work(runtime: Runtime) -> list[RepositoryPublic]:
        return await runtime.backups.list_repositories()

    return {found.name: found for found in web.api.run(work)}


def add(web: Web, name: str, folder: Path) -> None:
    async def work(runtime: Runtime) -> None:
        await runtime.backups.add_repository(RepositoryCreate(name=name, path=str(folder)))

    web.api.run(work)


def section(answer: httpx.Response) -> str:
    found = SECTION.search(answer.text)
    assert found, text_of(answer)[:3000]
    return found[0]


def field_error(answer: httpx.Response, name: str) -> str:
    """The error beside the field `name`, which the field names as its description."""
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', answer.text, re.S)
    assert found, text_of(answer)[:3000]
    described = re.search(rf'id="f-{name}"[^>]*aria-describedby="([^"]*)"', answer.text)
    assert described and f"e-{name}" in described[1].split(), f"f-{name} is not tied to its error"
    return html.unescape(tagged_text_of(httpx.Response(200, text=found[1])))


def test_a_viewer_sees_the_repositories_and_no_form(web: Web, tmp_path: Path) -> None:
    add(web, "usb", tmp_path / "usb")
    viewer = web.viewer()

    listed = section(viewer.get("/backups"))
    said = text_of(httpx.Response(200, text=listed))
    assert "usb folder on tomo's host" in said and str(tmp_path / "usb") in said
    assert "<form" not in listed and "Add a repository" not in said and "Remove" not in said
    assert viewer.get(ADD).status_code == 403
    assert viewer.get("/backups/repositories/usb/remove").status_code == 403
    for url in (ADD, "/backups/repositories/usb/default", "/backups/repositories/usb/remove"):
        assert viewer.post(url, {"name": "x", "kind": "local", "path": "/x"}).status_code == 403
    assert list(repositories(web)) == ["usb"] and not repositories(web)["usb"].default


def test_an_admin_adds_a_folder_makes_it_the_default_and_removes_another(
    web: Web, tmp_path: Path
) -> None:
    admin = web.admin()
    form = admin.get(ADD)
    assert (
        form.status_code == 200 and 'id="kind-local" name="kind" value="local" checked' in form.text
    )
    empty = text_of(admin.get("/backups"))
    assert "Until another is made the default, backups go into default" in empty

    made = admin.post(ADD, {"name": "usb", "kind": "local", "path": str(tmp_path / "usb")})
    assert made.status_code == 303 and made.headers["location"] == "/backups"
    listed = admin.follow(made)
    assert f"Backup repository usb is made ({tmp_path / 'usb'})." in text_of(listed)
    assert (tmp_path / "usb" / "config").is_file()  # restic made it there
    row = re.search(r"<tr>\s*<td><strong>usb</strong>.*?</tr>", section(listed), re.S)
    assert row, section(listed)
    assert "Make default" in row[0] and 'href="/backups/repositories/usb/remove"' in row[0]
    token = csrf_token_for(admin.cookies[SESSION_COOKIE])
    assert ("/backups/repositories/usb/default", token) in posted_forms(listed.text)
    assert f"usb folder on tomo's host {tmp_path / 'usb'} no 0 Make default" in text_of(
        httpx.Response(200, text=row[0])
    )  # not the default, no backup in it

    admin.post(ADD, {"name": "spare", "kind": "local", "path": str(tmp_path / "spare")})
    default = admin.post("/backups/repositories/usb/default")
    assert default.status_code == 303
    assert "Backup repository usb is the default" in text_of(admin.follow(default))
    assert repositories(web)["usb"].default and not repositories(web)["spare"].default

    confirm = admin.get("/backups/repositories/spare/remove")
    assert confirm.status_code == 200
    assert f"What it holds stays where it is, at {tmp_path / 'spare'}" in text_of(confirm)
    gone = admin.follow(admin.post("/backups/repositories/spare/remove"))
    assert "Backup repository spare is removed from tomo" in text_of(gone)
    assert list(repositories(web)) == ["usb"]
    assert (tmp_path / "spare" / "config").is_file()  # its data stays
    missing = admin.get("/backups/repositories/spare/remove")
    assert missing.status_code == 404 and "the Backups page lists them" in text_of(missing)


def test_an_add_that_fails_keeps_what_was_typed_but_never_the_secret(
    web: Web, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    admin = web.admin()

    failed = admin.post(ADD, {"name": "usb", "kind": "local", "path": str(blocker / "repo"),
                              "secret_access_key": SECRET})  # fmt: skip
    assert failed.status_code >= 400, text_of(failed)[:2000]
    said = text_of(failed)
    assert "not a directory" in said  # restic's own words
    assert re.search(r'id="f-name"[^>]*value="usb"', failed.text)
    assert f'value="{blocker / "repo"}"' in failed.text
    assert SECRET not in failed.text

    s3 = admin.post(ADD, {"name": "cloud", "kind": "s3", "url": "http://127.0.0.1:9/bucket/tomo",
                          "access_key_id": "", "secret_access_key": SECRET})  # fmt: skip
    assert s3.status_code == 422
    assert "An S3 repository needs an access key id" in field_error(s3, "access_key_id")
    assert 'id="kind-s3" name="kind" value="s3" checked' in s3.text
    assert 'value="http://127.0.0.1:9/bucket/tomo"' in s3.text
    assert SECRET not in s3.text and "enter the secret access key again" in text_of(s3)
    assert re.search(r'id="f-secret_access_key" name="secret_access_key" type="password" '
                     r'value=""', s3.text)  # fmt: skip

    bad_name = admin.post(ADD, {"name": "No Good", "kind": "local", "path": "/x"})
    assert "is not a repository name" in field_error(bad_name, "name")
    no_server = admin.post(ADD, {"name": "far", "kind": "sftp", "server_path": "/srv/b"})
    assert "Choose the server that holds the folder" in field_error(no_server, "server")
    assert repositories(web) == {}  # none was listed
    assert SECRET not in caplog.text


def test_a_repository_still_used_is_not_removed_and_the_page_says_why(
    web: Web, tmp_path: Path
) -> None:
    add(web, "usb", tmp_path / "usb")
    add(web, "nas", tmp_path / "nas")

    async def used(runtime: Runtime) -> None:
        await runtime.backups.make_default_repository("usb")
        await installed(runtime, "home", "notes", "notes")
        await runtime.backups.set_settings("i-notes", BackupSettings(repository="nas"))

    web.api.run(used)
    admin = web.admin()

    confirm = text_of(admin.get("/backups/repositories/usb/remove"))
    assert "this one is the default (make another one the default first)" in confirm
    refused = admin.post("/backups/repositories/usb/remove")
    assert refused.status_code == 303 and refused.headers["location"] == "/backups"
    said = text_of(admin.follow(refused))
    assert "backup repository 'usb' is still used: it is the default" in said

    refused = admin.follow(admin.post("/backups/repositories/nas/remove"))
    assert "backup repository 'nas' is still used: notes back up into it." in text_of(refused)
    assert sorted(repositories(web)) == ["nas", "usb"]
    for url in ("/backups/repositories/gone/default", "/backups/repositories/gone/remove"):
        missing = admin.post(url)
        assert missing.status_code == 404 and "the Backups page lists them" in text_of(missing)
