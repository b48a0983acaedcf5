"""`tomo server …` against a real sshd: the contract and its errors."""

from __future__ import annotations

import json
import os
import platform
import pty
import re
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_remote import laptop, logged_in, served  # noqa: F401 - fixtures
from tests.cli.tomo_cli import Laptop, Tomo, table_rows
from tests.servers.authorized_keys import authorized
from tests.sshd import Sshd, SshUsers
from tomo.architectures import normalize_architecture

ARCH = normalize_architecture(platform.machine())

SERVER_KEYS = {
    "id", "name", "host", "port", "username", "auth_type", "host_key_fingerprint", "trusted",
    "data_root", "use_sudo", "status", "last_error", "last_seen", "facts", "facts_at", "resources",
    "domain", "tls_mode", "acme_ca", "acme_email", "acme_ca_root", "dns_provider",
    "dns_credentials_set", "proxy_http_port", "proxy_https_port",
}  # fmt: skip


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


def add_args(sshd: Sshd, users: SshUsers, *extra: str) -> list[str]:
    return ["server", "add", "nas", "127.0.0.1", "--port", str(sshd.port), "--user", users.user,
            "--key", str(users.key), *extra]  # fmt: skip


def test_add_without_consent_leaves_the_key_untrusted(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    done = tomo.run(*add_args(sshd, ssh_users), stdin="")  # a pipe: nobody to ask
    assert f"Host key {sshd.fingerprint} is not trusted yet" in done.stderr
    assert f"tomo server trust nas --fingerprint {sshd.fingerprint}" in done.stderr
    assert tomo.error("server", "test", "nas", expect=7) == (
        "error: nas: host key not trusted yet; nothing runs there until `tomo server trust` "
        "(or add it with --fingerprint)"
    )
    trusted = tomo.json("server", "trust", "nas", "--fingerprint", sshd.fingerprint)
    assert (trusted["trusted"], trusted["host_key_fingerprint"]) == (True, sshd.fingerprint)
    assert trusted["status"] == "online" and trusted["facts"]["architecture"] == ARCH


def test_trust_without_a_terminal_says_how_to_confirm(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    tomo.run(*add_args(sshd, ssh_users), stdin="")
    assert tomo.error("server", "trust", "nas", expect=2, stdin="") == (
        "error: host key not trusted: standard input is not a terminal, so nobody can confirm "
        f"it here. nas presents {sshd.fingerprint}; if that is the server's own key "
        "(`ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub` on it), run: "
        f"tomo server trust nas --fingerprint {sshd.fingerprint}"
    )
    assert tomo.json("server", "show", "nas")["trusted"] is False


def test_add_asks_on_a_terminal_and_logs_in_once_confirmed(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    logins = sshd.logins()
    done = tomo.on_terminal(*add_args(sshd, ssh_users), typed="y\n")
    assert f"Trust host key {sshd.fingerprint} for nas? [y/N]" in done.stdout
    assert done.stderr.startswith(f"Added server nas (127.0.0.1:{sshd.port}); online: ")
    assert sshd.logins() == logins + 1
    (listed,) = tomo.json("server", "list")
    assert (listed["trusted"], listed["status"]) == (True, "online")
    assert listed["facts"]["architecture"] == ARCH

    other = ["server", "add", "other", "127.0.0.1", "--port", str(sshd.port), "--user",
             ssh_users.user, "--key", str(ssh_users.key)]  # fmt: skip
    declined = tomo.on_terminal(*other, typed="n\n")
    assert f"tomo server trust other --fingerprint {sshd.fingerprint}" in declined.stderr
    assert sshd.logins() == logins + 1
    trusted = tomo.on_terminal("server", "trust", "other", typed="y\n")
    assert f"Trusted {sshd.fingerprint} for other; online: " in trusted.stderr
    assert sshd.logins() == logins + 2


def test_a_refused_login_adds_nothing(tomo: Tomo, sshd: Sshd, ssh_users: SshUsers) -> None:
    stranger = ["server", "add", "nas", "127.0.0.1", "--port", str(sshd.port), "--user",
                ssh_users.user, "--key", str(ssh_users.stranger_key)]  # fmt: skip
    refused = (
        f"error: nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}' (key not accepted); "
        "the server was not added"
    )
    assert tomo.error(*stranger, "--fingerprint", sshd.fingerprint, expect=7) == refused
    assert tomo.on_terminal(*stranger, typed="y\n", expect=7).stderr.splitlines()[-1] == refused
    wrong_password = ["server", "add", "nas", "127.0.0.1", "--port", str(sshd.port), "--user",
                      ssh_users.user, "--password-stdin", "--fingerprint", sshd.fingerprint]  # fmt: skip
    assert tomo.error(*wrong_password, expect=7, stdin="not-it\n") == refused.replace(
        "(key not", "(password not"
    )
    assert tomo.json("server", "list") == []


def test_add_with_fingerprint_then_test_show_list_remove(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers, docker_engine: None
) -> None:
    added = tomo.json(*add_args(sshd, ssh_users, "--fingerprint", sshd.fingerprint))
    assert set(added) == {"server", "host_key", "public_key"}
    assert added["public_key"] is None  # tomo made no key pair
    assert set(added["server"]) == SERVER_KEYS
    assert added["host_key"]["fingerprint"] == sshd.fingerprint
    assert added["server"]["status"] == "online"
    assert added["server"]["facts"]["docker_access"] == "yes"
    header, row = table_rows(tomo.run("server", "list").stdout)
    assert header[:7] == ["id", "name", "address", "user", "status", "trusted", "arch"]
    assert row[:7] == ["nas", "nas", f"127.0.0.1:{sshd.port}", ssh_users.user, "online", "yes",
                       ARCH]  # fmt: skip

    assert "docker access" in tomo.run("server", "test", "nas").stdout
    checked = tomo.json("server", "test", "nas")
    assert checked["status"] == "online"
    assert set(checked["facts"]) == {
        "os", "kernel", "architecture", "cpu_count", "memory_total_mb", "memory_available_mb",
        "disk_free_mb", "data_root_writable", "docker_version", "docker_access", "docker_problem",
        "docker_runtimes", "swarm",
    }  # fmt: skip
    assert checked["facts"]["docker_access"] == "yes"
    assert checked["facts"]["swarm"] is None  # the test engine is in no Swarm
    assert tomo.json("server", "show", "nas")["facts"] == checked["facts"]
    assert [s["id"] for s in tomo.json("server", "list")] == ["nas"]
    assert tomo.json("server", "remove", "nas")["id"] == "nas"
    assert tomo.json("server", "list") == []


def test_piped_output_keeps_every_cell_and_line_whole(
    tmp_path: Path, sshd: Sshd, ssh_users: SshUsers
) -> None:
    narrow = Tomo(tmp_path / "data", COLUMNS="40")  # ignored: the output is a pipe
    names = ["living-room-media-server-with-a-long-name", "basement-backup-box-of-the-family"]
    for name in names:
        added = narrow.run("server", "add", name, "127.0.0.1", "--port", str(sshd.port),
                           "--user", ssh_users.user, "--key", str(ssh_users.key), stdin="")  # fmt: skip
        assert f"until: tomo server trust {name} --fingerprint {sshd.fingerprint}\n" in (
            added.stderr
        )
    listed = narrow.run("server", "list").stdout
    assert "…" not in listed
    _, *rows = table_rows(listed)
    assert sorted(row[:2] for row in rows) == sorted([name, name] for name in names)


def test_password_and_passphrase_come_from_stdin_and_never_show(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    by_password = ["server", "add", "pw", "127.0.0.1", "--port", str(sshd.port), "--user",
                   ssh_users.user, "--password-stdin", "--fingerprint", sshd.fingerprint, "--json"]  # fmt: skip
    done = tomo.run(*by_password, stdin=ssh_users.password + "\n")
    assert ssh_users.password not in done.stdout + done.stderr
    by_key = ["server", "add", "enc", "127.0.0.1", "--port", str(sshd.port), "--user",
              ssh_users.user, "--key", str(ssh_users.encrypted_key), "--passphrase-stdin",
              "--fingerprint", sshd.fingerprint]  # fmt: skip
    tomo.run(*by_key, stdin=ssh_users.passphrase + "\n")
    for server in ("pw", "enc"):
        shown = tomo.run("server", "test", server, "--json").stdout
        assert ssh_users.password not in shown and ssh_users.passphrase not in shown
    stored = (tomo.data_dir / "tomo.db").read_bytes()
    assert ssh_users.password.encode() not in stored


def test_errors(tomo: Tomo, sshd: Sshd, ssh_users: SshUsers, tmp_path: Path) -> None:
    assert tomo.error("server", "add", "x", "127.0.0.1", "--user", "u", expect=2) == (
        "error: give --key PATH, --password-stdin or --generate-key (one of them)"
    )
    encrypted = ["server", "add", "enc", "127.0.0.1", "--port", str(sshd.port), "--user",
                 ssh_users.user, "--key", str(ssh_users.encrypted_key), "--passphrase-stdin"]  # fmt: skip
    assert tomo.error(*encrypted, expect=2, stdin="wrong\n") == (
        "error: cannot decrypt the private key: wrong or missing passphrase"
    )
    missing = tmp_path / "nope"
    line = tomo.error(
        "server", "add", "x", "127.0.0.1", "--user", "u", "--key", str(missing), expect=2
    )
    assert line == f"error: cannot read key file {missing}: No such file or directory"
    wrong = "SHA256:" + "C" * 43
    assert tomo.error(*add_args(sshd, ssh_users, "--fingerprint", wrong), expect=7) == (
        f"error: nas: host key does not match: expected {wrong}, server presented "
        f"{sshd.fingerprint}; nothing was trusted"
    )
    line = tomo.error("server", "add", "--user", "u", "--password-stdin", "--", "x",
                      "-oProxyCommand=id", expect=2, stdin="p\n")  # fmt: skip
    assert line.startswith("error: invalid value for host: ")
    assert (
        tomo.error("server", "show", "ghost", expect=3)
        == "error: no server with id or name 'ghost'"
    )
    assert tomo.json("server", "list") == []


# -- logins: a key pair tomo generates, a new login tried first --------------------


def generated_args(sshd: Sshd, users: SshUsers, name: str = "nas") -> list[str]:
    return ["server", "add", name, "127.0.0.1", "--port", str(sshd.port), "--user", users.user,
            "--generate-key"]  # fmt: skip


def test_add_with_a_generated_key_prints_the_line_to_add(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    done = tomo.run(*generated_args(sshd, ssh_users), stdin="")
    (public_key,) = done.stdout.splitlines()  # stdout: the line, for a script to keep
    assert public_key.startswith("ssh-ed25519 ") and public_key.endswith(" tomo@nas")
    assert done.stderr.splitlines() == [
        f"Added server nas (127.0.0.1:{sshd.port}) with a key pair tomo made for it.",
        f"Add this line to ~/.ssh/authorized_keys of {ssh_users.user} on 127.0.0.1:",
        f"For example, logged in there as {ssh_users.user}: mkdir -p -m 700 ~/.ssh && echo "
        f"'{public_key}' >> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys",
        "Once the line is there, trust its host key and log in: tomo server trust nas "
        f"--fingerprint {sshd.fingerprint}",
    ]
    assert "PRIVATE" not in done.stdout + done.stderr
    with authorized(ssh_users, public_key):
        trusted = tomo.json("server", "trust", "nas", "--fingerprint", sshd.fingerprint)
    assert (trusted["status"], trusted["auth_type"]) == ("online", "key")

    as_json = tomo.json(*generated_args(sshd, ssh_users, "other"))
    assert as_json["public_key"]["public_key"].endswith(" tomo@other")
    assert as_json["server"]["trusted"] is False
    assert tomo.error(*generated_args(sshd, ssh_users, "x"), "--fingerprint", sshd.fingerprint,
                      expect=2).startswith("error: invalid value for fingerprint: trust the host "
                                           "key once the generated public key")  # fmt: skip


def test_update_tries_a_new_login_and_keeps_the_old_one_if_refused(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    tomo.run(*add_args(sshd, ssh_users, "--fingerprint", sshd.fingerprint))
    refused = tomo.error("server", "update", "nas", "--password-stdin", "--name", "other",
                         expect=7, stdin="not-it\n")  # fmt: skip
    assert refused == (f"error: nas: 127.0.0.1:{sshd.port} refused user '{ssh_users.user}' "
                       "(password not accepted); the old login is kept")  # fmt: skip
    shown = tomo.json("server", "show", "nas")
    assert (shown["name"], shown["auth_type"]) == ("nas", "key")

    done = tomo.run("server", "update", "nas", "--password-stdin", stdin=ssh_users.password + "\n")
    assert done.stderr.startswith("Updated server nas; tomo logged in with its new login: online: ")
    assert ssh_users.password not in done.stdout + done.stderr
    assert tomo.json("server", "test", "nas")["auth_type"] == "password"
    by_key = json.loads(tomo.run("server", "update", "nas", "--key", str(ssh_users.encrypted_key),
                                 "--passphrase-stdin", "--json",
                                 stdin=ssh_users.passphrase + "\n").stdout)  # fmt: skip
    assert (by_key["auth_type"], by_key["status"]) == ("key", "online")

    assert tomo.error("server", "update", "nas", "--key", str(ssh_users.key), "--password-stdin",
                      expect=2, stdin="x\n") == (
        "error: give one new login at most: --key PATH, --password-stdin or --generate-key"
    )  # fmt: skip
    assert tomo.error("server", "update", "nas", "--generate-key", expect=2, stdin="") == (
        "error: --generate-key waits for you to add the public key to the server: run it on a "
        "terminal, or give a key of your own with --key"
    )
    declined = tomo.on_terminal("server", "update", "nas", "--generate-key", typed="n\n", expect=2)
    assert declined.stderr.splitlines()[-1] == (
        "error: the new key was not tried: you did not confirm; the login did not change"
    )
    assert tomo.json("server", "test", "nas")["status"] == "online"


def test_a_generated_key_on_a_terminal_is_tried_once_the_person_says_it_is_there(
    tomo: Tomo, sshd: Sshd, ssh_users: SshUsers
) -> None:
    added = answered_once_the_key_is_there(tomo, ssh_users, *generated_args(sshd, ssh_users))
    assert f"Is the line there? Trust host key {sshd.fingerprint} for nas and log in" in (
        added.stdout
    )
    assert f"Trusted {sshd.fingerprint} for nas; online: " in added.stderr
    first_key = added.stdout.splitlines()[0]

    changed = answered_once_the_key_is_there(
        tomo, ssh_users, "server", "update", "nas", "--generate-key"
    )
    assert "Is the line there? Log in with the new key and keep it" in changed.stdout
    assert changed.stdout.splitlines()[0] != first_key  # a new pair
    assert "Updated server nas; tomo logged in with its new login: online: " in changed.stderr


def answered_once_the_key_is_there(
    tomo: Tomo, users: SshUsers, *args: str
) -> subprocess.CompletedProcess[str]:
    """tomo on a terminal, asked to log in with a key it made: the key it prints is
    put on the server before "y" is typed, as a person would."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*tomo.tomo, *args], stdin=terminal, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=tomo.env,
                               cwd=tomo.cwd)  # fmt: skip
    os.close(terminal)
    assert process.stderr is not None
    told = []
    for line in process.stderr:  # until tomo says what to add (then it asks)
        told.append(line)
        if line.startswith("For example"):
            break
    found = re.search(r"echo '([^']+)'", "".join(told))
    assert found, "".join(told)
    try:
        with authorized(users, found.group(1)):
            os.write(controller, b"y\n")
            stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(controller)
    assert process.returncode == 0, (stdout, "".join(told) + stderr)
    return subprocess.CompletedProcess(args, 0, stdout, "".join(told) + stderr)


def test_a_new_login_through_a_remote_tomo(
    logged_in: Laptop,  # noqa: F811 - the fixture imported above
    sshd: Sshd,
    ssh_users: SshUsers,
) -> None:
    """The secrets cross to the remote tomo (which keeps them sealed), and its key
    pair waits there, between the two calls of --generate-key."""
    remote = logged_in
    remote.run(*add_args(sshd, ssh_users, "--fingerprint", sshd.fingerprint))
    refused = remote.error("server", "update", "nas", "--password-stdin", expect=7,
                           stdin="not-it\n")  # fmt: skip
    assert refused.endswith("(password not accepted); the old login is kept")
    done = remote.run("server", "update", "nas", "--password-stdin",
                      stdin=ssh_users.password + "\n")  # fmt: skip
    assert "tomo logged in with its new login: online: " in done.stderr
    changed = answered_once_the_key_is_there(
        remote, ssh_users, "server", "update", "nas", "--generate-key"
    )
    assert "Updated server nas; tomo logged in with its new login: online: " in changed.stderr
    assert remote.json("server", "show", "nas")["auth_type"] == "key"
