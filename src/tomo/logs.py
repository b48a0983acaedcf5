"""tomo's log: a file in the data directory, readable by its owner only.

Everything from INFO up goes to the file, tracebacks included; a user's
terminal gets warnings as one line and never a traceback.
"""

from __future__ import annotations

import logging
import os
import secrets
from logging.handlers import RotatingFileHandler
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tomo.config import Settings

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _TomoFile(RotatingFileHandler):
    """tomo's file handler (a type of its own, so configuring twice adds nothing)."""


class _OneLine(logging.Formatter):
    """The message only: tracebacks belong in the file, not on a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        return f"tomo: {record.getMessage()}"


def _not_a_traceback(record: logging.LogRecord) -> bool:
    """Records of internal errors go to the file only: the user is told in one line
    by whatever failed."""
    return record.exc_info is None


def configure_logging(settings: Settings, *, stderr_level: int = logging.WARNING) -> None:
    """Send tomo's loggers to its log file (and warnings to stderr). Idempotent."""
    root = logging.getLogger("tomo")
    if any(isinstance(handler, _TomoFile) for handler in root.handlers):
        return
    root.setLevel(logging.INFO)
    root.propagate = False
    path = settings.log_file
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    to_file = _TomoFile(path, maxBytes=5 * 1024 * 1024, backupCount=3)
    to_file.setFormatter(logging.Formatter(_FORMAT))
    to_terminal = logging.StreamHandler()
    to_terminal.setLevel(stderr_level)
    to_terminal.setFormatter(_OneLine())
    to_terminal.addFilter(_not_a_traceback)
    root.addHandler(to_file)
    root.addHandler(to_terminal)


def log_internal_error(exc: BaseException, *, name_the_file: bool = False) -> str:
    """Log a bug with its traceback in tomo's log under a short reference, and say
    where its details are: by that reference, the file named only when asked (the
    CLI, on its own machine). The words may reach a remote client, which has no
    business learning the server's paths, nor the bug's own words."""
    root = logging.getLogger("tomo")
    files = [h for h in root.handlers if isinstance(h, _TomoFile)]
    if not files:  # tomo's log is not open yet: the type is all a user gets
        return "no details were logged"
    reference = secrets.token_hex(4)
    root.error("internal error (reference %s)", reference, exc_info=exc)
    where = files[0].baseFilename if name_the_file else "tomo's log"
    return f"the details are in {where}, under reference {reference}"
