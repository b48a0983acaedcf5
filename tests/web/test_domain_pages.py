"""Apps by name on the pages, as a browser without JavaScript uses them: a server's
Domains section (to viewers too, and when the server cannot be reached), its
domain settings set by an admin on a page of their own and read back from the
service, an installation's names added and removed, each refusal beside its field.

The installation of the quick tests is recorded as an install leaves it on a
server tomo cannot log in to (no host key trusted): every refusal here comes
before any server is asked. The settings that are kept go to a real server (the
test sshd, its Docker), where the front door is not made yet."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from tests.deployment.conftest import server_for
from tests.deployment.test_outdated import installed
from tests.sshd import Sshd, SshUsers
from tests.web.conftest import Web
from tests.web.conftest import text_of as tagged_text_of
from tomo.deployment.models import Installation
from tomo.proxy.schemas import InstallationHostnames
from tomo.runtime import Runtime
from tomo.servers.models import Server
from tomo.servers.schemas import ServerPublic
from tomo.web.domains import resolved

SECTION = re.compile(r'<section class="section domains".*?</section>', re.S)
NAMES = re.compile(r'<section class="section names-section".*?</section>', re.S)
DOMAIN = "/servers/nas/domain"
HOSTNAMES = "/installed/i-notes/hostnames"


@pytest.fixture
def notes(web: Web) -> str:
    """An installation `notes` (i-notes) on the server `nas`, which tomo cannot reach."""

    async def work(runtime: Runtime) -> str:
        return await installed(runtime, "home", "notes", "notes")

    return web.api.run(work)


def text_of(answer: httpx.Response | str) -> str:
    """The text as read (`tomo's`, not `tomo&#39;s`)."""
    page = answer if isinstance(answer, httpx.Response) else httpx.Response(200, text=answer)
    return html.unescape(tagged_text_of(page))


def part(pattern: re.Pattern[str], answer: httpx.Response) -> str:
    assert answer.status_code == 200, text_of(answer)[:2000]
    found = pattern.search(answer.text)
    assert found, text_of(answer)[:3000]
    return found[0]


def field_error(answer: httpx.Response, name: str) -> str:
    """The error beside the field `name`, which the field names as its description."""
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', answer.text, re.S)
    assert found, text_of(answer)[:3000]
    described = re.search(rf'id="f-{name}"[^>]*aria-describedby="([^"]*)"', answer.text)
    assert described and f"e-{name}" in described[1].split(), f"f-{name} is not tied to its error"
    return text_of(found[1])


def server(web: Web, ref: str = "nas") -> ServerPublic:
    async def work(runtime: Runtime) -> ServerPublic:
        return await runtime.servers.get_server(ref)

    return web.api.run(work)


def hostnames(web: Web) -> InstallationHostnames:
    async def work(runtime: Runtime) -> InstallationHostnames:
        return await runtime.proxy.get_hostnames("i-notes", None)

    return web.api.run(work)


def test_a_viewer_sees_the_section_when_the_server_cannot_be_reached_and_no_form(
    web: Web, notes: str
) -> None:
    viewer = web.viewer()
    page = viewer.get("/servers/nas")
    said = text_of(part(SECTION, page))
    assert "Domains" in said
    assert "Base domain none: each app's name is given whole" in said
    assert "TLS HTTPS with tomo's own certificate authority" in said
    assert "The front door's state could not be read." in said
    # Its reason, as the server's login fails (the test's key is no sealed secret).
    assert "could not be read. Stored secrets cannot be decrypted" in said
    assert "Download the root certificate" in said  # offered: the reason shows if none
    assert "sudo update-ca-certificates" in said
    assert "Change the domain settings" not in said
    assert viewer.get(DOMAIN).status_code == 403
    assert viewer.post(DOMAIN, {"domain": "home.example", "tls": "off"}).status_code == 403
    assert server(web).domain is None

    names = text_of(part(NAMES, viewer.get("/installed/i-notes")))
    assert "No name: notes is reached on its ports." in names
    assert "Add a name" not in names
    assert viewer.post(HOSTNAMES, {"hostname": "notes.example"}).status_code == 403

    admin = text_of(part(SECTION, web.admin().get("/servers/nas")))
    assert "Change the domain settings" in admin


def test_pages_and_api_loaded_again_and_again_ask_the_server_once(
    web: Web, notes: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A viewer reloading a server's page, its front door's status and its root
    certificate in a loop costs that server one read of each per 30 s, not one per
    request (a spy counts the real reads, which fail: the server cannot be reached)."""
    from tomo.proxy.door import front_door as real

    reads: list[str] = []

    async def counted(ctx: Any, server_id: str) -> object:
        reads.append(server_id)
        return await real(ctx, server_id)

    monkeypatch.setattr("tomo.proxy.service.front_door", counted)
    viewer = web.viewer()
    for _ in range(5):
        assert "could not be read" in text_of(part(SECTION, viewer.get("/servers/nas")))
        assert viewer.get("/api/servers/nas/proxy").status_code >= 500  # a problem, no state
        assert viewer.get("/api/servers/nas/proxy/root-certificate").status_code >= 500
        assert viewer.get("/servers/nas/root-certificate").status_code == 303
    assert len(reads) == 2  # the status once, the root certificate once


