"""Users, API tokens and the audit log, as a browser without JavaScript."""

from __future__ import annotations

import html
import re

import httpx

from tests.api.conftest import ADMIN_PASSWORD
from tests.web.conftest import Page, Web, text_of
from tomo.auth.service import csrf_token_for
from tomo.http.security import SESSION_COOKIE
from tomo.runtime import Runtime

NEW_PASSWORD = "walt password 1"


def error_beside(answer: httpx.Response, field: str) -> str:
    """The message shown under one field of the form ('' when there is none)."""
    found = re.search(rf'<p class="field-error" id="e-{field}">(.*?)</p>', answer.text, re.S)
    if not found:
        return ""
    shown = re.sub(r'<span aria-hidden="true">.*?</span>', "", found.group(1))
    return html.unescape(re.sub(r"<[^>]+>", "", shown)).strip()


def said(answer: httpx.Response) -> str:
    """The page's visible text, its entities (quotes) read."""
    return html.unescape(text_of(answer))


def rows_of(answer: httpx.Response) -> list[str]:
    """The text of each row of the page's table body."""
    body = answer.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, re.S)]  # fmt: skip


def forms_carry_the_session_token(page: Page, answer: httpx.Response) -> bool:
    """Every form of the page sends the session's CSRF token (Page.post adds one
    itself: this checks what a browser would send)."""
    sent = re.findall(r'name="csrf_token" value="([^"]*)"', answer.text)
    return bool(sent) and set(sent) == {csrf_token_for(page.cookies[SESSION_COOKIE])}


def user_id(web: Web, name: str) -> str:
    users = web.api.admin.get("/api/users").json()
    return str(next(user["id"] for user in users if user["username"] == name))


def token_value(answer: httpx.Response) -> str:
    found = re.search(r'<code id="token-value">(tomo_[A-Za-z0-9_-]+)</code>', answer.text)
    assert found, answer.text[:3000]
    return found.group(1)


def add_user(page: Page, name: str, role: str = "viewer") -> httpx.Response:
    return page.post("/users", {"username": name, "role": role, "password": NEW_PASSWORD,
                                "confirm": NEW_PASSWORD})  # fmt: skip


def test_an_admin_adds_a_viewer_who_can_then_log_in(web: Web) -> None:
    page = web.admin()
    listed = page.get("/users")
    assert listed.status_code == 200
    assert 'action="/users"' in listed.text and 'name="confirm"' in listed.text
    assert forms_carry_the_session_token(page, listed)
    added = add_user(page, "walt")
    assert added.headers["location"] == "/users"
    after = page.follow(added)
    assert "User 'walt' added as a viewer" in said(after)
    assert any(row.startswith("walt") and "viewer" in row for row in rows_of(after))
    walt = Page(web.client)
    walt.log_in("walt", NEW_PASSWORD)
    assert walt.get("/account").status_code == 200
    assert web.api.admin.get("/api/users/walt").json()["role"] == "viewer"


def test_bad_user_forms_are_refused_beside_the_field_with_what_was_typed_kept(web: Web) -> None:
    page = web.admin()
    short = page.post("/users", {"username": "walt", "role": "admin", "password": "short",
                                 "confirm": "short"})  # fmt: skip
    assert short.status_code == 422
    assert "at least 10 characters" in error_beside(short, "password")
    assert 'value="walt"' in short.text
    assert re.search(r'<option value="admin"\s+selected>', short.text)  # the role kept
    assert 'value="short"' not in short.text  # a password never comes back

    taken = page.post("/users", {"username": "vera", "password": NEW_PASSWORD,
                                 "confirm": NEW_PASSWORD})  # fmt: skip
    assert taken.status_code == 409
    assert "already exists" in error_beside(taken, "username")
    assert NEW_PASSWORD not in taken.text

    differ = page.post("/users", {"username": "walt", "password": NEW_PASSWORD,
                                  "confirm": "another password"})  # fmt: skip
    assert differ.status_code == 422
    assert error_beside(differ, "confirm") == "the two passwords differ"
    assert 'value="walt"' in differ.text

    bad_name = page.post("/users", {"username": "Not A Name!", "password": NEW_PASSWORD,
                                    "confirm": NEW_PASSWORD})  # fmt: skip
    assert bad_name.status_code == 422
    assert "a user name is" in error_beside(bad_name, "username")
    names = [user["username"] for user in web.api.admin.get("/api/users").json()]
    assert names == ["admin", "vera"]  # nothing was made


def test_the_last_admin_cannot_be_deleted_and_says_why(web: Web) -> None:
    page = web.admin()
    refused = page.post(f"/users/{user_id(web, 'admin')}/delete")
    assert refused.headers["location"] == "/users"
    shown = page.follow(refused)
    assert "'admin' is the last admin; make another first" in said(shown)
    assert 'class="alert alert-error"' in shown.text
    assert web.api.admin.get("/api/users/admin").status_code == 200


