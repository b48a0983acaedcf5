"""Git, run safely: URL checks, and every git call through one choke-point.

Every call is an argv list (never a shell), has a timeout, no prompts, and
allows only the transports tomo accepts; `--` precedes every URL. Catalog
files are read from git's object store (`ls-tree` + `cat-file`), never from a
checkout, so a symlink in a catalog can never make tomo read a host file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from tomo.errors import GitError, GitTimeout, InvalidInput, InvalidRepoUrl
from tomo.marketplace.credentials import RepoCredentials, redact_userinfo, split_credentials

_SCP_LIKE = re.compile(r"(?P<user>[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^/].*|/.+)")
_HOST = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")
# git's `<transport>::<address>` form (ext::, fd::, …) runs arbitrary helpers.
_TRANSPORT_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f]")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_ERROR_HINTS = (
    ("could not resolve host", "host not found"),
    ("connection refused", "cannot connect to the server"),
    ("couldn't connect to server", "cannot connect to the server"),
    ("failed to connect", "cannot connect to the server"),
    ("connection timed out", "connection timed out"),
    ("could not read username", "the repository needs credentials"),
    ("authentication failed", "authentication failed"),
    ("permission denied", "permission denied"),
    ("repository not found", "no repository at that URL"),
    ("does not appear to be a git repository", "no repository at that URL"),
    ("not a git repository", "no repository at that URL"),
    ("couldn't find remote ref", "branch not found"),
    ("corruption on the remote side", "the remote repository is damaged"),
)
# Lines git adds to many failures; they never say what went wrong.
_BOILERPLATE = (
    "fatal: could not read from remote repository.",
    "please make sure you have the correct access rights",
    "and the repository exists.",
)
# git's own words in an error message: enough for the cause, never a wall of text.
MAX_GIT_DETAIL = 600


@dataclass(frozen=True)
class RepoUrl:
    """A checked repository URL, whether git needs the `file` transport for it, and
    the credentials that were split off it (the URL itself never holds any)."""

    url: str
    is_local: bool
    credentials: RepoCredentials | None = None


def check_repo_url(raw: str, *, allow_local: bool) -> RepoUrl:
    """Accept https, ssh, scp-like and (if allowed) local URLs; refuse the rest."""
    url = raw.strip()
    if not url:
        raise InvalidRepoUrl("repository URL is empty")
    if url.startswith("-"):
        raise InvalidRepoUrl(f"repository URL may not start with '-': {_shown(url)}")
    if "--upload-pack" in url or "--receive-pack" in url or _TRANSPORT_PREFIX.match(url):
        raise InvalidRepoUrl(f"repository URL uses a transport tomo does not allow: {_shown(url)}")
    if _UNSAFE_CHARS.search(url):
        raise InvalidRepoUrl("repository URL may not contain spaces or control characters")
    bare, credentials = split_credentials(url)
    checked = _check_by_form(bare)
    if checked.is_local and not allow_local:
        raise InvalidRepoUrl(
            f"local repositories are disabled (TOMO_ALLOW_LOCAL_REPOS=false): {_shown(url)}"
        )
    return replace(checked, credentials=credentials)


def _shown(url: str) -> str:
    """The URL quoted for an error message, with anything that may be a secret hidden."""
    if "://" not in url and "@" in url:
        url = "***@" + url.rpartition("@")[2]
    return repr(redact_userinfo(url))


def _check_by_form(url: str) -> RepoUrl:
    lowered = url.lower()
    if lowered.startswith(("https://", "ssh://")):
        _check_network_url(url)
        return RepoUrl(url, is_local=False)
    if lowered.startswith("file://"):
        path = urlsplit(url).path
        if not path.startswith("/"):
            raise InvalidRepoUrl(f"file:// URL must name an absolute path: {_shown(url)}")
        return RepoUrl(url, is_local=True)
    if url.startswith(("/", "./", "../")) or os.path.isdir(url):
        return RepoUrl(str(Path(url).resolve()), is_local=True)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise InvalidRepoUrl(
            f"URL scheme '{scheme}' is not allowed; use https://, ssh://, git@host:path "
            "or a local path"
        )
    match = _SCP_LIKE.fullmatch(url)
    if match and "/" not in match.group("host"):
        return RepoUrl(url, is_local=False)
    raise InvalidRepoUrl(f"not a repository URL tomo accepts: {_shown(url)}")


def repo_url_key(url: str) -> str:
    """What two URLs of one repository have in common: the case of the host, a
    trailing '/' and a '.git' suffix make no difference. `url` is a checked one."""
    lowered = url.lower()
    if lowered.startswith(("https://", "ssh://")):
        parts = urlsplit(url)
        account, at, host = parts.netloc.rpartition("@")
        return f"{parts.scheme.lower()}://{account}{at}{host.lower()}{_trimmed(parts.path)}"
    if lowered.startswith("file://"):
        return _trimmed(urlsplit(url).path)
    scp = _SCP_LIKE.fullmatch(url)
    if scp and not url.startswith("/"):
        return f"{scp['user'] or ''}{scp['host'].lower()}:{_trimmed(scp['path'])}"
    return _trimmed(url)


def _trimmed(path: str) -> str:
    return path.rstrip("/").removesuffix(".git").rstrip("/")


def _check_network_url(url: str) -> None:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host or not _HOST.fullmatch(host if ":" not in host else f"[{host}]"):
        raise InvalidRepoUrl(f"repository URL has no valid host: {_shown(url)}")
    if host.startswith("-"):
        raise InvalidRepoUrl(f"repository host may not start with '-': {_shown(url)}")
    try:
        parts.port  # noqa: B018  (raises ValueError on a malformed port)
    except ValueError:
        raise InvalidRepoUrl(f"repository URL has an invalid port: {_shown(url)}") from None
    if not parts.path.strip("/"):
        raise InvalidRepoUrl(f"repository URL names no repository path: {_shown(url)}")


_BRANCH = re.compile(r"(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/@+-]{1,255}(?<![./])")


def check_branch(branch: str) -> str:
    """A branch name git accepts and that cannot be read as an option."""
    if not _BRANCH.fullmatch(branch) or branch.endswith(".lock"):
        raise InvalidRepoUrl(f"'{branch}' is not a valid branch name", "branch")
    return branch


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    size: int | None
    path: str

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"


@dataclass(frozen=True)
class RemoteLogin:
    """The credentials for one https remote; git is offered them for its origin only."""

    url: str
    credentials: RepoCredentials


class Git:
    """Runs git against one bare clone with the transports a repo URL needs.

    Without a clone (`clone_dir` None) it only asks the remote questions."""

    def __init__(
        self,
        clone_dir: Path | None,
        *,
        timeout: float,
        allow_file: bool,
        login: RemoteLogin | None = None,
    ) -> None:
        self.clone_dir = clone_dir
        self.timeout = timeout
        self.login = login
        protocols = ["https", "ssh"] + (["file"] if allow_file else [])
        self._safety = ["-c", "protocol.allow=never"]
        for protocol in protocols:
            self._safety += ["-c", f"protocol.{protocol}.allow=always"]

    async def remote_head(self, url: str, branch: str) -> str:
        """The commit the remote branch points at; GitError if there is none."""
        out = await self._run(
            "ls-remote", "--heads", "--", url, f"refs/heads/{branch}", in_clone=False, remote=True
        )
        for line in out.decode("utf-8", "replace").splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        raise GitError(f"branch '{branch}' not found at {url}", fields=("branch",))

    async def default_branch(self, url: str) -> str:
        """The branch the remote's HEAD names: the one a clone would check out."""
        out = await self._run(
            "ls-remote", "--symref", "--", url, "HEAD", in_clone=False, remote=True
        )
        for line in out.decode("utf-8", "replace").splitlines():
            target, _, ref = line.partition("\t")
            if ref == "HEAD" and target.startswith("ref: refs/heads/"):
                return target.removeprefix("ref: refs/heads/")
        # An empty repository shows no HEAD here (git 2.39 does not list an unborn one).
        raise InvalidInput(
            f"{url} names no default branch (it has no commits yet, or its HEAD is detached); "
            "name the branch to follow"
        )

    async def fetch(self, url: str, branch: str) -> str:
        """Fetch the branch tip (shallow) into the clone; return its commit."""
        clone = self._clone
        if not (clone / "HEAD").exists():
            clone.mkdir(parents=True, exist_ok=True)
            await self._run("init", "--bare", "--quiet", str(clone), in_clone=False)
        ref = "refs/tomo/synced"
        await self._run(
            "fetch",
            "--depth=1",
            "--no-tags",
            "--quiet",
            "--no-write-fetch-head",
            "--",
            url,
            f"+refs/heads/{branch}:{ref}",
            remote=True,
        )
        return (await self._run("rev-parse", "--verify", f"{ref}^{{commit}}")).decode().strip()

    async def list_tree(self, commit: str) -> list[TreeEntry]:
        out = await self._run("ls-tree", "-r", "-l", "-z", "--full-tree", commit)
        entries = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, _, path = record.partition(b"\t")
            mode, kind, sha, size = meta.decode().split()
            entries.append(
                TreeEntry(
                    mode,
                    kind,
                    sha,
                    None if size == "-" else int(size),
                    path.decode("utf-8", "surrogateescape"),
                )
            )
        return entries

    async def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Contents of the given blobs, read in one `cat-file --batch` call."""
        if not shas:
            return {}
        request = "".join(f"{sha}\n" for sha in shas).encode()
        out = await self._run("cat-file", "--batch", stdin=request)
        return _parse_batch(out)

    async def read_file(self, commit: str, path: str, *, max_bytes: int) -> bytes | None:
        """One file of a commit, or None when it is not there or larger than `max_bytes`."""
        name = f"{commit}:{path}"
        try:
            size = int(await self._run("cat-file", "-s", name))
        except (GitError, ValueError):
            return None
        if size > max_bytes:
            return None
        return await self._run("cat-file", "blob", name)

    async def _run(
        self, *args: str, in_clone: bool = True, stdin: bytes | None = None, remote: bool = False
    ) -> bytes:
        """`remote`: the command talks to the remote, and only then gets the login."""
        argv = ["git", *self._safety, *args]
        cwd = self._clone if in_clone else None
        login = self.login if remote else None
        return await run_git(argv, cwd=cwd, time_limit=self.timeout, stdin=stdin, login=login)

    @property
    def _clone(self) -> Path:
        if self.clone_dir is None:  # a bug: never run git in whatever the working directory is
            raise RuntimeError("this Git has no clone; it only asks the remote")
        return self.clone_dir


def _parse_batch(out: bytes) -> dict[str, bytes]:
    blobs: dict[str, bytes] = {}
    position = 0
    while position < len(out):
        header_end = out.index(b"\n", position)
        sha, kind, size = out[position:header_end].decode().split(" ")
        start = header_end + 1
        end = start + int(size)
        if kind == "blob":
            blobs[sha] = out[start:end]
        position = end + 1
    return blobs


# Git runs this helper (through its shell) when the remote asks for a login. The
# text is constant: the login comes from the git process's own environment, so it
# never appears in an argv (the process list), a config file or git's output.
CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; '
    'printf \'username=%s\\npassword=%s\\n\' "$TOMO_GIT_USERNAME" "$TOMO_GIT_PASSWORD"; }; f'
)


def _git_env(login: RemoteLogin | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/false",
        SSH_ASKPASS="/bin/false",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_SSH_COMMAND="ssh -o BatchMode=yes -o ConnectTimeout=20",
        LC_ALL="C",
    )
    if login is not None:
        env.update(_login_env(login))
    return env


def _login_env(login: RemoteLogin) -> dict[str, str]:
    """Git config entries through the environment (git >= 2.31) naming tomo's helper
    for the remote's scheme, host and port, and the login the helper reads."""
    parts = urlsplit(login.url)
    helper = f"credential.{parts.scheme}://{parts.netloc.rpartition('@')[2]}.helper"
    # The empty value first drops helpers the user's git config names for this
    # origin, so none answers in tomo's place or is asked to store the login.
    entries = [(helper, ""), (helper, CREDENTIAL_HELPER)]
    env = {
        "GIT_CONFIG_COUNT": str(len(entries)),
        "TOMO_GIT_USERNAME": login.credentials.username,
        "TOMO_GIT_PASSWORD": login.credentials.password,
    }
    for index, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


