"""`tomo state export` and `tomo state import`: all of one tomo's own state in one
encrypted file, and back into a data directory that holds none yet.

The archive (see tomo.state.archive) holds a tar of:

    manifest.json           format, tomo's version, schema revision, row counts
    settings.json           the non-secret settings in effect, for reference
    secret.key              the key every stored secret is sealed with
    tables/<table>.jsonl    every row of every table (tomo.state.tables)
    personal-catalog.tar    the personal catalog's git repository
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tomo import __version__
from tomo.config import Settings
from tomo.crypto import KEY_FILE_NAME
from tomo.db import Database
from tomo.errors import Conflict, InvalidInput
from tomo.migrations import SCHEMA_REVISION
from tomo.state import archive, tables

PERSONAL_CATALOG = "personal-catalog"
# What makes a data directory one with tomo state (an import will not replace it unasked).
HOLDING_TABLES = ("users", "servers", "installations")
# Columns that hold a path in the data directory: an import moves them to the new one.
PATH_COLUMNS = (("marketplace_repos", "url"), ("backup_repositories", "location"))


class StateSummary(BaseModel):
    """What an archive holds: `tomo state export` and `import` print it."""

    file: str
    bytes: int
    schema_revision: str
    tomo_version: str
    exported_at: datetime
    tables: dict[str, int]
    secret_key: bool
    personal_catalog: bool
    migrated_from: str | None = None  # an import of an older schema revision


async def export_state(settings: Settings, *, file: Path, passphrase: str,
                       force: bool = False) -> StateSummary:  # fmt: skip
    """Write the encrypted archive of this tomo's state to `file` (mode 0600)."""
    archive.check_passphrase(passphrase)
    refuse_existing(file, force=force)
    db = Database(settings)
    try:
        await db.migrate()
        rows = await tables.read_rows(db)
    finally:
        await db.dispose()
    manifest = _manifest(settings, rows)
    members = _members(settings, manifest, rows)
    sealed = archive.seal(_tar(members), passphrase)
    _write_private(file, sealed)
    return _summary(file, len(sealed), manifest, members)


def _members(settings: Settings, manifest: dict[str, Any], rows: tables.Rows) -> dict[str, bytes]:
    """The archive's files by name (see the module's docstring)."""
    members = {
        "manifest.json": _json(manifest),
        "settings.json": _json(_settings_shown(settings)),
        **{f"tables/{name}.jsonl": _json_lines(found) for name, found in rows.items()},
    }
    key = _secret_key(settings)
    if key is not None:
        members[KEY_FILE_NAME] = key.encode()
    catalog = settings.data_dir / PERSONAL_CATALOG
    if catalog.is_dir():
        members[f"{PERSONAL_CATALOG}.tar"] = _tar_of_folder(catalog)
    return members


async def import_state(settings: Settings, *, file: Path, passphrase: str,
                       force: bool = False) -> StateSummary:  # fmt: skip
    """Load an archive into `settings`' data directory and database: all of it or,
    on any refusal or failure, nothing."""
    sealed = _read(file)
    members = _untar(archive.unseal(sealed, passphrase, name=str(file)), file)
    manifest = json.loads(members["manifest.json"])
    revision = _loadable_revision(manifest["schema_revision"])
    key = members.get(KEY_FILE_NAME, b"").decode().strip() or None
    _check_key(settings, key, force=force)
    rows = _moved({name.removeprefix("tables/").removesuffix(".jsonl"): _read_lines(content)
                   for name, content in members.items() if name.startswith("tables/")},
                  Path(manifest["data_dir"]), settings.data_dir.resolve())  # fmt: skip
    if revision != SCHEMA_REVISION:
        rows = await tables.rows_at_head(rows, revision, key)
    await _load(settings, rows, key, members.get(f"{PERSONAL_CATALOG}.tar"), force=force)
    summary = _summary(file, len(sealed), manifest, members)
    summary.migrated_from = revision if revision != SCHEMA_REVISION else None
    return summary


async def _load(settings: Settings, rows: tables.Rows, key: str | None,
                catalog: bytes | None, *, force: bool) -> None:  # fmt: skip
    """The files made aside first, the rows in one transaction, then the files moved
    into place (a rename each)."""
    data_dir = settings.data_dir
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".state-import-", dir=data_dir) as staging:
        folder = Path(staging)
        _stage(folder, None if settings.secret_key else key, catalog)
        db = Database(settings)
        try:
            await _refuse_held_state(db, settings, force=force)
            await db.migrate()
            await tables.replace_rows(db, rows)
        finally:
            await db.dispose()
        if (folder / KEY_FILE_NAME).exists():
            os.replace(folder / KEY_FILE_NAME, data_dir / KEY_FILE_NAME)
        if catalog is not None:
            _swap_in(folder / "catalog" / PERSONAL_CATALOG, data_dir / PERSONAL_CATALOG, folder)


def _stage(folder: Path, key: str | None, catalog: bytes | None) -> None:
    """The key file and the personal catalog, written in `folder` (on the same disk
    as the data directory, so that a rename puts each in place)."""
    if key is not None:
        _write_private(folder / KEY_FILE_NAME, key.encode())
    if catalog is not None:
        with tarfile.open(fileobj=io.BytesIO(catalog)) as tar:
            tar.extractall(folder / "catalog", filter="data")


