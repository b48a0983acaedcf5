"""Every form a page hands out can be sent: it carries the session's own CSRF
token (the tests' Page.post adds one by itself, so this looks at the pages)."""

from __future__ import annotations

import re

from tests.deployment.test_outdated import installed
from tests.gitrepo import CatalogRepo
from tests.web.conftest import Web
from tomo.auth.service import csrf_token_for
from tomo.http.security import SESSION_COOKIE

FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
TOKEN = re.compile(r'name="csrf_token"\s+value="([^"]*)"')


def posted_forms(html: str) -> list[tuple[str, str | None]]:
    """(action, the token it carries) of each form sent by POST."""
    found = []
    for attributes, body in FORM.findall(html):
        if re.search(r'method="post"', attributes, re.I):
            action = re.search(r'action="([^"]*)"', attributes)
            token = TOKEN.search(body)
            found.append((action.group(1) if action else "", token.group(1) if token else None))
    return found


def test_every_form_on_the_main_pages_carries_the_sessions_token(
    web: Web, make_repo, tmp_path
) -> None:
    repo: CatalogRepo = make_repo("catalog")
    repo.add_app("jellyfin", "media", tags=["media"])
    repo.commit()
    web.api.admin.post("/api/marketplace/repos", json={"url": repo.url, "name": "C"})
    assert web.api.admin.post("/api/marketplace/repos/c/sync").status_code == 200
    web.api.run(lambda runtime: installed(runtime, "c", "jellyfin", "jelly"))
    page = web.admin()
    expected = csrf_token_for(page.cookies[SESSION_COOKIE])
    pages = ["/store", "/apps/c/jellyfin", "/repos", "/repos/c", "/servers", "/installed",
             "/users", "/tokens", "/audit", "/account", "/channels", "/backups",
             "/backups/repositories/add", "/installed/i-jelly",
             "/installed/i-jelly/backup-settings", "/servers/nas", "/servers/nas/domain"]  # fmt: skip
    seen = 0
    for path in pages:
        answer = page.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        for action, token in posted_forms(answer.text):
            seen += 1
            if action in ("/login", "/setup"):
                continue
            assert token == expected, (path, action, token)
    assert seen >= 10  # the pages do have forms to look at