def test_the_last_admin_has_no_delete_button_and_the_pages_say_why(web: Web) -> None:
    page = web.admin()
    admin_id, vera_id = user_id(web, "admin"), user_id(web, "vera")
    listed = page.get("/users")
    assert f'action="/users/{admin_id}/delete"' not in listed.text
    assert f'action="/users/{vera_id}/delete"' in listed.text  # a viewer may go
    assert (
        "admin is the only admin: tomo always keeps one, so that account has no Delete "
        "button. Add another admin first to delete it." in said(listed)
    )
    own = page.get(f"/users/{admin_id}")
    assert f'action="/users/{admin_id}/delete"' not in own.text
    assert "You are the only admin, so there is no Delete button" in said(own)
    assert page.post(f"/users/{admin_id}/delete").headers["location"] == "/users"  # still refused
    assert web.api.admin.get("/api/users/admin").status_code == 200

    add_user(page, "walt", role="admin")  # two admins: either may go
    listed = page.get("/users")
    walt_id = user_id(web, "walt")
    for each in (admin_id, walt_id):
        assert f'action="/users/{each}/delete"' in listed.text
    assert "is the only admin" not in said(listed)
    assert f'action="/users/{walt_id}/delete"' in page.get(f"/users/{walt_id}").text


def test_an_admin_deletes_a_user_and_their_sessions_end(web: Web) -> None:
    page = web.admin()
    vera = web.viewer()
    deleted = page.post(f"/users/{user_id(web, 'vera')}/delete")
    assert "User 'vera' deleted" in said(page.follow(deleted))
    assert vera.get("/store").status_code == 303  # to the login
    assert web.api.viewer.get("/api/auth/me").status_code == 401  # her token too


def test_an_admin_sets_another_users_password_and_not_their_own_here(web: Web) -> None:
    page = web.admin()
    vera_id = user_id(web, "vera")
    listed = page.get("/users")
    assert f'href="/users/{vera_id}">Set password' in listed.text
    assert 'href="/account">Your password' in listed.text  # one's own: the account page
    assert (
        f'action="/users/{vera_id}/delete" class="inline" data-confirm="Delete vera?' in listed.text
    )
    assert f'href="/users/{user_id(web, "admin")}">Set password' not in listed.text

    form = page.get(f"/users/{vera_id}")
    assert form.status_code == 200 and f'action="/users/{vera_id}/password"' in form.text
    assert forms_carry_the_session_token(page, form)
    differ = page.post(f"/users/{vera_id}/password", {"password": NEW_PASSWORD,
                                                      "confirm": "not the same one"})  # fmt: skip
    assert differ.status_code == 422
    assert error_beside(differ, "confirm") == "the two passwords differ"
    short = page.post(f"/users/{vera_id}/password", {"password": "short", "confirm": "short"})
    assert "at least 10 characters" in error_beside(short, "password")

    done = page.post(f"/users/{vera_id}/password", {"password": NEW_PASSWORD,
                                                    "confirm": NEW_PASSWORD})  # fmt: skip
    assert "Password of 'vera' set" in said(page.follow(done))
    Page(web.client).log_in("vera", NEW_PASSWORD)

    own = page.get(f"/users/{user_id(web, 'admin')}")
    assert 'href="/account"' in own.text and "/password" not in own.text
    forged = page.post(f"/users/{user_id(web, 'admin')}/password",
                       {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})  # fmt: skip
    assert forged.status_code == 403 and "needs the current one" in said(forged)
    Page(web.client).log_in("admin", ADMIN_PASSWORD)  # unchanged


def test_a_viewer_may_not_see_or_change_users_or_the_audit_log(web: Web) -> None:
    page = web.viewer()
    for url in ("/users", f"/users/{user_id(web, 'admin')}", "/audit", "/audit?page=2"):
        refused = page.get(url)
        assert refused.status_code == 403, url
        assert "this page is for admins" in said(refused)
    forged = add_user(page, "mallory", role="admin")
    assert forged.status_code == 403
    deleted = page.post(f"/users/{user_id(web, 'admin')}/delete")
    assert deleted.status_code == 403
    names = [user["username"] for user in web.api.admin.get("/api/users").json()]
    assert names == ["admin", "vera"]
    nav = page.get("/account")
    assert 'href="/users"' not in nav.text and 'href="/audit"' not in nav.text


