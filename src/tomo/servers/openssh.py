"""tomo's SSH login to a server, as the system's OpenSSH client takes it.

tomo talks to servers through asyncssh (ssh.py). Two things go through OpenSSH's
`ssh` instead: restic's sftp backend (a repository on a server, which restic
reaches by running `ssh` itself) and bulk data (a backup's bytes, a restore's),
where OpenSSH's ciphers in C cost a fraction of the CPU of a Python pump.

For each use, a private folder (0700) holds an ssh_config, the key (unlocked,
0600) and the pinned host key, and goes when the use ends. `ssh -F CONFIG` reads
that config alone (neither the user's nor the system's), checks the host against
the pinned key only and never prompts (BatchMode): a server that logs in with a
password has no OpenSSH login (ssh could not be given it without a prompt).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tomo.lazy import lazy_import
from tomo.servers.ssh import AES_FIRST, AES_SERVERS, SSHTarget

if TYPE_CHECKING:
    import asyncssh
else:  # loaded on first use, as ssh.py does
    asyncssh = lazy_import("asyncssh")

ALIAS = "tomo-server"  # the name the ssh_config gives the server
# What an ssh_config value may hold: a space, newline or quote could add a directive.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._:@%\[\]-]+")


FOLDER_PREFIX = "tomo-openssh-"  # then the pid: the folders OpenSSH is given a login in


class NoOpenSshLogin(Exception):
    """Why a server cannot be reached with OpenSSH (the caller says it in its words)."""


@dataclass(frozen=True)
class OpenSshLogin:
    """tomo's login to one server: its address, user, unlocked key, pinned host key."""

    host: str
    port: int
    username: str
    private_key: str = field(repr=False)  # OpenSSH private key, without a passphrase
    host_key: str = ""  # "TYPE BASE64"
    aes_first: bool = False  # its CPU has AES instructions (see ssh.AES_FIRST)

    @classmethod
    def of(cls, target: SSHTarget) -> OpenSshLogin:
        """The target's login for OpenSSH; NoOpenSshLogin saying why there is none."""
        login = target.credentials
        if login.private_key is None:
            raise NoOpenSshLogin("it logs in with a password")
        if target.host_key is None:
            raise NoOpenSshLogin("its host key is not trusted yet")
        for value in (target.host, target.username):
            if not _SAFE_VALUE.fullmatch(value):
                raise NoOpenSshLogin(f"{value!r} cannot be given to ssh")
        try:
            key = asyncssh.import_private_key(login.private_key, login.passphrase)
        except (asyncssh.KeyImportError, asyncssh.KeyEncryptionError) as exc:
            raise NoOpenSshLogin(f"its key cannot be read: {exc}") from None
        algorithm, body = target.host_key.split()[:2]
        unlocked = key.export_private_key("openssh").decode()
        return cls(target.host, target.port, target.username, unlocked, f"{algorithm} {body}",
                   aes_first=target.architecture in AES_SERVERS)  # fmt: skip

    def write(self, folder: Path) -> Path:
        """The ssh_config, key and known host, written into `folder`; the config's path."""
        key, known = folder / "key", folder / "known_hosts"
        key.touch(mode=0o600)
        key.write_text(self.private_key)
        known.write_text(f"{ALIAS} {self.host_key}\n")
        config = folder / "config"
        config.write_text("\n".join([
            f"Host {ALIAS}", f"HostName {self.host}", f"Port {self.port}",
            f"User {self.username}", f"IdentityFile {key}", "IdentitiesOnly yes",
            "IdentityAgent none", f"UserKnownHostsFile {known}", "GlobalKnownHostsFile none",
            f"HostKeyAlias {ALIAS}", "StrictHostKeyChecking yes", "BatchMode yes",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no",
            "ConnectTimeout 15", "ServerAliveInterval 15", "ServerAliveCountMax 4",
            "LogLevel ERROR", *([f"Ciphers {','.join(AES_FIRST)}"] if self.aes_first else []), "",
        ]))  # fmt: skip
        return config

    @contextlib.contextmanager
    def config(self) -> Iterator[Path]:
        """The login written into a private folder for the body's time (named by the
        process that made it, so a leftover tells whose it was)."""
        folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
        try:
            yield self.write(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def ssh_argv(config: Path, remote: Sequence[str]) -> list[str]:
    """`ssh` running `remote` (an argv, quoted for the server's shell) on the server."""
    return ["ssh", "-F", str(config), "-T", ALIAS, "--", shlex.join(remote)]


def openssh_installed() -> bool:
    return shutil.which("ssh") is not None
