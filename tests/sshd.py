"""Real sshd instances on loopback ports, with real users, for the servers tests.

Creating users needs root (CI runs as root); elsewhere these tests skip with
the reason, or fail under TOMO_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests import lanes
from tests.services import free_port, unavailable, worker_engine

SSHD = "/usr/sbin/sshd"
# Each test worker's own (tests/lanes.py).
USER = f"tomo-test{lanes.SUFFIX}"  # key and password; member of the docker group
OTHER_USER = f"tomo-test-nd{lanes.SUFFIX}"  # key only; not in the docker group
SUDOERS_FILE = Path(f"/etc/sudoers.d/tomo-tests{lanes.SUFFIX}")


@dataclass(frozen=True)
class SshUsers:
    root: Path
    user: str
    other_user: str
    password: str
    key: Path  # unencrypted private key, authorized for both users
    encrypted_key: Path  # passphrase-protected, authorized for USER
    passphrase: str
    stranger_key: Path  # authorized for nobody

    def read(self, path: Path) -> str:
        return path.read_text()


def prepare_users() -> SshUsers:
    if not Path(SSHD).exists():
        unavailable("sshd is not installed (apt-get install openssh-server)")
    if os.geteuid() != 0:
        unavailable("the SSH tests create local users and need root")
    root = Path(tempfile.mkdtemp(prefix="tomo-ssh-"))
    password = "pw-" + secrets.token_urlsafe(12)
    passphrase = "pp-" + secrets.token_urlsafe(12)
    for user in (USER, OTHER_USER):
        _ensure_user(user)
    # A user without a password is "locked" and sshd refuses even its keys.
    other_password = secrets.token_urlsafe(16)
    _run(["chpasswd"], stdin=f"{USER}:{password}\n{OTHER_USER}:{other_password}\n")
    if _group_exists("docker"):
        _run(["usermod", "-aG", "docker", USER])
        _run(["gpasswd", "-d", OTHER_USER, "docker"], check=False)
    users = SshUsers(
        root=root, user=USER, other_user=OTHER_USER, password=password,
        key=_keygen(root / "id_plain", ""), encrypted_key=_keygen(root / "id_encrypted", passphrase),
        passphrase=passphrase, stranger_key=_keygen(root / "id_stranger", ""),
    )  # fmt: skip
    authorized = root / "authorized"
    authorized.mkdir()
    plain = (root / "id_plain.pub").read_text()
    (authorized / USER).write_text(plain + (root / "id_encrypted.pub").read_text())
    (authorized / OTHER_USER).write_text(plain)
    # sshd reads AuthorizedKeysFile as the user logging in; private keys stay 0600.
    os.chmod(root, 0o755)  # noqa: S103
    return users


def allow_sudo_docker(user: str) -> None:
    rule = f"{user} ALL=(root) NOPASSWD: /usr/local/bin/docker, /usr/bin/docker\n"
    # The worker's own engine, when it has one, is reached through DOCKER_HOST.
    rule += f'Defaults:{user} env_keep += "DOCKER_HOST"\n'

    if not shutil.which("sudo"):
        unavailable("sudo is not installed (apt-get install sudo)")
    SUDOERS_FILE.write_text(rule)
    SUDOERS_FILE.chmod(0o440)
    _run(["visudo", "-cf", str(SUDOERS_FILE)])


def forbid_sudo_docker() -> None:
    SUDOERS_FILE.unlink(missing_ok=True)


class Sshd:
    """One sshd listening on 127.0.0.1:<port> with its own host key."""

    def __init__(
        self, users: SshUsers, name: str, extra_config: str = "", launcher: list[str] | None = None
    ) -> None:
        self.users = users
        if lanes.own_engine() and "DOCKER_HOST" not in extra_config:
            extra_config += f"SetEnv DOCKER_HOST={worker_engine()}\n"
        self.extra_config = extra_config
        self.launcher = launcher or []  # an argv prefix sshd is started under
        self.dir = users.root / name
        self.dir.mkdir()
        self.port = free_port()
        self.host_key = self.dir / "host_ed25519"
        self.process: subprocess.Popen[bytes] | None = None
        _keygen(self.host_key, "")
        self._write_config()

    @property
    def fingerprint(self) -> str:
        out = _run(["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.host_key}.pub"])
        return out.split()[1]

    def start(self) -> Sshd:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [*self.launcher, SSHD, "-D", "-e", "-f", str(self.dir / "sshd_config")],
            stdout=subprocess.DEVNULL, stderr=(self.dir / "log").open("ab"),
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'log').read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on {self.port}")

    def logins(self) -> int:
        """How many logins this sshd has accepted (each is logged at LogLevel INFO;
        reading a host key is none)."""
        return (self.dir / "log").read_text(errors="replace").count("Accepted ")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill_connections()
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill_connections(self) -> None:
        """Kill every process under the listener: every session drops at once."""
        if self.process is None:
            return
        for pid in _descendants(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def new_host_key(self) -> None:
        """Replace the host key (as a reinstalled or impostor host would)."""
        self.stop()
        self.host_key.unlink()
        Path(f"{self.host_key}.pub").unlink()
        _keygen(self.host_key, "")
        self.start()

    def _write_config(self) -> None:
        (self.dir / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"PidFile {self.dir / 'sshd.pid'}\n"
            f"AuthorizedKeysFile {self.users.root / 'authorized'}/%u\n"
            "StrictModes no\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            "PubkeyAuthentication yes\nUsePAM no\nPermitRootLogin no\n"
            f"AllowUsers {self.users.user} {self.users.other_user}\n"
            "MaxSessions 64\nMaxStartups 200\nLogLevel INFO\n"
            # As Debian's own sshd_config offers it: backup repositories on a server use it.
            "Subsystem sftp internal-sftp\n" + self.extra_config
        )


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending.extend(children.get(pid, []))
    return found


def _ensure_user(user: str) -> None:
    if subprocess.run(["id", user], capture_output=True, check=False).returncode != 0:
        _run(["useradd", "--create-home", "--shell", "/bin/sh", user])


def _group_exists(group: str) -> bool:
    return (
        subprocess.run(["getent", "group", group], capture_output=True, check=False).returncode == 0
    )


def _keygen(path: Path, passphrase: str) -> Path:
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", path.name, "-f", str(path)])
    return path


def _run(argv: list[str], *, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr.strip()}")
    return done.stdout
