"""The login file: which tomo the CLI works on, and the API token it uses there.

`$XDG_CONFIG_HOME/tomo/remote.json` (default `~/.config/tomo/remote.json`), created
0600 in a 0700 directory: the token is as good as the password for the API.
Every command reads it (unless a data directory is named), so this module
imports nothing beyond the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from tomo.errors import InvalidInput

FILE_NAME = "remote.json"


@dataclass(frozen=True)
class RemoteLogin:
    url: str  # tomo's address, without /api
    username: str
    token_id: str  # to revoke it at logout
    token: str

    def __repr__(self) -> str:  # the token never reaches a log or a traceback
        return f"RemoteLogin(url={self.url!r}, username={self.username!r})"


def login_file() -> Path:
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    base = Path(configured) if os.path.isabs(configured) else Path.home() / ".config"
    return base / "tomo" / FILE_NAME


def read_login() -> RemoteLogin | None:
    """The stored login, or None when the CLI works locally."""
    path = login_file()
    try:
        stored = json.loads(path.read_text())
        return RemoteLogin(**{key: str(stored[key]) for key in RemoteLogin.__dataclass_fields__})
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"{path} is not a tomo login ({type(exc).__name__}); `tomo logout` removes it"
        ) from None


def save_login(login: RemoteLogin) -> Path:
    """Write the login readable by its owner only (replacing any earlier one whole)."""
    path = login_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    partial = path.with_name(f".{FILE_NAME}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        json.dump(asdict(login), stream, indent=2)
    os.replace(partial, path)
    return path


def forget_login() -> bool:
    """Remove the login file; False when there was none."""
    try:
        login_file().unlink()
    except FileNotFoundError:
        return False
    return True
