"""The `tomo` command line: thin over the services, JSON on every read."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from tomo.cli import apps, deploy, repo, serve, servers
from tomo.cli.context import CliState
from tomo.errors import TomoError
from tomo.logs import log_internal_error

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
app.add_typer(deploy.jobs, name="job")
for command in (deploy.install, deploy.ps, deploy.start, deploy.stop, deploy.restart,
                deploy.update, deploy.uninstall, deploy.logs):  # fmt: skip
    app.command(command.__name__)(command)
app.command("serve")(serve.serve)


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
    except typer.TyperException as exc:  # usage errors: typer prints its own message
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            print(f"error: {exc}", file=sys.stderr)
        sys.exit(getattr(exc, "exit_code", 2))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or exc.title
        _fail(f"invalid value for {where}: {first['msg']}", 2)
    except (KeyboardInterrupt, asyncio.CancelledError):  # a second Ctrl-C, or SIGTERM
        _fail("interrupted; what was in progress is settled on tomo's next start", 130)
    except Exception as exc:  # last line of defence: never a traceback for a user
        _fail(f"internal error ({type(exc).__name__}); {log_internal_error(exc)}", 70)


def _fail(message: str, code: int) -> None:
    one_line = " | ".join(part for part in message.splitlines() if part.strip())
    print(f"error: {one_line}", file=sys.stderr)
    sys.exit(code)
