"""Passwords as tomo stores them: argon2id with the recommended parameters, and a
stored hash made with other parameters replaced at the next login.

(The test process hashes with argon2id's smallest cost, see tests/conftest.py;
the parameters production uses are the ones checked here.)"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.profiles import RFC_9106_LOW_MEMORY
from pydantic import SecretStr
from sqlalchemy import select, update

from tomo.auth import passwords
from tomo.auth.models import User
from tomo.auth.schemas import Credentials, UserCreate
from tomo.runtime import Runtime

PRODUCTION_HASHER = passwords._hasher  # taken before the tests' quick one replaces it
PASSWORD = "a long enough password"


def test_tomo_hashes_with_argon2id_and_its_recommended_parameters() -> None:
    hasher = PRODUCTION_HASHER()
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost, RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )  # fmt: skip
    stored = hasher.hash(PASSWORD)
    assert stored.startswith("$argon2id$") and f"m={RFC_9106_LOW_MEMORY.memory_cost}" in stored


async def test_a_hash_with_other_parameters_is_replaced_at_the_next_login(
    runtime: Runtime,
) -> None:
    auth = runtime.auth
    made = await auth.create_user(UserCreate(username="ada", password=PASSWORD, role="viewer"))
    older = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1).hash(PASSWORD)
    async with runtime.db.session() as session, session.begin():
        await session.execute(update(User).where(User.id == made.id).values(password_hash=older))
    assert passwords.needs_rehash(older)

    await auth.login(Credentials(username="ada", password=SecretStr(PASSWORD)), "127.0.0.1")
    async with runtime.db.session() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == made.id))
    assert stored is not None and stored != older
    assert not passwords.needs_rehash(stored)
    assert await passwords.verify(stored, PASSWORD)
