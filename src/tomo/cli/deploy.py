"""`tomo install`, `ps`, `start|stop|restart|update|uninstall`, `logs`, `job`."""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.live import Live
from rich.table import Table
from rich.text import Text

from tomo.cli.context import CliState, JsonOption, run
from tomo.cli.output import console, emit, emit_json, err_console
from tomo.cli.output import table as print_table
from tomo.deployment.schemas import InstallationPublic, JobPublic
from tomo.deployment.spec import InstallConfig, PortOverride, VolumeOverride
from tomo.errors import InstallFailed, InvalidInput
from tomo.runtime import Runtime

InstallationArg = Annotated[str, typer.Argument(help="Installation id or instance name.")]
ServerOption = Annotated[str | None, typer.Option("--server", help="Server id or name.")]
jobs = typer.Typer(help="Background jobs.", no_args_is_help=True)


def install(
    ctx: typer.Context,
    app: Annotated[str, typer.Argument(help="repo-id/app-id, or a bare app id.")],
    server: Annotated[str, typer.Option("--server", help="Server id or name.")],
    name: Annotated[str | None, typer.Option("--name", help="Instance name.")] = None,
    env: Annotated[list[str] | None, typer.Option("--env", help="NAME=VALUE")] = None,
    port: Annotated[list[str] | None, typer.Option("--port", help="HOST:CONTAINER[/udp]")] = None,
    volume: Annotated[list[str] | None, typer.Option("--volume", help="HOST:CONTAINER")] = None,
    accept_risk: Annotated[
        list[str] | None, typer.Option("--accept-risk", help="A risk flag.")
    ] = None,
    preview: Annotated[bool, typer.Option("--preview", help="Print the docker argv only.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Return while it installs.")] = False,
    json_: JsonOption = False,
) -> None:
    """Install an app on a server; exits 0 only when it runs."""
    config = InstallConfig(
        name=name,
        env=dict(_pair(item, "=", "--env") for item in env or []),
        ports=[_port(item) for item in port or []],
        volumes=[_volume(item) for item in volume or []],
        accept_risks=accept_risk or [],
    )
    state: CliState = ctx.find_root().obj

    async def action(runtime: Runtime) -> None:
        if preview:
            argv = await runtime.deployment.preview_install(server, app, config)
            emit_json({"argv": argv}) if json_ else console.print(_shell_line(argv), markup=False)
            return
        started = await runtime.deployment.install_app(server, app, config)
        if detach:
            _spawn_job(state, started.job_id)
            emit_json(started) if json_ else err_console.print(
                f"Installing {started.installation.name} (job {started.job_id})", markup=False
            )
            return
        view = await _follow(runtime, started.job_id, quiet=json_)
        installed = await runtime.deployment.get_installation(started.installation.id)
        if json_:
            emit_json({"installation": installed.model_dump(mode="json"),
                       "job": view.model_dump(mode="json"),
                       "generated_secrets": started.generated_secrets})  # fmt: skip
        if view.status != "done":
            raise InstallFailed(view.error or "install failed")
        if not json_:
            _print_installed(installed, started.generated_secrets)

    run(ctx, action)


def ps(ctx: typer.Context, server: ServerOption = None, json_: JsonOption = False) -> None:
    """List installations, their status checked against Docker."""

    async def action(runtime: Runtime) -> list[InstallationPublic]:
        found = await runtime.deployment.list_installations(server)
        refreshed = await asyncio.gather(
            *(runtime.deployment.refresh_status(i.id) for i in found), return_exceptions=True
        )
        return [
            r if isinstance(r, InstallationPublic) else i
            for i, r in zip(found, refreshed, strict=True)
        ]

    rows = run(ctx, action)
    if json_:
        emit_json(rows)
        return
    print_table(None, ["id", "name", "server", "app", "version", "status", "ports", "note"],
                [(i.id, i.name, i.server_id, f"{i.repo_id}/{i.app_id}", i.version, i.status,
                  i.ports, i.status_message) for i in rows])  # fmt: skip


def start(ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
          json_: JsonOption = False) -> None:  # fmt: skip
    """Start an installation's container."""
    _show(run(ctx, lambda r: r.deployment.start_app(installation, server)), json_)


def stop(ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
         json_: JsonOption = False) -> None:  # fmt: skip
    """Stop an installation's container."""
    _show(run(ctx, lambda r: r.deployment.stop_app(installation, server)), json_)


def restart(ctx: typer.Context, installation: InstallationArg, server: ServerOption = None,
            json_: JsonOption = False) -> None:  # fmt: skip
    """Restart an installation's container."""
    _show(run(ctx, lambda r: r.deployment.restart_app(installation, server)), json_)


def update(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    tag: Annotated[str | None, typer.Option("--tag", help="Another image tag.")] = None,
    json_: JsonOption = False,
) -> None:
    """Update to the catalog's definition (or --tag); the old container returns on failure."""
    _show(run(ctx, lambda r: r.deployment.update_app(installation, server, tag=tag)), json_)


