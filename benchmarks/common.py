"""Shared pieces of the benchmarks: a catalog repo generator and timing helpers.

The generator is deterministic (seeded): the same size gives the same apps,
so figures of two runs are comparable. Words of descriptions follow a Zipf
law over a vocabulary of a few thousand words, so a catalog has very common
words, rare words and everything between, as real text does.
"""

from __future__ import annotations

import math
import os
import random
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

CATEGORIES = (
    "media",
    "productivity",
    "development",
    "monitoring",
    "networking",
    "security",
    "storage",
    "home-automation",
    "communication",
    "finance",
    "gaming",
    "education",
    "ai",
    "photos",
    "documents",
    "utilities",
)
# Real words placed at fixed Zipf ranks (0 = most frequent), so that queries can
# name a common word, a rare word and words sharing the prefix "med".
_PLACED_WORDS = {
    2: "server",
    9: "media",
    30: "self",
    49: "backup",
    120: "dashboard",
    199: "medium",
    400: "monitor",
    799: "medical",
    1500: "meditation",
    2499: "zeppelin",
}
_REAL_TAGS = """self-hosted media streaming docker web database backup sync monitoring
    dashboard automation security vpn proxy dns photos music video books notes wiki
    chat email calendar files storage cloud git ci devops api analytics logging metrics
    alerts home iot smart-home finance budget recipes games education ai llm search
    rss podcasts downloads torrent usenet password auth sso ldap office pdf scanner
    kanban tasks bookmarks pastebin""".split()
_ENV_NAMES = (
    "TZ",
    "PUID",
    "PGID",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "ADMIN_EMAIL",
    "BASE_URL",
    "LOG_LEVEL",
    "SECRET_KEY",
    "REDIS_URL",
    "SMTP_HOST",
    "UMASK",
)
_CONTAINER_PATHS = (
    "/config",
    "/data",
    "/cache",
    "/media",
    "/downloads",
    "/backups",
    "/logs",
    "/var/lib/app",
    "/srv/app",
    "/library",
)
_ARCHES = ("amd64", "arm64", "armv7")
_CONSONANTS = "bcdfghjklmnprstvwz"
_VOWELS = "aeiou"


def _zipf_cumulative(n: int, s: float) -> list[float]:
    total, cumulative = 0.0, []
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        cumulative.append(total)
    return cumulative


@dataclass
class Vocabulary:
    """Words (Zipf-distributed) and tags for generated definitions."""

    words: list[str]
    tags: list[str]
    word_weights: list[float] = field(repr=False)
    tag_weights: list[float] = field(repr=False)

    @classmethod
    def build(cls, size: int = 3000, tag_count: int = 200, seed: int = 7) -> Vocabulary:
        rng = random.Random(seed)
        placed = set(_PLACED_WORDS.values())
        pool: set[str] = set()
        while len(pool) < size:
            syllables = rng.choice((2, 2, 3, 3, 4))
            word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
            if word not in placed:
                pool.add(word)
        words = sorted(pool)
        rng.shuffle(words)
        for rank, word in sorted(_PLACED_WORDS.items()):
            if rank < size:
                words.insert(rank, word)
        words = words[:size]
        extra = [w for w in words[200:] if w not in _REAL_TAGS][: tag_count - len(_REAL_TAGS)]
        tags = (_REAL_TAGS + extra)[:tag_count]
        return cls(
            words=words,
            tags=tags,
            word_weights=_zipf_cumulative(len(words), 1.0),
            tag_weights=_zipf_cumulative(len(tags), 0.9),
        )

    def sentence(self, rng: random.Random, n: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.word_weights, k=n)

    def pick_tags(self, rng: random.Random, n: int) -> list[str]:
        chosen: list[str] = []
        while len(chosen) < n:
            tag = rng.choices(self.tags, cum_weights=self.tag_weights)[0]
            if tag not in chosen:
                chosen.append(tag)
        return chosen


@dataclass(frozen=True)
class GeneratedApp:
    id: str
    category: str
    path: str  # relative to the repo root


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:56].strip("-")


