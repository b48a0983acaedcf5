"""Running the real `tomo` entry point in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.faults import FAULTY_TOMO


def _default_interrupt() -> None:
    """Ctrl-C as a person's shell gives it: a SIGINT ignored by whatever started the
    test run would be ignored by tomo too (Python keeps an inherited SIG_IGN)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Tomo:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.cwd: Path | None = None  # where commands run (default: the test's)
        self.env = {**os.environ, "TOMO_BUILTIN_CATALOG": "false", "COLUMNS": "200", **env}

    @property
    def tomo(self) -> list[str]:
        """The command, up to its arguments."""
        return [sys.executable, "-m", "tomo", "--data-dir", str(self.data_dir)]

    def run(
        self, *args: str, expect: int = 0, cwd: Path | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.tomo, *args],
            capture_output=True, text=True, env=self.env, timeout=120, cwd=cwd or self.cwd, input=stdin,
        )  # fmt: skip
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def on_terminal(
        self, *args: str, typed: str, expect: int = 0
    ) -> subprocess.CompletedProcess[str]:
        """tomo with a terminal as standard input, as a person runs it, with `typed`
        typed ahead (a terminal keeps it until tomo reads)."""
        controller, terminal = pty.openpty()
        try:
            os.write(controller, typed.encode())
            done = subprocess.run(
                [*self.tomo, *args],
                stdin=terminal, capture_output=True, text=True, env=self.env, timeout=120,
                cwd=self.cwd,
            )  # fmt: skip
        finally:
            os.close(terminal)
            os.close(controller)
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """tomo started in the background (to be interrupted), output captured."""
        return subprocess.Popen(
            [*self.tomo, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env, cwd=self.cwd,
            preexec_fn=_default_interrupt,
        )  # fmt: skip

    def faulty(
        self, mode: str, where: str, *args: str, expect: int
    ) -> subprocess.CompletedProcess[str]:
        """tomo with one function of its own replaced by a fault (see tests.faults)."""
        done = subprocess.run(
            [sys.executable, "-c", FAULTY_TOMO, mode, where, "--data-dir", str(self.data_dir),
             *args],
            capture_output=True, text=True, env=self.env, timeout=120,
        )  # fmt: skip
        assert done.returncode == expect, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def error(self, *args: str, expect: int, stdin: str | None = None) -> str:
        done = self.run(*args, expect=expect, stdin=stdin)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("error: ")
        return lines[0]


class Laptop(Tomo):
    """The CLI without --data-dir, in a HOME of its own: logged in, it acts on the
    remote tomo. `data_dir` is where a local data directory would appear."""

    def __init__(self, home: Path, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir / "data", HOME=str(home), XDG_CONFIG_HOME=str(home / "config"))
        self.cwd = workdir
        self.env.pop("TOMO_DATA_DIR", None)  # it would keep every command local
        self.login_file = home / "config" / "tomo" / "remote.json"
        self.outputs: list[str] = []

    @property
    def tomo(self) -> list[str]:
        return [sys.executable, "-m", "tomo"]

    def run(self, *args: str, expect: int = 0, cwd: Path | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
        """As Tomo.run, keeping every output (to look for the token in)."""
        done = subprocess.run([*self.tomo, *args], capture_output=True, text=True, env=self.env,
                              timeout=120, cwd=cwd or self.cwd, input=stdin)  # fmt: skip
        self.outputs += [done.stdout, done.stderr]
        assert done.returncode == expect, (args, done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done

    def login(
        self, url: str, password: str, user: str = "admin"
    ) -> subprocess.CompletedProcess[str]:
        return self.run("login", url, "--user", user, "--password-stdin", stdin=f"{password}\n")

    def token(self) -> str:
        stored: dict[str, str] = json.loads(self.login_file.read_text())
        return stored["token"]


def table_rows(printed: str) -> list[list[str]]:
    """The header and rows of a table as printed, one line each, cells stripped."""
    lines = [line for line in printed.splitlines() if line.startswith(("┃", "│"))]
    return [[cell.strip() for cell in line[1:-1].replace("┃", "│").split("│")] for line in lines]
