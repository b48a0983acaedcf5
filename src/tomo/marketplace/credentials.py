"""Credentials embedded in a repository URL (`https://user:token@host/…`).

tomo keeps the URL without them and the credentials apart, encrypted; git gets
them through its environment (see `git.RemoteLogin`). Anything that echoes a URL
passes it through `redact_userinfo` first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from tomo.errors import InvalidRepoUrl

_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)
# `user:password@host:path`: an scp-like URL with a password in it.
_SCP_WITH_PASSWORD = re.compile(r"[^/@:]+:[^/@]*@[^/@:]+:")
# Up to the last '@' before the path's query, fragment or the end of the word:
# a password with a raw '/' in it is still hidden.
_USERINFO = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s'\"?#]*@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ONLY_HTTPS = (
    "only https URLs may carry credentials (https://USER:TOKEN@host/path); "
    "for ssh URLs, use an SSH key"
)


@dataclass(frozen=True)
class RepoCredentials:
    """A login for an https remote; its repr never shows the password."""

    username: str
    password: str = field(repr=False)

    def to_json(self) -> str:
        """The stored form (encrypted by the caller)."""
        return json.dumps({"username": self.username, "password": self.password})

    @classmethod
    def from_json(cls, text: str) -> RepoCredentials:
        data = json.loads(text)
        return cls(username=data["username"], password=data["password"])


def split_credentials(url: str) -> tuple[str, RepoCredentials | None]:
    """`https://user:token@host/r.git` → (`https://host/r.git`, the decoded login).

    Other URLs come back as they are, but a password is refused in any of them.
    """
    form = _SCHEME.fullmatch(url)
    if form is None:
        if _SCP_WITH_PASSWORD.match(url):
            raise InvalidRepoUrl(ONLY_HTTPS)
        return url, None
    scheme, rest = form["scheme"], form["rest"]
    authority_end = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    userinfo, at, host = rest[:authority_end].rpartition("@")
    if not at:
        return url, None
    if scheme.lower() != "https":
        if ":" in userinfo or scheme.lower() == "file":
            raise InvalidRepoUrl(ONLY_HTTPS)
        return url, None  # `ssh://git@host/…` names an account, not a secret
    return f"{scheme}://{host}{rest[authority_end:]}", _decode(userinfo)


def _decode(userinfo: str) -> RepoCredentials:
    quoted_username, _, quoted_password = userinfo.partition(":")
    username, password = unquote(quoted_username), unquote(quoted_password)
    if not username:
        raise InvalidRepoUrl(
            "credentials in a repository URL need a user name (https://USER:TOKEN@host/path)"
        )
    if _CONTROL.search(username) or _CONTROL.search(password):
        # git's credential protocol is line-based: a newline would forge a field.
        raise InvalidRepoUrl("credentials in a repository URL may not contain control characters")
    return RepoCredentials(username=username, password=password)


def redact_userinfo(text: str) -> str:
    """`…https://user:token@host/…` → `…https://***@host/…`, wherever a URL appears."""
    return _USERINFO.sub(r"\1***@", text)
