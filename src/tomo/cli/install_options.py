"""From `--env`, `--port`, `--volume`, `--accept-risk` to an InstallConfig, every
problem named by its option (install and update take the same options).

Pydantic and the deployment spec load only when these options are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tomo.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import ValidationError

    from tomo.deployment.spec import InstallConfig, PortOverride, VolumeOverride
    from tomo.updates.schemas import UpdateSettings

_OPTION_OF_FIELD = {"name": "--name", "accept_risks": "--accept-risk", "env": "--env"}


def config_from_options(
    name: str | None,
    env: list[str] | None,
    port: list[str] | None,
    volume: list[str] | None,
    accept_risk: list[str] | None,
) -> InstallConfig:
    from pydantic import ValidationError

    from tomo.deployment.spec import InstallConfig

    try:
        return InstallConfig(
            name=name,
            env=dict(_pair(item, "=", "--env", "NAME=VALUE") for item in env or []),
            ports=[_port(item) for item in port or []],
            volumes=[_volume(item) for item in volume or []],
            accept_risks=accept_risk or [],
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        raise InvalidInput(f"{_OPTION_OF_FIELD.get(field, field)}: {first_error(exc)}") from None


def _pair(item: str, separator: str, option: str, shape: str) -> tuple[str, str]:
    key, found, value = item.partition(separator)
    if not found or not key:
        raise InvalidInput(f"{option} {item!r}: expected {shape}")
    return key, value


def _port(item: str) -> PortOverride:
    from pydantic import ValidationError

    from tomo.deployment.spec import PortOverride

    spec, _, protocol = item.partition("/")
    host, container = _pair(spec, ":", "--port", "HOST:CONTAINER[/udp]")
    try:
        return PortOverride(host=int(host), container=int(container), protocol=protocol or "tcp")
    except ValidationError as exc:
        raise InvalidInput(f"--port {item!r}: {first_error(exc)}") from None
    except ValueError:
        raise InvalidInput(f"--port {item!r}: expected HOST:CONTAINER[/udp] with numbers") from None


def _volume(item: str) -> VolumeOverride:
    from pydantic import ValidationError

    from tomo.deployment.spec import VolumeOverride

    host, container = _pair(item, ":", "--volume", "HOST:CONTAINER")
    try:
        return VolumeOverride(host_path=host, container_path=container)
    except ValidationError as exc:
        raise InvalidInput(f"--volume {item!r}: {first_error(exc)}") from None


def first_error(exc: ValidationError) -> str:
    """The first problem, in tomo's words (no "Value error, " prefix)."""
    return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")


def update_settings(
    policy: str, window: str | None, major: bool, *, policy_option: str, window_option: str
) -> UpdateSettings:
    """The settings the options give, each problem named by its option."""
    from tomo.updates.policy import parse_policy, parse_window
    from tomo.updates.schemas import UpdateSettings

    try:
        chosen = parse_policy(policy, (policy_option,))
        checked = str(parse_window(window, (window_option,))) if window is not None else None
    except InvalidInput as exc:
        (problem,) = exc.problems
        raise InvalidInput(f"{problem.fields[0]}: {problem.text}") from None
    return UpdateSettings(policy=chosen, window=checked, major=major)