def render_app(rng: random.Random, vocab: Vocabulary, app_id: str, name: str, category: str) -> str:
    """One definition file in tomo's format (see catalog/apps/media/jellyfin.yaml)."""
    description = " ".join(vocab.sentence(rng, rng.randint(20, 60))).capitalize() + "."
    tags = ", ".join(vocab.pick_tags(rng, rng.randint(1, 5)))
    version = f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    author = " ".join(w.capitalize() for w in rng.sample(vocab.words[:2000], 2))
    lines = [
        f"id: {app_id}",
        f'name: "{name}"',
        f'description: "{description}"',
        f'version: "{version}"',
        f"category: {category}",
        f"tags: [{tags}]",
        f'author: "{author}"',
        "license: MIT",
        f"repository: https://git.example.org/{_slug(author)}/{app_id}",
        "docker:",
        f"  image: registry.example.org/{_slug(author)}/{app_id}:{version}",
        "  ports:",
    ]
    for port in rng.sample(range(1024, 65535), rng.randint(1, 3)):
        protocol = "udp" if rng.random() < 0.1 else "tcp"
        lines += [
            f"    - container: {port}",
            f"      host: {port}",
            f"      protocol: {protocol}",
            f"      description: {' '.join(vocab.sentence(rng, 4))}",
        ]
    lines.append("  volumes:")
    for path in rng.sample(_CONTAINER_PATHS, rng.randint(1, 3)):
        lines += [
            f"    - host_path: ./{path.rsplit('/', 1)[-1]}",
            f"      container_path: {path}",
        ]
        if rng.random() < 0.2:
            lines.append("      readonly: true")
        lines.append(f"      description: {' '.join(vocab.sentence(rng, 5))}")
    lines.append("  environment:")
    for env in rng.sample(_ENV_NAMES, rng.randint(1, 6)):
        lines += [
            f"    - name: {env}",
            f"      description: {' '.join(vocab.sentence(rng, 6))}",
        ]
        if env in ("DB_PASSWORD", "SECRET_KEY"):
            lines += ["      secret: true", "      generate: password"]
        else:
            lines.append(f"      required: {'true' if rng.random() < 0.3 else 'false'}")
    lines += [
        "  restart_policy: unless-stopped",
        "  healthcheck:",
        "    endpoint: /health",
        "requirements:",
        f"  min_ram: {rng.choice((128, 256, 512, 1024, 2048, 4096))}",
        f"  min_storage: {rng.choice((100, 500, 1024, 4096, 10240))}",
        f"  architectures: [{', '.join(rng.sample(_ARCHES, rng.randint(1, 3)))}]",
        "",
    ]
    return "\n".join(lines)


def new_app_name(rng: random.Random, vocab: Vocabulary, taken: set[str]) -> tuple[str, str]:
    """(id, name) of a new app: two words, sometimes a suffix; the id is a slug of
    the name not in `taken` (which it joins)."""
    first, second = rng.choice(vocab.words), rng.choice(vocab.words)
    name = f"{first.capitalize()} {second.capitalize()}"
    if rng.random() < 0.3:
        name += " " + rng.choice(("Server", "Hub", "Manager", "Studio", "Box", "Cloud"))
    base = _slug(name)
    app_id, n = base, 2
    while app_id in taken:
        app_id, n = f"{base}-{n}", n + 1
    taken.add(app_id)
    return app_id, name


def iter_apps(count: int, *, seed: int = 1) -> Iterator[tuple[GeneratedApp, str]]:
    """`count` generated apps and the text of each one's definition file."""
    rng = random.Random(seed)
    vocab = Vocabulary.build()
    category_weights = [1.0 / (i + 1) ** 0.5 for i in range(len(CATEGORIES))]
    taken: set[str] = set()
    for _ in range(count):
        app_id, name = new_app_name(rng, vocab, taken)
        category = rng.choices(CATEGORIES, weights=category_weights)[0]
        app = GeneratedApp(app_id, category, f"apps/{category}/{app_id}.yaml")
        yield app, render_app(rng, vocab, app_id, name, category)


def generate_apps(root: Path, count: int, *, seed: int = 1) -> list[GeneratedApp]:
    """Write `count` definition files as `apps/<category>/<id>.yaml` under root."""
    for category in CATEGORIES:
        (root / "apps" / category).mkdir(parents=True, exist_ok=True)
    apps = []
    for app, text in iter_apps(count, seed=seed):
        (root / app.path).write_text(text)
        apps.append(app)
    return apps


