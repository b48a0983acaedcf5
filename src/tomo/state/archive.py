"""The encrypted archive `tomo state export` writes: a header, then one Fernet token.

    b"TOMOSTATE"  format (1 byte)  salt (16 bytes)  token length (8 bytes, big endian)
    token: Fernet, its key derived from the passphrase by scrypt with the salt

The length tells a file cut short from a wrong passphrase; Fernet's MAC tells a
wrong passphrase (or altered bytes) from the right one.
"""

from __future__ import annotations

import base64
import os
import struct

from tomo.errors import InvalidInput

MAGIC = b"TOMOSTATE"
FORMAT = 1
SALT_BYTES = 16
_HEADER = struct.Struct(f">{len(MAGIC)}sB{SALT_BYTES}sQ")
# scrypt's cost: 32 MiB of memory and about a tenth of a second per guess.
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
MIN_PASSPHRASE = 12
WRONG_PASSPHRASE = "wrong passphrase or not a tomo state archive"  # noqa: S105 - a message


def seal(payload: bytes, passphrase: str) -> bytes:
    """The archive of `payload`, openable with `passphrase` only."""
    from cryptography.fernet import Fernet

    salt = os.urandom(SALT_BYTES)
    token = Fernet(_key(passphrase, salt)).encrypt(payload)
    return _HEADER.pack(MAGIC, FORMAT, salt, len(token)) + token


def unseal(archive: bytes, passphrase: str, *, name: str) -> bytes:
    """The payload of an archive; InvalidInput naming the file when it is not one
    (or not whole) or the passphrase does not open it."""
    from cryptography.fernet import Fernet, InvalidToken

    if len(archive) < _HEADER.size or not archive.startswith(MAGIC):
        raise InvalidInput(f"{name}: {WRONG_PASSPHRASE}")
    _, version, salt, length = _HEADER.unpack_from(archive)
    if version != FORMAT:
        raise InvalidInput(f"{name}: a tomo state archive of format {version}; this tomo "
                           f"reads format {FORMAT}")  # fmt: skip
    token = archive[_HEADER.size :]
    if len(token) != length:
        raise InvalidInput(f"{name}: the archive is cut short ({len(archive)} bytes of "
                           f"{_HEADER.size + length}): copy it whole again")  # fmt: skip
    try:
        return Fernet(_key(passphrase, salt)).decrypt(token)
    except InvalidToken:
        raise InvalidInput(f"{name}: {WRONG_PASSPHRASE}") from None


def check_passphrase(passphrase: str) -> str:
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(f"the passphrase has {len(passphrase)} characters; an archive "
                           f"needs at least {MIN_PASSPHRASE}")  # fmt: skip
    return passphrase


def _key(passphrase: str, salt: bytes) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    derived = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode())
    return base64.urlsafe_b64encode(derived)
