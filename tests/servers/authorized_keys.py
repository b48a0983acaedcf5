"""A public key tomo generated, put where the test sshd looks for the test user's
authorized keys (tests/sshd.py: one file per user), as a person would add it to
~/.ssh/authorized_keys; taken out again when the block ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tests.sshd import SshUsers


@contextmanager
def authorized(users: SshUsers, public_key: str) -> Iterator[None]:
    path = users.root / "authorized" / users.user
    before = path.read_text()
    path.write_text(before + public_key.strip() + "\n")  # sshd reads it at every login
    try:
        yield
    finally:
        path.write_text(before)
