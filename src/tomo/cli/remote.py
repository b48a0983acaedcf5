"""`tomo login URL` and `tomo logout`: the CLI on another tomo, through its API.

Logged in, every command acts on that tomo with the same output and exit codes
(see tomo.client); a data directory named with --data-dir or TOMO_DATA_DIR keeps
a command local. Neither the password nor the token is ever printed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import state_of
from tomo.cli.output import err_console
from tomo.errors import InvalidInput, TomoError, Unauthenticated

if TYPE_CHECKING:
    from tomo.client.login_file import RemoteLogin

UserOption = Annotated[
    str | None, typer.Option("--user", help="Your user name there (else asked).", metavar="NAME")
]
PasswordStdinOption = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def login(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="tomo's address, e.g. https://tomo.lan.")],
    user: UserOption = None,
    password_stdin: PasswordStdinOption = False,
) -> None:
    """Log in to a tomo: from now on every command acts on it (until `tomo logout`)."""
    import asyncio

    from tomo.client.login_file import save_login
    from tomo.client.session import in_clear_text, log_in, normalized_url

    address = normalized_url(url)
    username = user or _asked("User name")
    password = _password(password_stdin)
    if in_clear_text(address):
        _say(f"warning: {address} is not https: the password and the token cross the "
             "network readable by anyone on the way")  # fmt: skip
    earlier = _earlier_login()
    made = asyncio.run(log_in(address, username, password))
    save_login(made)
    if earlier is not None:
        _revoke_quietly(earlier)
    _say(f"Logged in to {address} as {made.username}; commands act there now "
         "(`tomo logout` returns to the local data directory)")  # fmt: skip
    if state_of(ctx).data_dir is not None:
        _say("note: a named data directory (--data-dir or TOMO_DATA_DIR) keeps commands local")


def logout() -> None:
    """Revoke this CLI's token and act on the local data directory again."""
    import asyncio

    from tomo.client.login_file import forget_login, read_login
    from tomo.client.session import log_out

    try:
        stored = read_login()
    except InvalidInput:  # unreadable: nothing to revoke with, so only removed
        forget_login()
        _say("Removed an unreadable login file; commands act on the local data directory")
        return
    if stored is None:
        _say("Not logged in; commands act on the local data directory")
        return
    said = f"token {stored.token_id} revoked"
    try:
        asyncio.run(log_out(stored))
    except Unauthenticated:  # revoked already (or the user removed): nothing left to do
        said = f"token {stored.token_id} was refused there already"
    except TomoError as exc:
        forget_login()
        raise exc.with_message(
            f"logged out here, but {stored.url} could not revoke token {stored.token_id}: "
            f"{exc.message}; revoke it there with `tomo token revoke {stored.token_id}`"
        ) from None
    forget_login()
    _say(f"Logged out of {stored.url} ({said}); commands act on the local data directory "
         "again")  # fmt: skip


def _asked(what: str) -> str:
    if not sys.stdin.isatty():
        raise InvalidInput("give the user name with --user (standard input is not a terminal)")
    answer: str = typer.prompt(what, err=True)
    return answer.strip()


def _password(from_stdin: bool) -> str:
    """One line of standard input, or typed hidden at a terminal; never an argument,
    where other users of the machine could read it."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise InvalidInput("expected the password on standard input, got nothing")
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InvalidInput(
            "give the password on standard input with --password-stdin (standard input is "
            "not a terminal)"
        )
    password: str = typer.prompt("Password", hide_input=True, err=True)
    return password


def _earlier_login() -> RemoteLogin | None:
    from tomo.client.login_file import read_login

    try:
        return read_login()
    except InvalidInput:  # replaced by the new login anyway
        return None


def _revoke_quietly(earlier: RemoteLogin) -> None:
    """The token of the login just replaced is of no more use to anyone."""
    import asyncio

    from tomo.client.session import log_out

    try:
        asyncio.run(log_out(earlier))
    except Unauthenticated:
        pass
    except TomoError as exc:
        _say(f"warning: could not revoke the earlier token {earlier.token_id} at "
             f"{earlier.url}: {exc.message}")  # fmt: skip


def _say(line: str) -> None:
    err_console().print(line, markup=False)
