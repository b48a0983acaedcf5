"""Backups on the pages, as a browser without JavaScript uses them, against the real
sshd + Docker test server and a real restic repository: an app installed and backed
up through the service, then listed, backed up again, restored and forgotten through
the pages' forms; a viewer reads the list and is refused every change."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backups.conftest import restic_binary
from tests.deployment import conftest as deployment
from tests.deployment.conftest import STABLE_SECONDS, carried_out
from tests.registry import TestImages
from tests.web import test_install_pages as install_pages
from tests.web.conftest import Page, text_of
from tests.web.test_install_pages import Store, follow_job
from tomo.config import Settings
from tomo.deployment.spec import InstallConfig
from tomo.monitor.stats import human_bytes
from tomo.runtime import Runtime

# The install pages' fixtures: the registry of test images, the server's data root,
# a tomo with a catalog and the test server added over the API.
registry, images, data_root, store = (
    deployment.registry, deployment.images, deployment.data_root, install_pages.store
)  # fmt: skip
__all__ = ["restic_binary"]
KEPT = "what the backup holds\n"


@pytest.fixture
def settings(tmp_path: Path, images: TestImages, restic_binary: str) -> Settings:
    """As the install pages' (loopback, a short wait), with the test images' restore
    helper (busybox cannot be pulled here)."""
    return Settings(data_dir=tmp_path / "data", builtin_catalog=False, git_timeout=20,
                    sync_interval=0, publish_address="127.0.0.1", install_wait_timeout=20,
                    install_stable_seconds=STABLE_SECONDS, helper_image=images.helper)  # fmt: skip


def backed_up(store: Store, data_root: Path, name: str) -> str:
    """The web app installed as `name`, a file in its /data, backed up once through
    the service; the installation's id."""
    store.publish(name)

    async def work(runtime: Runtime) -> str:
        service = runtime.deployment
        started = await service.install_app("box", f"test/{name}", InstallConfig(name=name))
        view = await service.run_job(started.job_id)
        assert view.status == "done", view.error
        (data_root / name / "data" / "note.txt").write_text(KEPT)
        await carried_out(runtime.backups.prepare_backup(name))
        return started.installation.id

    return store.web.api.run(work)


def backups(store: Store) -> list[dict[str, Any]]:
    answer = store.web.api.admin.get("/api/backups")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


def job_done(page: Page, answer: httpx.Response, store: Store) -> None:
    """A form that started a job leads to the job's page, and the job ends well."""
    assert answer.status_code == 303, text_of(answer)[:1000]
    location = answer.headers["location"]
    assert re.fullmatch(r"/jobs/[\w-]+", location), location
    follow_job(page, location)
    job = store.web.api.admin.get(f"/api/{location.lstrip('/')}").json()
    assert job["status"] == "done", job


def test_a_backup_is_listed_made_restored_and_forgotten_from_the_pages(
    store: Store, data_root: Path
) -> None:
    installation = backed_up(store, data_root, "keeper")
    (first,) = backups(store)
    page = store.web.admin()

    listed = text_of(page.get("/backups"))
    assert "keeper" in listed and "box" in listed and "by hand" in listed
    assert human_bytes(first["bytes_read"]) in listed
    assert human_bytes(first["bytes_added"]) in listed
    assert f"{first['downtime_seconds']:.1f} s" in listed

    shown = page.get(f"/installed/{installation}")
    section = re.search(r'<section class="section backups-section".*?</section>', shown.text, re.S)
    assert section and "Back up now" in section[0]
    assert f'href="/backups/{first["id"]}/restore"' in section[0]
    job_done(page, page.post(f"/installed/{installation}/backups"), store)
    assert len(backups(store)) == 2

    note = data_root / "keeper" / "data" / "note.txt"
    note.unlink()
    confirm = page.get(f"/backups/{first['id']}/restore")
    assert confirm.status_code == 200
    said = text_of(confirm)
    assert "The data keeper has now is lost" in said and "keeper is stopped" in said
    assert re.search(r"What is put back .*? /data [\d.]+ \w?i?B", said), said
    assert 'name="only" value="app:/data" checked' in confirm.text
    nothing = page.post(f"/backups/{first['id']}/restore")  # every box unticked
    assert "choose at least one folder" in text_of(page.follow(nothing))
    assert not note.exists()
    job_done(page, page.post(f"/backups/{first['id']}/restore", {"only": ["app:/data"]}), store)
    assert note.read_text() == KEPT

    assert "This cannot be undone" in text_of(page.get(f"/backups/{first['id']}/forget"))
    gone = page.follow(page.post(f"/backups/{first['id']}/forget"))
    assert "The backup of keeper made" in text_of(gone) and "is forgotten" in text_of(gone)
    left = [backup["id"] for backup in backups(store)]
    assert len(left) == 1 and first["id"] not in left
    assert f"/backups/{first['id']}/" not in gone.text


def test_a_viewer_reads_the_backups_and_is_refused_every_change(
    store: Store, data_root: Path
) -> None:
    installation = backed_up(store, data_root, "kept")
    (only,) = backups(store)
    viewer = store.web.viewer()

    listed = viewer.get("/backups")
    assert listed.status_code == 200 and "kept" in text_of(listed)
    assert "Restore" not in text_of(listed) and "Forget" not in text_of(listed)
    shown = viewer.get(f"/installed/{installation}")
    assert "Back up now" not in text_of(shown) and "All its backups" in text_of(shown)
    for url in (f"/installed/{installation}/backups", f"/backups/{only['id']}/restore",
                f"/backups/{only['id']}/forget"):  # fmt: skip
        assert viewer.post(url).status_code == 403, url
    assert viewer.get(f"/backups/{only['id']}/restore").status_code == 403
    assert [b["id"] for b in backups(store)] == [only["id"]]  # nothing happened

    missing = store.web.admin().get("/backups/no-such-backup/restore")
    assert missing.status_code == 404
    assert "no backup 'no-such-backup'" in html.unescape(text_of(missing))
