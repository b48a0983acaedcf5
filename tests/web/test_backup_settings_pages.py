"""An installation's backup settings on the pages, as a browser without JavaScript
uses them: said in words in its Backups section (to viewers too), set by an admin
on a page of their own, read back from the service; a bad time refused beside its
field with what was typed kept and nothing saved. The installation is recorded as
an install leaves it (no server is reached: settings need none); a repository to
choose is a real restic repository in a folder of the test's own."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest

from tests.backups.conftest import restic_binary
from tests.deployment.test_outdated import installed
from tests.web.conftest import Page, Web
from tests.web.conftest import text_of as tagged_text_of
from tomo.backups.schemas import BackupSettings, RepositoryCreate
from tomo.runtime import Runtime

__all__ = ["restic_binary"]
SECTION = re.compile(r'<section class="section backups-section".*?</section>', re.S)
FORM = "/installed/i-notes/backup-settings"
EVERY_BOX_EMPTY = {"keep_last": "", "keep_daily": "", "keep_weekly": "", "keep_monthly": ""}


@pytest.fixture
def notes(web: Web) -> str:
    """An installation `notes` (i-notes), with the settings a new one has."""

    async def work(runtime: Runtime) -> str:
        return await installed(runtime, "home", "notes", "notes")

    return web.api.run(work)


def section(page: Page) -> str:
    """The Backups section of notes' page, as read."""
    found = SECTION.search(page.get("/installed/i-notes").text)
    assert found, "no Backups section"
    return text_of(httpx.Response(200, text=found[0]))


def text_of(answer: httpx.Response) -> str:
    """The page's text as read (`tomo's`, not `tomo&#39;s`)."""
    return html.unescape(tagged_text_of(answer))


def settings(web: Web) -> BackupSettings:
    async def work(runtime: Runtime) -> BackupSettings:
        return await runtime.backups.get_settings("i-notes")

    return web.api.run(work)


def field_error(answer: httpx.Response, name: str) -> str:
    """The error beside the field `name`, which the field names as its description."""
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', answer.text, re.S)
    assert found, text_of(answer)[:3000]
    described = re.search(rf'id="f-{name}"[^>]*aria-describedby="([^"]*)"', answer.text)
    assert described and f"e-{name}" in described[1].split(), f"f-{name} is not tied to its error"
    return text_of(httpx.Response(200, text=found[1]))


def test_a_viewer_reads_the_settings_in_words_and_is_refused_the_form(web: Web, notes: str) -> None:
    viewer = web.viewer()

    said = section(viewer)
    assert "Schedule Only when asked (no schedule)" in said
    assert "Keeps Every backup" in said
    assert "Before each update Backed up first" in said
    assert "Goes into The default repository (default)" in said
    assert "Change the backup settings" not in said
    assert viewer.get(FORM).status_code == 403
    assert viewer.post(FORM, {"every": "hourly"}).status_code == 403
    assert settings(web) == BackupSettings()  # nothing changed

    admin = section(web.admin())
    assert "Change the backup settings of notes" in admin


def test_an_admin_saves_the_settings_and_the_service_reads_them_back(web: Web, notes: str) -> None:
    admin = web.admin()
    form = admin.get(FORM)
    assert form.status_code == 200
    assert '<option value="none" selected>Only when asked</option>' in form.text
    assert 'name="before_update" value="yes" checked' in form.text
    assert "keeps the last 3 backups and the newest of each of the last 7 days, 4 weeks and " \
        "6 months" in text_of(form)  # fmt: skip

    saved = admin.post(FORM, {"every": "weekly", "day": "sat", "time": "3:30", "keep_daily": "5",
                              **{"keep_last": "", "repository": ""}})  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/installed/i-notes"
    shown = admin.follow(saved)
    assert "Backup settings of notes saved: every Saturday at 03:30 (tomo's local time)." \
        in text_of(shown)  # fmt: skip
    assert settings(web) == BackupSettings(schedule="weekly sat 03:30", keep_daily=5,
                                           before_update=False)  # fmt: skip
    said = section(admin)
    assert "Schedule Every Saturday at 03:30 (tomo's local time)" in said
    assert "Keeps The newest of each of the last 5 days" in said
    assert "Before each update Not backed up first" in said

    again = admin.get(FORM)  # the form shows what is kept
    assert '<option value="weekly" selected>' in again.text
    assert '<option value="sat" selected>' in again.text and 'value="03:30"' in again.text
    assert 'name="before_update" value="yes" aria' in again.text  # not checked


