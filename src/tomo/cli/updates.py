"""`tomo update-policy`: how updates reach an installation (see tomo/updates/policy.py),
and the `--updates` options `tomo install` shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tomo.cli.context import JsonOption, run
from tomo.cli.deploy import InstallationArg, ServerOption
from tomo.cli.install_options import update_settings
from tomo.cli.output import emit, err_console
from tomo.errors import InvalidInput, Refusal

if TYPE_CHECKING:
    from tomo.deployment.schemas import InstallationPublic
    from tomo.updates.schemas import UpdateSettings

WindowOption = Annotated[
    str | None,
    typer.Option("--window", help="The maintenance window of automatic updates, HH:MM-HH:MM in "
                 "tomo's local time (default 03:00-05:00).", metavar="HH:MM-HH:MM"),
]  # fmt: skip
MajorOption = Annotated[
    bool,
    typer.Option("--major/--same-major", help="Whether an automatic update may move to "
                 "another major version (1.x to 2.0)."),
]  # fmt: skip


def update_policy(
    ctx: typer.Context,
    installation: InstallationArg,
    policy: Annotated[str, typer.Argument(
        help="manual (the default: shown, applied by hand), notify (also told to the "
        "notification channels), auto (applied inside the window) or pinned (never offered).",
        metavar="POLICY")],
    window: WindowOption = None,
    major: MajorOption = False,
    server: ServerOption = None,
    json_: JsonOption = False,
) -> None:  # fmt: skip
    """Set how updates reach an installation."""
    settings = update_settings(policy, window, major, policy_option="POLICY",
                               window_option="--window")  # fmt: skip
    if window is not None and settings.policy.value != "auto":
        only_auto = Refusal("--window: a window is for automatic updates only", ("--window",),
                            hint="choose auto, or leave --window out")  # fmt: skip
        raise InvalidInput([only_auto])
    changed = run(ctx, lambda runtime: runtime.deployment.set_update_policy(
        installation, settings, server))  # fmt: skip
    emit(changed, json_, lambda: _said(changed))


def _said(installation: InstallationPublic) -> None:
    err_console().print(f"{installation.name} on {installation.server_id}: updates "
                        f"{describe(installation.updates)}", markup=False)  # fmt: skip


def describe(settings: UpdateSettings) -> str:
    """The policy in words: `auto, 03:00-05:00, within the major version`."""
    from tomo.updates.policy import DEFAULT_WINDOW, POLICY_WORDS, UpdatePolicy

    said = f"{settings.policy.value} ({POLICY_WORDS[settings.policy]}"
    if settings.policy is UpdatePolicy.AUTO:
        said += f", {settings.window or DEFAULT_WINDOW}"
        said += ", across major versions too" if settings.major else ", within the major version"
    return said + ")"
