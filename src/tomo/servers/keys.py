"""Key pairs tomo makes for servers, and the public half of any key it logs in with.

A generated key is Ed25519 (short, fast, accepted by every OpenSSH of the last
decade) and unencrypted: tomo seals it at rest like an uploaded key, so a
passphrase would only be a second secret kept beside the first.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tomo.lazy import lazy_import

if TYPE_CHECKING:
    import asyncssh
else:  # loaded when a key is made or read
    asyncssh = lazy_import("asyncssh")


@dataclass(frozen=True)
class PublicHalf:
    line: str  # one OpenSSH line: what goes into ~/.ssh/authorized_keys
    fingerprint: str  # SHA256:…, as `ssh-keygen -lf` prints it


@dataclass(frozen=True)
class KeyPair:
    private_key: str = field(repr=False)  # OpenSSH format, to be sealed at once
    public: PublicHalf


def generate_key_pair(comment: str) -> KeyPair:
    """A new Ed25519 key pair; `comment` ends its public line (tomo@SERVER), so a
    person reading authorized_keys can tell whose key it is."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return KeyPair(key.export_private_key().decode(), _public(key))


def public_half(private_key: str, passphrase: str | None = None) -> PublicHalf:
    """The public line and fingerprint of a private key tomo keeps."""
    return _public(asyncssh.import_private_key(private_key, passphrase))


def _public(key: asyncssh.SSHKey) -> PublicHalf:
    line = key.export_public_key("openssh").decode().strip()
    return PublicHalf(line, str(key.get_fingerprint("sha256")))


def authorize_command(public_line: str) -> str:
    """The shell command that lets this key log in as the user who runs it (the
    key quoted, whatever its comment says)."""
    return (f"mkdir -p -m 700 ~/.ssh && echo {shlex.quote(public_line)} "
            ">> ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys")  # fmt: skip
