"""The login in front of apps, as tomo decides it (proxy/login.py): real sessions in
a real database, the front door's questions as Caddy asks them. The whole way
through a real front door is tests/proxy/test_door_login.py."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from pydantic import SecretStr

from tomo.auth.schemas import Credentials, UserCreate
from tomo.auth.service import Principal
from tomo.crypto import Secrets
from tomo.errors import Forbidden, InvalidInput
from tomo.proxy.login import Asked, DoorLogin, passes_in
from tomo.runtime import Runtime

PUBLIC = "https://tomo.home.example"
APP = "photos.home.example"
PASSWORD = "a long enough password"
ASKED = Asked(host=APP, scheme="https", uri="/albums?x=1", method="GET", wants_page=True,
              passes=(), role="viewer")  # fmt: skip


def door_login(runtime: Runtime) -> DoorLogin:
    """A DoorLogin of its own (its short memory of passes is its own too)."""
    settings = runtime.settings
    return DoorLogin(runtime.auth, Secrets(settings.secret_key, settings.data_dir), PUBLIC)


async def signed_in(runtime: Runtime, name: str = "ann", role: str = "viewer") -> Principal:
    password = SecretStr(PASSWORD)
    await runtime.auth.create_user(UserCreate(username=name, password=password, role=role))
    opened = await runtime.auth.login(Credentials(username=name, password=password), "127.0.0.1")
    principal = await runtime.auth.session_principal(opened.session_id)
    assert principal is not None
    return principal


async def through_the_door(login: DoorLogin, principal: Principal, asked: Asked = ASKED) -> str:
    """The pass a browser gets: sent to tomo, back with a code, the code taken."""
    sent = await login.check(asked)
    assert sent.status == 302
    to = parse_qs(urlsplit(sent.headers["Location"]).query)["to"][0]
    entry = urlsplit(login.entry(principal, to, "viewer"))
    taken = await login.check(replace(asked, uri=f"{entry.path}?{entry.query}"))
    assert taken.status == 303, taken.text
    assert taken.new_pass is not None
    return taken.new_pass


async def test_a_browser_without_a_pass_is_sent_to_log_in_and_comes_back_with_one(
    runtime: Runtime,
) -> None:
    login = door_login(runtime)
    principal = await signed_in(runtime)

    sent = await login.check(ASKED)
    assert sent.status == 302
    expected = f"{PUBLIC}/door?to={quote(f'https://{APP}/albums?x=1', safe='')}"
    assert sent.headers["Location"] == expected

    entry = login.entry(principal, f"https://{APP}/albums?x=1", "viewer")
    split = urlsplit(entry)
    assert (split.scheme, split.netloc, split.path) == ("https", APP, "/albums")
    assert parse_qs(split.query)["x"] == ["1"]  # the app's own query kept

    taken = await login.check(replace(ASKED, uri=f"{split.path}?{split.query}"))
    assert taken.status == 303
    assert taken.headers["Location"] == f"https://{APP}/albums?x=1"  # the code gone
    assert taken.new_pass is not None

    through = await login.check(replace(ASKED, passes=(taken.new_pass,)))
    assert through.status == 200
    assert through.headers == {"Remote-User": "ann", "Remote-Role": "viewer"}


async def test_an_entry_code_is_good_once_and_for_its_host_only(runtime: Runtime) -> None:
    login = door_login(runtime)
    principal = await signed_in(runtime)
    entry = urlsplit(login.entry(principal, f"https://{APP}/", "viewer"))
    uri = f"/?{entry.query}"

    elsewhere = await login.check(replace(ASKED, host="files.home.example", uri=uri))
    assert elsewhere.status == 302 and elsewhere.new_pass is None
    assert (await login.check(replace(ASKED, uri=uri))).status == 303
    again = await login.check(replace(ASKED, uri=uri))
    assert again.status == 302 and again.new_pass is None  # to log in, not in


async def test_a_pass_opens_its_own_host_only_and_ends_with_the_session(
    runtime: Runtime,
) -> None:
    login = door_login(runtime)
    principal = await signed_in(runtime)
    made = await through_the_door(login, principal)

    other = await door_login(runtime).check(replace(ASKED, host="files.home.example",
                                                    passes=(made,)))  # fmt: skip
    assert other.status == 302  # an app cannot use its own pass on another
    tossed = ("not-a-pass", made)  # a cookie of the same name from elsewhere comes first
    assert (await login.check(replace(ASKED, passes=tossed))).status == 200

    await runtime.auth.logout(principal)
    after = await door_login(runtime).check(replace(ASKED, passes=(made,)))
    assert after.status == 302  # logged out of tomo: out of its apps too


async def test_a_viewer_is_refused_by_an_app_for_admins_in_words(runtime: Runtime) -> None:
    login = door_login(runtime)
    viewer = await signed_in(runtime)
    made = await through_the_door(login, viewer)

    refused = await login.check(replace(ASKED, passes=(made,), role="admin"))
    assert refused.status == 403
    assert refused.text == ("this app is for tomo's admins; you are signed in to tomo as "
                            "'ann', a viewer")  # fmt: skip
    with pytest.raises(Forbidden, match="this app is for tomo's admins"):
        login.entry(viewer, f"https://{APP}/", "admin")

    admin = await signed_in(runtime, "bea", "admin")
    passed = await login.check(replace(ASKED, passes=(await through_the_door(login, admin),),
                                       role="admin"))  # fmt: skip
    assert passed.status == 200 and passed.headers["Remote-Role"] == "admin"


async def test_requests_that_are_no_page_get_401_and_redirects_stay_on_the_app(
    runtime: Runtime,
) -> None:
    login = door_login(runtime)
    principal = await signed_in(runtime)

    api = await login.check(replace(ASKED, wants_page=False))
    assert api.status == 401
    assert f"log in to tomo first: {PUBLIC}/door?to=" in api.text
    post = await login.check(replace(ASKED, method="POST"))
    assert post.status == 401

    # `//evil.example/x` is another host to a browser: the redirect stays on the app.
    entry = urlsplit(login.entry(principal, f"https://{APP}/", "viewer"))
    taken = await login.check(replace(ASKED, uri=f"//evil.example/x?{entry.query}"))
    assert taken.headers["Location"] == f"https://{APP}/evil.example/x"


async def test_the_door_page_sends_nobody_where_no_app_asks_for_a_login(
    runtime: Runtime,
) -> None:
    login = door_login(runtime)
    principal = await signed_in(runtime)
    for to in (f"https://{APP}/", "javascript:alert(1)", "https://user@evil.example/"):
        needed = None if to.endswith(f"{APP}/") else "viewer"
        with pytest.raises(InvalidInput, match="is no app behind tomo's login"):
            login.entry(principal, to, needed)  # type: ignore[arg-type]


def test_every_pass_cookie_of_a_request_is_read() -> None:
    header = "a=1; tomo_door=first; __Host-tomo_door=second; tomo_doorx=no"
    assert passes_in(header) == ("first", "second")
    assert passes_in("") == ()
