"""The zygote the suite runs `tomo` commands through answers as a process of its own:
the same output, errors and exit status as `python -m tomo` started afresh."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.tomo_cli import PYTHON_M_TOMO, Tomo, tomo_command
from tests.services import free_port, wait_until_serving

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
    fresh, forked = (
        subprocess.run([*start, "--data-dir", str(tomo.data_dir), *args], capture_output=True,
                       text=True, env=tomo.env, input="short\n", timeout=120)
        for start in (PYTHON_M_TOMO, tomo_command())
    )  # fmt: skip
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode, fresh.stdout, fresh.stderr)  # fmt: skip


def test_the_environment_and_working_directory_are_the_commands_own(
    tomo: Tomo, tmp_path: Path
) -> None:
    """A relative --data-dir is read from the command's directory, and TOMO_DATA_DIR
    from its environment, not the zygote's."""
    env = {**tomo.env, "TOMO_DATA_DIR": "from-env"}
    done = subprocess.run([*tomo_command(), "repo", "list"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "from-env" / "tomo.db").is_file()
    assert "TOMO_DATA_DIR" not in os.environ


def test_a_signal_to_the_stand_in_reaches_the_command_and_it_exits_as_the_command_did(
    tomo: Tomo, tmp_path: Path
) -> None:
    """`tomo serve` stopped with SIGTERM (as a test's terminate() does) ends as a
    fresh process would; a stand-in killed outright takes its command with it."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        port = free_port()
        process = subprocess.Popen(
            [*tomo_command(), "--data-dir", str(tmp_path / "served"), "serve", "--port", str(port)],
            env=tomo.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until_serving(f"http://127.0.0.1:{port}", process)
        process.send_signal(signum)
        assert process.wait(timeout=30) in (0, -signum)
        deadline = time.monotonic() + 30
        while _answers(port):
            assert time.monotonic() < deadline, "the command outlived its stand-in"
            time.sleep(0.1)


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
