"""The servers pages, as a browser without JavaScript uses them, against the real
sshd of the test suite (tests/sshd.py)."""

from __future__ import annotations

import html
import platform
import re
from datetime import UTC, datetime
from typing import Any

import asyncssh
import httpx

from tests.gitrepo import app_definition
from tests.servers.authorized_keys import authorized
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.web.conftest import Page, Web, text_of
from tomo.architectures import normalize_architecture
from tomo.auth.service import csrf_token_for
from tomo.deployment.models import Installation
from tomo.http.security import SESSION_COOKIE
from tomo.runtime import Runtime


def form_for(sshd: Sshd, users: SshUsers, **changes: str) -> dict[str, Any]:
    """The add form as a person fills it in: by key, the test user."""
    return {"name": "nas", "host": "127.0.0.1", "port": str(sshd.port),
            "username": users.user, "auth": "key", "private_key": users.key.read_text(),
            "passphrase": "", "password": "", "data_root": "/tmp/tomo-web-apps",
            **changes}  # fmt: skip


def field_error(answer: httpx.Response, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', answer.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip() if found else ""


def shown(answer: httpx.Response) -> str:
    """The page's visible text, its entities (the ' of a name) read."""
    return html.unescape(text_of(answer))


def added(page: Page, form: dict[str, Any]) -> str:
    """Send the add form; the trust page it leads to."""
    answer = page.post("/servers/add", form)
    assert answer.status_code == 303, text_of(answer)[:1000]
    assert answer.headers["location"] == f"/servers/{form['name']}/trust"
    return answer.headers["location"]


def test_add_shows_the_fingerprint_and_trust_brings_the_server_online(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    assert "No servers yet" in text_of(page.get("/servers"))
    form = page.get("/servers/add")
    assert f'value="{csrf_token_for(page.cookies[SESSION_COOKIE])}"' in form.text
    for label in ("Name", "Host", "SSH port", "User", "Private key", "Key passphrase",
                  "Password", "App data directory", "Run docker through sudo"):  # fmt: skip
        assert f">{label}" in form.text, label

    trust_page = page.get(added(page, form_for(sshd, ssh_users)))
    said = shown(trust_page)
    assert "Check its host key before tomo logs in" in said
    assert sshd.fingerprint in said
    assert "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub" in said
    assert f'name="fingerprint" value="{sshd.fingerprint}"' in trust_page.text
    assert "not trusted" in text_of(page.get("/servers/nas"))

    trusted = page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert trusted.headers["location"] == "/servers/nas"
    server_page = shown(page.follow(trusted))
    assert "Trusted nas's host key; online" in server_page
    assert sshd.fingerprint in server_page and "Test now" in server_page
    listed = page.get("/servers")
    assert 'data-status="online"' in listed.text
    architecture = normalize_architecture(platform.machine())
    assert architecture is not None and architecture in text_of(listed)
    assert "free of" in text_of(listed)  # memory facts
    assert ssh_users.key.read_text().splitlines()[1] not in listed.text + trust_page.text

    tested = page.post("/servers/nas/test")
    assert "Tested nas; online" in text_of(page.follow(tested))
    removed = page.post("/servers/nas/remove")
    assert removed.headers["location"] == "/servers"
    assert "Removed nas" in text_of(page.follow(removed))
    assert web.api.admin.get("/api/servers").json() == []


def test_a_wrong_password_is_told_and_the_server_can_be_added_again(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    form = form_for(sshd, ssh_users, auth="password", private_key="", password="not-it-123")
    added(page, form)
    refused = page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert refused.status_code == 502
    said = shown(refused)
    assert (f"nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}' (password not "
            "accepted); its host key was not trusted") in said  # fmt: skip
    assert "Remove and add again" in said and "not-it-123" not in refused.text
    assert web.api.admin.get("/api/servers/nas").json()["trusted"] is False

    again = page.post("/servers/nas/remove", {"again": "1"})
    assert again.headers["location"].startswith("/servers/add?name=nas&host=127.0.0.1")
    refill = page.follow(again)
    assert 'value="nas"' in refill.text and f'value="{sshd.port}"' in refill.text
    assert 'value="password" checked' in refill.text
    assert "add it again with the right login" in text_of(refill)
    added(page, {**form, "password": ssh_users.password})
    trusted = page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert trusted.headers["location"] == "/servers/nas"


def test_an_unreachable_host_is_told_beside_the_host_naming_it(
    web: Web, ssh_users: SshUsers, sshd: Sshd
) -> None:
    closed = free_port()
    form = form_for(sshd, ssh_users, port=str(closed), password="")
    refused = web.admin().post("/servers/add", form)
    assert refused.status_code == 422
    assert field_error(refused, "host") == (
        f"⚠ nas: connection refused at 127.0.0.1:{closed} (is sshd listening?)."
    )
    assert 'value="nas"' in refused.text and f'value="{closed}"' in refused.text
    assert ssh_users.key.read_text().splitlines()[1] not in refused.text
    assert "enter it again" in text_of(refused)
    assert web.api.admin.get("/api/servers").json() == []


def test_form_errors_are_beside_their_fields_and_no_secret_comes_back(web: Web) -> None:
    page = web.admin()
    base = {"name": "pi", "host": "192.0.2.7", "port": "22", "username": "pi", "auth": "key",
            "private_key": "", "passphrase": "", "password": "", "data_root": "/srv/apps"}  # fmt: skip
    cases = [
        ({}, "private_key", "paste the private key"),
        ({"auth": "password"}, "password", "enter the password"),
        ({"host": "not a host!", "auth": "password", "password": "pw-secret-1"}, "host",
         "is not a host name"),
        ({"port": "99999", "auth": "password", "password": "pw-secret-1"}, "port", "65535"),
        ({"data_root": "apps", "auth": "password", "password": "pw-secret-1"}, "data_root",
         "absolute"),
        ({"private_key": "not a key at all"}, "private_key", "cannot be read"),
        ({"private_key": encrypted_key("right passphrase")}, "passphrase", "Passphrase must be"),
    ]  # fmt: skip
    for changes, field, message in cases:
        refused = page.post("/servers/add", {**base, **changes})
        assert refused.status_code == 422, (changes, text_of(refused)[:500])
        assert message in field_error(refused, field), (field, text_of(refused)[:1500])
        assert 'value="pi"' in refused.text
        assert 'value="/srv/apps"' in refused.text or field == "data_root"
        assert "pw-secret-1" not in refused.text and "PRIVATE KEY-----\n" not in refused.text
    assert web.api.admin.get("/api/servers").json() == []


def encrypted_key(passphrase: str) -> str:
    key = asyncssh.generate_private_key("ssh-ed25519")
    return key.export_private_key(passphrase=passphrase).decode()


def test_removal_is_refused_while_apps_are_installed_unless_forced(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    added(page, form_for(sshd, ssh_users))
    web.api.run(lambda runtime: installed_on(runtime, "nas", "notes"))
    server_page = page.get("/servers/nas")
    assert '<a href="/installed/inst1">notes</a>' in server_page.text
    assert "Also forget its 1 installation (their containers keep running)" in shown(server_page)

    refused = page.post("/servers/nas/remove")
    assert refused.headers["location"] == "/servers/nas"
    assert "still has 1 installation(s) (notes)" in text_of(page.follow(refused))
    forced = page.post("/servers/nas/remove", {"force": "on"})
    assert forced.headers["location"] == "/servers"
    assert web.api.admin.get("/api/servers").json() == []


async def installed_on(runtime: Runtime, server_id: str, name: str) -> None:
    """An installation row, as an install leaves it (no container needed here)."""
    now = datetime.now(UTC)
    async with runtime.db.session() as session, session.begin():
        session.add(Installation(
            id="inst1", server_id=server_id, name=name, repo_id="home", app_id=name,
            version="1.0.0", image=f"example/{name}:1.0.0", definition=app_definition(name), config={},
            status="running", created_at=now, updated_at=now,
        ))  # fmt: skip


def test_editing_a_server_and_a_new_address_needs_a_new_trust(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    added(page, form_for(sshd, ssh_users))
    page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    form = page.get("/servers/nas/edit")
    assert 'value="/tmp/tomo-web-apps"' in form.text
    values = {"name": "nas", "host": "127.0.0.1", "port": str(sshd.port),
              "username": ssh_users.user, "data_root": "/tmp/other-apps"}  # fmt: skip
    saved = page.post("/servers/nas/edit", values)
    assert saved.headers["location"] == "/servers/nas"
    assert web.api.admin.get("/api/servers/nas").json()["trusted"] is True  # same address
    bad = page.post("/servers/nas/edit", {**values, "data_root": "relative"})
    assert bad.status_code == 422 and "absolute" in field_error(bad, "data_root")
    moved = page.post("/servers/nas/edit", {**values, "host": "localhost"})
    assert moved.headers["location"] == "/servers/nas/trust"
    assert web.api.admin.get("/api/servers/nas").json()["trusted"] is False


def test_a_viewer_sees_servers_but_no_control(web: Web, sshd: Sshd, ssh_users: SshUsers) -> None:
    added(web.admin(), form_for(sshd, ssh_users))
    viewer = web.viewer()
    for url in ("/servers", "/servers/nas"):
        page = viewer.get(url)
        assert page.status_code == 200 and "nas" in text_of(page)
        assert '<form method="post" action="/servers' not in page.text
        assert "/servers/add" not in page.text and "/trust" not in page.text
    for url in ("/servers/add", "/servers/nas/trust", "/servers/nas/edit"):
        assert viewer.get(url).status_code == 403
    for action in ("test", "remove", "edit"):
        assert viewer.post(f"/servers/nas/{action}").status_code == 403
    forged = viewer.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert forged.status_code == 403
    assert viewer.post("/servers/add", form_for(sshd, ssh_users, name="x")).status_code == 403
    assert web.api.admin.get("/api/servers/nas").json()["trusted"] is False


# -- logins: a key pair tomo generates, a new login tried first --------------------


def public_key_on(page: httpx.Response) -> str:
    found = re.search(r'<code id="public-key">(.*?)</code>', page.text)
    assert found, text_of(page)[:1500]
    return html.unescape(found.group(1))


def test_add_with_a_generated_key_shows_the_public_key_then_test_and_save(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    form = form_for(sshd, ssh_users, auth="generate", private_key="")
    answer = page.post("/servers/add", form)
    assert answer.headers["location"] == "/servers/nas/key"
    key_page = page.follow(answer)
    said = shown(key_page)
    public_key = public_key_on(key_page)
    assert public_key.startswith("ssh-ed25519 ") and public_key.endswith(" tomo@nas")
    assert "Added nas. Add tomo's public key to the server, then test and save." in said
    assert f"Add this line to ~/.ssh/authorized_keys in the home of {ssh_users.user}" in said
    assert f"echo '{public_key}' >> ~/.ssh/authorized_keys" in said
    assert 'data-copy="public-key"' in key_page.text and "/static/admin.js" in key_page.text
    assert sshd.fingerprint in said  # the host key, to check before the first login
    assert "PRIVATE KEY" not in key_page.text
    assert web.api.admin.get("/api/servers/nas").json()["trusted"] is False

    too_soon = page.post("/servers/nas/key", {"fingerprint": sshd.fingerprint})
    assert too_soon.status_code == 502
    assert "The server did not accept the key." in shown(too_soon)
    assert public_key_on(too_soon) == public_key  # the same key, to add
    with authorized(ssh_users, public_key):
        saved = page.post("/servers/nas/key", {"fingerprint": sshd.fingerprint})
        assert saved.headers["location"] == "/servers/nas"
        assert "Logged in to nas with tomo's key; online" in shown(page.follow(saved))
        server = web.api.admin.get("/api/servers/nas").json()
        assert (server["trusted"], server["auth_type"]) == (True, "key")


def test_a_new_login_is_tried_first_and_a_refused_one_is_told_beside_its_field(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    added(page, form_for(sshd, ssh_users))
    page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    edit = page.get("/servers/nas/edit")
    assert "Credentials" in text_of(edit) and 'action="/servers/nas/credentials"' in edit.text
    assert 'enctype="multipart/form-data"' in edit.text and 'type="file"' in edit.text
    assert "The login cannot be changed here" not in text_of(edit)

    login = {"auth": "password", "password": "not-it-123", "private_key": ""}
    refused = page.post("/servers/nas/credentials", login)
    assert refused.status_code == 422
    assert field_error(refused, "password") == (
        f"⚠ nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}' (password not accepted); "
        "the old login is kept."
    )
    assert 'value="password" checked' in refused.text and "not-it-123" not in refused.text
    assert web.api.admin.get("/api/servers/nas").json()["auth_type"] == "key"
    assert "Tested nas; online" in text_of(page.follow(page.post("/servers/nas/test")))
    empty = page.post("/servers/nas/credentials", {"auth": "password", "password": ""})
    assert field_error(empty, "password") == "⚠ enter the new password."

    right = page.post("/servers/nas/credentials", {**login, "password": ssh_users.password})
    assert right.headers["location"] == "/servers/nas"
    assert "Logged in to nas with its new login and saved it; online" in shown(page.follow(right))
    assert web.api.admin.get("/api/servers/nas").json()["auth_type"] == "password"

    key_file = {"private_key_file": ("id_ed25519", ssh_users.key.read_bytes())}
    uploaded = page.post("/servers/nas/credentials", {"auth": "key"}, files=key_file)
    assert uploaded.headers["location"] == "/servers/nas", text_of(uploaded)[:1500]
    assert web.api.admin.get("/api/servers/nas").json()["auth_type"] == "key"
    not_text = {"private_key_file": ("id_ed25519", b"\xff\xfe\x00 not a key")}
    bad = page.post("/servers/nas/credentials", {"auth": "key"}, files=not_text)
    assert field_error(bad, "private_key") == "⚠ id_ed25519 is not a text private key."


def test_a_password_server_moves_to_a_key_tomo_makes(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    added(page, form_for(sshd, ssh_users, auth="password", private_key="",
                         password=ssh_users.password))  # fmt: skip
    page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    no_key = page.get("/servers/nas/key")
    assert no_key.headers["location"] == "/servers/nas/edit#login"

    made = page.post("/servers/nas/credentials", {"auth": "generate"})
    assert made.headers["location"] == "/servers/nas/key"
    key_page = page.follow(made)
    assert "tomo made a new key pair for nas. Until it is tested" in shown(key_page)
    public_key = public_key_on(key_page)
    refused = page.post("/servers/nas/key")
    assert refused.status_code == 502 and "the old login is kept" in shown(refused)
    assert web.api.admin.get("/api/servers/nas").json()["auth_type"] == "password"
    with authorized(ssh_users, public_key):
        saved = page.post("/servers/nas/key")
        assert saved.headers["location"] == "/servers/nas"
        detail = page.follow(saved)
        assert "Logged in to nas with tomo's key; online" in shown(detail)
        assert 'href="/servers/nas/key"' in detail.text
        assert public_key_on(page.get("/servers/nas/key")) == public_key  # in use now
        assert web.api.admin.get("/api/servers/nas").json()["auth_type"] == "key"


def test_a_viewer_cannot_see_or_change_a_login(web: Web, sshd: Sshd, ssh_users: SshUsers) -> None:
    added(web.admin(), form_for(sshd, ssh_users))
    viewer = web.viewer()
    assert viewer.get("/servers/nas/key").status_code == 403
    for action in ("credentials", "key"):
        assert viewer.post(f"/servers/nas/{action}", {"auth": "generate"}).status_code == 403
    assert "/edit#login" not in viewer.get("/servers/nas").text


def test_a_refused_first_login_is_mended_on_the_edit_page(
    web: Web, sshd: Sshd, ssh_users: SshUsers
) -> None:
    page = web.admin()
    form = form_for(sshd, ssh_users, auth="password", private_key="", password="not-it-123")
    added(page, form)
    refused = page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert refused.status_code == 502
    assert 'href="/servers/nas/edit#login"' in refused.text and "Change the login" in refused.text

    logins = sshd.logins()
    saved = page.post("/servers/nas/credentials",
                      {"auth": "password", "password": ssh_users.password})  # fmt: skip
    assert saved.headers["location"] == "/servers/nas/trust"
    assert "Saved nas's new login: tomo tries it once you trust its host key." in shown(
        page.follow(saved)
    )
    assert sshd.logins() == logins  # the host key is not trusted: nothing logged in
    trusted = page.post("/servers/nas/trust", {"fingerprint": sshd.fingerprint})
    assert trusted.headers["location"] == "/servers/nas"
    assert web.api.admin.get("/api/servers/nas").json()["status"] == "online"