def uninstall(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    remove_data: Annotated[
        bool, typer.Option("--remove-data", help="Also delete the data tomo created.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Remove an installation's container; its data stays unless --remove-data."""
    gone = run(
        ctx, lambda r: r.deployment.uninstall_app(installation, server, remove_data=remove_data)
    )
    kept = "" if remove_data else " (data kept)"
    emit(gone, json_, f"Uninstalled {gone.name} from {gone.server_id}{kept}")


def logs(
    ctx: typer.Context,
    installation: InstallationArg,
    server: ServerOption = None,
    tail: Annotated[int, typer.Option("--tail")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
) -> None:
    """Print an installation's container logs."""

    async def action(runtime: Runtime) -> None:
        async for line in runtime.deployment.logs(installation, server, tail=tail, follow=follow):
            print(line, flush=True)

    run(ctx, action)


@jobs.command("run", hidden=True)
def job_run(ctx: typer.Context, job_id: str) -> None:
    """Carry out a stored job (used by install --detach)."""
    view = run(ctx, lambda r: r.deployment.run_job(job_id))
    if view.status != "done":
        raise InstallFailed(view.error or "job failed")


@jobs.command("show")
def job_show(ctx: typer.Context, job_id: str, json_: JsonOption = False) -> None:
    """Show a job and its steps."""
    view = run(ctx, lambda r: r.deployment.get_job(job_id))
    emit(view, json_, lambda: console.print(_steps_table(view)))


async def _follow(runtime: Runtime, job_id: str, *, quiet: bool) -> JobPublic:
    """Run the job here and show its steps live until it ends."""
    task = asyncio.create_task(runtime.deployment.run_job(job_id))
    with Live(console=err_console, transient=False, refresh_per_second=8,
              auto_refresh=not quiet and err_console.is_terminal) as live:  # fmt: skip
        while not task.done():
            if not quiet and err_console.is_terminal:
                live.update(_steps_table(await runtime.deployment.get_job(job_id)))
            await asyncio.wait({task}, timeout=0.2)
    view = await task
    if not quiet:
        err_console.print(_steps_table(view))
    return view


def _steps_table(view: JobPublic) -> Table:
    grid = Table(title=f"{view.kind} ({view.status})", title_justify="left", header_style="bold")
    for column in ("step", "status", "progress", "seconds", "message"):
        grid.add_column(column)
    for step in view.steps:
        seconds = (step.ended_at - step.started_at).total_seconds() if step.ended_at else None
        progress = (
            f"{step.progress_done}/{step.progress_total} layers" if step.progress_total else ""
        )
        grid.add_row(*(Text(str(cell)) for cell in (
            step.name, step.status, progress, f"{seconds:.1f}" if seconds is not None else "…",
            step.message or "",
        )))  # fmt: skip
    return grid


def _print_installed(installation: InstallationPublic, generated: dict[str, str]) -> None:
    ports = ", ".join(installation.ports) or "none"
    where = f"{installation.name} is {installation.status} on {installation.server_id}"
    err_console.print(f"{where} (ports: {ports})", markup=False)
    for key, value in generated.items():
        err_console.print(f"generated {key}={value}  (shown once; stored encrypted)", markup=False)


def _show(installation: InstallationPublic, json_: bool) -> None:
    note = f" ({installation.status_message})" if installation.status_message else ""
    emit(installation, json_, f"{installation.name}: {installation.status}{note}")


def _spawn_job(state: CliState, job_id: str) -> None:
    data_dir = ["--data-dir", str(state.data_dir)] if state.data_dir else []
    subprocess.Popen(
        [sys.executable, "-m", "tomo", *data_dir, "job", "run", job_id],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _pair(item: str, separator: str, option: str) -> tuple[str, str]:
    key, found, value = item.partition(separator)
    if not found or not key:
        raise InvalidInput(f"{option} {item!r}: expected KEY{separator}VALUE")
    return key, value


def _port(item: str) -> PortOverride:
    spec, _, protocol = item.partition("/")
    host, container = _pair(spec, ":", "--port")
    try:
        return PortOverride(host=int(host), container=int(container), protocol=protocol or "tcp")
    except ValidationError as exc:
        raise InvalidInput(f"--port {item!r}: {_first_error(exc)}") from None
    except ValueError:
        raise InvalidInput(f"--port {item!r}: expected HOST:CONTAINER[/udp] with numbers") from None


def _volume(item: str) -> VolumeOverride:
    host, container = _pair(item, ":", "--volume")
    try:
        return VolumeOverride(host_path=host, container_path=container)
    except ValidationError as exc:
        raise InvalidInput(f"--volume {item!r}: {_first_error(exc)}") from None


def _first_error(exc: ValidationError) -> str:
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def _shell_line(argv: list[str]) -> str:
    return shlex.join(argv)
