"""`tomo user …`, `tomo token …`, `tomo audit`: accounts, from the shell.

Working on the local data directory, the CLI acts as the local admin: this is
how the first admin can be made without the API, and how a lost password is
reset.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run, state_of
from tomo.cli.output import emit, emit_json, err_console
from tomo.cli.output import table as print_table
from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from tomo.auth.schemas import PasswordChanged, TokenCreated, UserUnlocked
    from tomo.cli.services import Services

users = typer.Typer(help="Users of the API and the web UI.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens for scripts.", no_args_is_help=True)
UserArg = Annotated[str, typer.Argument(help="User id or name.", metavar="USER")]


def _password(from_stdin: bool) -> str:
    if not from_stdin:
        raise InvalidInput("give the password on standard input, with --password-stdin")
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


@users.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name.", metavar="NAME")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin (else a viewer).")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    json_: JsonOption = False,
) -> None:
    """Add a user; the password comes from standard input (never an argument)."""
    from pydantic import SecretStr

    from tomo.auth.schemas import UserCreate

    secret = _password(password_stdin)
    request = UserCreate(username=name, password=SecretStr(secret),
                         role="admin" if admin else "viewer")  # fmt: skip
    created = run(ctx, lambda r: r.auth.create_user(request))
    emit(created, json_, f"Created {created.role} {created.username}")


@users.command("list")
def list_users(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List users."""
    found = run(ctx, lambda r: r.auth.list_users())
    if json_:
        emit_json(found)
        return
    print_table(None, ["name", "role", "id", "created"],
                [(u.username, u.role, u.id, u.created_at) for u in found],
                empty="No users yet. Create the first admin with "
                "`tomo user create NAME --admin --password-stdin`.")  # fmt: skip


@users.command("delete")
def delete_user(ctx: typer.Context, user: UserArg, json_: JsonOption = False) -> None:
    """Remove a user with their sessions and tokens (never the last admin)."""
    gone = run(ctx, lambda r: r.auth.delete_user(user))
    emit(gone, json_, f"Deleted {gone.username}")


@users.command("passwd")
def set_password(
    ctx: typer.Context,
    user: UserArg,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    keep_tokens: Annotated[
        bool, typer.Option("--keep-tokens", help="Leave the user's API tokens working.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Set a user's password (from standard input); their sessions end, and their API
    tokens are revoked unless --keep-tokens."""
    from tomo.auth.service import LOCAL_ADMIN

    secret = _password(password_stdin)
    changed = run(ctx, lambda r: r.auth.set_password(user, secret, by=LOCAL_ADMIN,
                                                     revoke_tokens=not keep_tokens))  # fmt: skip
    emit(changed, json_, _password_changed(changed, kept=keep_tokens))


def _password_changed(changed: PasswordChanged, *, kept: bool) -> str:
    said = f"Password of {changed.username} changed; their browser sessions have ended"
    if kept:
        return f"{said}; their API tokens still work (revoke them with `tomo token revoke ID`)"
    count = changed.tokens_revoked
    if count == 0:
        return f"{said}; they had no API token"
    return f"{said}; {count} API token{'' if count == 1 else 's'} revoked"


@users.command("unlock")
def unlock_user(ctx: typer.Context, user: UserArg, json_: JsonOption = False) -> None:
    """Let a user log in again now: forget the failed logins at their name (and their
    share of those addresses' counts) that hold the account back."""
    unlocked = run(ctx, lambda r: r.auth.unlock_user(user))
    emit(unlocked, json_, _unlocked(unlocked))


def _unlocked(unlocked: UserUnlocked) -> str:
    count = unlocked.failed_logins_forgotten
    if count == 0:
        return f"{unlocked.username} had no failed logins to forget"
    return (
        f"Unlocked {unlocked.username}: {count} failed login{'' if count == 1 else 's'} forgotten"
    )


@tokens.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for.", metavar="NAME")],
    user: Annotated[
        str | None, typer.Option("--user", help="Its owner (default: the only admin).")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Make an API token; its value is printed this once."""
    # Through the API, a token without --user is the logged-in user's own.
    remote = state_of(ctx).remote is not None

    async def action(runtime: Services) -> TokenCreated:
        from tomo.auth.schemas import TokenCreate
        from tomo.auth.service import LOCAL_ADMIN

        owner = user or (None if remote else await _only_admin(runtime))
        return await runtime.auth.create_token(TokenCreate(name=name, username=owner),
                                               by=LOCAL_ADMIN)  # fmt: skip

    made = run(ctx, action)
    if json_:
        emit_json(made)
        return
    shown = f"Token {made.id} ({made.name}) for {made.username}; shown once:"
    err_console().print(shown, markup=False)
    print(made.token)


async def _only_admin(runtime: Services) -> str:
    admins = [u.username for u in await runtime.auth.list_users() if u.role == "admin"]
    if len(admins) != 1:
        raise InvalidInput("name the token's owner with --user")
    return admins[0]


@tokens.command("list")
def list_tokens(ctx: typer.Context, json_: JsonOption = False) -> None:
    """List API tokens (never their values)."""
    from tomo.auth.service import LOCAL_ADMIN

    found = run(ctx, lambda r: r.auth.list_tokens(by=LOCAL_ADMIN))
    if json_:
        emit_json(found)
        return
    print_table(None, ["id", "name", "user", "created", "last used", "revoked"],
                [(t.id, t.name, t.username, t.created_at, t.last_used_at, t.revoked_at)
                 for t in found],
                empty="No API tokens yet. Make one with `tomo token create NAME`.")  # fmt: skip


@tokens.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token: Annotated[str, typer.Argument(help="Token id.", metavar="ID")],
    json_: JsonOption = False,
) -> None:
    """Revoke an API token: refused from now on."""
    from tomo.auth.service import LOCAL_ADMIN

    revoked = run(ctx, lambda r: r.auth.revoke_token(token, by=LOCAL_ADMIN))
    emit(revoked, json_, f"Revoked token {revoked.id} ({revoked.name})")


def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit")] = 50,
    json_: JsonOption = False,
) -> None:
    """The audit log, newest first: every change made through the API or the web UI,
    every login, how each went; refused writes without a login as one tally an hour."""
    found = run(ctx, lambda r: r.auth.audit(limit=limit))
    if json_:
        emit_json(found)
        return
    rows = [(e.at, e.actor or "anonymous", e.action, e.target, _outcome(e.outcome, e.count),
             e.client, e.detail) for e in found]  # fmt: skip
    print_table(None, ["when", "who", "action", "target", "outcome", "from", "detail"], rows,
                empty="The audit log is empty: nothing was changed through the API or the web "
                "UI, and nobody logged in, yet.")  # fmt: skip


def _outcome(outcome: str, count: int) -> str:
    return f"{outcome} ×{count}" if count > 1 else outcome
