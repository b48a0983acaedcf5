"""Strict field types for app definitions.

The YAML loader hands every scalar over as text, so these types decide what
text is acceptable: `22:22` is not a number, `no` is not a boolean, `0755`
is not silently octal. Each raises `ValueError` with a message a catalog
maintainer can act on; pydantic adds the field path.
"""

from __future__ import annotations

import posixpath
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

_INT = re.compile(r"[+-]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_BREAK_OR_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BLANKS = re.compile(r"[\t\n\r\x0b\x0c]+")
_UNSHOWN = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_LINE_ENDS = re.compile(r"\r\n?|[\x0b\x0c]")


def parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[+-]?0[0-9]+", value):
        raise ValueError(f"'{value}' has a leading zero; YAML 1.1 would read it as octal")
    raise ValueError(f"expected a whole number, got {value!r}")


def parse_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _FLOAT.fullmatch(value):
        return float(value)
    raise ValueError(f"expected a number, got {value!r}")


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {value!r} (yes/no/on/off are not booleans here)")


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"port {value} is outside 1-65535")
    return value


def check_single_line(value: str) -> str:
    if _LINE_BREAK_OR_CONTROL.search(value):
        raise ValueError("must be one line without control characters")
    return value.strip()


def shown_line(value: Any) -> Any:
    """A text only shown, on one line: line breaks and tabs become a space, other
    control characters go. A store's stray character is never a reason to drop its
    app (values that reach a container are checked strictly instead)."""
    if isinstance(value, str) and _LINE_BREAK_OR_CONTROL.search(value):
        return _UNSHOWN.sub("", _BLANKS.sub(" ", value))
    return value


def shown_text(value: Any) -> Any:
    """A text only shown, of several lines: `\r\n` and `\r` end lines as `\n` does,
    other control characters but tabs go."""
    if isinstance(value, str) and _CONTROL.search(value):
        return _UNSHOWN.sub("", _LINE_ENDS.sub("\n", value))
    return value


def check_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("contains control characters")
    return value.strip()


def as_list(value: Any) -> Any:
    """A lone scalar where a list is expected becomes a one-item list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


def _check_path_text(value: str) -> None:
    if _LINE_BREAK_OR_CONTROL.search(value):
        raise ValueError("path contains control characters")
    # ':' and ',' split docker's -v and --mount syntax; refuse rather than escape.
    if ":" in value or "," in value:
        raise ValueError(f"path '{value}' contains ':' or ','")
    if ".." in value.split("/"):
        raise ValueError(f"path '{value}' contains '..'")


def normalize_absolute(path: str) -> str:
    """`//a/./b/../c/` → `/a/c`. posixpath keeps a leading `//` (POSIX lets it mean
    something else); Linux does not, so neither may a check that compares paths."""
    return posixpath.normpath("/" + path.lstrip("/"))


def check_absolute_path(value: str) -> str:
    _check_path_text(value)
    if not value.startswith("/"):
        raise ValueError(f"path '{value}' must be absolute (start with /)")
    normal = normalize_absolute(value)
    if normal == "/":
        raise ValueError("path '/' is the whole filesystem; name a directory")
    return normal


def check_host_path(value: str) -> str:
    """Absolute, or relative to the installation's data directory (`./data`)."""
    _check_path_text(value)
    if value.startswith("/"):
        return normalize_absolute(value)
    if value.startswith("~"):
        raise ValueError(f"path '{value}' uses '~'; give an absolute path or ./relative one")
    relative = posixpath.normpath(value)
    if relative in (".", ""):
        raise ValueError("relative path must name a directory under the data directory")
    return f"./{relative}"


# RFC 3986 path and query characters; '%' only in a %XX escape (checked apart).
_URL_PATH_CHAR = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:@/?%-]")
_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
MAX_URL_PATH = 512


def check_url_path(value: str) -> str:
    """A path with an optional query (`/health?full=1`) that, appended to
    `scheme://host:port`, can only ever name a resource on that host and port."""
    if len(value) > MAX_URL_PATH:
        raise ValueError(f"is longer than {MAX_URL_PATH} characters")
    bad = next((char for char in value if not _URL_PATH_CHAR.fullmatch(char)), None)
    if bad is not None:
        raise ValueError(f"{bad!r} is not allowed in a URL path")
    if _BARE_PERCENT.search(value):
        raise ValueError("'%' must start a %XX escape")
    if not value.startswith("/"):
        raise ValueError(f"'{value}' must start with '/'")
    if value.startswith("//"):  # a URL reads `//host` as another authority
        raise ValueError(f"'{value}' must not start with '//'")
    return value


def check_url(value: str) -> str:
    value = check_single_line(value)
    if not re.fullmatch(r"https?://[^\s/$.?#][^\s]*", value, re.IGNORECASE):
        raise ValueError(f"'{value}' is not an http(s) URL")
    return value


Float = Annotated[float, BeforeValidator(parse_float)]
Bool = Annotated[bool, BeforeValidator(parse_bool)]
Port = Annotated[int, BeforeValidator(parse_int), AfterValidator(check_port)]
Line = Annotated[str, AfterValidator(check_single_line)]
Text = Annotated[str, AfterValidator(check_text)]
ShownLine = Annotated[str, BeforeValidator(shown_line), AfterValidator(check_single_line)]
ShownText = Annotated[str, BeforeValidator(shown_text), AfterValidator(check_text)]
AbsolutePath = Annotated[str, AfterValidator(check_absolute_path)]
HostPath = Annotated[str, AfterValidator(check_host_path)]
Url = Annotated[str, AfterValidator(check_url)]
UrlPath = Annotated[str, AfterValidator(check_url_path)]