def _swap_in(new: Path, target: Path, staging: Path) -> None:
    if target.exists():
        target.rename(staging / "replaced")  # removed with the staging folder
    new.rename(target)


async def _refuse_held_state(db: Database, settings: Settings, *, force: bool) -> None:
    if force:
        return
    held = {name: count for name, count in (await tables.count_rows(db, HOLDING_TABLES)).items()
            if count}  # fmt: skip
    if held:
        what = ", ".join(f"{count} {name}" for name, count in held.items())
        raise Conflict(f"the data directory {settings.data_dir} already holds tomo state "
                       f"({what}): import into an empty one, or give --force to replace "
                       "it")  # fmt: skip


def refuse_existing(file: Path, *, force: bool) -> None:
    """An export never writes over a file unasked."""
    if file.exists() and not force:
        raise Conflict(f"{file} exists; give --force to write over it")


def _check_key(settings: Settings, key: str | None, *, force: bool) -> None:
    """The archive's key must be the one the new tomo reads."""
    if settings.secret_key and key is not None and settings.secret_key.strip() != key:
        raise Conflict("TOMO_SECRET_KEY is set to another key than the archive's: unset "
                       "it (the archive's key goes to the data directory) or set it to "
                       "that key")  # fmt: skip
    key_file = settings.data_dir / KEY_FILE_NAME
    if key_file.exists() and not force and not settings.secret_key:
        raise Conflict(f"a secret key exists already ({key_file}): import into an empty "
                       "data directory, or give --force to replace it")  # fmt: skip


def _loadable_revision(revision: Any) -> str:
    if not isinstance(revision, str) or not revision.isdigit():
        raise InvalidInput(f"the archive names no schema revision tomo knows ({revision!r})")
    if int(revision) > int(SCHEMA_REVISION):
        raise InvalidInput(f"the archive is of schema revision {revision}, newer than this "
                           f"tomo's ({SCHEMA_REVISION}): import it with a tomo at least as "
                           "new as the one that exported it")  # fmt: skip
    return revision


def _moved(rows: tables.Rows, old: Path, new: Path) -> tables.Rows:
    """Paths under the exporting tomo's data directory, under this one's instead."""
    if old == new:
        return rows
    for table, column in PATH_COLUMNS:
        for row in rows.get(table, []):
            value = row.get(column)
            elsewhere = row.get("kind") in ("sftp", "s3")  # a server's folder, a bucket
            if isinstance(value, str) and not elsewhere and Path(value).is_relative_to(old):
                row[column] = str(new / Path(value).relative_to(old))
    return rows


def _manifest(settings: Settings, rows: tables.Rows) -> dict[str, Any]:
    return {"format": archive.FORMAT, "tomo_version": __version__,
            "schema_revision": SCHEMA_REVISION, "exported_at": datetime.now(UTC).isoformat(),
            "data_dir": str(settings.data_dir.resolve()),
            "tables": {name: len(found) for name, found in rows.items()}}  # fmt: skip


def _settings_shown(settings: Settings) -> dict[str, Any]:
    """The settings in effect, without the key and the database password."""
    shown = settings.model_dump(mode="json", exclude={"secret_key"})
    if settings.database_url:
        from sqlalchemy.engine import make_url

        shown["database_url"] = make_url(settings.database_url).render_as_string(
            hide_password=True)  # fmt: skip
    return {"set": sorted(settings.model_fields_set - {"secret_key"}), "in_effect": shown}


def _secret_key(settings: Settings) -> str | None:
    """The key in effect; None when no secret was ever sealed (no key yet)."""
    if settings.secret_key:
        return settings.secret_key.strip()
    key_file = settings.data_dir / KEY_FILE_NAME
    return key_file.read_text().strip() if key_file.exists() else None


def _summary(file: Path, size: int, manifest: dict[str, Any],
             members: dict[str, bytes]) -> StateSummary:  # fmt: skip
    return StateSummary(
        file=str(file), bytes=size, schema_revision=manifest["schema_revision"],
        tomo_version=manifest["tomo_version"],
        exported_at=datetime.fromisoformat(manifest["exported_at"]), tables=manifest["tables"],
        secret_key=KEY_FILE_NAME in members,
        personal_catalog=f"{PERSONAL_CATALOG}.tar" in members,
    )  # fmt: skip


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


def _json_lines(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)


def _read_lines(content: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in content.splitlines() if line.strip()]


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _tar_of_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    return buffer.getvalue()


def _untar(payload: bytes, file: Path) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        for info in tar.getmembers():
            extracted = tar.extractfile(info) if info.isfile() else None
            if extracted is not None:
                members[info.name] = extracted.read()
    if "manifest.json" not in members:
        raise InvalidInput(f"{file}: {archive.WRONG_PASSPHRASE}")
    return members


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}") from None


def _write_private(file: Path, content: bytes) -> None:
    """`content` in `file`, mode 0600, whole or not at all (written aside, then renamed)."""
    descriptor, aside = tempfile.mkstemp(prefix=f".{file.name}.", dir=file.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(aside, file)
    except BaseException:
        Path(aside).unlink(missing_ok=True)
        raise
