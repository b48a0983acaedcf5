"""A login in front of an app (forward auth): the front door asks tomo before each
request for a guarded app, and tomo's session decides.

    1. A request for https://photos.home.example/x reaches the front door. It asks
       tomo `GET {TOMO_DOOR_URL}/door/check?role=viewer`, with the request's
       cookies and its X-Forwarded-Host, -Proto, -Method and -Uri.
    2. No valid pass among the cookies: a browser's GET is sent to tomo's own
       page `{TOMO_PUBLIC_URL}/door?to=<that URL>`; anything else gets 401.
    3. That page is tomo's: its session (after the login page, when there is
       none) and the user's role decide. It sends the browser back to the URL
       with an entry code in the query, good for one use within a minute.
    4. The front door asks tomo again; tomo takes the code and answers with a
       redirect to the same URL without it, setting the pass as a cookie of that
       host only.
    5. The pass lets each later request through (with Remote-User and Remote-Role
       for the app) while the tomo session lives: logging out of tomo, or the
       session ending, ends it too (within PASS_CACHE_SECONDS).

Passes and codes are Fernet tokens under a key derived for this one purpose. They
are opaque to the app (which sees its own host's cookies), good for the host they
were made for only (an app cannot use its pass on another), and name the session
by the digest tomo stores, never by its cookie.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote_plus, urlsplit

from tomo.auth.roles import Role, allows
from tomo.auth.service import AuthService, Principal
from tomo.crypto import Secrets
from tomo.errors import Forbidden, InvalidInput, Refusal
from tomo.proxy.routes import hostname_problem
from tomo.proxy.schemas import Login

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

CODE_PARAMETER = "tomo-door"  # the entry code's name in the app URL's query
DOOR_COOKIE = "tomo_door"  # over http; over https the `__Host-` form, which no other
SECURE_DOOR_COOKIE = "__Host-tomo_door"  # host can set for this one (cookie tossing)
CODE_SECONDS = 60
PASS_CACHE_SECONDS = 5.0  # a pass checked is believed this long (a page's many requests)
_CACHE_LIMIT = 4096
USER_HEADERS = ("Remote-User", "Remote-Role")  # what the app is told, set by tomo only


@dataclass(frozen=True)
class Asked:
    """What the front door forwards of a request for a guarded app."""

    host: str  # X-Forwarded-Host: the app's name (and port, when not the scheme's)
    scheme: str  # X-Forwarded-Proto
    uri: str  # X-Forwarded-Uri: path and query
    method: str  # X-Forwarded-Method
    wants_page: bool  # a browser asking for a page (Accept: text/html)
    passes: tuple[str, ...]  # every pass cookie sent (a tossed one among them, maybe)
    role: Login  # who may through: the role the route asks for, at least

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}{self.uri}"


@dataclass(frozen=True)
class Answer:
    """What tomo answers the front door: a 2xx lets the request through with
    `headers`; anything else goes back to the browser as it is."""

    status: int
    headers: dict[str, str]
    text: str = ""
    new_pass: str | None = None  # to set as the host's pass cookie


class DoorLogin:
    """Decides forward-auth checks and hands out entry codes."""

    def __init__(self, auth: AuthService, secrets_: Secrets, public_url: str | None) -> None:
        self.auth = auth
        self.secrets = secrets_
        self.public_url = public_url.rstrip("/") if public_url else None
        self._fernet: Fernet | None = None
        self._used_codes: dict[str, float] = {}  # nonce -> when it may be forgotten
        self._believed: dict[str, tuple[float, Principal]] = {}  # pass -> (until, whose)

    # -- the front door's question ------------------------------------------------------

    async def check(self, asked: Asked) -> Answer:
        """Let the request through, take an entry code, or send the browser to log in."""
        host = _hostname(asked.host)
        if host is None:
            return Answer(400, {}, f"'{asked.host}' is not a hostname")
        uri, code = _without_code(asked.uri)
        if code is not None:
            return await self._enter(asked, host, uri, code)
        for value in asked.passes:
            principal = await self._pass_holder(value, host)
            if principal is not None:
                return _let_through(principal, asked.role)
        return self._to_login(asked)

    async def _enter(self, asked: Asked, host: str, uri: str, code: str) -> Answer:
        """The code taken (once): the pass set, the browser sent on without the code."""
        session = self._read(code, "code", host, CODE_SECONDS)
        if session is None or not self._first_use(code):
            return self._to_login(asked, uri)
        principal = await self.auth.session_principal_by_digest(session)
        if principal is None:
            return self._to_login(asked, uri)
        made = self._seal({"k": "pass", "s": session, "h": host, "n": secrets.token_hex(8)})
        there = f"{_scheme(asked.scheme)}://{asked.host}{uri}"  # never another host's
        return Answer(303, {"Location": there, "Cache-Control": "no-store"}, new_pass=made)

    async def _pass_holder(self, value: str, host: str) -> Principal | None:
        """Whose live session the pass stands for (None: no pass for this host)."""
        moment = time.monotonic()
        believed = self._believed.get(value)
        if believed is not None and believed[0] > moment:
            return believed[1]
        max_age = int(self.auth.settings.session_max_days * 86400)
        session = self._read(value, "pass", host, max_age)
        principal = await self.auth.session_principal_by_digest(session) if session else None
        if principal is not None:
            if len(self._believed) >= _CACHE_LIMIT:
                self._believed.clear()
            self._believed[value] = (moment + PASS_CACHE_SECONDS, principal)
        return principal

    def _to_login(self, asked: Asked, uri: str | None = None) -> Answer:
        """A browser's page request goes to tomo's door page; anything else is 401."""
        if self.public_url is None:
            return Answer(401, {}, "this app needs a tomo login, and tomo's address is not "
                                   "set (TOMO_PUBLIC_URL)")  # fmt: skip
        path = uri if uri is not None else _path(asked.uri)
        there = f"{_scheme(asked.scheme)}://{asked.host}{path}"
        door = f"{self.public_url}/door?to={quote(there, safe='')}"
        if asked.wants_page and asked.method in ("GET", "HEAD"):
            return Answer(302, {"Location": door, "Cache-Control": "no-store"})
        return Answer(401, {"WWW-Authenticate": 'Cookie realm="tomo"'},
                      f"log in to tomo first: {door}")  # fmt: skip

    # -- tomo's door page ---------------------------------------------------------------

    def entry(self, principal: Principal, to: str, needed: Login | None) -> str:
        """The URL that takes a signed-in user to `to` (its host's login role being
        `needed`, None when no app there asks for one): `to` with an entry code."""
        split = urlsplit(to)
        host = _hostname(split.netloc)
        if split.scheme not in ("http", "https") or host is None or needed is None:
            raise InvalidInput([Refusal(f"'{to}' is no app behind tomo's login", ("to",))])
        if not allows(principal.role, needed):
            raise Forbidden(_not_for(principal, needed))
        if principal.session is None:
            raise Forbidden("a login in front of an app needs a browser session of tomo")
        code = self._seal({"k": "code", "s": principal.session, "h": host,
                           "n": secrets.token_hex(8)})  # fmt: skip
        query = "&".join(filter(None, [split.query, f"{CODE_PARAMETER}={quote(code)}"]))
        return split._replace(query=query, fragment="").geturl()

    # -- tokens ---------------------------------------------------------------------------

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:
            self._fernet = self.secrets.box.derived("front door login")
        return self._fernet

    def _seal(self, payload: dict[str, str]) -> str:
        return self.fernet.encrypt(json.dumps(payload).encode()).decode("ascii")

    def _read(self, token: str, kind: str, host: str, max_age: int) -> str | None:
        """The session digest a token of `kind` for `host` names (None: it is not one,
        it is older than `max_age` seconds, or it is for another host)."""
        from cryptography.fernet import InvalidToken

        try:
            payload = json.loads(self.fernet.decrypt(token.encode("ascii"), ttl=max_age))
        except (InvalidToken, UnicodeEncodeError, ValueError):
            return None
        if not isinstance(payload, dict) or payload.get("k") != kind or payload.get("h") != host:
            return None
        session = payload.get("s")
        return session if isinstance(session, str) else None

    def _first_use(self, code: str) -> bool:
        """Whether the code is used for the first time (then it never is again)."""
        moment = time.monotonic()
        self._used_codes = {c: t for c, t in self._used_codes.items() if t > moment}
        if code in self._used_codes:
            return False
        self._used_codes[code] = moment + CODE_SECONDS + 1
        return True


def door_cookie(scheme: str) -> str:
    """The pass cookie's name over `scheme`."""
    return SECURE_DOOR_COOKIE if scheme == "https" else DOOR_COOKIE