async def run_git(
    argv: list[str],
    *,
    cwd: Path | None,
    time_limit: float,
    stdin: bytes | None = None,
    login: RemoteLogin | None = None,
) -> bytes:
    """The one place git runs: returns stdout, raises GitError / GitTimeout."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=_git_env(login),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # so a timeout can kill git's helpers too
    )
    verb = next(arg for arg in argv[1:] if not arg.startswith("-") and "=" not in arg)
    try:
        async with asyncio.timeout(time_limit):  # not wait_for: see tomo.servers.ssh run()
            out, err = await process.communicate(stdin)
    except TimeoutError:
        # git's transport helpers hold our pipes open; kill the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise GitTimeout(f"git {verb} timed out after {time_limit:g}s") from None
    if process.returncode != 0:
        raise GitError(f"git {verb} failed: {_explain(err.decode('utf-8', 'replace'))}")
    return out


def _explain(stderr: str) -> str:
    """A hint in plain words when one fits, then git's own lines: the cause is
    often not the last one ("remote: fatal: unable to read …" comes first)."""
    stderr = redact_userinfo(stderr)  # git never gets a login in a URL; and if it did
    lines = _telling_lines(stderr)
    detail = _bounded(" | ".join(lines)) if lines else "no error output"
    lowered = stderr.lower()
    hint = next((text for needle, text in _ERROR_HINTS if needle in lowered), None)
    return f"{hint} ({detail})" if hint else detail


def _telling_lines(stderr: str) -> list[str]:
    """Each line of git's output that says something, once, with control characters
    (a remote's terminal escapes) made visible; the boilerplate only if nothing else."""
    lines = [_CONTROL_CHARS.sub("?", line.strip()) for line in stderr.splitlines()]
    lines = list(dict.fromkeys(line for line in lines if line))
    telling = [line for line in lines if not line.lower().startswith(_BOILERPLATE)]
    return telling or lines[-1:]


def _bounded(text: str) -> str:
    """Long output keeps its start (the cause) and its end (git's verdict)."""
    if len(text) <= MAX_GIT_DETAIL:
        return text
    half = (MAX_GIT_DETAIL - 3) // 2
    return f"{text[:half]} … {text[-half:]}"
