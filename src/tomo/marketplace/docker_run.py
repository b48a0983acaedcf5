"""A `docker run …` line as the compose file that runs the same container, so
that a pasted command goes through what a pasted compose file does
(tomo.marketplace.personal): every option becomes its compose key, and the
compose reader then takes, warns about or refuses it exactly as it would there.

Options that only shape the command's own session (-d, -i, -t, --rm, --pull,
--name: the app is named when it is added) are dropped: tomo runs the
container detached, keeps it, and names it. An option compose
has no key for (--env-file: a file on the machine it was typed on) is refused.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

import yaml

# docker run's options with a value, by compose key; `append`: may be given again.
_SINGLE = {
    "--restart": "restart", "--network": "network_mode",
    "--net": "network_mode", "--pid": "pid", "--ipc": "ipc", "--user": "user",
    "--workdir": "working_dir", "--hostname": "hostname", "--gpus": "gpus",
    "--runtime": "runtime", "--stop-signal": "stop_signal", "--memory": "mem_limit",
    "--memory-reservation": "mem_reservation",
    "--cpus": "cpus", "--shm-size": "shm_size", "--platform": "platform",
    "--log-driver": "logging", "--userns": "userns_mode", "--uts": "uts",
    "--cgroup-parent": "cgroup_parent", "--mac-address": "mac_address",
}  # fmt: skip
_APPEND = {
    "--publish": "ports", "--volume": "volumes", "--env": "environment",
    "--cap-add": "cap_add", "--cap-drop": "cap_drop", "--device": "devices",
    "--security-opt": "security_opt", "--label": "labels", "--add-host": "extra_hosts",
    "--dns": "dns", "--tmpfs": "tmpfs", "--sysctl": "sysctls", "--ulimit": "ulimits",
    "--group-add": "group_add", "--mount": "mount", "--expose": "expose",
}  # fmt: skip
_SHORT = {"-p": "--publish", "-v": "--volume", "-e": "--env", "-u": "--user",
          "-w": "--workdir", "-h": "--hostname", "-l": "--label", "-m": "--memory"}  # fmt: skip
_FLAGS = {"--privileged": "privileged", "--read-only": "read_only", "--init": "init"}
_SESSION = ("--detach", "--interactive", "--tty", "--rm")  # how the command ran, not the app
_HEALTH = ("--health-cmd", "--health-interval", "--health-timeout", "--health-retries",
           "--health-start-period")  # fmt: skip
_REFUSED = {"--env-file": "names a file on the machine the command was typed on; give each "
            "variable with -e NAME=VALUE"}  # fmt: skip


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ValueError(message)


def compose_of_run(line: str, service: str) -> str:
    """The compose file (YAML) of one service `service` that the command would run;
    ValueError saying what in the line cannot be read."""
    words = _command_words(line)
    known, rest = _parser().parse_known_args(words)
    unknown = [word for word in rest if word.startswith("-")]
    if unknown:
        raise ValueError(f"{unknown[0]}: not a docker run option tomo reads")
    if known.image is None:
        raise ValueError("no image: docker run needs one after its options")
    return yaml.safe_dump({"services": {service: _service(known)}}, sort_keys=False)


def _command_words(line: str) -> list[str]:
    try:
        words = shlex.split(line.replace("\\\n", " "))
    except ValueError as exc:
        raise ValueError(f"the command cannot be split into words ({exc})") from None
    for start in (["docker", "run"], ["docker", "container", "run"]):
        if words[: len(start)] == start:
            return words[len(start) :]
    raise ValueError("it does not start with 'docker run'")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="docker run", add_help=False, allow_abbrev=False)
    for option in (*_SINGLE, *_HEALTH, "--entrypoint", "--stop-timeout", "--pull", "--name",
                   *_REFUSED):  # fmt: skip
        parser.add_argument(*_spellings(option), dest=option)
    for option in _APPEND:
        parser.add_argument(*_spellings(option), dest=option, action="append", default=[])
    for option, letter in (("--detach", "-d"), ("--interactive", "-i"), ("--tty", "-t")):
        parser.add_argument(letter, option, dest=option, action="store_true")
    for option in ("--rm", *_FLAGS):
        parser.add_argument(option, dest=option, action="store_true")
    parser.add_argument("image", nargs="?")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def _spellings(option: str) -> list[str]:
    """The option, and its one-letter form when it has one."""
    return [*(letter for letter, long in _SHORT.items() if long == option), option]


def _service(known: argparse.Namespace) -> dict[str, Any]:
    given = vars(known)
    refused = next((option for option in _REFUSED if given[option] is not None), None)
    if refused is not None:
        raise ValueError(f"{refused}: {_REFUSED[refused]}")
    service: dict[str, Any] = {"image": known.image}
    if known.command:
        service["command"] = known.command
    if given["--entrypoint"] is not None:
        service["entrypoint"] = [given["--entrypoint"]]
    for option, key in _SINGLE.items():
        if given[option] is not None:
            service[key] = given[option]
    for option, key in _APPEND.items():
        if given[option]:
            service[key] = list(given[option])
    service.update({key: "true" for option, key in _FLAGS.items() if given[option]})
    if given["--stop-timeout"] is not None:
        service["stop_grace_period"] = f"{given['--stop-timeout']}s"
    if "mount" in service:
        service.setdefault("volumes", []).extend(map(_mount, service.pop("mount")))
    health = _healthcheck(given)
    if health:
        service["healthcheck"] = health
    return service


def _mount(value: str) -> dict[str, Any]:
    """`--mount type=bind,source=/a,target=/b,readonly` as compose's long volume."""
    fields = dict(part.partition("=")[::2] for part in value.split(","))
    kind = fields.get("type", "volume")
    source = fields.get("source", fields.get("src"))
    target = fields.get("target", fields.get("destination", fields.get("dst")))
    if kind not in ("bind", "volume") or not target:
        raise ValueError(f"--mount {value}: tomo reads bind and volume mounts with a target")
    volume: dict[str, Any] = {"type": kind, "target": target}
    if source:
        volume["source"] = source
    if "readonly" in fields or fields.get("ro") == "true":
        volume["read_only"] = "true"
    return volume


def _healthcheck(given: dict[str, Any]) -> dict[str, Any]:
    if given["--health-cmd"] is None:
        return {}
    check: dict[str, Any] = {"test": ["CMD-SHELL", given["--health-cmd"]]}
    for option in _HEALTH[1:]:
        if given[option] is not None:
            check[option.removeprefix("--health-").replace("-", "_")] = given[option]
    return check
