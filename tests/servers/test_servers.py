"""The servers registry through ServerService: trust, facts, secrets at rest."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select

from tests.servers.authorized_keys import authorized
from tests.sshd import Sshd, SshUsers, allow_sudo_docker, forbid_sudo_docker
from tomo.architectures import normalize_architecture
from tomo.config import Settings
from tomo.errors import (
    AuthenticationFailed,
    HostKeyChanged,
    HostKeyUnknown,
    InvalidInput,
    NotFound,
    SecretsUnavailable,
    ServerExists,
    ServerInUse,
    ServerNotFound,
    ServerUnreachable,
)
from tomo.runtime import Runtime, open_runtime
from tomo.servers.keys import public_half
from tomo.servers.models import Server
from tomo.servers.schemas import ServerCreate, ServerPublic, ServerUpdate


def by_key(sshd: Sshd, users: SshUsers, name: str = "nas", **overrides) -> ServerCreate:
    fields = {"name": name, "host": "127.0.0.1", "port": sshd.port, "username": users.user,
              "private_key": SecretStr(users.key.read_text())}  # fmt: skip
    fields.update(overrides)
    return ServerCreate(**fields)


async def test_add_shows_the_key_and_trusts_nothing_without_consent(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    logins = sshd.logins()
    added = await runtime.servers.add_server(by_key(sshd, ssh_users))
    assert added.host_key.fingerprint == sshd.fingerprint
    assert (added.server.trusted, added.server.host_key_fingerprint) == (False, None)
    assert (added.server.status, added.server.facts) == ("unknown", None)
    assert sshd.logins() == logins  # reading the host key is no login
    with pytest.raises(HostKeyUnknown, match="nas: host key not trusted yet"):
        await runtime.servers.test_server("nas")

    trusted = await runtime.servers.trust_server("nas", sshd.fingerprint)
    assert (trusted.trusted, trusted.host_key_fingerprint) == (True, sshd.fingerprint)
    assert_checked_in(trusted)
    assert sshd.logins() == logins + 1


def assert_checked_in(server: ServerPublic) -> None:
    """The server as one login left it: online, with the facts it found."""
    assert (server.status, server.last_error) == ("online", None)
    assert server.last_seen is not None and server.facts_at is not None
    assert server.facts is not None
    assert server.facts.architecture == normalize_architecture(platform.machine())
    assert server.facts.cpu_count and server.facts.memory_total_mb


async def test_add_with_the_expected_fingerprint_logs_in_once_and_records_the_facts(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    logins = sshd.logins()
    added = await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    assert added.server.trusted
    assert_checked_in(added.server)
    assert sshd.logins() == logins + 1
    assert await runtime.servers.get_server("nas") == added.server


async def test_add_logs_in_right_after_consent(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    asked: list[str] = []

    def consent(fingerprint: str) -> bool:
        asked.append(fingerprint)
        return True

    logins = sshd.logins()
    added = await runtime.servers.add_server(by_key(sshd, ssh_users), confirm=consent)
    assert asked == [sshd.fingerprint]
    assert added.server.host_key_fingerprint == sshd.fingerprint
    assert_checked_in(added.server)
    assert sshd.logins() == logins + 1

    declined = await runtime.servers.add_server(by_key(sshd, ssh_users, name="other"),
                                                confirm=lambda _: False)  # fmt: skip
    assert (declined.server.trusted, declined.server.status) == (False, "unknown")
    assert sshd.logins() == logins + 1


@pytest.mark.parametrize("confirmed_by", ["fingerprint", "consent"])
@pytest.mark.parametrize("credentials", ["stranger key", "wrong password"])
async def test_a_refused_login_adds_nothing(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, confirmed_by: str, credentials: str
) -> None:
    if credentials == "stranger key":
        wrong = by_key(sshd, ssh_users, private_key=SecretStr(ssh_users.stranger_key.read_text()))
        method = "key"
    else:
        wrong = by_key(sshd, ssh_users, private_key=None, password=SecretStr("not-the-password"))
        method = "password"
    if confirmed_by == "fingerprint":
        wrong = wrong.model_copy(update={"fingerprint": sshd.fingerprint})
    refused = (
        f"nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}' ({method} not accepted); "
        "the server was not added"
    )
    with pytest.raises(AuthenticationFailed) as caught:
        await runtime.servers.add_server(wrong, confirm=lambda _: True)
    assert caught.value.message == refused
    assert await runtime.servers.list_servers() == []

    right = await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    assert right.server.id == "nas"  # the name was never taken


async def test_trust_refuses_a_key_it_cannot_log_in_with(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    stranger = SecretStr(ssh_users.stranger_key.read_text())
    await runtime.servers.add_server(by_key(sshd, ssh_users, private_key=stranger))
    with pytest.raises(
        AuthenticationFailed, match=r"\(key not accepted\); its host key was not trusted$"
    ):
        await runtime.servers.trust_server("nas", sshd.fingerprint)
    shown = await runtime.servers.get_server("nas")
    assert (shown.trusted, shown.host_key_fingerprint, shown.status) == (False, None, "unknown")


async def test_add_with_a_wrong_fingerprint_stores_nothing(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    wrong = "SHA256:" + "A" * 43
    expected = f"host key does not match: expected {wrong}, server presented {sshd.fingerprint}"
    with pytest.raises(HostKeyChanged, match=re.escape(expected)):
        await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=wrong))
    assert await runtime.servers.list_servers() == []


async def test_trust_refuses_a_fingerprint_that_does_not_match(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users))
    with pytest.raises(HostKeyChanged):
        await runtime.servers.trust_server("nas", "SHA256:" + "B" * 43)
    assert not (await runtime.servers.get_server("nas")).trusted


async def test_changed_host_key_blocks_until_trusted_again(
    runtime: Runtime, own_sshd: Sshd, ssh_users: SshUsers
) -> None:
    old = own_sshd.fingerprint
    await runtime.servers.add_server(by_key(own_sshd, ssh_users, fingerprint=old))
    await runtime.servers.test_server("nas")
    own_sshd.new_host_key()
    await runtime.ssh.forget("nas")

    changed = f"host key changed: pinned {old}, server presented {own_sshd.fingerprint}"
    with pytest.raises(HostKeyChanged, match=re.escape(changed)):
        await runtime.servers.test_server("nas")
    shown = await runtime.servers.get_server("nas")
    assert shown.status == "error" and "host key changed" in (shown.last_error or "")
    scan = await runtime.servers.scan_host_key("nas")
    assert (scan.fingerprint, scan.pinned_fingerprint, scan.matches_pinned) == (
        own_sshd.fingerprint,
        old,
        False,
    )

    await runtime.servers.trust_server("nas", own_sshd.fingerprint)
    assert (await runtime.servers.test_server("nas")).status == "online"


async def test_unreachable_server_cannot_be_added(runtime: Runtime) -> None:
    request = ServerCreate(
        name="gone", host="127.0.0.1", port=1, username="u", password=SecretStr("x")
    )
    with pytest.raises(
        ServerUnreachable, match=re.escape("gone: connection refused at 127.0.0.1:1")
    ):
        await runtime.servers.add_server(request)
    assert await runtime.servers.list_servers() == []


async def test_offline_server_is_marked_offline(
    runtime: Runtime, own_sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(own_sshd, ssh_users, fingerprint=own_sshd.fingerprint))
    own_sshd.stop()
    with pytest.raises(ServerUnreachable):
        await runtime.servers.test_server("nas")
    assert (await runtime.servers.get_server("nas")).status == "offline"


async def test_facts(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, docker_engine: None
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint,
                                            data_root="/opt/tomo-test/not/yet/there"))  # fmt: skip
    facts = (await runtime.servers.test_server("nas")).facts
    assert facts is not None
    assert facts.architecture in ("amd64", "arm64")
    assert facts.cpu_count and facts.cpu_count >= 1
    assert facts.memory_total_mb and facts.memory_available_mb
    assert 0 < facts.memory_available_mb <= facts.memory_total_mb
    assert facts.disk_free_mb and facts.disk_free_mb > 0  # measured at the nearest existing parent
    assert facts.data_root_writable is False  # /opt belongs to root
    assert facts.kernel and facts.os
    assert (facts.docker_access, facts.docker_problem) == ("yes", None)
    assert facts.docker_version
    assert facts.docker_runtimes is not None and "runc" in facts.docker_runtimes

    await runtime.servers.update_server("nas", ServerUpdate(data_root="/tmp/tomo-test/not/yet"))
    facts = (await runtime.servers.test_server("nas")).facts
    assert facts is not None and facts.data_root_writable is True  # /tmp takes anyone's dirs


async def test_user_outside_the_docker_group_is_told_what_to_fix(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, docker_engine: None
) -> None:
    forbid_sudo_docker()
    request = by_key(sshd, ssh_users, fingerprint=sshd.fingerprint, username=ssh_users.other_user)
    await runtime.servers.add_server(request)
    facts = (await runtime.servers.test_server("nas")).facts
    assert facts is not None and facts.docker_access == "no"
    assert facts.docker_problem == (
        f"user '{ssh_users.other_user}' may not use the Docker socket: add it to the docker group "
        f"(usermod -aG docker {ssh_users.other_user}) or use --sudo with passwordless sudo for docker"
    )

    await runtime.servers.update_server("nas", ServerUpdate(use_sudo=True))
    facts = (await runtime.servers.test_server("nas")).facts
    assert facts is not None and facts.docker_access == "no"
    assert facts.docker_problem is not None
    assert facts.docker_problem.startswith(
        f"user '{ssh_users.other_user}' cannot run docker through sudo without a password"
    )


async def test_sudo_docker_when_allowed(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, docker_engine: None
) -> None:
    allow_sudo_docker(ssh_users.other_user)
    try:
        request = by_key(sshd, ssh_users, fingerprint=sshd.fingerprint,
                         username=ssh_users.other_user, use_sudo=True)  # fmt: skip
        await runtime.servers.add_server(request)
        facts = (await runtime.servers.test_server("nas")).facts
        assert facts is not None
        assert (facts.docker_access, facts.docker_problem) == ("sudo", None)
        target = await runtime.servers.target("nas")
        result = await runtime.ssh.run_docker(
            target, ["version", "--format", "{{.Server.Version}}"]
        )
        assert result.stdout.strip() == facts.docker_version
    finally:
        forbid_sudo_docker()


async def test_credentials_are_encrypted_at_rest_and_never_returned(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, settings: Settings
) -> None:
    key_text = ssh_users.encrypted_key.read_text()
    await runtime.servers.add_server(by_key(
        sshd, ssh_users, private_key=SecretStr(key_text), passphrase=SecretStr(ssh_users.passphrase),
        fingerprint=sshd.fingerprint,
    ))  # fmt: skip
    await runtime.servers.add_server(ServerCreate(
        name="pw", host="127.0.0.1", port=sshd.port, username=ssh_users.user,
        password=SecretStr(ssh_users.password), fingerprint=sshd.fingerprint,
    ))  # fmt: skip
    assert (await runtime.servers.test_server("nas")).status == "online"
    assert (await runtime.servers.test_server("pw")).status == "online"

    async with runtime.db.session() as session:
        rows = list(await session.scalars(select(Server)))
    stored = " ".join(str(value) for row in rows for value in vars(row).values())
    for secret in (ssh_users.password, ssh_users.passphrase, key_text.split("\n")[1]):
        assert secret not in stored
    shown = " ".join(s.model_dump_json() for s in await runtime.servers.list_servers())
    for secret in (ssh_users.password, ssh_users.passphrase, key_text.split("\n")[1]):
        assert secret not in shown
    if settings.database_url is None:  # the file itself, too
        raw = (settings.data_dir / "tomo.db").read_bytes() + _wal(settings.data_dir)
        assert ssh_users.password.encode() not in raw
        assert ssh_users.passphrase.encode() not in raw
    key_file = settings.data_dir / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600


def _wal(data_dir: Path) -> bytes:
    wal = data_dir / "tomo.db-wal"
    return wal.read_bytes() if wal.exists() else b""


async def test_wrong_secret_key_is_a_clear_error(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers, settings: Settings
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    other_key = "x" * 43 + "="
    from cryptography.fernet import Fernet

    other = settings.model_copy(update={"secret_key": Fernet.generate_key().decode()})
    async with open_runtime(other) as second:
        with pytest.raises(SecretsUnavailable, match="cannot be decrypted with the current key"):
            await second.servers.test_server("nas")
    broken = settings.model_copy(update={"secret_key": other_key[:10]})
    async with open_runtime(broken) as third:
        with pytest.raises(SecretsUnavailable, match="not a valid Fernet key"):
            await third.servers.test_server("nas")


async def test_registry_refusals_change_nothing(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users))
    with pytest.raises(ServerExists):
        await runtime.servers.add_server(by_key(sshd, ssh_users))
    with pytest.raises(
        InvalidInput, match="cannot decrypt the private key: wrong or missing passphrase"
    ):
        await runtime.servers.add_server(by_key(
            sshd, ssh_users, name="enc", private_key=SecretStr(ssh_users.encrypted_key.read_text()),
            passphrase=SecretStr("wrong"),
        ))  # fmt: skip
    with pytest.raises(InvalidInput, match="the private key cannot be read"):
        await runtime.servers.add_server(
            by_key(sshd, ssh_users, name="junk", private_key=SecretStr("junk"))
        )
    with pytest.raises(ServerNotFound, match="no server with id or name 'ghost'"):
        await runtime.servers.get_server("ghost")
    assert [s.id for s in await runtime.servers.list_servers()] == ["nas"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("host", "-oProxyCommand=id", "is not a host name or IP address"),
        ("host", "a b", "is not a host name or IP address"),
        ("username", "-l root", "is not a valid user name"),
        ("username", "bob;id", "is not a valid user name"),
        ("port", 70000, "less than or equal to 65535"),
        ("data_root", "relative/path", "must be absolute"),
        ("data_root", "/opt/../etc", "contains '..'"),
        ("data_root", "/", "is the whole filesystem"),
        ("fingerprint", "MD5:aa:bb", "is not a SHA256 fingerprint"),
    ],
)
def test_bad_server_fields_are_named(field: str, value: object, message: str) -> None:
    fields = {
        "name": "x",
        "host": "127.0.0.1",
        "username": "u",
        "password": SecretStr("p"),
        field: value,
    }
    with pytest.raises(ValidationError, match=message) as caught:
        ServerCreate(**fields)
    assert caught.value.errors()[0]["loc"] == (field,)


def test_exactly_one_way_to_log_in() -> None:
    one = "give a private key, a password or generate_key (one of them)"
    with pytest.raises(ValidationError, match=re.escape(one)):
        ServerCreate(name="x", host="h", username="u")
    with pytest.raises(ValidationError, match=re.escape(one)):
        ServerCreate(
            name="x", host="h", username="u", password=SecretStr("p"), private_key=SecretStr("k")
        )
    with pytest.raises(ValidationError, match=re.escape(one)):
        ServerCreate(name="x", host="h", username="u", password=SecretStr("p"), generate_key=True)
    with pytest.raises(ValidationError) as caught:
        ServerCreate(name="x", host="h", username="u", generate_key=True,
                     fingerprint="SHA256:" + "A" * 43)  # fmt: skip
    assert caught.value.errors()[0]["loc"] == ("fingerprint",)
    assert "once the generated public key is on the server" in str(caught.value)
    with pytest.raises(ValidationError, match="give one new login at most"):
        ServerUpdate(password=SecretStr("p"), generated_key=True)
    with pytest.raises(ValidationError, match="a passphrase goes with a private key"):
        ServerUpdate(passphrase=SecretStr("p"))


async def test_update_address_requires_new_trust_and_remove_touches_nothing(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    renamed = await runtime.servers.update_server(
        "nas", ServerUpdate(name="Big NAS", data_root="/srv/apps")
    )
    assert (renamed.name, renamed.data_root, renamed.trusted) == ("Big NAS", "/srv/apps", True)
    moved = await runtime.servers.update_server("Big NAS", ServerUpdate(port=sshd.port))
    assert moved.trusted is False
    removed = await runtime.servers.remove_server("Big NAS")
    assert removed.id == "nas"
    assert await runtime.servers.list_servers() == []


async def test_removing_a_server_with_installations_needs_force(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    from datetime import UTC, datetime

    from tomo.deployment.models import Installation

    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    now = datetime.now(UTC)
    async with runtime.db.session() as session, session.begin():
        for name in ("web", "db"):
            session.add(Installation(
                id=f"inst-{name}", server_id="nas", name=name, repo_id="r", app_id=name,
                version="1", image="x/y:1", definition={}, config={},
                status="running", created_at=now, updated_at=now,
            ))  # fmt: skip
    with pytest.raises(ServerInUse, match=r"still has 2 installation\(s\) \(db, web\)"):
        await runtime.servers.remove_server("nas")
    assert (await runtime.servers.get_server("nas")).id == "nas"

    await runtime.servers.remove_server("nas", force=True)
    assert await runtime.servers.list_servers() == []
    async with runtime.db.session() as session:
        assert list(await session.scalars(select(Installation))) == []


# -- changing the login ---------------------------------------------------------


def by_password(sshd: Sshd, users: SshUsers, password: str, **overrides) -> ServerCreate:
    return by_key(sshd, users, private_key=None, password=SecretStr(password), **overrides)


async def stored_login(runtime: Runtime, server_id: str) -> tuple[str, bool, bool, bool]:
    """(auth type, and whether a password, a key, a passphrase are stored)."""
    async with runtime.db.session() as session:
        row = await session.get(Server, server_id)
    assert row is not None
    return (row.auth_type, row.password_enc is not None, row.private_key_enc is not None,
            row.passphrase_enc is not None)  # fmt: skip


async def test_a_new_login_is_tried_first_and_a_refused_one_changes_nothing(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    refused = f"nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}'"
    wrong_password = ServerUpdate(password=SecretStr("not-the-password"), name="renamed")
    with pytest.raises(AuthenticationFailed) as caught:
        await runtime.servers.update_server("nas", wrong_password)
    assert caught.value.message == f"{refused} (password not accepted); the old login is kept"
    assert caught.value.fields == ("password",)
    stranger = ServerUpdate(private_key=SecretStr(ssh_users.stranger_key.read_text()))
    with pytest.raises(
        AuthenticationFailed, match=r"\(key not accepted\); the old login"
    ) as caught:
        await runtime.servers.update_server("nas", stranger)
    assert caught.value.fields == ("private_key",)
    with pytest.raises(InvalidInput, match="wrong or missing passphrase"):
        await runtime.servers.update_server("nas", ServerUpdate(
            private_key=SecretStr(ssh_users.encrypted_key.read_text()), passphrase=SecretStr("no"),
        ))  # fmt: skip
    assert await stored_login(runtime, "nas") == ("key", False, True, False)
    assert (await runtime.servers.get_server("nas")).name == "nas"  # nothing else changed
    assert (await runtime.servers.test_server("nas")).status == "online"

    logins = sshd.logins()
    changed = await runtime.servers.update_server(
        "nas", ServerUpdate(password=SecretStr(ssh_users.password))
    )
    assert (changed.auth_type, changed.trusted) == ("password", True)
    assert_checked_in(changed)
    assert sshd.logins() == logins + 1  # the try, which found the facts too
    assert await stored_login(runtime, "nas") == ("password", True, False, False)
    assert (await runtime.servers.test_server("nas")).status == "online"

    encrypted = ServerUpdate(private_key=SecretStr(ssh_users.encrypted_key.read_text()),
                             passphrase=SecretStr(ssh_users.passphrase))  # fmt: skip
    assert (await runtime.servers.update_server("nas", encrypted)).auth_type == "key"
    assert await stored_login(runtime, "nas") == ("key", False, True, True)
    assert (await runtime.servers.test_server("nas")).status == "online"


async def test_the_login_of_an_untrusted_server_is_tried_at_trust(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_password(sshd, ssh_users, "not-it"))
    logins = sshd.logins()
    changed = await runtime.servers.update_server(
        "nas", ServerUpdate(password=SecretStr(ssh_users.password))
    )
    assert (changed.trusted, changed.status) == (False, "unknown")
    assert sshd.logins() == logins  # no host key pinned: nothing logs in
    assert_checked_in(await runtime.servers.trust_server("nas", sshd.fingerprint))


async def test_a_new_login_for_a_new_address_waits_for_its_trust(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(by_key(sshd, ssh_users, fingerprint=sshd.fingerprint))
    moved = await runtime.servers.update_server(
        "nas", ServerUpdate(host="localhost", password=SecretStr(ssh_users.password))
    )
    assert (moved.host, moved.auth_type, moved.trusted) == ("localhost", "password", False)
    assert_checked_in(await runtime.servers.trust_server("nas", sshd.fingerprint))


async def test_a_generated_key_waits_until_it_is_tried_and_kept(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    await runtime.servers.add_server(
        by_password(sshd, ssh_users, ssh_users.password, fingerprint=sshd.fingerprint)
    )
    with pytest.raises(NotFound, match="server 'nas' logs in with a password: it has no key"):
        await runtime.servers.public_key("nas")
    made = await runtime.servers.generate_key("nas")
    assert (made.server_id, made.username, made.pending) == ("nas", ssh_users.user, True)
    assert made.public_key.startswith("ssh-ed25519 ") and made.public_key.endswith(" tomo@nas")
    assert made.fingerprint.startswith("SHA256:")
    assert await runtime.servers.public_key("nas") == made
    assert await stored_login(runtime, "nas") == ("password", True, False, False)

    with pytest.raises(
        AuthenticationFailed, match=r"\(key not accepted\); the old login is kept$"
    ) as caught:
        await runtime.servers.update_server("nas", ServerUpdate(generated_key=True))
    assert caught.value.fields == ("generated_key",)
    assert (await runtime.servers.test_server("nas")).auth_type == "password"

    with authorized(ssh_users, made.public_key):
        kept = await runtime.servers.update_server("nas", ServerUpdate(generated_key=True))
        assert (kept.auth_type, kept.status) == ("key", "online")
        assert await stored_login(runtime, "nas") == ("key", False, True, False)
        assert (await runtime.servers.test_server("nas")).status == "online"
        in_use = await runtime.servers.public_key("nas")
        assert (in_use.public_key, in_use.pending) == (made.public_key, False)
    with pytest.raises(InvalidInput, match="no generated key waits for server 'nas'"):
        await runtime.servers.update_server("nas", ServerUpdate(generated_key=True))


async def test_add_with_a_generated_key_trusts_once_the_key_is_there(
    runtime: Runtime, sshd: Sshd, ssh_users: SshUsers
) -> None:
    asked: list[str] = []

    def consent(fingerprint: str) -> bool:
        asked.append(fingerprint)
        return True

    logins = sshd.logins()
    added = await runtime.servers.add_server(
        by_key(sshd, ssh_users, private_key=None, generate_key=True), confirm=consent
    )
    assert asked == [] and sshd.logins() == logins  # that key is on no server yet
    assert (added.server.auth_type, added.server.trusted) == ("key", False)
    assert added.public_key is not None and added.public_key.pending is False
    assert added.host_key.fingerprint == sshd.fingerprint
    async with runtime.db.session() as session:
        row = await session.get(Server, "nas")
    assert row is not None and row.private_key_enc is not None
    private_key = runtime.servers.secrets.decrypt(row.private_key_enc)
    assert private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public_half(private_key).line == added.public_key.public_key
    assert private_key.splitlines()[1] not in added.model_dump_json()

    with pytest.raises(AuthenticationFailed, match="its host key was not trusted"):
        await runtime.servers.trust_server("nas", sshd.fingerprint)
    with authorized(ssh_users, added.public_key.public_key):
        assert_checked_in(await runtime.servers.trust_server("nas", sshd.fingerprint))
