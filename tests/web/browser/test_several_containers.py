"""The other stores' catalogs and apps of several containers in a real browser:
a CasaOS catalog's app page with its icon and screenshot served from the synced
repository (under the images' sandboxing policy), one the store marks as not
installable, and an app of two services from its page to its uninstall."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, expect

from tests.deployment.conftest import remove_test_containers
from tests.deployment.test_multi_container import labelled as docker_objects
from tests.deployment.test_multi_container import two_services
from tests.registry import TestImages
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, labelled, log_in, look, new_page
from tests.web.browser.test_journeys import JOB_TIMEOUT, job_ends

FIXTURES = Path(__file__).parents[2] / "marketplace" / "formats" / "fixtures"


@pytest.fixture
def no_container_left(docker_engine: None) -> Iterator[None]:
    """Whatever the test installed goes when it ends, however it ends."""
    yield
    remove_test_containers()


@dataclass
class AppServer:
    images: TestImages
    data_root: Path


async def test_a_casaos_catalog_shows_its_images_and_what_it_cannot_install(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any
) -> None:
    repo = make_repo()
    shutil.copytree(FIXTURES / "casaos", repo.path, dirs_exist_ok=True)
    repo.commit()
    with_users.tomo("repo", "add", repo.url, "--name", "Casa")
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)

    await page.goto(f"{with_users.url}/apps/casa/mediabox")
    await expect(page.get_by_role("heading", name="Mediabox", exact=True)).to_be_visible()
    shot = page.get_by_role("img", name="Screenshot 1 of Mediabox")
    await shot.scroll_into_view_if_needed()
    await expect(shot).to_have_js_property("naturalWidth", 480)  # loaded from the repo
    await expect(page.get_by_role("link", name="Install Mediabox")).to_be_visible()
    await look(page, "app-casaos")

    await page.goto(f"{with_users.url}/apps/casa/builder")
    await expect(page.locator(".note-bad")).to_contain_text("tomo cannot install Builder")
    await expect(page.get_by_role("link", name="Install Builder")).to_have_count(0)
    await look(page, "app-not-installable")
    # Only the icon of the repository's own is served; the screenshot hosted on the
    # internet cannot load here, which Watched forgives (see its console handler).
    assert watched.problems == []


async def test_an_app_of_two_services_from_its_page_to_its_uninstall(
    browser: Browser, with_users: Served, watched: Watched, make_repo: Any,
    images: TestImages, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
    no_container_left: None,
) -> None:  # fmt: skip
    base = with_users.url
    repo = make_repo()
    pair = two_services(AppServer(images, data_root))
    pair["settings"] = [{"name": "GREETING", "required": True,
                         "description": "What the client says"},
                        {"name": "LANGUAGE", "choices": ["en", "fr"], "default": "en"}]  # fmt: skip
    definition = {"id": "pair", "name": "Pair", "version": "1.0.0", "author": "Tests",
                  "tagline": "A client and the api it asks", "description": "Two services.",
                  **pair}  # fmt: skip
    repo.write("apps/tools/pair.yaml", yaml.safe_dump(definition))
    repo.commit()
    with_users.tomo("repo", "add", repo.url, "--name", "Home")
    with_users.add_box(sshd, ssh_users, data_root)
    page = await new_page(browser, watched)
    await log_in(page, base, ADMIN)

    await page.goto(f"{base}/apps/home/pair")
    containers = page.locator("section", has=page.get_by_role("heading", name="Containers"))
    await expect(containers).to_contain_text("api")
    await expect(containers).to_contain_text("client")
    await look(page, "app-several")

    await page.get_by_role("link", name="Install Pair").click()
    await expect(page.get_by_text("box can take Pair")).to_be_visible()
    await labelled(page, "GREETING").fill("hello")
    await labelled(page, "LANGUAGE").select_option("fr")  # a list: the only values it takes
    await page.get_by_role("button", name="Preview the command").click()
    await expect(page.locator("pre.command")).to_have_count(2)
    await expect(page.locator("#preview")).to_contain_text("docker network create tomo-pair")
    await look(page, "install-several")
    await page.get_by_role("button", name="Install on box").click()
    await job_ends(page, "done")
    await look(page, "job-several")
    assert (data_root / "pair" / "out" / "got.txt").read_text().strip() == "web v1"

    await page.get_by_role("link", name="Open the installation").click()
    await expect(page.get_by_text("running").first).to_be_visible(timeout=JOB_TIMEOUT)
    await expect(page.locator(".containers")).to_contain_text("pair-api")
    await look(page, "installation-several")
    installation = page.url
    await page.get_by_role("link", name="Update").click()
    await expect(labelled(page, "LANGUAGE")).to_have_value("fr")  # the value it runs with
    await expect(labelled(page, "GREETING")).to_have_value("hello")
    await page.goto(installation)
    await page.get_by_role("link", name="its logs").first.click()
    await expect(page.get_by_role("link", name="api", exact=True)).to_have_attribute(
        "aria-current", "true"
    )
    await look(page, "logs-several")

    await page.goto(installation)
    await page.get_by_role("link", name="Uninstall").click()
    await page.get_by_label("Also delete its data").check()
    await page.get_by_role("button", name="Uninstall pair").click()
    await page.get_by_role("button", name="Delete the data and uninstall pair").click()
    await job_ends(page, "done")
    await expect(page.locator("#job-status")).to_contain_text(re.compile("done"))
    installation_id = installation.rsplit("/", 1)[-1]
    for kind in ("container", "network", "volume"):
        assert docker_objects(kind, installation_id) == []
    assert not (data_root / "pair").exists()
    assert watched.problems == []
