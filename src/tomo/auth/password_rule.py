"""The rule a new password follows, in one place: the service checks it, the pages
state it beside the password field, word for word from here.

A module of its own, without argon2: the schemas and the CLI import it.
"""

from __future__ import annotations

# Longer is no safer, and every login would hash all of it.
MAX_PASSWORD_LENGTH = 1024


def password_rule(shortest: int) -> str:
    """The rule in full, as a page states it before anything is typed."""
    return (
        f"At least {shortest} and at most {MAX_PASSWORD_LENGTH} characters. Any characters "
        "count, spaces too; a few words make a good one."
    )


def password_problem(password: str, shortest: int) -> str | None:
    """What breaks the rule (a fragment: each face adds the field's name or a
    capital); None when nothing does."""
    length = len(password)
    if length < shortest:
        return f"at least {shortest} characters are needed, this one has {length}"
    if length > MAX_PASSWORD_LENGTH:
        return f"at most {MAX_PASSWORD_LENGTH} characters are allowed, this one has {length}"
    return None
