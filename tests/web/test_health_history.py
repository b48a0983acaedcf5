"""An installation's page shows its health history: what the real health monitor saw
of its container (killed, started again), newest first, with a link to its events
on the Events page, which lists them alone."""

from __future__ import annotations

import re

from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker
from tests.monitor.test_monitor import installed, monitor_of
from tests.web.conftest import Web, text_of
from tests.web.test_installed_pages import data_root, deploy, images, registry, site
from tomo.events.kinds import EventKind

__all__ = ["data_root", "deploy", "images", "registry", "site"]  # fixtures


def history_of(page_text: str) -> str:
    """The text of the page's Health history section."""
    found = re.search(r'<section class="section health-history".*?</section>', page_text, re.S)
    assert found, page_text[:3000]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


async def test_the_page_lists_what_the_monitor_saw_newest_first(deploy: Deploy, site: Web) -> None:
    web = await installed(deploy, "web", restart_policy="no")
    viewer = site.viewer()
    before = viewer.get(f"/installed/{web}").text
    assert "Nothing noticed yet." in history_of(before)
    assert f'href="/events?installation={web}"' not in before

    monitor = monitor_of(deploy)
    await monitor.run_pass()  # takes note: it runs
    docker("kill", "web")
    await monitor.run_pass()
    docker("start", "web")
    await monitor.run_pass()
    await deploy.runtime.events.record(EventKind.SYNC_FAILED, title="Catalog sync of lab failed")

    shown = viewer.get(f"/installed/{web}")
    history = history_of(shown.text)
    assert shown.status_code == 200
    recovered, down = history.index("web on box recovered"), history.index("web on box is down")
    assert recovered < down, history  # newest first
    assert "app recovered" in history and "app down" in history
    assert "container web is exited (exit code 137)." in history, history
    assert "Catalog sync of lab failed" not in history  # not this installation's
    assert f'href="/events?installation={web}">All its events</a>' in shown.text

    listed = viewer.get(f"/events?installation={web}")
    text = text_of(listed)
    assert listed.status_code == 200 and "Events of web" in text
    assert "web on box recovered" in text and "web on box is down" in text
    assert "Catalog sync of lab failed" not in text
    assert "Catalog sync of lab failed" in text_of(viewer.get("/events"))
    assert "No events of nothing-here" in text_of(viewer.get("/events?installation=nothing-here"))
    assert viewer.get("/events?installation=" + "x" * 65).status_code == 422
