"""Running the real `tomo` entry point in a subprocess, as a user would."""

from __future__ import annotations

import atexit
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from tests.faults import FAULTY_TOMO

PYTHON_M_TOMO = [sys.executable, "-m", "tomo"]


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
        return [*tomo_command(), "--data-dir", str(self.data_dir)]

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
        return tomo_command()

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


def tomo_command() -> list[str]:
    """What runs `python -m tomo`: a stand-in for a fork of this test process's
    zygote (tests/cli/zygote.py), or, with TOMO_TEST_ZYGOTE=0, Python afresh."""
    if os.environ.get("TOMO_TEST_ZYGOTE") == "0":
        return PYTHON_M_TOMO
    return [sys.executable, "-S", str(ZYGOTE.with_name("zygote_client.py")), _ZYGOTE.socket()]


class _Zygote:
    """This test process's zygote, started when first asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.process: subprocess.Popen[str] | None = None
        self.path = ""

    def socket(self) -> str:
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._start()
            return self.path

    def _start(self) -> None:
        folder = tempfile.mkdtemp(prefix="tomo-zygote-")
        self.path = os.path.join(folder, "socket")
        self.process = subprocess.Popen([sys.executable, str(ZYGOTE), self.path],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        text=True)  # fmt: skip
        assert self.process.stdout is not None
        ready = self.process.stdout.readline()
        assert ready == "ready\n", f"the zygote did not start: {ready!r}"
        atexit.register(self._stop, self.process, folder)

    @staticmethod
    def _stop(process: subprocess.Popen[str], folder: str) -> None:
        process.kill()
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


ZYGOTE = Path(__file__).with_name("zygote.py")
_ZYGOTE = _Zygote()