def test_a_token_is_shown_once_works_on_the_api_and_is_refused_once_revoked(web: Web) -> None:
    page = web.admin()
    made = page.post("/tokens", {"name": "backup script"})
    assert made.status_code == 200
    value = token_value(made)
    assert "shows it only this once" in said(made)
    assert f"Authorization: Bearer {value}" in made.text and "tomo login" in made.text

    listed = page.get("/tokens")
    assert value not in listed.text
    assert forms_carry_the_session_token(page, listed)
    assert '/revoke" class="inline" data-confirm="Revoke the token' in listed.text
    assert any(row.startswith("backup script admin") and "active" in row
               for row in rows_of(listed))  # fmt: skip
    bearer = {"Authorization": f"Bearer {value}"}
    assert web.client.get("/api/marketplace/apps", headers=bearer).status_code == 200

    token_id = re.search(r'action="/tokens/([0-9a-f]+)/revoke"[^>]*backup script', listed.text)
    assert token_id, listed.text
    revoked = page.post(f"/tokens/{token_id.group(1)}/revoke")
    after = page.follow(revoked)
    assert "Token 'backup script' of admin revoked" in said(after)
    assert any(row.startswith("backup script") and "revoked" in row for row in rows_of(after))
    assert value not in after.text
    assert web.client.get("/api/marketplace/apps", headers=bearer).status_code == 401


def test_an_admin_makes_a_token_for_another_user_with_their_role(web: Web) -> None:
    page = web.admin()
    form = page.get("/tokens")
    assert '<select id="f-username" name="username"' in form.text
    made = page.post("/tokens", {"name": "vera's laptop", "username": "vera"})
    assert "For vera" in said(made)
    bearer = {"Authorization": f"Bearer {token_value(made)}"}
    assert web.client.get("/api/auth/me", headers=bearer).json()["username"] == "vera"
    assert web.client.get("/api/users", headers=bearer).status_code == 403  # a viewer's

    empty = page.post("/tokens", {"name": "", "username": "vera"})
    assert empty.status_code == 422 and error_beside(empty, "name")
    assert re.search(r'<option value="vera"\s+selected>', empty.text)
    nobody = page.post("/tokens", {"name": "ghost", "username": "nobody"})
    assert nobody.status_code == 404 and "no user" in error_beside(nobody, "username")
    assert re.search(r'<select id="f-username"[^>]*aria-invalid="true"', nobody.text)


def test_a_viewer_sees_and_manages_only_their_own_tokens(web: Web) -> None:
    admin = web.admin()
    admin.post("/tokens", {"name": "admin only script"})
    page = web.viewer()
    listed = page.get("/tokens")
    assert listed.status_code == 200
    assert "vera tests" in said(listed)
    assert "admin only script" not in said(listed) and "admin tests" not in said(listed)
    assert 'name="username"' not in listed.text  # no owner to choose
    assert forms_carry_the_session_token(page, listed)

    made = page.post("/tokens", {"name": "vera's script"})
    assert made.status_code == 200
    bearer = {"Authorization": f"Bearer {token_value(made)}"}
    assert web.client.get("/api/auth/me", headers=bearer).json()["username"] == "vera"

    forged = page.post("/tokens", {"name": "as admin", "username": "admin"})
    assert forged.status_code == 403
    assert "only an admin may make a token for another user" in said(forged)
    admins = [t for t in web.api.admin.get("/api/tokens").json() if t["username"] == "admin"]
    assert "as admin" not in [t["name"] for t in admins]
    theirs = page.post(f"/tokens/{admins[0]['id']}/revoke")
    assert theirs.status_code == 404
    assert web.api.admin.get("/api/auth/me").status_code == 200  # still works


def test_the_audit_log_lists_logins_and_changes_with_who_made_them(web: Web) -> None:
    page = web.admin()
    add_user(page, "walt")
    Page(web.client).log_in("walt", NEW_PASSWORD)
    Page(web.client).post("/login", {"username": "walt", "password": "wrong one"})
    rows = rows_of(page.get("/audit"))
    assert rows[0].startswith("just now walt login")
    assert "401 refused" in rows[0] and "wrong user name or password" in rows[0]
    assert "ok" in rows[1] and "walt login" in rows[1]
    assert any("admin user create /users" in row and "ok" in row for row in rows)
    assert any("admin login" in row for row in rows)


def test_the_audit_log_pages_fifty_at_a_time(web: Web) -> None:
    async def many(runtime: Runtime) -> None:
        for number in range(60):
            await runtime.auth.record(actor="robot", action="poke", target=f"/thing/{number}",
                                      outcome="ok", client="192.0.2.7")  # fmt: skip

    web.api.run(many)
    page = web.admin()
    first = page.get("/audit")
    assert len(rows_of(first)) == 50
    assert "admin login" in rows_of(first)[0]  # the newest: this page's own login
    assert "/thing/59" in said(first) and "/thing/11" in said(first)
    assert not re.search(r"/thing/10\b", said(first))
    assert 'href="/audit?page=2"' in first.text and 'rel="prev"' not in first.text
    second = page.get("/audit?page=2")
    assert "/thing/10" in said(second) and "/thing/0" in said(second)
    assert "/thing/59" not in said(second)
    assert 'rel="prev"' in second.text and 'href="/audit"' in second.text
    assert 'href="/audit?page=3"' not in second.text  # the setup's events fit on page 2
    beyond = page.get("/audit?page=9")
    assert beyond.status_code == 200 and "No events on this page" in said(beyond)
    assert page.get("/audit?page=0").status_code == 422
