"""Secrets at rest: Fernet with a key from TOMO_SECRET_KEY or a 0600 key file.

The key file is created in the data directory on first use. A token that the
current key cannot open is an error that says so; tomo never falls back to an
empty credential.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tomo.errors import SecretsUnavailable
from tomo.lazy import lazy_import

if TYPE_CHECKING:
    from cryptography import fernet
else:  # loaded when a secret is first sealed or opened
    fernet = lazy_import("cryptography.fernet")

KEY_FILE_NAME = "secret.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        self._key = key
        try:
            self._fernet = fernet.Fernet(key)
        except (ValueError, TypeError):
            raise SecretsUnavailable(
                "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from None

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> SecretBox:
        if secret_key:
            return cls(secret_key.strip().encode())
        return cls(_key_file(data_dir / KEY_FILE_NAME))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def derived(self, purpose: str) -> fernet.Fernet:
        """A Fernet of its own for `purpose`, derived from the secret key (HKDF): what
        it seals for one purpose (a login pass, say) is nothing to any other."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(hashes.SHA256(), 32, salt=None, info=f"tomo {purpose}".encode())
        return fernet.Fernet(base64.urlsafe_b64encode(key.derive(self._key)))

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except fernet.InvalidToken:
            raise SecretsUnavailable(
                "stored secrets cannot be decrypted with the current key "
                "(was TOMO_SECRET_KEY or the data directory's secret.key changed?)"
            ) from None


class Secrets:
    """The SecretBox of one tomo, opened on first use: commands that touch no secret
    need no key (and never create the key file)."""

    def __init__(self, secret_key: str | None, data_dir: Path) -> None:
        self._secret_key = secret_key
        self._data_dir = data_dir
        self._box: SecretBox | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox.from_settings(self._secret_key, self._data_dir)
        return self._box

    def encrypt(self, plaintext: str) -> str:
        return self.box.encrypt(plaintext)

    def decrypt(self, token: str) -> str:
        return self.box.decrypt(token)


def _key_file(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600, never overwritten) on first use."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(fernet.Fernet.generate_key())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        message = f"cannot read the secret key file {path}: {exc.strerror}"
        raise SecretsUnavailable(message) from None
    if not key:
        raise SecretsUnavailable(f"the secret key file {path} is empty")
    return key
