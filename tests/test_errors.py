"""The error tree: every domain error has a face-specific mapping."""

from __future__ import annotations

from tomo import errors


def all_errors() -> list[type[errors.TomoError]]:
    found: list[type[errors.TomoError]] = []
    pending = [errors.TomoError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_below_the_root_has_a_specific_exit_code_and_status() -> None:
    for cls in all_errors():
        if cls is errors.TomoError:
            continue
        assert cls.exit_code not in (0, 1), cls
        # Only a bug is a server error; every other error says what the client can do.
        assert (cls.http_status == 500) == (cls is errors.InternalError), cls


def test_every_error_is_drawn_in_the_tree() -> None:
    tree = errors.__doc__ or ""
    for cls in all_errors():
        assert cls.__name__ in tree, f"{cls.__name__} is missing from the tree in errors.py"
