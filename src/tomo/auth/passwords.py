"""Passwords: argon2id (argon2-cffi) with its recommended parameters.

A login for a user that does not exist still verifies against a fixed hash,
so an unknown user and a wrong password take the same time and get the same
answer.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106's low-memory profile


@functools.cache
def _unknown_user_hash() -> str:
    return _hasher().hash("no user has this password; it only spends the same time")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: no such user, checked all the same)."""
    try:
        return _hasher().verify(stored or _unknown_user_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    return _hasher().check_needs_rehash(stored)