def test_the_root_certificate_of_an_unreachable_server_is_refused_in_words(
    web: Web, notes: str
) -> None:
    viewer = web.viewer()
    answer = viewer.get("/servers/nas/root-certificate")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/servers/nas#domains-title"
    assert "No root certificate to download:" in text_of(viewer.follow(answer))


def test_bad_settings_are_refused_beside_their_fields_and_nothing_is_kept(
    web: Web, notes: str
) -> None:
    admin = web.admin()
    form = admin.get(DOMAIN)
    assert form.status_code == 200
    assert 'id="tls-internal" name="tls" value="internal" checked' in form.text
    assert re.search(r'id="f-http_port"[^>]*value="80"', form.text)

    bad = admin.post(DOMAIN, {"domain": "home_example", "tls": "internal",
                              "http_port": "80", "https_port": "443"})  # fmt: skip
    assert bad.status_code == 422
    assert "Base domain 'home_example'" in field_error(bad, "domain")
    assert 'value="home_example"' in bad.text  # what was typed stays

    ports = admin.post(DOMAIN, {"domain": "", "tls": "off", "http_port": "eighty",
                                "https_port": "443"})  # fmt: skip
    assert ports.status_code == 422
    assert "'eighty' is not a port number" in field_error(ports, "http_port")
    assert 'id="tls-off" name="tls" value="off" checked' in ports.text

    same = admin.post(DOMAIN, {"domain": "lan", "tls": "internal", "http_port": "8443",
                               "https_port": "8443"})  # fmt: skip
    assert "HTTP and HTTPS cannot share port 8443" in field_error(same, "https_port")

    email = admin.post(DOMAIN, {"domain": "home.example", "tls": "acme",
                                "acme_email": "not an address", "acme_ca": "ftp://ca"})  # fmt: skip
    assert "is not an email address" in field_error(email, "acme_email")
    assert "is not an https URL" in field_error(email, "acme_ca")
    kept = server(web)
    assert (kept.domain, kept.tls_mode, kept.proxy_http_port) == (None, "internal", 80)


def test_a_refused_hostname_shows_beside_its_field_and_no_name_changes(
    web: Web, notes: str
) -> None:
    admin = web.admin()
    page = admin.get("/installed/i-notes")
    assert 'id="f-hostname" name="hostname"' in part(NAMES, page)

    bad = admin.post(HOSTNAMES, {"hostname": "Not a name"})
    assert bad.status_code == 422
    assert "Hostname 'Not a name'" in field_error(bad, "hostname")
    assert 'value="Not a name"' in bad.text
    assert "Recent jobs" in text_of(bad)  # the whole installation page

    label = admin.post(HOSTNAMES, {"hostname": "photos"})
    assert label.status_code == 422
    assert "needs server 'NAS' to have a base domain" in field_error(label, "hostname")

    empty = admin.post(HOSTNAMES, {"hostname": "  "})
    assert "Type a name to add." in field_error(empty, "hostname")

    # A good name, but the front door on a server tomo cannot log in to is not set up.
    unrouted = admin.post(HOSTNAMES, {"hostname": "notes.example.org"})
    assert unrouted.status_code >= 400
    assert "Stored secrets cannot be decrypted" in field_error(unrouted, "hostname")
    assert hostnames(web).hostnames == []


