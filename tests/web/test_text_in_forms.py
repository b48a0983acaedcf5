"""Forms that carry text that is not text: a lone surrogate (a multipart part
declared in UTF-7 spells one as `+2AA-`) or percent-escapes of bytes that are not
UTF-8 (which would otherwise be stored as U+FFFD). Each is refused as the API
refuses it: a 422 page naming the field, nothing stored, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ADMIN_PASSWORD
from tests.web.conftest import Page, Web, text_of
from tomo.auth.service import csrf_token_for
from tomo.http.security import CSRF_HEADER, SESSION_COOKIE

HALF_IN_UTF7 = "+2AA-"  # U+D800, half a character, as UTF-7 spells it
BOUNDARY = "tomo-form-boundary"


def multipart_in_utf7(page: Page, url: str, fields: dict[str, str]) -> httpx.Response:
    """A form sent as multipart whose parts are declared UTF-7 (as a client may)."""
    if SESSION_COOKIE in page.cookies:
        fields = {"csrf_token": csrf_token_for(page.cookies[SESSION_COOKIE]), **fields}
    parts = "".join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f"{value}\r\n" for name, value in fields.items())  # fmt: skip
    body = f"{parts}--{BOUNDARY}--\r\n".encode()
    kind = f"multipart/form-data; charset=utf-7; boundary={BOUNDARY}"
    return page.request("POST", url, content=body, headers={"Content-Type": kind})


def urlencoded(page: Page, url: str, raw: str) -> httpx.Response:
    """A form whose body is exactly `raw` (after the session's CSRF token)."""
    token = csrf_token_for(page.cookies[SESSION_COOKIE])
    return page.request("POST", url, content=f"csrf_token={token}&{raw}".encode(),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip


def refused_naming(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, (answer.status_code, text_of(answer)[:500])
    assert f"{field}: is not valid text" in text_of(answer)


@pytest.mark.parametrize(
    ("url", "fields", "field"),
    [
        ("/servers/add", {"name": f"nas{HALF_IN_UTF7}", "host": "192.0.2.10", "port": "22",
                          "username": "tomo", "auth": "password", "password": "pw"}, "name"),
        ("/repos/add", {"name": "Home", "url": f"/srv/{HALF_IN_UTF7}"}, "url"),
        ("/users", {"username": HALF_IN_UTF7, "role": "viewer", "password": "a long password",
                    "confirm": "a long password"}, "username"),
        ("/tokens", {"name": f"backup {HALF_IN_UTF7}"}, "name"),
        ("/backups/repositories/add", {"name": f"usb{HALF_IN_UTF7}", "kind": "local",
                                       "path": "/srv/usb"}, "name"),
        ("/servers/nas/domain", {"domain": f"home{HALF_IN_UTF7}", "tls": "off"}, "domain"),
        ("/installed/i-notes/hostnames", {"hostname": f"notes{HALF_IN_UTF7}"}, "hostname"),
    ],
)  # fmt: skip
def test_a_lone_surrogate_in_a_form_is_refused_naming_its_field(
    web: Web, url: str, fields: dict[str, str], field: str
) -> None:
    refused_naming(multipart_in_utf7(web.admin(), url, fields), field)

    assert web.api.admin.get("/api/servers").json() == []
    assert web.api.admin.get("/api/marketplace/repos").json() == []
    assert [user["username"] for user in web.api.admin.get("/api/users").json()] == [
        "admin",
        "vera",
    ]
    assert {token["name"] for token in web.api.admin.get("/api/tokens").json()} == {
        "admin tests", "vera tests"}  # fmt: skip


def test_the_login_form_refuses_it_too(web: Web) -> None:
    answer = multipart_in_utf7(web.anonymous(), "/login", {"username": HALF_IN_UTF7,
                                                           "password": ADMIN_PASSWORD})  # fmt: skip
    refused_naming(answer, "username")


def test_escapes_of_bytes_that_are_not_utf8_are_refused_not_replaced(web: Web) -> None:
    page = web.admin()

    refused_naming(urlencoded(page, "/tokens", "name=backup+%ED%A0%80"), "name")
    refused_naming(urlencoded(page, "/tokens", "name=%FF"), "name")

    names = {token["name"] for token in web.api.admin.get("/api/tokens").json()}
    assert names == {"admin tests", "vera tests"}  # no "backup \ufffd\ufffd\ufffd"
    made = urlencoded(page, "/tokens", "name=caf%C3%A9+%F0%9F%9A%80")  # whole characters
    assert made.status_code == 200 and "café 🚀" in text_of(made)


def test_a_csrf_token_that_is_not_ascii_is_refused_as_a_wrong_one(web: Web) -> None:
    page = web.admin()
    in_form = page.request("POST", "/tokens", content=b"csrf_token=caf%C3%A9&name=x",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    in_header = page.request("POST", "/tokens", data={"name": "x"},
                             headers={CSRF_HEADER: "café".encode("latin-1")})  # fmt: skip

    assert (in_form.status_code, in_header.status_code) == (403, 403)
    browser = web.api.login("admin", ADMIN_PASSWORD)
    api = browser.request("POST", "/api/tokens", json={"name": "x"}, csrf=False,
                          headers={CSRF_HEADER: "café".encode("latin-1")})  # fmt: skip
    assert api.status_code == 403
