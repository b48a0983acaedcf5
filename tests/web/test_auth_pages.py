"""Setup, login, logout and one's own account, as a browser without JavaScript."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
from fastapi.testclient import TestClient

from tests.api.conftest import ADMIN_PASSWORD, VIEWER_PASSWORD
from tests.web.conftest import Page, Web, text_of
from tomo.app import create_app
from tomo.auth.password_rule import password_rule
from tomo.auth.service import digest
from tomo.config import Settings
from tomo.http.security import DEVICE_COOKIE, SESSION_COOKIE


def test_a_fresh_tomo_leads_to_setup_and_setup_logs_the_admin_in(fresh: TestClient) -> None:
    page = Page(fresh)
    assert page.get("/").headers["location"] == "/store"
    assert page.get("/account").headers["location"] == "/setup"
    assert page.get("/login").headers["location"] == "/setup"
    form = page.get("/setup")
    assert form.status_code == 200 and 'action="/setup"' in form.text

    mismatch = page.post("/setup", {"username": "ada", "password": "long enough 1",
                                    "confirm": "long enough 2"})  # fmt: skip
    assert mismatch.status_code == 422
    assert "The two passwords differ" in text_of(mismatch)
    assert 'value="ada"' in mismatch.text  # what was typed is kept
    short = page.post("/setup", {"username": "ada", "password": "short", "confirm": "short"})
    assert short.status_code == 422 and "At least 10 characters are needed" in text_of(short)

    done = page.post("/setup", {"username": "ada", "password": "long enough 1",
                                "confirm": "long enough 1"})  # fmt: skip
    assert done.headers["location"] == "/store"  # as the README says: then the store is yours
    account = page.get("/account")
    assert account.status_code == 200
    assert "Welcome to tomo" in text_of(account)  # the message of the last step, once
    assert "Welcome to tomo" not in text_of(page.get("/account"))
    closed = Page(fresh).get("/setup")
    assert closed.headers["location"] == "/login"
    again = Page(fresh).post("/setup", {"username": "eve", "password": "long enough 1",
                                        "confirm": "long enough 1"})  # fmt: skip
    assert again.headers["location"] == "/login"


def test_a_page_needs_a_login_and_returns_there_after_it(web: Web) -> None:
    page = web.anonymous()
    asked = page.get("/account?tab=1")
    assert asked.headers["location"] == "/login?next=%2Faccount%3Ftab%3D1"
    form = page.get(asked.headers["location"])
    assert 'name="next" value="/account?tab=1"' in form.text
    done = page.post("/login", {"username": "admin", "password": ADMIN_PASSWORD,
                                "next": "/account?tab=1"})  # fmt: skip
    assert done.headers["location"] == "/account?tab=1"
    assert "httponly" in done.headers["set-cookie"].lower()
    assert page.get("/account").status_code == 200


def test_a_wrong_login_says_so_and_keeps_the_user_name(web: Web) -> None:
    page = web.anonymous()
    wrong = page.post("/login", {"username": "admin", "password": "not it", "next": "/store"})
    assert wrong.status_code == 401
    assert "wrong user name or password" in text_of(wrong)
    assert 'value="admin"' in wrong.text
    unknown = page.post("/login", {"username": "nobody", "password": "not it"})
    assert text_of(unknown).count("wrong user name or password") == 1
    assert page.get("/account").status_code == 303  # still not logged in


def test_next_never_leads_to_another_site(web: Web) -> None:
    page = web.anonymous()
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", ""):
        done = page.post("/login", {"username": "admin", "password": ADMIN_PASSWORD,
                                    "next": target})  # fmt: skip
        assert done.headers["location"] == "/store", target


def test_a_form_without_its_csrf_token_is_refused(web: Web) -> None:
    page = web.admin()
    refused = page.post("/account/logout-everywhere", csrf=False)
    assert refused.status_code == 403
    assert "reload the page" in text_of(refused)
    forged = page.post("/account/logout-everywhere", {"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert page.get("/account").status_code == 200  # nothing happened


def test_logout_ends_the_session(web: Web) -> None:
    page = web.admin()
    session = dict(page.cookies)
    assert page.post("/logout").headers["location"] == "/login"
    assert page.get("/account").status_code == 303
    replay = Page(web.client)
    replay.cookies = session
    assert replay.get("/account").status_code == 303


def test_changing_ones_password(web: Web) -> None:
    page = web.viewer()
    wrong = page.post("/account/password", {"current_password": "nope", "new_password":
                                            "a new password 1", "confirm": "a new password 1"})  # fmt: skip
    assert wrong.status_code == 422
    assert error_beside(wrong, "current_password") == "The current password is wrong."
    differ = page.post("/account/password", {"current_password": "viewer password 1",
                                             "new_password": "a new password 1",
                                             "confirm": "another one 12"})  # fmt: skip
    assert error_beside(differ, "confirm").startswith("The two passwords differ")
    done = page.post("/account/password", {"current_password": "viewer password 1",
                                            "new_password": "a new password 1",
                                            "confirm": "a new password 1"})  # fmt: skip
    assert done.headers["location"] == "/account"
    assert "Password changed" in text_of(page.get("/account"))
    Page(web.client).log_in("vera", "a new password 1")


def test_error_pages_are_pages(web: Web) -> None:
    page = web.admin()
    missing = page.get("/no/such/page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "Not found" in text_of(missing)
    api_missing = page.get("/api/no/such/route")
    assert api_missing.headers["content-type"] == "application/problem+json"


def test_pages_carry_a_strict_content_security_policy(web: Web) -> None:
    answer = web.admin().get("/account")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-frame-options"] == "DENY"
    css = web.anonymous().get("/static/tomo.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_ones_sessions_are_listed_and_one_can_be_ended(web: Web) -> None:
    laptop, phone = web.viewer(), web.viewer()
    listed = text_of(laptop.get("/account"))
    assert listed.count("Logged in just now from") == 2
    assert listed.count("this browser") == 1
    ids = re.findall(r'action="/account/sessions/([0-9a-f]{16})/end"', laptop.get("/account").text)
    assert len(ids) == 1  # the other one: this browser's own has no End button
    assert laptop.post(f"/account/sessions/{ids[0]}/end").headers["location"] == "/account"
    assert phone.get("/account").status_code == 303  # the phone is logged out
    assert laptop.get("/account").status_code == 200
    # Only one's own sessions: an admin cannot end the viewer's by guessing its id.
    admin = web.admin()
    laptops = digest(laptop.cookies[SESSION_COOKIE])[:16]
    assert admin.post(f"/account/sessions/{laptops}/end").status_code == 404
    assert admin.post("/account/sessions/zz%25/end").status_code == 404
    assert laptop.get("/account").status_code == 200


# -- issue 17: logins from other sites, known browsers, tokens at a password change ---

CROSS_SITE = {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver"}


def test_a_login_form_sent_from_another_site_is_refused_with_a_page(web: Web) -> None:
    """Login CSRF: a page elsewhere must not log this browser into its own account."""
    page = web.anonymous()
    credentials = {"username": "vera", "password": VIEWER_PASSWORD, "next": "/store"}
    for headers in (CROSS_SITE, {"Origin": "https://evil.example"},
                    {"Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        refused = page.post("/login", credentials, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.headers["content-type"].startswith("text/html")
        assert "sent from another site" in text_of(refused)
        assert refused.headers.get_list("set-cookie") == []
        assert page.cookies == {}
    done = page.post("/login", credentials, headers=SAME_ORIGIN)
    assert done.status_code == 303 and SESSION_COOKIE in page.cookies


def test_the_setup_form_sent_from_another_site_makes_no_admin(fresh: TestClient) -> None:
    page = Page(fresh)
    form = {"username": "mallory", "password": "long enough 1", "confirm": "long enough 1"}
    refused = page.post("/setup", form, headers=CROSS_SITE)
    assert refused.status_code == 403 and "sent from another site" in text_of(refused)
    assert page.cookies == {}
    assert page.get("/setup").status_code == 200  # still open: nobody was made
    assert page.post("/setup", form, headers=SAME_ORIGIN).headers["location"] == "/store"


def test_strangers_wrong_passwords_do_not_lock_out_a_browser_that_logged_in_before(
    web: Web,
) -> None:
    mine = web.admin()
    assert mine.post("/logout").headers["location"] == "/login"
    assert DEVICE_COOKIE in mine.cookies and SESSION_COOKIE not in mine.cookies
    stranger = web.anonymous()
    for _ in range(5):
        assert (
            stranger.post("/login", {"username": "admin", "password": "a guess"}).status_code == 401
        )
    held = stranger.post("/login", {"username": "admin", "password": ADMIN_PASSWORD})
    assert held.status_code == 429 and int(held.headers["Retry-After"]) >= 1
    assert "too many failed logins" in text_of(held)
    assert mine.log_in("admin", ADMIN_PASSWORD).headers["location"] == "/store"


def test_the_password_form_says_api_tokens_outlive_it_and_revokes_them_by_default(
    web: Web,
) -> None:
    page = web.viewer()
    account = page.get("/account")
    said = text_of(account)
    assert "API tokens keep working after a password change unless you revoke them" in said
    assert "Your other browser sessions end" in said
    box = re.search(r'<input[^>]*name="revoke_tokens"[^>]*>', account.text)
    assert box is not None and "checked" in box.group(0) and 'type="checkbox"' in box.group(0)
    assert "Also revoke your 1 API token" in said

    form = {"current_password": VIEWER_PASSWORD, "new_password": "a new password 1",
            "confirm": "a new password 1", "revoke_tokens": "yes"}  # fmt: skip
    done = page.post("/account/password", form)
    assert "1 API token revoked" in text_of(page.follow(done))
    assert web.api.viewer.get("/api/auth/me").status_code == 401


def test_changing_ones_password_can_keep_ones_api_tokens(web: Web) -> None:
    page = web.viewer()
    form = {"current_password": VIEWER_PASSWORD, "new_password": "a new password 1",
            "confirm": "a new password 1"}  # the box left unticked  # fmt: skip
    done = page.post("/account/password", form)
    assert "your API tokens still work" in text_of(page.follow(done))
    assert web.api.viewer.get("/api/auth/me").status_code == 200


def test_an_admins_reset_offers_to_revoke_the_users_api_tokens(web: Web) -> None:
    page = web.admin()
    vera_id = web.api.admin.get("/api/users/vera").json()["id"]
    form = page.get(f"/users/{vera_id}")
    box = re.search(r'<input[^>]*name="revoke_tokens"[^>]*>', form.text)
    assert box is not None and "checked" in box.group(0)
    assert "their API tokens keep working unless revoked here" in text_of(form)
    done = page.post(f"/users/{vera_id}/password", {"password": "set by the admin",
                                                    "confirm": "set by the admin",
                                                    "revoke_tokens": "yes"})  # fmt: skip
    assert "1 API token revoked" in text_of(page.follow(done))
    assert web.api.viewer.get("/api/auth/me").status_code == 401


# -- issue 20: every error at once beside its field, the rule stated in full ---------


def error_beside(answer: httpx.Response, field: str) -> str:
    """The message shown under one field of the form ('' when there is none)."""
    found = re.search(rf'<p class="field-error" id="e-{field}">(.*?)</p>', answer.text, re.S)
    if not found:
        return ""
    shown = re.sub(r'<span aria-hidden="true">.*?</span>', "", found.group(1))
    return html.unescape(re.sub(r"<[^>]+>", "", shown)).strip()


def input_of(answer: httpx.Response, field: str) -> str:
    found = re.search(rf'<input id="f-{field}"[^>]*>', answer.text)
    assert found is not None, field
    return found.group(0)


def hint_of(answer: httpx.Response, field: str) -> str:
    found = re.search(rf'<p class="hint" id="h-{field}">(.*?)</p>', answer.text, re.S)
    return html.unescape(found.group(1)).strip() if found else ""


def marked_invalid(answer: httpx.Response, field: str) -> bool:
    """The field is marked for assistive technology too: invalid, and described by
    its error."""
    tag = input_of(answer, field)
    described = re.search(r'aria-describedby="([^"]*)"', tag)
    return (
        'aria-invalid="true"' in tag
        and described is not None
        and (f"e-{field}" in described.group(1).split())
    )


def test_the_setup_form_says_everything_wrong_at_once_beside_each_field(
    fresh: TestClient,
) -> None:
    page = Page(fresh)
    form = page.get("/setup")
    assert hint_of(form, "password") == password_rule(10)  # before anything is typed
    assert "At least 10 and at most 1024 characters" in hint_of(form, "password")
    assert "--admin" not in form.text  # a page names no command-line flag

    wrong = page.post("/setup", {"username": "-bad name", "password": "short",
                                 "confirm": "shorter"})  # fmt: skip
    assert wrong.status_code == 422
    assert error_beside(wrong, "username").startswith("A user name is 1 to 64 lowercase")
    assert error_beside(wrong, "password") == "At least 10 characters are needed, this one has 5."
    assert error_beside(wrong, "confirm").startswith("The two passwords differ")
    for field in ("username", "password", "confirm"):
        assert marked_invalid(wrong, field), field
    assert hint_of(wrong, "password") == password_rule(10)  # the rule stays beside it
    assert 'value="-bad name"' in wrong.text and "short" not in input_of(wrong, "password")
    assert page.get("/setup").status_code == 200  # nobody was made

    only_confirm = page.post("/setup", {"username": "ada", "password": "long enough 1",
                                        "confirm": ""})  # fmt: skip
    assert [error_beside(only_confirm, f) == "" for f in ("username", "password", "confirm")] == [
        True, True, False]  # fmt: skip
    assert not marked_invalid(only_confirm, "password")


def test_the_rule_shown_is_the_rule_checked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", builtin_catalog=False, sync_interval=0,
                        min_password_length=14)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        page = Page(client)
        assert hint_of(page.get("/setup"), "password").startswith("At least 14 and at most")
        eleven = {"username": "ada", "password": "elevenchars", "confirm": "elevenchars"}
        refused = page.post("/setup", eleven)
        assert error_beside(refused, "password") == (
            "At least 14 characters are needed, this one has 11."
        )
        done = page.post("/setup", {**eleven, "password": "fourteen chars", "confirm":
                                    "fourteen chars"})  # fmt: skip
        assert done.headers["location"] == "/store"
        assert hint_of(page.get("/account"), "new_password") == password_rule(14)


def test_the_password_form_says_everything_wrong_at_once(web: Web) -> None:
    page = web.viewer()
    assert hint_of(page.get("/account"), "new_password") == password_rule(10)
    everything = page.post("/account/password", {"current_password": "not it",
                                                  "new_password": "short",
                                                  "confirm": "other"})  # fmt: skip
    assert everything.status_code == 422
    assert error_beside(everything, "current_password") == "The current password is wrong."
    assert error_beside(everything, "new_password") == (
        "At least 10 characters are needed, this one has 5."
    )
    assert error_beside(everything, "confirm").startswith("The two passwords differ")
    for field in ("current_password", "new_password", "confirm"):
        assert marked_invalid(everything, field), field
        assert 'value=""' in input_of(everything, field)  # no password is sent back

    empty = page.post("/account/password", {"current_password": "", "new_password":
                                            "a new password 1", "confirm": "a new password 1"})  # fmt: skip
    assert error_beside(empty, "current_password") == "Enter your current password."
    assert error_beside(empty, "new_password") == ""

    right_but_short = page.post("/account/password", {"current_password": VIEWER_PASSWORD,
                                                      "new_password": "short",
                                                      "confirm": "short"})  # fmt: skip
    assert error_beside(right_but_short, "current_password") == ""
    assert error_beside(right_but_short, "new_password").startswith("At least 10 characters")
    Page(web.client).log_in("vera", VIEWER_PASSWORD)  # nothing changed


def test_a_wrong_current_password_alone_is_marked_on_its_field(web: Web) -> None:
    page = web.viewer()
    wrong = page.post("/account/password", {"current_password": "not it", "new_password":
                                            "a new password 1", "confirm": "a new password 1"})  # fmt: skip
    assert error_beside(wrong, "current_password") == "The current password is wrong."
    assert marked_invalid(wrong, "current_password")
    assert error_beside(wrong, "new_password") == "" and not marked_invalid(wrong, "new_password")
    Page(web.client).log_in("vera", VIEWER_PASSWORD)  # the old one still opens
