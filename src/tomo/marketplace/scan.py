"""Which files of a catalog tree are app definitions, and which app wins an id.

Layouts: `apps/<category>/<id>.yaml` and `apps/<category>/<id>/app.yaml`
(`.yml` too). In a folder holding `app.yaml`, other YAML files are the app's
own assets, not definitions. Hidden files and folders are skipped. Symlinks
are resolved inside the tree only; one pointing outside is an error.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from tomo.marketplace.formats.base import Found, SourceSpec
from tomo.marketplace.git import TreeEntry

APPS_DIR = "apps"
_EXTENSIONS = (".yaml", ".yml")
_APP_FILE_NAMES = ("app.yaml", "app.yml")
MAX_SYMLINK_HOPS = 8


@dataclass(frozen=True)
class SourceFile:
    """One app's definition: its key path, the identity of its content, and the
    blob of every file it is read from (after symlinks), by path."""

    path: str
    blob: str  # the one file's blob, or a digest of all the files' blobs
    members: tuple[tuple[str, str], ...] = ()
    spec: SourceSpec | None = None

    @property
    def blobs(self) -> list[str]:
        return [blob for _, blob in self.members] or [self.blob]


@dataclass
class Selection:
    sources: dict[str, SourceFile]
    errors: dict[str, str]


def symlink_blobs(entries: list[TreeEntry]) -> list[str]:
    """Blobs to read before `select_sources`: the targets of every symlink."""
    return [entry.sha for entry in entries if entry.is_symlink]


def blob_tree(entries: list[TreeEntry]) -> dict[str, TreeEntry]:
    return {entry.path: entry for entry in entries if entry.kind == "blob"}


def select_sources(
    tree: dict[str, TreeEntry], link_targets: dict[str, bytes], found: Found, *, max_bytes: int,
    larger: dict[str, int] | None = None,
) -> Selection:  # fmt: skip
    """Each app the format found, with the blobs of its files; an app whose file
    is a bad link or too large is a per-file error. `larger`: files allowed more
    than `max_bytes` (a catalog's index)."""
    selection = Selection(sources={}, errors=dict(found.errors))
    for spec in found.sources:
        try:
            members = _member_blobs(spec, tree, link_targets, max_bytes, larger or {})
        except ValueError as exc:
            selection.errors[spec.key] = str(exc)
            continue
        selection.sources[spec.key] = SourceFile(spec.key, _identity(spec, members),
                                                 tuple(members.items()), spec)  # fmt: skip
    return selection


def resolve_blob(
    path: str, tree: dict[str, TreeEntry], link_targets: dict[str, bytes], max_bytes: int
) -> str:
    """The blob a path holds (symlinks followed inside the tree), within the size limit."""
    entry = _resolve(path, tree, link_targets)
    if entry.size is not None and entry.size > max_bytes:
        raise ValueError(f"file is {entry.size} bytes, larger than the {max_bytes}-byte limit")
    return entry.sha


def _member_blobs(
    spec: SourceSpec, tree: dict[str, TreeEntry], link_targets: dict[str, bytes], max_bytes: int,
    larger: dict[str, int],
) -> dict[str, str]:  # fmt: skip
    members = {}
    for path in spec.members:
        if path not in tree:
            raise ValueError(f"{path} is missing")
        try:
            members[path] = resolve_blob(path, tree, link_targets, larger.get(path, max_bytes))
        except ValueError as exc:  # name the file when it is not the one reported
            raise ValueError(str(exc) if path == spec.key else f"{path}: {exc}") from None
    for path in spec.optional:  # an extra that cannot be read is simply not there
        try:
            members[path] = resolve_blob(path, tree, link_targets, max_bytes)
        except (KeyError, ValueError):
            continue
    return members


def _identity(spec: SourceSpec, members: dict[str, str]) -> str:
    """One file: its blob (what earlier syncs stored). Several, or a part of one:
    a digest of them all, so any change re-parses the app."""
    if len(members) == 1 and spec.part is None:
        return next(iter(members.values()))
    text = "\n".join(f"{path}\0{blob}" for path, blob in sorted(members.items()))
    return hashlib.sha256(f"{text}\n#{spec.part}".encode()).hexdigest()


def definition_paths(tree: Collection[str]) -> list[str]:
    """The files of tomo's own format in a tree (see the module docstring)."""
    candidates = [
        path
        for path in tree
        if path.startswith(APPS_DIR + "/")
        and path.lower().endswith(_EXTENSIONS)
        and not any(part.startswith(".") for part in path.split("/"))
    ]
    app_dirs = {
        posixpath.dirname(p) for p in candidates if posixpath.basename(p) in _APP_FILE_NAMES
    }
    return sorted(path for path in candidates if not _is_asset(path, app_dirs))


def _is_asset(path: str, app_dirs: set[str]) -> bool:
    """True for YAML files that belong to an `app.yaml` folder but are not it."""
    own_dir = posixpath.dirname(path)
    is_app_file = posixpath.basename(path) in _APP_FILE_NAMES
    directory = own_dir
    while directory not in ("", APPS_DIR):
        if directory in app_dirs and not (is_app_file and directory == own_dir):
            return True
        directory = posixpath.dirname(directory)
    return False


def _resolve(path: str, tree: dict[str, TreeEntry], link_targets: dict[str, bytes]) -> TreeEntry:
    current = path
    for _ in range(MAX_SYMLINK_HOPS):
        entry = tree[current]
        if not entry.is_symlink:
            return entry
        target = link_targets[entry.sha].decode("utf-8", "replace")
        if target.startswith("/"):
            raise ValueError(f"symlink to '{target}' points outside the repository; not followed")
        current = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
        if current == ".." or current.startswith("../"):
            raise ValueError(f"symlink to '{target}' points outside the repository; not followed")
        if current not in tree:
            raise ValueError(f"symlink target '{target}' is not a file in the repository")
    raise ValueError("too many levels of symlinks")


def path_names_id(path: str, app_id: str) -> bool:
    """Whether the file's location spells the id (`<id>.yaml` or `<id>/app.yaml`)."""
    directory, name = posixpath.split(path)
    stem = name.rsplit(".", 1)[0]
    if name in _APP_FILE_NAMES:
        return posixpath.basename(directory) == app_id
    return stem == app_id


def naming_warning(path: str, app_id: str) -> str | None:
    """Why the file's location does not spell its app's id (the catalog's rule), or None."""
    if path_names_id(path, app_id):
        return None
    directory, name = posixpath.split(path)
    if name in _APP_FILE_NAMES and directory != APPS_DIR:
        place, expected = "folder", posixpath.join(posixpath.dirname(directory), app_id, name)
    else:
        extension = posixpath.splitext(name)[1]
        place, expected = "file name", posixpath.join(directory, app_id + extension)
    return f"id '{app_id}' differs from the {place}; the catalog expects {expected}"


def category_from_path(path: str) -> str | None:
    """`apps/<category>/…` names a category when the file is below a folder."""
    parts = path.split("/")
    return parts[1] if len(parts) >= 3 else None


@dataclass
class Winners:
    paths: dict[str, str]  # app id -> the file that defines it
    errors: dict[str, str]  # path -> why its app was not stored


def choose_winners(app_ids: dict[str, str]) -> Winners:
    """Settle ids defined by several files (path -> id) as the catalog rules say."""
    by_id: dict[str, list[str]] = defaultdict(list)
    for path, app_id in sorted(app_ids.items()):
        by_id[app_id].append(path)
    winners = Winners(paths={}, errors={})
    for app_id, paths in by_id.items():
        if len(paths) == 1:
            winners.paths[app_id] = paths[0]
            continue
        naming = [path for path in paths if path_names_id(path, app_id)]
        if len(naming) == 1:
            winners.paths[app_id] = naming[0]
            for loser in paths:
                if loser != naming[0]:
                    winners.errors[loser] = (
                        f"id '{app_id}' is also defined by {naming[0]}, whose path names it; "
                        "this file was skipped"
                    )
        else:
            for path in paths:
                others = ", ".join(p for p in paths if p != path)
                winners.errors[path] = (
                    f"id '{app_id}' is also defined by {others}; "
                    "no file's path settles which one wins, so none was stored"
                )
    return winners
