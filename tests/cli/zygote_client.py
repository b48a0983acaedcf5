"""Stands in for one `tomo` command forked by the zygote (zygote.py): hands it this
process's arguments, environment, working directory and standard streams, passes on
the signals this process gets, and exits as the command did.

Run without site packages (`python -S zygote_client.py SOCKET ARGS...`): it needs
only the standard library, and starts in milliseconds.
"""

import json
import os
import signal
import socket
import sys

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def main(path: str, argv: list[str]) -> int:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.connect(path)
    request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()})
    socket.send_fds(connection, [request.encode() + b"\n"], [0, 1, 2])
    answer = connection.makefile()
    pid = int(answer.readline())
    for signum in FORWARDED:
        signal.signal(signum, lambda received, _frame: os.kill(pid, received))
    status = answer.readline()  # retried by Python when a forwarded signal interrupts it
    if not status:
        print("the zygote lost this command", file=sys.stderr)
        return 255
    code = int(status)
    if code < 0:  # killed by a signal: so is this process
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
