"""The catalog packaged with tomo: its files and their digest (light: the CLI's
quick search checks the digest to know the database holds this catalog)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from importlib import resources
from importlib.abc import Traversable

DIGEST_KEY = "builtin_catalog_digest"  # tomo_state: the digest last committed
REGISTERED_KEY = "builtin_catalog_registered"  # tomo_state: the repo was added once


def catalog_files() -> dict[str, bytes]:
    """Relative path -> content of every file of the packaged catalog."""
    root = resources.files("tomo.marketplace") / "catalog"
    return dict(_walk(root, ""))


def _walk(node: Traversable, prefix: str) -> Iterator[tuple[str, bytes]]:
    for child in sorted(node.iterdir(), key=lambda item: item.name):
        path = f"{prefix}{child.name}"
        if child.is_dir():
            yield from _walk(child, path + "/")
        elif child.is_file():
            yield path, child.read_bytes()


def catalog_digest(files: dict[str, bytes] | None = None) -> str:
    sha = hashlib.sha256()
    for path, content in sorted((files if files is not None else catalog_files()).items()):
        sha.update(path.encode() + b"\0" + hashlib.sha256(content).digest())
    return sha.hexdigest()