def test_an_apps_names_are_its_first_links_and_its_ports_stay(web: Web, notes: str) -> None:
    async def named(runtime: Runtime) -> None:
        async with runtime.db.session() as session, session.begin():
            await session.execute(update(Installation).where(Installation.id == "i-notes")
                                  .values(hostnames=["notes.home.example"]))  # fmt: skip
            await session.execute(update(Server).where(Server.id == "nas")
                                  .values(domain="home.example", proxy_https_port=8443))  # fmt: skip

    web.api.run(named)
    page = web.viewer().get("/installed/i-notes")
    opened = re.search(r"<dt>Open</dt><dd>(.*?)</dd>", page.text, re.S)
    assert opened, text_of(page)[:2000]
    links = re.findall(r'href="([^"]+)"', opened[1])
    assert links == ["https://notes.home.example:8443/", "http://127.0.0.1:8080"]
    names = text_of(part(NAMES, page))
    assert "notes.home.example" in names and "Remove" not in names

    # The Installed list links it by its name too: the table before its ports.
    table = web.viewer().get("/installed?view=table")
    row = re.search(r'<td data-label="Open">(.*?)</td>', table.text, re.S)
    assert row, text_of(table)[:2000]
    assert re.findall(r'href="([^"]+)"', row[1]) == ["https://notes.home.example:8443/",
                                                     "http://127.0.0.1:8080"]  # fmt: skip


async def test_a_name_that_does_not_resolve_is_said_so_and_a_slow_one_never_waits() -> None:
    found = await resolved("127.0.0.1", ["localhost", "nothing.invalid"])
    assert [(check.name, check.to_server) for check in found] == [
        ("localhost", True),
        ("nothing.invalid", False),
    ]
    assert await resolved("127.0.0.1", []) == []


@pytest.mark.server
def add_box(web: Web, sshd: Sshd, ssh_users: SshUsers, tmp_path: Path) -> str:
    """The real test server as `box`: its id."""

    async def add(runtime: Runtime) -> str:
        added = await runtime.servers.add_server(server_for("box", sshd, ssh_users, tmp_path))
        return added.server.id

    return web.api.run(add)


def test_an_admin_sets_the_domain_and_the_server_page_says_it(
    web: Web, sshd: Sshd, ssh_users: SshUsers, tmp_path: Path, docker_engine: None
) -> None:
    box = add_box(web, sshd, ssh_users, tmp_path)
    admin = web.admin()
    saved = admin.post(f"/servers/{box}/domain", {"domain": "Home.Example", "tls": "off",
                                                  "http_port": "8080", "https_port": ""})  # fmt: skip
    assert saved.status_code == 303, text_of(saved)[:3000]
    assert saved.headers["location"] == f"/servers/{box}#domains-title"
    page = admin.follow(saved)
    assert "Saved the domain settings of box: apps named under home.example, TLS off." \
        in text_of(page)  # fmt: skip
    kept = server(web, box)
    assert (kept.domain, kept.tls_mode, kept.proxy_http_port, kept.proxy_https_port) == (
        "home.example", "off", 8080, 443)  # fmt: skip

    said = text_of(part(SECTION, page))
    assert "Base domain home.example" in said
    assert "TLS Plain HTTP, no certificate" in said
    assert "Ports HTTP 8080" in said
    assert "Front door not made yet" in said
    assert "*.home.example A 127.0.0.1" in said
    assert "could not be read" not in said
    assert "Download the root certificate" not in said  # tls off: nothing to trust

    again = admin.get(f"/servers/{box}/domain")
    assert 'id="tls-off" name="tls" value="off" checked' in again.text
    assert re.search(r'id="f-domain"[^>]*value="home.example"', again.text)


