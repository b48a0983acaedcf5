"""The `tomo` command line: thin over the services, JSON on every read."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tomo import __version__
from tomo.cli import (
    accounts,
    apps,
    backups,
    deploy,
    events,
    proxy,
    remote,
    repo,
    serve,
    servers,
    state,
    updates,
)
from tomo.cli.context import CliState
from tomo.errors import TomoError

app = typer.Typer(
    name="tomo",
    help="tomo: a self-hosted app store for homelabs.",
    no_args_is_help=True,
    rich_markup_mode=None,  # help texts are plain: "[/udp]" is text, not markup
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(repo.app, name="repo")
app.add_typer(apps.app, name="app")
app.add_typer(servers.app, name="server")
servers.app.command("proxy")(proxy.proxy)
servers.app.command("root-cert")(proxy.root_cert)
app.add_typer(proxy.hostnames, name="hostname")
app.add_typer(deploy.jobs, name="job")
app.add_typer(accounts.users, name="user")
app.add_typer(accounts.tokens, name="token")
app.command("audit")(accounts.audit)
app.add_typer(events.channels, name="channel")
app.add_typer(state.app, name="state")
app.add_typer(backups.app, name="backup")
app.command("events")(events.events)
for command in (deploy.install, deploy.ps, deploy.outdated, deploy.start, deploy.stop,
                deploy.restart, deploy.update, deploy.uninstall, deploy.logs,
                deploy.adopt):  # fmt: skip
    app.command(command.__name__)(command)
app.command("update-policy")(updates.update_policy)
app.command("serve")(serve.serve)
app.command("login")(remote.login)
app.command("logout")(remote.logout)


def _print_version(value: bool) -> None:
    if value:
        print(f"tomo {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Where tomo keeps its state (default ./data).",
            envvar="TOMO_DATA_DIR",
            show_envvar=True,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print tomo's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    ctx.obj = CliState(data_dir=data_dir)


def main() -> None:
    """Entry point: every failure becomes one line on stderr and an exit code."""
    try:
        app(standalone_mode=False)
    except TomoError as exc:
        _fail(exc.message, exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.TyperException as exc:  # usage errors: one line, like every other error
        _usage_error(exc)
    except KeyboardInterrupt:  # a second Ctrl-C
        _fail(INTERRUPTED, 130)
    except Exception as exc:  # last line of defence: never a traceback for a user
        _fail(*_unexpected(exc))
    except BaseException as exc:
        if not _is_cancellation(exc):
            raise
        _fail(INTERRUPTED, 130)  # SIGTERM while nothing could undo it


INTERRUPTED = "interrupted; what was in progress is settled on tomo's next start"


def _usage_error(exc: typer.TyperException) -> None:
    if type(exc).__name__ == "NoArgsIsHelpError":  # `tomo repo` alone: its help
        exc.show()  # type: ignore[attr-defined]
        sys.exit(0)
    context = getattr(exc, "ctx", None)
    where = context.command_path if context is not None else "tomo"
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    _fail(f"{message} (see `{where} --help`)", getattr(exc, "exit_code", 2))


def _is_cancellation(exc: BaseException) -> bool:
    # asyncio is only loaded by commands that run something; --help never pays for it.
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)


def _unexpected(exc: Exception) -> tuple[str, int]:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):  # input no face checked more precisely
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or exc.title
        return f"invalid value for {where}: {own_words(first['msg'])}", 2
    from tomo.logs import log_internal_error

    where = log_internal_error(exc, name_the_file=True)  # the user's own machine
    return f"internal error ({type(exc).__name__}); {where}", 70


def own_words(message: str) -> str:
    """A validation message without pydantic's prefixes."""
    return message.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def _fail(message: str, code: int) -> None:
    one_line = " | ".join(part for part in message.splitlines() if part.strip())
    print(f"error: {one_line}", file=sys.stderr)
    sys.exit(code)
