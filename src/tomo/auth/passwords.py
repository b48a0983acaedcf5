"""Passwords: argon2id (argon2-cffi) with its recommended parameters.

A login for a user that does not exist still verifies against a fixed hash,
so an unknown user and a wrong password take the same time and get the same
answer.

A hash costs a sixth of a second of CPU or so, by design; so it runs in a worker
thread (argon2 releases the GIL): the event loop keeps answering everyone else
while a login is checked.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


@functools.cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id, RFC 9106's low-memory profile


@functools.cache
def _unknown_user_hash() -> str:
    return _hasher().hash("no user has this password; it only spends the same time")


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher().hash, password)


async def verify(stored: str | None, password: str) -> bool:
    """Whether `password` matches `stored` (None: no such user, checked all the same)."""
    return await asyncio.to_thread(_verify, stored, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher().verify(stored or _unknown_user_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when the hash was made with other parameters than today's."""
    return _hasher().check_needs_rehash(stored)