def test_a_dns_providers_credentials_are_typed_once_and_never_shown_again(
    web: Web, sshd: Sshd, ssh_users: SshUsers, tmp_path: Path, docker_engine: None
) -> None:
    box = add_box(web, sshd, ssh_users, tmp_path)
    admin = web.admin()
    acme = {"domain": "home.example", "tls": "acme", "dns_provider": "cloudflare",
            "http_port": "80", "https_port": "443"}  # fmt: skip
    bad = admin.post(f"/servers/{box}/domain", {**acme, "dns_credentials": "only-the-token"})
    assert bad.status_code == 422, text_of(bad)[:2000]
    assert "Line 1 is not KEY=VALUE (api_token=…, say)." in field_error(bad, "dns_credentials")
    assert "only-the-token" not in bad.text  # a secret typed is never sent back
    assert not server(web, box).dns_credentials_set

    token = "s3cret-dns-token"
    saved = admin.post(f"/servers/{box}/domain", {**acme, "dns_credentials": f"api_token={token}"})
    assert saved.status_code == 303, text_of(saved)[:3000]
    said = text_of(part(SECTION, admin.follow(saved)))
    assert "TLS HTTPS with certificates from an ACME certificate authority (DNS-01 through " \
        "cloudflare)" in said  # fmt: skip
    form = admin.get(f"/servers/{box}/domain")
    assert token not in form.text
    assert re.search(r'id="f-dns_provider"[^>]*value="cloudflare"', form.text)
    assert "Saved ones are kept while this stays empty." in text_of(form)
    assert admin.post(f"/servers/{box}/domain", acme).status_code == 303  # typed none: kept
    kept = server(web, box)
    assert (kept.dns_provider, kept.dns_credentials_set) == ("cloudflare", True)


def test_an_admin_puts_tomos_login_in_front_of_an_app_once_tomo_has_its_address(
    web: Web, notes: str, settings: Any
) -> None:
    admin = web.admin()
    refused = admin.post("/installed/i-notes/login", {"login": "viewer"})
    assert refused.status_code == 303
    assert "set TOMO_PUBLIC_URL" in text_of(admin.follow(refused))
    assert hostnames(web).login is None

    settings.public_url = "https://tomo.home.example"  # the app's settings are these
    saved = admin.post("/installed/i-notes/login", {"login": "admin"})
    assert saved.status_code == 303
    page = admin.follow(saved)
    assert ("Only tomo's admins get through to notes once it has a name (tomo hostname add)."
            in text_of(page))  # fmt: skip
    assert "Only tomo's admins get through to notes by its names." in text_of(part(NAMES, page))
    assert hostnames(web).login == "admin"

    viewer = web.viewer()
    assert viewer.post("/installed/i-notes/login", {"login": "off"}).status_code == 403
    assert "Login in front of it" not in text_of(part(NAMES, viewer.get("/installed/i-notes")))
    wrong = admin.post("/installed/i-notes/login", {"login": "everyone"})
    assert "'everyone' is not a choice of login" in text_of(admin.follow(wrong))
    assert hostnames(web).login == "admin"


def test_a_root_certificate_that_is_none_is_refused_beside_its_field(web: Web, notes: str) -> None:
    admin = web.admin()
    bad = admin.post(DOMAIN, {"domain": "home.example", "tls": "acme", "http_port": "80",
                              "https_port": "443", "acme_ca_root": "not a certificate"})  # fmt: skip
    assert bad.status_code == 422
    assert "acme_ca_root" not in field_error(bad, "acme_ca_root")  # said in words
    assert field_error(bad, "acme_ca_root")
    assert "not a certificate</textarea>" in bad.text  # what was pasted stays
    assert server(web).acme_ca_root is None