def passes_in(cookie_header: str) -> tuple[str, ...]:
    """Every pass cookie's value in a Cookie header (a browser sends each cookie of
    that name it holds; one set by another host must not hide the host's own)."""
    found = []
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name in (DOOR_COOKIE, SECURE_DOOR_COOKIE) and value:
            found.append(value.strip('"'))
    return tuple(found[:8])


def _let_through(principal: Principal, needed: Role) -> Answer:
    if not allows(principal.role, needed):
        return Answer(403, {}, _not_for(principal, needed))
    return Answer(200, {"Remote-User": principal.username, "Remote-Role": principal.role})


def _not_for(principal: Principal, needed: Role) -> str:
    return (f"this app is for tomo's {needed}s; you are signed in to tomo as "
            f"'{principal.username}', a {principal.role}")  # fmt: skip


def _hostname(netloc: str) -> str | None:
    """The hostname of a Host header or URL netloc (its port dropped), if it is one."""
    host = netloc.strip().lower()
    if "@" in host:
        return None
    name, _, port = host.partition(":")
    if port and not port.isdigit():
        return None
    return None if hostname_problem(name) else name


def _without_code(uri: str) -> tuple[str, str | None]:
    """The URI (a path: never `//other.host`) without the entry code, and the code
    (None: it carries none). The rest of the query is kept as it was sent."""
    path, _, query = _path(uri).partition("?")
    kept, codes = [], []
    for part in query.split("&") if query else []:
        name, _, value = part.partition("=")
        if unquote_plus(name) == CODE_PARAMETER:
            codes.append(unquote_plus(value))
        else:
            kept.append(part)
    if not codes:
        return _path(uri), None
    return path + ("?" + "&".join(kept) if kept else ""), codes[-1]


def _path(uri: str) -> str:
    """`uri` as a path of this host: one leading slash (`//evil.example/` would
    be another host to a browser)."""
    return "/" + uri.lstrip("/")


def _scheme(scheme: str) -> str:
    return "http" if scheme == "http" else "https"
