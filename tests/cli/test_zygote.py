"""The zygote the suite runs `tomo` commands through answers as a process of its own:
the same output, errors and exit status as `python -m tomo` started afresh."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo, run_tomo

COMMANDS = [
    ("--help",),
    ("--version",),
    ("repo", "list"),
    ("repo", "add"),  # a usage error
    ("repo", "add", "/nowhere/at/all", "--name", "Lab"),  # tomo's own error
    ("user", "create", "alice", "--password-stdin"),  # reads its standard input
    ("server", "list", "--json"),
    ("no-such-command",),
]


@pytest.fixture(scope="module")
def tomo(tmp_path_factory: pytest.TempPathFactory) -> Tomo:
    tomo = Tomo(tmp_path_factory.mktemp("zygote") / "data")
    tomo.run("repo", "list")  # the database made, so both runs below find the same
    return tomo


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_forked_command_answers_as_a_fresh_process(tomo: Tomo, args: tuple[str, ...]) -> None:
    command = [*tomo.tomo, *args]
    fresh = subprocess.run(command, capture_output=True, text=True, env=tomo.env, input="short\n",
                           timeout=120)  # fmt: skip
    forked = run_tomo(command, env=tomo.env, stdin="short\n")
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode, fresh.stdout, fresh.stderr)  # fmt: skip


def test_the_environment_and_working_directory_are_the_commands_own(
    tomo: Tomo, tmp_path: Path
) -> None:
    """A relative --data-dir is read from the command's directory, and TOMO_DATA_DIR
    from its environment, not the zygote's."""
    env = {**tomo.env, "TOMO_DATA_DIR": "from-env"}
    done = run_tomo([*tomo.tomo[:3], "repo", "list"], env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-env" / "tomo.db").is_file()
    assert "TOMO_DATA_DIR" not in os.environ
