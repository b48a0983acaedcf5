"""Following an installation's logs in a real browser continues exactly where the
page's lines ended: a container prints a counter, the page shows its first numbers,
the reader waits, clicks Follow, and the page then holds every number once, in
order. The same after the stream drops (its `docker logs` ends on the server): the
page reconnects after the last line it received."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.async_api import Browser, Page, expect

from tests.deployment.conftest import remove_test_containers
from tests.deployment.test_log_resume import log_followers
from tests.faults import wait_until
from tests.gitrepo import app_definition
from tests.registry import TestImages
from tests.sshd import Sshd, SshUsers
from tests.web.browser.conftest import ADMIN, Served, Watched, log_in, new_page

NAME = "follow-counter"  # the installation's, and so its main container's, name
COUNT = 300  # numbers a container prints, one each 0.2 s: a minute of output
PRINTED_MEANWHILE = 10  # numbers printed between the page's render and the click
Installer = Callable[[dict[str, Any]], str]


def counter(word: str = "") -> list[str]:
    """Prints 1, 2, 3 … (or word-1, word-2 …), then idles."""
    said = f"{word}-$i" if word else "$i"
    return ["sh", "-c", f"i=0; while [ $i -lt {COUNT} ]; do i=$((i+1)); echo {said}; "
                        "sleep 0.2; done; sleep 3600"]  # fmt: skip


@pytest.fixture
def no_container_left(docker_engine: None) -> Iterator[None]:
    """Whatever the test installed goes when it ends, however it ends."""
    yield
    remove_test_containers()


@pytest.fixture
def installed(
    with_users: Served, make_repo: Any, sshd: Sshd, ssh_users: SshUsers, data_root: Path,
    no_container_left: None,
) -> Installer:  # fmt: skip
    """Installs a definition as NAME on the test server (from the shell, to be
    quick); answers its installation's id."""
    with_users.add_box(sshd, ssh_users, data_root)

    def install(definition: dict[str, Any]) -> str:
        repo = make_repo()
        repo.write(f"apps/tools/{definition['id']}.yaml", yaml.safe_dump(definition))
        repo.commit()
        with_users.tomo("repo", "add", repo.url, "--name", "Home")
        done = json.loads(with_users.tomo("install", f"home/{definition['id']}", "--server",
                                          "box", "--name", NAME, "--json"))  # fmt: skip
        return str(done["installation"]["id"])

    return install


@pytest.fixture
def counting(installed: Installer, images: TestImages) -> str:
    """One container counting; its installation's id."""
    return installed(app_definition("counter", docker={"image": images.web_v1,
                                                       "command": counter()}))  # fmt: skip


async def numbers_shown(page: Page, word: str = "") -> list[int]:
    """The page's numbers (of `word`'s lines: `word | word-N`, merged)."""
    text = await page.locator("#log").text_content() or ""
    if not word:
        return [int(line) for line in text.splitlines() if line]
    return [int(line.rsplit("-", 1)[1]) for line in text.splitlines() if f"| {word}-" in line]


async def shows(page: Page, line: str) -> None:
    """Wait (bounded) until the page holds `line`, ending with it."""
    await expect(page.locator("#log")).to_contain_text(re.compile(rf"{re.escape(line)}\n"),
                                                       timeout=30_000)  # fmt: skip


def in_order_once(numbers: list[int]) -> None:
    assert numbers, "the page shows no number"
    assert numbers == list(range(1, numbers[-1] + 1)), (
        f"missing {sorted(set(range(1, numbers[-1] + 1)) - set(numbers))}, "
        f"shown twice {sorted({n for n in numbers if numbers.count(n) > 1})}"
    )


async def drop_the_stream(container: str) -> None:
    """End the server's `docker logs --follow` of `container`; wait for the next one."""
    await wait_until(lambda: len(log_followers(container)) == 1)
    [dropped] = log_followers(container)
    os.kill(dropped, signal.SIGTERM)
    await wait_until(lambda: log_followers(container) not in ([], [dropped]))


async def test_follow_continues_right_after_the_lines_the_page_shows(
    browser: Browser, with_users: Served, watched: Watched, counting: str
) -> None:
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)
    await page.goto(f"{with_users.url}/installed/{counting}/logs")
    rendered = await numbers_shown(page)
    in_order_once(rendered)
    assert rendered[-1] < COUNT - 100, "the counter ended before the page was read"

    # The container goes on counting while the reader looks at the page.
    await page.wait_for_timeout(PRINTED_MEANWHILE * 200)
    await page.get_by_role("button", name="Follow").click()
    await shows(page, f"\n{rendered[-1] + PRINTED_MEANWHILE + 10}")

    in_order_once(await numbers_shown(page))
    assert watched.problems == []


async def test_follow_resumes_after_its_last_line_when_the_stream_drops(
    browser: Browser, with_users: Served, watched: Watched, counting: str
) -> None:
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)
    await page.goto(f"{with_users.url}/installed/{counting}/logs")
    await page.get_by_role("button", name="Follow").click()
    await shows(page, f"\n{(await numbers_shown(page))[-1] + 5}")

    await drop_the_stream(NAME)
    await shows(page, f"\n{(await numbers_shown(page))[-1] + 10}")

    in_order_once(await numbers_shown(page))
    await expect(page.get_by_role("button", name="Stop following")).to_be_visible()


async def test_an_app_of_two_follows_each_container_on_from_its_own_last_line(
    browser: Browser, with_users: Served, watched: Watched, installed: Installer,
    images: TestImages,
) -> None:  # fmt: skip
    pair = app_definition("pair", main="one", services={
        "one": {"image": images.web_v1, "command": counter("one")},
        "two": {"image": images.web_v1, "command": counter("two")},
    })  # fmt: skip
    del pair["docker"]
    installation = installed(pair)
    page = await new_page(browser, watched)
    await log_in(page, with_users.url, ADMIN)
    await page.goto(f"{with_users.url}/installed/{installation}/logs")
    rendered = await numbers_shown(page, "two")

    await page.wait_for_timeout(PRINTED_MEANWHILE * 200)
    await page.get_by_role("button", name="Follow").click()
    await shows(page, f"two-{rendered[-1] + PRINTED_MEANWHILE + 5}")
    await drop_the_stream(f"{NAME}-two")  # one container's: the page resumes both
    await shows(page, f"two-{(await numbers_shown(page, 'two'))[-1] + 10}")

    for word in ("one", "two"):
        in_order_once(await numbers_shown(page, word))
    await expect(page.get_by_role("button", name="Stop following")).to_be_visible()
