"""The servers' logins through the API, against the real sshd: a key pair tomo
generates, a new login tried before it is kept, and never a secret in an answer."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.servers.authorized_keys import authorized
from tests.sshd import Sshd, SshUsers


def server(sshd: Sshd, users: SshUsers, **login: Any) -> dict[str, Any]:
    return {"name": "nas", "host": "127.0.0.1", "port": sshd.port, "username": users.user,
            **login}  # fmt: skip


def field_errors(answer: Any) -> dict[str, str]:
    return {error["field"]: error["message"] for error in answer.json().get("errors", [])}


def test_add_with_a_generated_key_answers_its_public_key_only(
    api: Api, sshd: Sshd, ssh_users: SshUsers
) -> None:
    too_soon = api.admin.post("/api/servers", json=server(
        sshd, ssh_users, generate_key=True, fingerprint=sshd.fingerprint,
    ))  # fmt: skip
    assert too_soon.status_code == 422
    assert (
        "once the generated public key is on the server"
        in field_errors(too_soon)["body.fingerprint"]
    )

    added = api.admin.post("/api/servers", json=server(sshd, ssh_users, generate_key=True))
    assert added.status_code == 201, added.text
    key = added.json()["public_key"]
    assert set(key) == {"server_id", "username", "public_key", "fingerprint", "pending"}
    assert key["public_key"].startswith("ssh-ed25519 ") and key["pending"] is False
    assert "PRIVATE" not in added.text
    assert api.viewer.get("/api/servers/nas/public-key").json() == key  # a public key is public

    refused = api.admin.post("/api/servers/nas/trust", json={"fingerprint": sshd.fingerprint})
    assert refused.status_code == 502
    with authorized(ssh_users, key["public_key"]):
        trusted = api.admin.post("/api/servers/nas/trust", json={"fingerprint": sshd.fingerprint})
        assert trusted.status_code == 200, trusted.text
        assert (trusted.json()["status"], trusted.json()["auth_type"]) == ("online", "key")


def test_a_new_login_is_tried_first_and_a_refused_one_names_its_field(
    api: Api, sshd: Sshd, ssh_users: SshUsers
) -> None:
    added = api.admin.post("/api/servers", json=server(
        sshd, ssh_users, password=ssh_users.password, fingerprint=sshd.fingerprint,
    ))  # fmt: skip
    assert added.status_code == 201, added.text
    refused = api.admin.patch("/api/servers/nas", json={"password": "not-it", "name": "other"})
    assert refused.status_code == 502
    assert field_errors(refused)["password"].endswith(
        "(password not accepted); the old login is kept"
    )
    assert "not-it" not in refused.text
    kept = api.admin.get("/api/servers/nas").json()
    assert (kept["name"], kept["auth_type"]) == ("nas", "password")
    assert api.admin.post("/api/servers/nas/test").json()["status"] == "online"

    by_key = api.admin.patch("/api/servers/nas", json={"private_key": ssh_users.key.read_text()})
    assert by_key.status_code == 200, by_key.text
    assert (by_key.json()["auth_type"], by_key.json()["status"]) == ("key", "online")
    assert "PRIVATE" not in by_key.text
    assert api.viewer.patch("/api/servers/nas", json={"password": "x"}).status_code == 403


def test_a_key_pair_waits_until_patch_tries_it(api: Api, sshd: Sshd, ssh_users: SshUsers) -> None:
    api.admin.post("/api/servers", json=server(
        sshd, ssh_users, password=ssh_users.password, fingerprint=sshd.fingerprint,
    ))  # fmt: skip
    assert api.admin.get("/api/servers/nas/public-key").status_code == 404
    none_yet = api.admin.patch("/api/servers/nas", json={"generated_key": True})
    assert none_yet.status_code == 422
    assert "no generated key waits for server 'nas'" in field_errors(none_yet)["generated_key"]
    assert api.viewer.post("/api/servers/nas/key-pair").status_code == 403

    made = api.admin.post("/api/servers/nas/key-pair")
    assert made.status_code == 201, made.text
    key = made.json()
    assert (key["pending"], key["username"]) == (True, ssh_users.user)
    assert "PRIVATE" not in made.text
    assert api.admin.get("/api/servers/nas/public-key").json() == key
    not_there = api.admin.patch("/api/servers/nas", json={"generated_key": True})
    assert not_there.status_code == 502
    assert "the old login is kept" in field_errors(not_there)["generated_key"]
    assert api.admin.get("/api/servers/nas").json()["auth_type"] == "password"

    with authorized(ssh_users, key["public_key"]):
        kept = api.admin.patch("/api/servers/nas", json={"generated_key": True})
        assert kept.status_code == 200, kept.text
        assert (kept.json()["auth_type"], kept.json()["status"]) == ("key", "online")
        assert api.admin.get("/api/servers/nas/public-key").json() == {**key, "pending": False}
        assert api.admin.post("/api/servers/nas/test").json()["status"] == "online"
