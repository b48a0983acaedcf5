"""SSHService against real sshd instances on loopback."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults import wait_until
from tests.services import mute_tcp_server
from tests.sshd import Sshd, SshUsers
from tomo.errors import (
    AuthenticationFailed,
    CommandFailed,
    HostKeyChanged,
    HostKeyUnknown,
    ServerTimeout,
    ServerUnreachable,
)
from tomo.servers.ssh import SSHCredentials, SSHService, SSHTarget, SSHTimeouts

PRINT_ARGV = ["python3", "-c", "import sys, json; print(json.dumps(sys.argv[1:]))"]


def target(
    sshd: Sshd, users: SshUsers, *, host_key: str | None = "pinned", **overrides
) -> SSHTarget:
    pinned = (sshd.host_key.parent / "host_ed25519.pub").read_text().strip()
    fields: dict[str, Any] = {
        "key": f"srv-{sshd.port}", "name": f"test-{sshd.port}", "host": "127.0.0.1",
        "port": sshd.port, "username": users.user,
        "credentials": SSHCredentials(private_key=users.key.read_text()),
        "host_key": pinned if host_key == "pinned" else host_key,
    }  # fmt: skip
    fields.update(overrides)
    return SSHTarget(**fields)


@pytest.fixture
async def ssh() -> AsyncIterator[SSHService]:
    service = SSHService(SSHTimeouts(connect=3, login=5, command=30), max_channels=4)
    yield service
    await service.close()


async def test_key_auth_runs_a_command(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    result = await ssh.run(target(sshd, ssh_users), ["id", "-un"])
    assert (result.exit_code, result.stdout.strip(), result.stderr) == (0, ssh_users.user, "")


async def test_password_auth(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    by_password = target(sshd, ssh_users, credentials=SSHCredentials(password=ssh_users.password))
    assert (await ssh.run(by_password, ["id", "-un"])).stdout.strip() == ssh_users.user


async def test_encrypted_key_with_passphrase(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    creds = SSHCredentials(
        private_key=ssh_users.encrypted_key.read_text(), passphrase=ssh_users.passphrase
    )
    assert (await ssh.run(target(sshd, ssh_users, credentials=creds), ["true"])).exit_code == 0


async def test_encrypted_key_with_wrong_passphrase(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    creds = SSHCredentials(private_key=ssh_users.encrypted_key.read_text(), passphrase="nope")
    with pytest.raises(
        AuthenticationFailed, match="cannot decrypt the private key: wrong or missing passphrase"
    ):
        await ssh.run(target(sshd, ssh_users, credentials=creds), ["true"])


async def test_wrong_password(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    wrong = target(sshd, ssh_users, credentials=SSHCredentials(password="wrong"))
    with pytest.raises(
        AuthenticationFailed, match=f"refused user '{ssh_users.user}' \\(password not accepted\\)"
    ) as caught:
        await ssh.run(wrong, ["true"])
    assert caught.value.server == f"test-{sshd.port}"


async def test_wrong_key(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    wrong = target(
        sshd, ssh_users, credentials=SSHCredentials(private_key=ssh_users.stranger_key.read_text())
    )
    with pytest.raises(AuthenticationFailed, match=r"\(key not accepted\)"):
        await ssh.run(wrong, ["true"])


async def test_unknown_host_key_runs_nothing(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    with pytest.raises(HostKeyUnknown, match="host key not trusted yet"):
        await ssh.run(target(sshd, ssh_users, host_key=None), ["touch", "/tmp/never"])


async def test_changed_host_key_names_both_fingerprints(
    ssh: SSHService, own_sshd: Sshd, ssh_users: SshUsers
) -> None:
    pinned = target(own_sshd, ssh_users)
    old = own_sshd.fingerprint
    await ssh.run(pinned, ["true"])
    own_sshd.new_host_key()
    await ssh.forget(pinned.key)
    with pytest.raises(HostKeyChanged) as caught:
        await ssh.run(pinned, ["true"])
    assert (caught.value.pinned, caught.value.presented) == (old, own_sshd.fingerprint)
    assert old in caught.value.message and own_sshd.fingerprint in caught.value.message


async def test_nothing_listening(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = target(sshd, ssh_users, port=port, name="closed")
    with pytest.raises(ServerUnreachable, match=f"closed: connection refused at 127.0.0.1:{port}"):
        await ssh.run(closed, ["true"])


@pytest.fixture
def mute_server() -> Iterator[int]:
    with mute_tcp_server() as port:
        yield port


async def test_server_that_never_speaks_ssh_times_out(
    sshd: Sshd, ssh_users: SshUsers, mute_server: int
) -> None:
    ssh = SSHService(SSHTimeouts(connect=0.5, login=0.5, command=5))
    with pytest.raises(ServerTimeout, match=f"no SSH login at 127.0.0.1:{mute_server} within 1s"):
        # The bound only keeps a broken timeout from hanging the suite.
        await asyncio.wait_for(ssh.run(target(sshd, ssh_users, port=mute_server), ["true"]), 30)
    with pytest.raises(ServerTimeout, match=f"no SSH answer from 127.0.0.1:{mute_server}"):
        await ssh.fetch_host_key("mute", "127.0.0.1", mute_server)


async def test_command_timeout(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    with pytest.raises(ServerTimeout, match=r"`sleep 30` ran past 0\.5s"):
        await ssh.run(target(sshd, ssh_users), ["sleep", "30"], time_limit=0.5)
    assert (await ssh.run(target(sshd, ssh_users), ["true"])).exit_code == 0


async def test_failed_command_reports_exit_code_and_stderr_tail(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    argv = ["sh", "-c", "echo one >&2; echo two >&2; exit 3"]
    with pytest.raises(CommandFailed, match=r"exited with 3: one \| two") as caught:
        await ssh.run(target(sshd, ssh_users), argv)
    assert caught.value.exit_code_remote == 3
    unchecked = await ssh.run(target(sshd, ssh_users), argv, check=False)
    assert (unchecked.exit_code, unchecked.stderr) == (3, "one\ntwo\n")


@pytest.mark.parametrize(
    "argument",
    [
        'it\'s "quoted"',
        "$(touch /tmp/tomo-pwned)",
        "`touch /tmp/tomo-pwned`",
        "a; touch /tmp/tomo-pwned",
        "line one\nline two\n",
        "naïve — 日本語 ✓",
        "  leading and trailing  ",
        "*",
        "",
        "-n",
        "a | b && c || d > /tmp/tomo-pwned",
    ],
)
async def test_arguments_arrive_byte_for_byte(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers, argument: str
) -> None:
    result = await ssh.run(target(sshd, ssh_users), [*PRINT_ARGV, argument, "after"])
    assert json.loads(result.stdout) == [argument, "after"]
    assert (
        await ssh.run(target(sshd, ssh_users), ["test", "-e", "/tmp/tomo-pwned"], check=False)
    ).exit_code == 1


async def test_connection_is_reused(ssh: SSHService, sshd: Sshd, ssh_users: SshUsers) -> None:
    pinned = target(sshd, ssh_users)
    script = ["sh", "-c", "echo $SSH_CONNECTION"]
    seen = {(await ssh.run(pinned, script)).stdout for _ in range(6)}
    assert len(seen) == 1  # the same client port every time: one connection


# Each run marks itself in "$1", says how many runs are marked, waits for "$1.go"
# (bounded), then unmarks itself.
MARK_AND_WAIT = r"""
mkdir -p "$1" && touch "$1/$$" && ls "$1" | wc -l
i=0; while [ ! -e "$1.go" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
rm -f "$1/$$"
"""


async def test_concurrent_commands_are_capped_per_server(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    pinned = target(sshd, ssh_users)
    marks = Path(f"/tmp/tomo-cap-{uuid.uuid4().hex[:8]}")
    script = ["sh", "-c", MARK_AND_WAIT, "tomo-test", str(marks)]
    runs = [asyncio.create_task(ssh.run(pinned, script)) for _ in range(8)]
    try:
        await wait_until(lambda: marks.is_dir() and len(list(marks.iterdir())) == 4)
        assert not any(run.done() for run in runs)  # four hold a channel, four queue
        Path(f"{marks}.go").touch()
        results = await asyncio.gather(*runs)
    finally:
        Path(f"{marks}.go").touch()
        shutil.rmtree(marks, ignore_errors=True)
    # max_channels=4: no run ever saw more than four runs at once.
    assert max(int(r.stdout) for r in results) == 4
    Path(f"{marks}.go").unlink()


async def test_sshd_killed_mid_command_then_next_call_reconnects(
    ssh: SSHService, own_sshd: Sshd, ssh_users: SshUsers
) -> None:
    pinned = target(own_sshd, ssh_users)
    await ssh.run(pinned, ["true"])
    started = Path(f"/tmp/tomo-started-{uuid.uuid4().hex[:8]}")
    running = asyncio.create_task(
        ssh.run(pinned, ["sh", "-c", 'touch "$1"; sleep 20', "tomo-test", str(started)])
    )
    await wait_until(started.exists)
    started.unlink()
    own_sshd.kill_connections()
    with pytest.raises(ServerUnreachable, match="connection lost"):
        await asyncio.wait_for(running, 15)
    assert (await ssh.run(pinned, ["echo", "back"])).stdout == "back\n"


async def test_dead_pooled_connection_is_replaced_transparently(
    ssh: SSHService, own_sshd: Sshd, ssh_users: SshUsers
) -> None:
    pinned = target(own_sshd, ssh_users)
    await ssh.run(pinned, ["true"])
    # Whether or not the client has noticed yet, the next command must just work.
    own_sshd.kill_connections()
    assert (await ssh.run(pinned, ["echo", "again"])).stdout == "again\n"


async def test_stream_yields_lines_as_they_come(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    # The command goes on only once the test has seen its first line: were lines
    # not streamed, it would wait in vain and fail.
    go = Path(f"/tmp/tomo-go-{uuid.uuid4().hex[:8]}")
    script = (
        'echo one; i=0; while [ ! -e "$1" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; '
        '[ -e "$1" ] || exit 9; echo two >&2; echo three'
    )
    seen = []
    try:
        async for line in ssh.stream(target(sshd, ssh_users), ["sh", "-c", script, "t", str(go)]):
            seen.append(line)
            if line == "one":
                go.touch()
    finally:
        go.unlink(missing_ok=True)
    assert seen == ["one", "two", "three"]


async def test_stream_of_a_failing_command(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers
) -> None:
    with pytest.raises(CommandFailed, match="exited with 4"):
        async for _ in ssh.stream(target(sshd, ssh_users), ["sh", "-c", "echo x; exit 4"]):
            pass


async def test_fetch_host_key(ssh: SSHService, sshd: Sshd) -> None:
    key = await ssh.fetch_host_key("main", "127.0.0.1", sshd.port)
    assert key.fingerprint == sshd.fingerprint
    assert key.algorithm == "ssh-ed25519"
    assert key.public_key.startswith("ssh-ed25519 ")


@pytest.mark.parametrize(
    ("architecture", "cipher"),
    [("amd64", "aes128-gcm@openssh.com"), ("arm64", "chacha20-poly1305@openssh.com"),
     (None, "chacha20-poly1305@openssh.com")],
)  # fmt: skip
async def test_a_server_with_aes_instructions_gets_aes_gcm(
    ssh: SSHService, sshd: Sshd, ssh_users: SshUsers, architecture: str | None, cipher: str
) -> None:
    """AES-GCM costs tomo's pump less than half of ChaCha20's CPU (see AES_FIRST); a
    server whose CPU may lack AES instructions keeps asyncssh's order."""
    reached = target(sshd, ssh_users, key=f"srv-{architecture}", architecture=architecture)
    await ssh.run(reached, ["true"])
    connection = await ssh._connection(reached)  # the pooled one the command used
    assert connection.get_extra_info("send_cipher") == cipher
