"""A real Chromium (Debian's, launched by path: Playwright's own download is not
needed) against a real `tomo serve` process with its own SQLite database.

Every page a test opens is watched: a script error or a blocked resource (the
content security policy refusing something) fails the test. `look(page, name)`
checks the page with axe-core (serious and critical findings fail) and writes
desktop and phone screenshots under test-artifacts/screenshots/ (or
$TOMO_SCREENSHOTS), for a reviewer to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Locator,
    Page,
    async_playwright,
    expect,
)

from tests.cli.tomo_cli import tomo_command
from tests.deployment.conftest import (  # noqa: F401 - fixtures
    data_root,
    images,
    registry,
    swarm_host,
    swarm_sshd,
)
from tests.services import free_port, unavailable, wait_until_serving
from tests.sshd import Sshd, SshUsers

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(os.environ.get("TOMO_SCREENSHOTS")
                   or Path(__file__).parents[3] / "test-artifacts" / "screenshots")  # fmt: skip
DESKTOP = {"width": 1280, "height": 900}
# One wait for actions and assertions alike: expect's own 5 s default failed
# under a loaded CI run (Swagger UI's first render on /docs), never alone.
PAGE_WAIT_MS = 15_000
expect.set_options(timeout=PAGE_WAIT_MS)
PHONE = {"width": 390, "height": 844}
# Chromium's own calls home are refused on this closed network: it is told not to try.
QUIET = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
ADMIN = ("admin", "the admin's password")
VIEWER = ("vera", "the viewer's password")


@dataclass
class Served:
    """A running `tomo serve`."""

    url: str
    data_dir: Path
    env: dict[str, str]

    def tomo(self, *args: str, stdin: str | None = None) -> str:
        """A CLI command on the served data directory (to set things up quickly)."""
        done = subprocess.run([*tomo_command(), "--data-dir", str(self.data_dir), *args],
                              env=self.env, input=stdin, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def add_box(self, sshd: Sshd, users: SshUsers, apps: Path) -> None:
        """The real test server as `box`: its host key trusted, `apps` its data root."""
        self.tomo("server", "add", "box", "127.0.0.1", "--port", str(sshd.port), "--user",
                  users.user, "--key", str(users.key), "--fingerprint", sshd.fingerprint,
                  "--data-root", str(apps))  # fmt: skip


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    data_dir = tmp_path / "served"
    port = free_port()
    env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "TOMO_PUBLISH_ADDRESS": "127.0.0.1",
           "TOMO_INSTALL_WAIT_TIMEOUT": "20", "TOMO_INSTALL_STABLE_SECONDS": "1",
           "TOMO_SYNC_INTERVAL": "0", "TOMO_MONITOR_INTERVAL": "0"}  # fmt: skip
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [*tomo_command(), "--data-dir", str(data_dir), "serve", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, server)
        yield Served(url, data_dir, env)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


@pytest.fixture
def with_users(served: Served) -> Served:
    """An admin and a viewer, made from the shell."""
    served.tomo("user", "create", ADMIN[0], "--admin", "--password-stdin", stdin=ADMIN[1])
    served.tomo("user", "create", VIEWER[0], "--password-stdin", stdin=VIEWER[1])
    return served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=QUIET)
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Watched:
    """What went wrong in a page that no assertion looked at."""

    problems: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        text = message.text
        # An app icon from a catalog's host cannot load here (no internet): the
        # page shows the app's letter instead, as it should.
        offline_icon = "net::ERR_NAME_NOT_RESOLVED" in text or (
            "Failed to load resource" in text and "127.0.0.1" not in text
        )
        if message.type == "error" and not offline_icon:
            self.problems.append(f"console: {text}")


@pytest.fixture
async def watched() -> Watched:
    return Watched()


async def new_page(browser: Browser, watched: Watched, **options: Any) -> Page:
    context = await browser.new_context(viewport=DESKTOP, **options)  # type: ignore[arg-type]
    page = await context.new_page()
    page.set_default_timeout(PAGE_WAIT_MS)
    page.on("console", watched.console)
    page.on("pageerror", lambda error: watched.problems.append(f"script error: {error}"))
    page.on("dialog", _confirmed)  # "Uninstall web?": the person says yes
    return page


async def _confirmed(dialog: Dialog) -> None:
    await dialog.accept()


def labelled(page: Page, label: str) -> Locator:
    """The input labelled exactly `label`; a required one's label ends in a "*" that
    screen readers skip (it is aria-hidden) but Playwright's label text keeps."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$"))


async def log_in(page: Page, base: str, user: tuple[str, str]) -> None:
    await page.goto(f"{base}/login")
    await labelled(page, "User name").fill(user[0])
    await labelled(page, "Password").fill(user[1])
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


async def look(page: Page, name: str) -> None:
    """Check the page's accessibility, then screenshot it at desktop and phone width."""
    await accessible(page, name)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    await page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png", full_page=True)
    await page.set_viewport_size(PHONE)  # type: ignore[arg-type]
    await page.screenshot(path=SCREENSHOTS / f"{name}-phone.png", full_page=True)
    wide = await page.evaluate("document.documentElement.scrollWidth > window.innerWidth + 1")
    await page.set_viewport_size(DESKTOP)  # type: ignore[arg-type]
    assert not wide, f"{name}: the page scrolls sideways at a phone's width"


async def accessible(page: Page, name: str) -> None:
    if not AXE.exists():
        unavailable(f"{AXE} is missing (npm ci --prefix tests/web/browser)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())  # evaluated by the test, so the page's CSP allows it
    found = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert found == [], f"{name}: {found}"
