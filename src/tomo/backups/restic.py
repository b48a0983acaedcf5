"""The restic binary as tomo uses it: one repository, argv lists, JSON answers.

Every call is `restic --repo LOCATION --json VERB …` started with
`asyncio.create_subprocess_exec` (never a shell). The password reaches restic
only through its environment (RESTIC_PASSWORD), never argv, a log line or an
error: restic's own RESTIC_* variables of tomo's environment are left out, so
a stray RESTIC_REPOSITORY or password file cannot redirect a call (nor can AWS_*
ones an S3 repository's call). Written for restic 0.14 (Debian 12's): its exit
code is 1 for most failures, so errors are told apart by what it writes to
stderr (see `_error`).

A repository on a server tomo manages is reached by restic's sftp backend with
the system's `ssh`, given tomo's own login to that server (servers/openssh.py)
for the life of one restic process: written into a private folder named by `-o
sftp.command=ssh -F CONFIG …`, removed once restic has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tomo.errors import (
    BackupFailed,
    RepositoryFull,
    RepositoryLocked,
    RepositoryNotFound,
    RepositoryPasswordWrong,
    RepositoryUnreachable,
    SnapshotNotFound,
    TomoError,
)
from tomo.servers.openssh import ALIAS, OpenSshLogin

HOST = "tomo"  # the host restic records for every snapshot tomo makes
CHUNK = 1 << 20
# How far restic and tomo's SSH pump may run ahead of each other, each way. With
# asyncio's 64 KiB defaults they take turns (one waits while the other works: a
# restore took the dump's time plus the upload's); with a few MiB between them they
# overlap, and memory stays bounded all the same.
AHEAD = 8 << 20
INTERRUPT_GRACE = 30.0  # seconds restic gets to let go of its lock after SIGINT
# What restic 0.14 writes to stderr -> the error it means, first match wins.
_FAILURES: list[tuple[str, Callable[[str, str], TomoError]]] = [
    ("wrong password or no key found", RepositoryPasswordWrong),
    ("is there a repository at the following location", RepositoryNotFound),
    ("unable to open config file", RepositoryNotFound),
    ("repository is already locked", RepositoryLocked),
    ("unable to create lock", RepositoryLocked),
    ("no space left on device", RepositoryFull),
    ("unable to start the sftp session", RepositoryUnreachable),
    ("connection refused", RepositoryUnreachable),
    ("no such host", RepositoryUnreachable),
    ("i/o timeout", RepositoryUnreachable),
    ("host key verification failed", RepositoryUnreachable),
    ("no matching id found", SnapshotNotFound),
    ("not found in snapshot", SnapshotNotFound),
    ("no snapshot found", SnapshotNotFound),
]  # fmt: skip


@dataclass(frozen=True)
class Repository:
    """Where a repository is and what opens it: `location` is what restic's --repo
    gets (a folder, `sftp:tomo-repository:/PATH` with `sftp` the login, or
    `s3:URL`); `env` what its backend needs besides (an S3 access key)."""

    name: str
    location: str
    password: str = field(repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    options: tuple[str, ...] = ()  # restic's -o KEY=VALUE
    sftp: OpenSshLogin | None = None


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: datetime
    paths: list[str]
    tags: list[str]
    hostname: str

    @property
    def short_id(self) -> str:
        return self.id[:8]

    def tag(self, key: str) -> str | None:
        """The value of a `key=value` tag, None when it has none."""
        return next((t.partition("=")[2] for t in self.tags if t.startswith(f"{key}=")), None)


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    bytes_read: int  # what came through stdin
    bytes_added: int  # what the repository grew by (after deduplication, compression)
    seconds: float


@dataclass(frozen=True)
class Retention:
    """Which snapshots `forget` keeps (restic's --keep-* rules; None: that rule is off)."""

    last: int | None = None
    daily: int | None = None
    weekly: int | None = None
    monthly: int | None = None

    def args(self) -> list[str]:
        rules = {"last": self.last, "daily": self.daily, "weekly": self.weekly,
                 "monthly": self.monthly}  # fmt: skip
        return [arg for rule, n in rules.items() if n is not None
                for arg in (f"--keep-{rule}", str(n))]  # fmt: skip


@dataclass(frozen=True)
class Forgotten:
    removed: list[str]  # snapshot ids
    kept: list[str]


@dataclass
class Upload:
    """The stdin of a running `restic backup --stdin`: write the stream to it."""

    stdin: asyncio.StreamWriter
    bytes_written: int = 0
    summary: BackupSummary | None = None

    async def write(self, chunk: bytes) -> None:
        try:
            self.stdin.write(chunk)
            await self.stdin.drain()  # back-pressure: restic reads at its own pace
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ResticEnded from exc  # not an OSError: no caller takes it for its own
        self.bytes_written += len(chunk)


class ResticEnded(Exception):
    """restic stopped reading its input (it failed: backup_stream says why)."""


class Restic:
    """One repository, as restic reaches it."""

    def __init__(
        self, repository: Repository, *, binary: str = "restic", cache_dir: Path | None = None
    ) -> None:
        self.repository = repository
        self.binary = binary
        self.cache_dir = cache_dir

    async def init(self) -> None:
        """Make the repository (restic 0.14's init has no JSON output)."""
        await self._run(["init"])

    async def snapshots(self, tags: Sequence[str] = ()) -> list[Snapshot]:
        """The snapshots carrying every one of `tags`, oldest first."""
        out = await self._run(["snapshots", "--json", *_tags(tags, together=True)])
        return [_snapshot(raw) for raw in json.loads(out or b"[]") or []]

    async def forget(
        self, *, ids: Sequence[str] = (), retention: Retention | None = None,
        tags: Sequence[str] = (), group_by: str = "host,paths", prune: bool = True,
        dry_run: bool = False,
    ) -> Forgotten:  # fmt: skip
        """Forget the snapshots `ids`, or those `retention` does not keep among
        those carrying every one of `tags`; `prune` frees their data too."""
        if not ids and retention is None:
            raise ValueError("forget what: give ids or a retention")
        args = ["forget", "--json", *(["--dry-run"] if dry_run else []),
                *(["--prune"] if prune and not dry_run else [])]  # fmt: skip
        if ids:
            await self._run([*args, "--", *ids])
            return Forgotten(removed=list(ids), kept=[])
        assert retention is not None
        rules = retention.args() or ["--keep-last", "1000000"]  # no rule: keep everything
        out = await self._run([*args, "--group-by", group_by, *_tags(tags, together=True),
                               *rules])  # fmt: skip
        return _forgotten(out)

    async def unlock(self) -> None:
        """Remove stale locks only: those of restic processes that are gone (killed,
        or tomo with them) on this host, or older than 30 minutes."""
        await self._run(["unlock"])

    async def prune(self) -> None:
        """Free the data no snapshot needs any more (an exclusive lock meanwhile)."""
        await self._run(["prune"])

    async def check(self) -> None:
        """restic's structural check of the repository (BackupFailed saying what it found)."""
        await self._run(["check"])

    @contextlib.asynccontextmanager
    async def backup_stream(self, filename: str, tags: Sequence[str]) -> AsyncIterator[Upload]:
        """`restic backup --stdin`: the body writes the stream into the Upload; the
        snapshot is made when the body ends normally (its summary set on the
        Upload). When the body raises (or is cancelled), restic is interrupted
        before it ever sees the end of its input, so no snapshot is made."""
        args = ["backup", "--json", "--stdin", "--stdin-filename", filename, "--host", HOST,
                *_tags(tags, together=False)]  # fmt: skip
        process = await self._spawn(args, stdin=asyncio.subprocess.PIPE)
        assert process.stdin is not None
        process.stdin.transport.set_write_buffer_limits(high=AHEAD)
        finished = asyncio.ensure_future(_outputs(process))
        upload = Upload(process.stdin)
        try:
            yield upload
        except ResticEnded as exc:  # restic ended first: why?
            stdout, stderr = await finished
            raise self._error(stderr, process.returncode) from exc
        except BaseException:
            await _interrupt(process, finished, grace=INTERRUPT_GRACE)
            raise
        process.stdin.close()
        stdout, stderr = await finished
        if process.returncode != 0:
            raise self._error(stderr, process.returncode)
        upload.summary = _summary(stdout)

    async def backup_bytes(self, filename: str, data: bytes, tags: Sequence[str]) -> BackupSummary:
        """A stream held in memory, as one snapshot (small things: a definition, a test)."""
        async with self.backup_stream(filename, tags) as upload:
            for start in range(0, len(data), CHUNK):
                await upload.write(data[start : start + CHUNK])
        assert upload.summary is not None
        return upload.summary

    @contextlib.asynccontextmanager
    async def dump(self, snapshot_id: str, path: str) -> AsyncIterator[asyncio.StreamReader]:
        """`restic dump`: the body reads the file's bytes from the stream; a failure
        restic reports (even after the body read everything) is raised at the end."""
        process = await self._spawn(["dump", "--", snapshot_id, path], ahead=AHEAD // 2)
        assert process.stdout is not None
        assert process.stderr is not None
        errors = asyncio.ensure_future(process.stderr.read())
        try:
            yield process.stdout
        except BaseException:
            # A dump blocked writing to a pipe nobody reads any more does not see
            # SIGINT: it is killed at once (the read lock it leaves is stale, and
            # `restic unlock` clears it before anything needs the repository alone).
            await _interrupt(process, errors, grace=0)
            raise
        await process.stdout.read()  # what the body left unread
        stderr = await errors
        if await process.wait() != 0:
            raise self._error(stderr, process.returncode)

    async def dump_bytes(self, snapshot_id: str, path: str) -> bytes:
        async with self.dump(snapshot_id, path) as stream:
            return await stream.read()

    # -- processes ----------------------------------------------------------

    async def _run(self, args: list[str]) -> bytes:
        process = await self._spawn(args)
        stdout, stderr = await _outputs(process)
        if process.returncode != 0:
            raise self._error(stderr, process.returncode)
        return stdout

    async def _spawn(
        self, args: list[str], stdin: int = asyncio.subprocess.DEVNULL, ahead: int = 1 << 16
    ) -> asyncio.subprocess.Process:
        """restic started with `args`; `ahead`: the stdout buffer's limit (reading
        pauses at twice that)."""
        login = Path(tempfile.mkdtemp(prefix="tomo-sftp-")) if self.repository.sftp else None
        options = [*self.repository.options, *self._sftp_command(login)]
        argv = [self.binary, "--repo", self.repository.location, *self._cache(),
                *(a for option in options for a in ("-o", option)), *args]  # fmt: skip
        try:
            process = await self._exec(argv, stdin, ahead)
        except BaseException:
            if login is not None:
                shutil.rmtree(login, ignore_errors=True)
            raise
        if login is not None:
            _remove_when_ended(process, login)
        return process

    async def _exec(self, argv: list[str], stdin: int, ahead: int) -> asyncio.subprocess.Process:
        try:
            return await asyncio.create_subprocess_exec(
                *argv, stdin=stdin, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self._environment(), limit=ahead,
            )  # fmt: skip
        except FileNotFoundError:
            raise BackupFailed(self.repository.name, f"{self.binary} is not installed on tomo's "
                               "host (apt-get install restic)") from None  # fmt: skip

    def _sftp_command(self, folder: Path | None) -> list[str]:
        """restic's sftp.command, its files written into `folder` (none: not sftp)."""
        if folder is None or self.repository.sftp is None:
            return []
        config = self.repository.sftp.write(folder)
        return [f"sftp.command=ssh -F {config} {ALIAS} -s sftp"]

    def _cache(self) -> list[str]:
        return ["--cache-dir", str(self.cache_dir)] if self.cache_dir else ["--no-cache"]

    def _environment(self) -> dict[str, str]:
        kept = {k: v for k, v in os.environ.items()
                if not k.startswith(("RESTIC_", "AWS_"))}  # fmt: skip
        return {**kept, **self.repository.env, "RESTIC_PASSWORD": self.repository.password}

    def _error(self, stderr: bytes, code: int | None) -> TomoError:
        """The domain error restic's words mean (the password never appears in them)."""
        text = stderr.decode("utf-8", "replace")
        lines = [line.removeprefix("Fatal: ").strip() for line in text.splitlines()]
        said = " | ".join(line for line in lines if line)[-400:] or f"restic exited with {code}"
        lowered = text.lower()
        for words, kind in _FAILURES:
            if words in lowered:
                return kind(self.repository.name, said)
        return BackupFailed(self.repository.name, said)


_removing: set[asyncio.Future[None]] = set()  # held until done (asyncio keeps weak refs)


def _remove_when_ended(process: asyncio.subprocess.Process, folder: Path) -> None:
    """Take a process's login files away once it has ended, whoever waits for it."""

    async def remove() -> None:
        try:
            await process.wait()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    task = asyncio.ensure_future(remove())
    _removing.add(task)
    task.add_done_callback(_removing.discard)


async def _outputs(process: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """stdout and stderr, read together (neither pipe may fill), once it has ended."""
    assert process.stdout is not None
    assert process.stderr is not None
    stdout, stderr = await asyncio.gather(process.stdout.read(), process.stderr.read())
    await process.wait()
    return stdout, stderr


async def _interrupt(
    process: asyncio.subprocess.Process, reading: asyncio.Future[Any], *, grace: float
) -> None:
    """SIGINT (restic then removes its lock and makes no snapshot), SIGKILL if it
    lingers `grace` seconds; done even while the caller is being cancelled (that
    cancellation goes on once restic is gone). The caller raises what ended it."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    try:
        async with asyncio.timeout(grace):
            await asyncio.shield(process.wait())
    except TimeoutError:
        _kill(process)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await asyncio.shield(process.wait())  # reaped, not left a zombie
    except asyncio.CancelledError:
        _kill(process)
        raise
    finally:
        reading.cancel()


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def _tags(tags: Sequence[str], *, together: bool) -> list[str]:
    """`--tag` options. A filter of several tags in one option matches snapshots
    with all of them (separate options: any of them); restic splits on commas,
    so a tag may not hold one."""
    for tag in tags:
        if "," in tag or not tag:
            raise ValueError(f"a restic tag may not be empty or hold a comma: {tag!r}")
    if not tags:
        return []
    return ["--tag", ",".join(tags)] if together else [a for t in tags for a in ("--tag", t)]


def _snapshot(raw: dict[str, Any]) -> Snapshot:
    return Snapshot(id=raw["id"], time=_time(raw["time"]), paths=list(raw.get("paths") or []),
                    tags=list(raw.get("tags") or []), hostname=raw.get("hostname", ""))  # fmt: skip


def _time(text: str) -> datetime:
    """restic's RFC 3339 time with nanoseconds (Python keeps microseconds)."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _summary(stdout: bytes) -> BackupSummary:
    for line in reversed(stdout.splitlines()):
        if line.startswith(b"{"):
            message = json.loads(line)
            if message.get("message_type") == "summary":
                return BackupSummary(
                    snapshot_id=message["snapshot_id"],
                    bytes_read=int(message.get("total_bytes_processed", 0)),
                    bytes_added=int(message.get("data_added", 0)),
                    seconds=float(message.get("total_duration", 0.0)),
                )  # fmt: skip
    raise ValueError("restic backup wrote no summary")


def _forgotten(stdout: bytes) -> Forgotten:
    """`forget --json`'s groups: the outcome of one run of the policy over each."""
    start = stdout.find(b"[")  # --prune writes its report after the JSON
    end = stdout.find(b"\n", start)
    groups = json.loads(stdout[start : end if end > 0 else None]) if start >= 0 else []
    removed = [s["id"] for g in groups for s in (g.get("remove") or [])]
    kept = [s["id"] for g in groups for s in (g.get("keep") or [])]
    return Forgotten(removed=removed, kept=kept)
