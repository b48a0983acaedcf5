"""A Python process with tomo imported that forks one process per `tomo` command.

The suite runs `tomo` as a user does, as a process of its own, hundreds of times;
most of each start is Python importing tomo and its libraries (about 1 s of CPU for a
command that opens the full runtime, on these 2-core machines). This server imports
them once; each command is then a fork of it that runs tomo's real entry point
(`runpy`, as `python -m tomo` does) with the arguments, environment, working
directory and standard streams of a small client process (zygote_client.py), which
stands in for it: it passes on the signals it gets and exits as the command did.

Protocol, one connection per command: the client sends a JSON document
(argv, env, cwd) with its stdin, stdout and stderr descriptors attached; the server
answers the command's pid, then its exit status as subprocess reports one
(negative: killed by that signal), each as a line. A client gone before its command
ended (killed) takes the command with it.

Run as a script: `python zygote.py SOCKET`; it prints "ready" once listening.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pkgutil
import random
import signal
import socket
import sys
import threading
from typing import Any


def _import_tomo() -> None:
    """What a command imports, loaded once: the runtime, every CLI module, and the web
    app `tomo serve` runs."""
    import uvicorn  # noqa: F401

    import tomo.app
    import tomo.cli
    import tomo.readonly
    import tomo.runtime

    for module in pkgutil.iter_modules(tomo.cli.__path__, "tomo.cli."):
        importlib.import_module(module.name)


def _take_new_schema() -> None:
    """A new SQLite database made once here: each command forked afterwards that makes
    one copies its schema (tomo.db.NewSchema) instead of running every migration."""
    import asyncio
    import tempfile
    from pathlib import Path

    from tomo.config import Settings
    from tomo.db import Database

    async def make(data_dir: Path) -> None:
        db = Database(Settings(data_dir=data_dir, database_url=None))
        try:
            await db.migrate()
        finally:
            await db.dispose()

    with tempfile.TemporaryDirectory(prefix="tomo-zygote-") as folder:
        asyncio.run(make(Path(folder) / "data"))


def _receive(connection: socket.socket) -> tuple[dict[str, Any], list[int]]:
    payload = b""
    descriptors: list[int] = []
    while not payload.endswith(b"\n"):
        data, fds, _flags, _address = socket.recv_fds(connection, 1 << 20, 3)
        if not data:
            raise ConnectionError("client went away before its request ended")
        payload += data
        descriptors += fds
    return json.loads(payload), descriptors


def _run_command(request: dict[str, Any], descriptors: list[int]) -> None:
    """In the command's process: become `python -m tomo ARGS` and run it; never returns."""
    for target, fd in enumerate(descriptors):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    random.seed()  # each command its own random state, not the server's
    sys.argv = ["-m", *request["argv"]]
    import runpy

    code: object = 0
    try:
        runpy.run_module("tomo", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    except KeyboardInterrupt:  # as Python ends on one: killed by the signal
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # as Python ends on an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    _exit_like_python(code)


def _exit_like_python(code: object) -> None:
    """End the process as the interpreter would on `sys.exit(code)`: None is 0, any
    other non-integer a message and 1; exit handlers run, streams flushed."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe, as Python ignores
            stream.flush()
    os._exit(code & 0xFF)


def _serve_one(connection: socket.socket) -> None:
    """In a fork of the server: start the command, report its pid and exit status."""
    request, descriptors = _receive(connection)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # this process waits for its child
    pid = os.fork()
    if pid == 0:
        connection.close()
        _run_command(request, descriptors)
    for fd in descriptors:
        os.close(fd)
    connection.sendall(f"{pid}\n".encode())
    threading.Thread(target=_end_with_client, args=(connection, pid), daemon=True).start()
    _, status = os.waitpid(pid, 0)
    connection.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    os._exit(0)


def _end_with_client(connection: socket.socket, pid: int) -> None:
    """Kill the command once its client is gone (it sends nothing, so any return of
    recv is the end of the connection)."""
    with contextlib.suppress(OSError):
        connection.recv(1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def main(path: str) -> None:
    _import_tomo()
    _take_new_schema()
    assert threading.active_count() == 1, "a fork would lose the other threads"
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the per-command forks reap themselves
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    print("ready", flush=True)
    while True:
        connection, _ = listener.accept()
        if os.fork() == 0:
            listener.close()
            try:
                _serve_one(connection)
            finally:
                os._exit(1)
        connection.close()


if __name__ == "__main__":
    main(sys.argv[1])
