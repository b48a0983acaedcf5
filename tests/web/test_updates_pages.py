"""Updates the catalog offers, on the pages: a badge on the installation (tile, table,
its page), a count beside "Installed" in the navigation, and the update page
saying what changes before anything runs. A real catalog synced through the API;
the installations recorded as installs leave them, on a server nothing answers
on (the pages show its status as unknown: what the catalog offers needs no server)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from tests.deployment.test_outdated import installed
from tests.gitrepo import CatalogRepo
from tests.services import free_port
from tests.web.conftest import Web, text_of
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime
from tomo.servers.models import Server

NEWER = {
    "image": "example/notes:2.0.0",
    "ports": [{"container": 80, "host": 8080}, {"container": 443, "host": 8443}],
    "volumes": [{"host_path": "./config", "container_path": "/config"}],
    "environment": [{"name": "TZ", "default": "UTC"}, {"name": "ADMIN_EMAIL", "required": True}],
}


def catalog(web: Web, repo: CatalogRepo) -> None:
    """`home` subscribed and synced, notes and pics installed from it on NAS."""

    async def subscribe(runtime: Runtime) -> None:
        await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="Home", id="home"))
        await runtime.marketplace.sync_repo("home")
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id="nas", name="NAS", host="127.0.0.1", port=free_port(),
                               username="tomo", auth_type="key", private_key_enc="sealed",
                               data_root="/srv/apps", use_sudo=False, status="online",
                               created_at=datetime.now(UTC)))  # fmt: skip
        await installed(runtime, "home", "notes", "notes")
        await installed(runtime, "home", "photos", "pics")

    web.api.run(subscribe)


def nav_count(answer: httpx.Response) -> str | None:
    """The figure beside "Installed" in the navigation, as read aloud."""
    found = re.search(r'<a href="/installed"[^>]*>Installed(.*?)</a>', answer.text, re.S)
    assert found, answer.text[:2000]
    return text_of(httpx.Response(200, text=found.group(1))) or None


def test_an_offered_update_shows_on_every_page_that_names_the_installation(
    web: Web, make_repo
) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    catalog(web, repo)
    admin, viewer = web.admin(), web.viewer()
    listed = admin.get("/installed")
    assert "Update available" not in listed.text and nav_count(listed) is None

    repo.add_app("notes", version="2.0.0", docker=NEWER,
                 release_notes="Sharing with **links**.\n\n- Faster search")  # fmt: skip
    repo.commit()
    assert web.api.admin.post("/api/marketplace/repos/home/sync").status_code == 200

    listed = admin.get("/installed")
    assert nav_count(listed) == "1 update available"
    assert text_of(listed).count("Update available: 2.0.0") == 1
    assert 'href="/installed/i-notes/update">Update available: 2.0.0' in listed.text
    assert "Update available: 2.0.0" in text_of(admin.get("/installed?view=table"))
    assert nav_count(admin.get("/store")) == "1 update available"  # every page's navigation
    assert nav_count(viewer.get("/installed")) == "1 update available"

    shown = admin.get("/installed/i-notes")
    lead = re.search(r'<p class="lead">(.*?)</p>', shown.text, re.S)
    assert lead and "Update available: 2.0.0" in text_of(httpx.Response(200, text=lead[1]))
    assert "The catalog offers 2.0.0" in text_of(shown)
    assert 'href="/installed/i-notes/update">see what the update changes' in shown.text
    assert "Update available" not in text_of(admin.get("/installed/i-pics"))


def test_the_update_page_says_what_changes_before_anything_runs(web: Web, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    catalog(web, repo)
    repo.add_app("notes", version="2.0.0", docker=NEWER,
                 release_notes="Sharing with **links**.\n\n- Faster search")  # fmt: skip
    repo.commit()
    assert web.api.admin.post("/api/marketplace/repos/home/sync").status_code == 200

    form = web.admin().get("/installed/i-notes/update")
    assert form.status_code == 200
    notes = re.search(r'<details class="release-notes" open>(.*?)</details>', form.text, re.S)
    assert notes and "<strong>links</strong>" in notes[1] and "<li>Faster search</li>" in notes[1]
    changes = re.search(r'<section class="card update-changes".*?</section>', form.text, re.S)
    assert changes
    said = text_of(httpx.Response(200, text=changes[0]))
    assert "Image example/notes:1.0.0 → becomes example/notes:2.0.0" in said  # (→ not read)
    assert "Published ports new 443/tcp" in said
    assert "Volumes new /config no longer /data" in said
    assert "Settings newly required ADMIN_EMAIL needs a value below" in said
    assert "Settings removed" not in said
    # Nothing ran: the installation is as it was.
    one = web.api.admin.get("/api/installations/i-notes").json()
    assert (one["version"], one["image"]) == ("1.0.0", "example/notes:1.0.0")

    same = text_of(web.admin().get("/installed/i-pics/update"))
    assert "The catalog's definition runs the same images, ports, volumes and settings" in same


def test_the_update_policy_is_shown_and_changed_on_its_page(web: Web, make_repo) -> None:
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    catalog(web, repo)
    admin, viewer = web.admin(), web.viewer()
    section = re.compile(r'<section class="section updates-section".*?</section>', re.S)

    def said(page: httpx.Response) -> str:
        found = section.search(page.text)
        assert found, page.text[:3000]
        return text_of(httpx.Response(200, text=found[0]))

    assert said(admin.get("/installed/i-notes")).startswith(
        "Updates Change manual Offered updates are shown here and in the list; you apply them."
    )
    assert "Change" not in said(viewer.get("/installed/i-notes"))  # an admin's choice
    assert viewer.get("/installed/i-notes/updates").status_code == 403

    form = admin.get("/installed/i-notes/updates")
    assert form.status_code == 200 and 'value="manual" checked' in form.text
    refused = admin.post("/installed/i-notes/updates",
                         {"policy": "auto", "window": "25:00", "major": "yes"})  # fmt: skip
    assert refused.status_code == 422
    error = re.search(r'<p class="field-error" id="e-window">(.*?)</p>', refused.text, re.S)
    assert error and "&#39;25:00&#39; is not a maintenance window" in error[1]
    assert 'value="25:00"' in refused.text and 'value="auto" checked' in refused.text
    kept = web.api.admin.get("/api/installations/i-notes").json()["updates"]
    assert kept == {"policy": "manual", "window": None, "major": False}  # nothing saved

    saved = admin.post("/installed/i-notes/updates", {"policy": "auto", "window": "1:00-2:00"})
    assert saved.status_code == 303 and saved.headers["location"] == "/installed/i-notes"
    assert "Updates of notes: auto." in text_of(admin.get("/installed/i-notes"))
    assert "tomo applies offered updates between 01:00 and 02:00 (tomo's local time), within "\
        "the major version" in said(admin.get("/installed/i-notes"))  # fmt: skip