# -- git ---------------------------------------------------------------------


def git_env() -> dict[str, str]:
    """An environment that keeps the user's git configuration out of the way."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
    return env


def git(*args: str, cwd: Path | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env=git_env(), check=True, capture_output=True, text=True
    )
    return out.stdout


def commit_all(repo: Path, message: str) -> str:
    git("add", "-A", cwd=repo)
    git(
        "-c",
        "user.name=b",
        "-c",
        "user.email=b@b",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "--quiet",
        "-m",
        message,
        cwd=repo,
    )
    return git("rev-parse", "HEAD", cwd=repo).strip()


@dataclass
class CatalogRepo:
    path: Path
    apps: list[GeneratedApp]
    generate_seconds: float
    commit_seconds: float


def make_catalog_repo(path: Path, count: int, *, seed: int = 1) -> CatalogRepo:
    """A git repo (branch main, one commit) holding `count` generated apps."""
    path.mkdir(parents=True)
    git("init", "--quiet", "-b", "main", str(path))
    with timer() as generating:
        apps = generate_apps(path, count, seed=seed)
    with timer() as committing:
        commit_all(path, f"{count} generated apps")
    return CatalogRepo(path, apps, generating.seconds, committing.seconds)


def change_app(repo: CatalogRepo, index: int, round_: int) -> GeneratedApp:
    """Edit one app's version and description, and commit the change."""
    app = repo.apps[index % len(repo.apps)]
    file = repo.path / app.path
    text = file.read_text()
    text = re.sub(r'^version: ".*"$', f'version: "99.{round_}.0"', text, count=1, flags=re.M)
    text = re.sub(
        r'^description: "', f'description: "Changed in round {round_}. ', text, count=1, flags=re.M
    )
    file.write_text(text)
    commit_all(repo.path, f"change {app.id}")
    return app


# -- timing --------------------------------------------------------------------


def as_installed(bytecode: Path | None = None, env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (this process's by default) as an installed tomo runs in: Python's compiled
    bytecode kept between runs, even where PYTHONDONTWRITEBYTECODE says not to (this VM
    sets it: each start of an editable install would compile again every module of
    tomo changed since its bytecode was last written). Kept in `bytecode` when given
    (then the standard library's and pip's own compiled files are not used: a first
    run compiles everything it imports), else beside the sources."""
    given = os.environ if env is None else env
    kept = {key: value for key, value in given.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return kept if bytecode is None else {**kept, "PYTHONPYCACHEPREFIX": str(bytecode)}


class Timer:
    seconds: float = 0.0


@contextmanager
def timer() -> Iterator[Timer]:
    result = Timer()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds = time.perf_counter() - start


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def run_bounded(
    argv: Sequence[str], *, env: dict[str, str] | None = None, limit: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`subprocess.run(argv, capture_output=True, text=True)`, killed after `limit`
    seconds by a watchdog thread rather than a timeout: a wait with a timeout polls,
    with sleeps of up to 50 ms that would round a timed command up to a step of them."""
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:  # fmt: skip
        watchdog = threading.Timer(limit, process.kill)
        watchdog.start()
        try:
            stdout, stderr = process.communicate()
        finally:
            watchdog.cancel()
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in 0..100."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def weighted_percentile(samples: Sequence[tuple[float, float]], q: float) -> float:
    """Percentile (q in 0..100) of (value, weight) pairs: the smallest value whose
    cumulative weight reaches q% of the total weight."""
    ordered = sorted(samples)
    if not ordered:
        return math.nan
    goal = sum(w for _, w in ordered) * q / 100
    cumulative = 0.0
    for value, weight in ordered:
        cumulative += weight
        if cumulative >= goal - 1e-12:
            return value
    return ordered[-1][0]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain left/right-aligned text table (numbers right, text left)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_looks_numeric(row[i]) for row in cells[1:]) if cells[1:] else False
        for i in range(len(headers))
    ]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if numeric[i] else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _looks_numeric(cell: str) -> bool:
    return bool(re.fullmatch(r"[-+]?[0-9.,]+ ?(ms|s|%|x)?", cell))
