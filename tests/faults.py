"""Waiting on events, reading tomo's log, and fault injection.

A fault here stands for what cannot be produced on purpose with the real
thing: a bug (an exception tomo's code does not expect) or tomo dying at one
exact point. Everything around it stays real.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]], *, within: float = 30.0
) -> None:
    """Poll `condition` until it holds; fail (not hang) once `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        outcome = condition()
        if await outcome if inspect.isawaitable(outcome) else outcome:
            return
        assert time.monotonic() < deadline, f"still not true after {within}s"
        await asyncio.sleep(0.02)


@contextmanager
def captured_log(name: str) -> Iterator[list[logging.LogRecord]]:
    """Records of one logger, whatever handlers or propagation tomo configured."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger, handler = logging.getLogger(name), Collect(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def exception_of(record: logging.LogRecord) -> Any:
    return record.exc_info[1] if record.exc_info else None


# Runs tomo's CLI with one of tomo's own functions replaced: "die" ends the process
# at once (as a kill -9 would, at exactly that point), "raise" raises ValueError
# (as a bug would). argv: MODE, "module:attribute[.attribute]", then tomo's arguments.
FAULTY_TOMO = r"""
import importlib, os, sys
mode, where = sys.argv[1], sys.argv[2]
module_name, _, path = where.partition(":")
owner = importlib.import_module(module_name)
*parents, name = path.split(".")
for parent in parents:
    owner = getattr(owner, parent)

async def fault(*args, **kwargs):
    if mode == "die":
        os._exit(137)
    raise ValueError("injected fault: a bug")

setattr(owner, name, fault)
sys.argv = ["tomo", *sys.argv[3:]]
from tomo.cli import main
main()
"""