def test_a_schedule_with_no_rule_keeps_the_default_retention(web: Web, notes: str) -> None:
    admin = web.admin()
    saved = admin.post(FORM, {"every": "daily", "day": "mon", "time": "02:00",
                              "before_update": "yes", **EVERY_BOX_EMPTY})  # fmt: skip
    assert saved.status_code == 303

    kept = settings(web)
    assert kept.schedule == "daily 02:00" and kept.before_update is True
    assert kept.keep_rules() == {"last": 3, "daily": 7, "weekly": 4, "monthly": 6}
    assert "Keeps The last 3 backups and the newest of each of the last 7 days, 4 weeks and " \
        "6 months" in section(admin)  # fmt: skip

    hourly = admin.post(FORM, {"every": "hourly", "time": "", **EVERY_BOX_EMPTY})
    assert hourly.status_code == 303 and settings(web).schedule == "hourly"
    assert "Schedule Every hour, on the hour" in section(admin)


def test_a_bad_time_is_refused_beside_its_field_and_nothing_is_saved(web: Web, notes: str) -> None:
    admin = web.admin()

    refused = admin.post(FORM, {"every": "daily", "day": "mon", "time": "25:00",
                                "keep_last": "4", "before_update": "yes"})  # fmt: skip
    assert refused.status_code == 422
    assert "25:00 is not a time of day (00:00 to 23:59)" in field_error(refused, "time")
    assert 'value="25:00"' in refused.text and '<option value="daily" selected>' in refused.text
    assert re.search(r'id="f-keep_last"[^>]*value="4"', refused.text)  # what was typed stays
    assert settings(web) == BackupSettings()

    no_time = admin.post(FORM, {"every": "weekly", "day": "sun", "time": ""})
    assert no_time.status_code == 422
    assert "A weekly backup needs a time of day" in field_error(no_time, "time")

    zero = admin.post(FORM, {"every": "hourly", "keep_last": "0", "keep_weekly": "two"})
    assert zero.status_code == 422
    assert "'0' is not a number of at least 1" in field_error(zero, "keep_last")
    assert "'two' is not a number of at least 1" in field_error(zero, "keep_weekly")

    unknown = admin.post(FORM, {"every": "hourly", "repository": "nowhere"})
    assert unknown.status_code == 422
    assert "There is no backup repository 'nowhere'" in field_error(unknown, "repository")
    assert settings(web) == BackupSettings()


def test_the_repository_is_chosen_among_those_tomo_has(
    web: Web, notes: str, tmp_path: Path, restic_binary: str
) -> None:
    async def add(runtime: Runtime) -> None:
        await runtime.backups.add_repository(
            RepositoryCreate(name="usb", path=str(tmp_path / "usb"))
        )

    web.api.run(add)
    admin = web.admin()
    form = admin.get(FORM)
    assert '<option value="" selected>The default (default)</option>' in form.text
    assert f'<option value="usb">usb — {tmp_path / "usb"}</option>' in form.text

    saved = admin.post(FORM, {"every": "none", "repository": "usb", "before_update": "yes"})
    assert saved.status_code == 303
    assert settings(web).repository == "usb"
    assert "Goes into The repository usb" in section(admin)
    assert '<option value="usb" selected>' in admin.get(FORM).text
