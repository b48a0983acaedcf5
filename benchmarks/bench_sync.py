"""Sync benchmark: a full sync of a large catalog against git clone + YAML parse.

Run from the project root:  .venv/bin/python -m benchmarks.bench_sync [--apps N]

Every figure is printed as a ratio against a baseline measured in this same
run (see benchmarks/README.md); absolute times are shown only for context. The
script exits with 1 when a check fails, the full sync's ratio to its lower bound
(`--max-ratio`) included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import (
    CatalogRepo,
    change_app,
    git_env,
    make_catalog_repo,
    median,
    ms,
    secs,
    table,
    timer,
)
from tomo.config import Settings
from tomo.marketplace.schemas import RepoCreate, SyncReport
from tomo.runtime import open_runtime

REPO_NAME = "bench"
# A full sync must take no longer than its lower bound (the clone and parse alone).
MAX_RATIO = 1.0
# Phases as tomo's sync reports them through `progress`, and what each covers.
PHASE_LABELS = {
    "checking remote": "ls-remote, lease",
    "fetching": "git init + fetch --depth=1",
    "reading tree": "ls-tree, cat-file, diff vs last sync",
    "parsing": "parsing (start extrapolated)",
    "parsed": "plan: compare with stored apps",
    "writing": "writing + commit",
}


@dataclass
class Recorder:
    """The `progress` callback: counts parsed files and timestamps the phases."""

    events: list[tuple[float, str, int, int]] = field(default_factory=list)

    def __call__(self, phase: str, done: int, total: int) -> None:
        self.events.append((time.perf_counter(), phase, done, total))

    @property
    def parsed(self) -> int:
        # Each parse pass reports (done, total) every 500 files and at its end.
        return sum(t for _, phase, d, t in self.events if phase == "parsing" and d == t)

    def phases(self, end: float) -> dict[str, float]:
        """Seconds per phase, from each phase's first report to the next phase's.

        "parsing" is first reported after 500 files; its start is extrapolated
        from the parse rate, and the time before it is charged to
        "reading tree + blobs, diff" (ls-tree, cat-file, comparing with the
        last sync). With one report only (fewer than 500 files parsed) parsing
        stays merged into that phase and the time after the report is shown
        as "parsed" (comparing outcomes with the stored catalog).
        """
        starts: dict[str, float] = {}
        for stamp, phase, _done, _total in self.events:
            starts.setdefault(phase, stamp)
        parsing = [(t, d, n) for t, phase, d, n in self.events if phase == "parsing" and n]
        if len(parsing) >= 2 and parsing[0][1] < parsing[-1][1]:
            (t0, d0, _), (t1, d1, _) = parsing[0], parsing[-1]
            # Never before the tree was read: a noisy rate must not reorder the phases.
            extrapolated = t0 - d0 * (t1 - t0) / (d1 - d0)
            starts["parsing"] = max(extrapolated, starts.get("reading tree", extrapolated))
        elif "parsing" in starts:  # one report, at the end of parsing: what follows is planning
            starts["parsed"] = starts.pop("parsing")
        ordered = sorted(starts.items(), key=lambda item: item[1])
        bounds = [stamp for _, stamp in ordered[1:]] + [end]
        return {phase: stop - start for (phase, start), stop in zip(ordered, bounds, strict=True)}


@dataclass
class SyncRun:
    seconds: float
    report: SyncReport
    parsed: int
    phases: dict[str, float]


@dataclass
class LowerBound:
    clone: float
    parse: float
    files: int

    @property
    def seconds(self) -> float:
        return self.clone + self.parse


def tomo_definitions(clone: Path) -> list[Path]:
    return sorted((clone / "apps").glob("**/*.yaml"))


def lower_bound(
    repo: Path, workdir: Path, definitions: Callable[[Path], Iterable[Path]] = tomo_definitions
) -> LowerBound:
    """git clone --depth 1 of the repo, then every definition file tomo reads:
    json.loads for JSON, CSafeLoader for YAML."""
    target = workdir / "clone"
    with timer() as cloning:
        subprocess.run(
            ["git", "clone", "--depth", "1", "--quiet", f"file://{repo}", str(target)],
            env=git_env(),
            check=True,
        )
    with timer() as parsing:
        files = 0
        for path in definitions(target):
            if path.suffix == ".json":
                json.loads(path.read_bytes())
            else:
                yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            files += 1
    shutil.rmtree(target)
    return LowerBound(cloning.seconds, parsing.seconds, files)


def settings_for(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, builtin_catalog=False)


async def timed_syncs(data_dir: Path, repo: Path | None, times: int) -> list[SyncRun]:
    """Open tomo on data_dir (adding the repo if given) and time `times` syncs."""
    runs = []
    async with open_runtime(settings_for(data_dir)) as runtime:
        market = runtime.marketplace
        if repo is not None:
            await market.add_repo(RepoCreate(url=str(repo), name=REPO_NAME))
        for _ in range(times):
            recorder = Recorder()
            with timer() as elapsed:
                report = await market.sync_repo(REPO_NAME, progress=recorder)
            end = time.perf_counter()
            runs.append(SyncRun(elapsed.seconds, report, recorder.parsed, recorder.phases(end)))
    return runs


def phase_medians(runs: list[SyncRun]) -> list[tuple[str, float]]:
    """(label, median seconds) per sync phase, in the order the phases ran."""
    phases = list(dict.fromkeys(phase for run in runs for phase in run.phases))
    return [
        (f"  {PHASE_LABELS.get(phase, phase)}", median([r.phases.get(phase, 0.0) for r in runs]))
        for phase in phases
    ]


def check(condition: bool, message: str, failures: list[str]) -> str:
    if not condition:
        failures.append(message)
    return "ok" if condition else "FAILED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=10_000, help="apps in the catalog")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed step")
    parser.add_argument(
        "--max-ratio",
        type=float,
        default=MAX_RATIO,
        help=f"fail when full sync / lower bound is above this (default {MAX_RATIO})",
    )
    args = parser.parse_args(argv)
    failures: list[str] = []

    with tempfile.TemporaryDirectory(prefix="tomo-bench-sync-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"tomo sync benchmark: {args.apps} apps, {args.repeat} runs per step")
        print(f"python {sys.version.split()[0]}, yaml CSafeLoader, data in {tmp}")
        catalog: CatalogRepo = make_catalog_repo(tmp / "catalog", args.apps)
        size = sum(f.stat().st_size for f in (catalog.path / "apps").glob("**/*.yaml"))
        print(
            f"setup: generated {len(catalog.apps)} files ({size / 1e6:.1f} MB) in "
            f"{secs(catalog.generate_seconds)}, git add+commit in {secs(catalog.commit_seconds)}"
        )

        # 1. Lower bound vs full sync, alternating, a fresh data dir per sync.
        lower: list[LowerBound] = []
        full: list[SyncRun] = []
        data_dir = tmp / "data"
        for n in range(args.repeat):
            lower.append(lower_bound(catalog.path, tmp))
            if lower[-1].files != args.apps:
                failures.append(f"lower bound parsed {lower[-1].files} files, not {args.apps}")
            shutil.rmtree(data_dir, ignore_errors=True)
            full += asyncio.run(timed_syncs(data_dir, catalog.path, 1))
            print(
                f"  run {n + 1}: lower bound {secs(lower[-1].seconds)} "
                f"(clone {secs(lower[-1].clone)} + parse {secs(lower[-1].parse)}), "
                f"full sync {secs(full[-1].seconds)}"
            )
        lower_s = median([run.seconds for run in lower])
        full_s = median([run.seconds for run in full])
        report = full[-1].report
        print()
        print("Full sync (fresh data dir) vs lower bound (git clone --depth 1 + CSafeLoader)")
        rows = [
            ["lower bound", secs(lower_s), "1.00x"],
            ["  git clone --depth 1", secs(median([r.clone for r in lower])), ""],
            ["  CSafeLoader, all files", secs(median([r.parse for r in lower])), ""],
            ["tomo full sync", secs(full_s), f"{full_s / lower_s:.2f}x"],
        ]
        rows += [[label, secs(seconds), ""] for label, seconds in phase_medians(full)]
        print(table(rows, ["step (median of runs)", "time", "vs lower"]))
        ratio = full_s / lower_s
        verdict = check(
            ratio <= args.max_ratio,
            f"full sync is {ratio:.2f}x its lower bound (at most {args.max_ratio}x)",
            failures,
        )
        print(f"full/lower = {ratio:.2f}  (target <= {args.max_ratio}: {verdict})")
        full_ok = report.app_count == args.apps and report.added == args.apps and not report.errors
        print(
            f"report: {report.app_count} apps, added {report.added}, "
            f"{len(report.errors)} errors, {full[-1].parsed} files parsed "
            f"[{check(full_ok, 'full sync report is wrong', failures)}]"
        )

        # 2. Re-sync with no new commit, on the last full sync's data dir.
        resync = asyncio.run(timed_syncs(data_dir, None, args.repeat))
        resync_s = median([run.seconds for run in resync])
        print()
        print("Re-sync, no new commit (same data dir)")
        print(
            f"resync {ms(resync_s)} (median of {args.repeat}); "
            f"resync/full = {resync_s / full_s * 100:.2f}%  "
            f"(target < 2%: {'met' if resync_s / full_s < 0.02 else 'NOT met'})"
        )
        statuses = {run.report.status for run in resync}
        print(
            f"report status {sorted(statuses)}, files parsed {[r.parsed for r in resync]} "
            f"[{check(statuses == {'unchanged'}, 'resync was not unchanged', failures)}]"
        )

        # 3. One changed file per commit.
        print()
        print("One changed file (one new commit per run)")
        changed: list[SyncRun] = []
        changed_rows: list[list[Any]] = []
        for n in range(args.repeat):
            app = change_app(catalog, index=n * 7919, round_=n)
            run = asyncio.run(timed_syncs(data_dir, None, 1))[0]
            changed.append(run)
            r = run.report
            ok = r.updated == 1 and r.added == 0 and r.removed == 0 and run.parsed == 1
            changed_rows.append(
                [
                    n + 1,
                    app.id,
                    ms(run.seconds),
                    r.added,
                    r.updated,
                    r.removed,
                    run.parsed,
                    check(ok, f"one-change run {n + 1}: {r} parsed={run.parsed}", failures),
                ]
            )
        print(
            table(
                changed_rows,
                ["run", "app", "time", "added", "updated", "removed", "parsed", "check"],
            )
        )
        changed_s = median([run.seconds for run in changed])
        print(
            f"one-change sync {ms(changed_s)} (median); files parsed: "
            f"{changed[-1].parsed}; one-change/full = {changed_s / full_s * 100:.2f}%"
        )
        print(
            "  phases (median): "
            + ", ".join(
                f"{label.strip()} {ms(seconds)}" for label, seconds in phase_medians(changed)
            )
        )

        print()
        print("Summary (ratios; the absolute times above are for context only)")
        print(
            table(
                [
                    ["full / lower bound", f"{ratio:.2f}x", f"<= {args.max_ratio}x"],
                    ["resync / full", f"{resync_s / full_s * 100:.2f}%", "< 2%"],
                    ["one-change / full", f"{changed_s / full_s * 100:.2f}%", "-"],
                    ["files parsed on one change", str(changed[-1].parsed), "1"],
                ],
                ["figure", "value", "target"],
            )
        )
    if failures:
        print("\nCHECKS FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
