"""`tomo server …` against a real sshd: the contract and its errors."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.sshd import Sshd, SshUsers
from tomo.architectures import normalize_architecture

ARCH = normalize_architecture(platform.machine())

SERVER_KEYS = {
    "id", "name", "host", "port", "username", "auth_type", "host_key_fingerprint", "trusted",
    "data_root", "use_sudo", "status", "last_error", "last_seen", "facts", "facts_at",
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
    assert set(added) == {"server", "host_key"}
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
        "docker_runtimes",
    }  # fmt: skip
    assert checked["facts"]["docker_access"] == "yes"
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


def table_rows(printed: str) -> list[list[str]]:
    """The header and rows of a table as printed, one line each, cells stripped."""
    lines = [line for line in printed.splitlines() if line.startswith(("┃", "│"))]
    return [[cell.strip() for cell in line[1:-1].replace("┃", "│").split("│")] for line in lines]


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
        "error: give --key PATH or --password-stdin (one of them)"
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
