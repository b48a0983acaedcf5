"""What the foreign formats share when they read a store's files: JSON loaded as
strictly as YAML is, store texts fitted to what AppDefinition accepts (cut with a
warning rather than refused: one long text must not cost the catalog an app),
URLs kept only when AppDefinition would take them, and the type checks of
loosely written metadata."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from tomo.errors import InvalidDefinition
from tomo.marketplace.definition import MAX_SHIPPED_BYTES, MAX_SHIPPED_FILES
from tomo.marketplace.fields import check_url, check_url_path


def load_json(path: str, data: bytes, *, max_bytes: int) -> Any:
    """One JSON document under the size limit; duplicate keys and NaN refused
    (Python would silently keep the last key and accept NaN)."""
    if len(data) > max_bytes:
        raise InvalidDefinition(
            path, f"file is {len(data)} bytes, larger than the {max_bytes}-byte limit"
        )
    try:
        return json.loads(
            data.decode("utf-8-sig"),
            object_pairs_hook=_refuse_duplicate_keys,
            parse_constant=_refuse_constant,
        )
    except UnicodeDecodeError as exc:
        raise InvalidDefinition(path, f"not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise InvalidDefinition(
            path, f"invalid JSON, line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except RecursionError:
        raise InvalidDefinition(path, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # from the hooks, or a number too long to convert
        raise InvalidDefinition(path, f"invalid JSON: {exc}") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not a JSON number")


def one_line(text: str) -> str:
    """Store texts written over several lines, for fields of one line."""
    return " ".join(text.split())


def clip(text: str, limit: int, where: str, warnings: list[str]) -> str:
    """Text cut to the model's limit, saying so."""
    text = text.strip()
    if len(text) <= limit:
        return text
    warnings.append(f"{where}: longer than {limit} characters, shortened")
    return text[: limit - 1].rstrip() + "…"


def is_url(text: str) -> bool:
    """An http(s) URL AppDefinition accepts."""
    try:
        check_url(text)
    except ValueError:
        return False
    return True


def url_or_none(text: str, where: str, warnings: list[str]) -> str | None:
    """An http(s) URL as AppDefinition takes it; anything else is left out, saying so."""
    text = text.strip()
    if not text:
        return None
    if is_url(text):
        return text
    warnings.append(f"{where}: '{text}' is not an http(s) URL, ignored")
    return None


def web_path(value: Any, where: str, warnings: list[str]) -> dict[str, str]:
    """The app's page (definition `web_path`) from a store's path of it: `/admin`,
    `?offline=1` (a query of the root), `/`, or nothing. One that is no path of the
    app's own host and port is left out with a warning."""
    text = str(value).strip() if isinstance(value, str | int | float) else ""
    if text in ("", "/"):
        return {}
    path = text if text.startswith("/") else f"/{text}"
    try:
        return {"web_path": check_url_path(path)}
    except ValueError as exc:
        warnings.append(f"{where}: '{text}' is not a page of the app's port ({exc}); tomo's "
                        "link opens its root")  # fmt: skip
        return {}


def text_of(mapping: dict[str, Any], key: str, where: str) -> str:
    """An optional text field ('' when absent), refused when it is not text."""
    value = mapping.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: must be text")
    return value.strip()


def text_list(value: Any, where: str) -> list[str]:
    """A list of texts, or one text standing for a list of one; blanks dropped."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{where}: must be a list of texts")
    return [item.strip() for item in items if item.strip()]


def shipped_files(
    files: Mapping[str, bytes], folder: str, *, into: str = "", owner: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The files under `folder` (a store's app folder, or part of it) as a
    definition's `files`, placed under the installation's data directory at
    `./{into}` and their path below `folder`; and why they cannot be, if they
    cannot: too many, or too large together. A file that starts with `#!` is a
    script: it keeps the right to run (the tree's own modes do not reach a format)."""
    prefix = folder.rstrip("/") + "/"
    chosen = sorted(path for path in files if path.startswith(prefix))
    size = sum(len(files[path]) for path in chosen)
    if len(chosen) > MAX_SHIPPED_FILES or size > MAX_SHIPPED_BYTES:
        return [], [f"{folder}: the store ships {len(chosen)} files ({size} bytes) to copy into "
                    f"the data directory; tomo copies at most {MAX_SHIPPED_FILES} files of "
                    f"{MAX_SHIPPED_BYTES} bytes together"]  # fmt: skip
    shipped = [
        {"path": f"./{into}{path[len(prefix):]}",
         "content": base64.b64encode(files[path]).decode(),
         "mode": "0755" if files[path].startswith(b"#!") else "0644",
         **({"owner": owner} if owner else {})}
        for path in chosen
    ]  # fmt: skip
    return shipped, []
