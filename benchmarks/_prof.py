import asyncio, tempfile, time, cProfile, pstats, subprocess, shutil
from pathlib import Path
import yaml
from benchmarks.common import make_catalog_repo, git_env
from tomo.config import Settings
from tomo.runtime import open_runtime
from tomo.marketplace.schemas import RepoCreate
import tomo.marketplace.git as g
import tomo.marketplace.sync as s

orig = g.run_git
async def run_git(argv, **kw):
    t=time.perf_counter()
    out = await orig(argv, **kw)
    verb = next(a for a in argv[1:] if not a.startswith("-") and "=" not in a)
    print(f"   git {verb}: {time.perf_counter()-t:.3f}s ({len(out)} bytes)")
    return out
g.run_git = run_git
for name in ["_write","_insert_apps","_write_sources","_previous_outcomes","_stored_apps","finish_repo","_insert_tags"]:
    f = getattr(s, name)
    def wrap(f=f, name=name):
        async def w(*a, **k):
            t=time.perf_counter(); r = await f(*a, **k); print(f"   {name}: {time.perf_counter()-t:.3f}s"); return r
        return w
    setattr(s, name, wrap())
op = s.RepoSync._parse
async def _parse(self, files):
    t=time.perf_counter(); r = await op(self, files); print(f"   _parse({len(files)}): {time.perf_counter()-t:.3f}s"); return r
s.RepoSync._parse = _parse

async def main(tmp, repo, prof):
    async with open_runtime(Settings(data_dir=tmp/"data", builtin_catalog=False)) as rt:
        await rt.marketplace.add_repo(RepoCreate(url=str(repo.path), name="bench"))
        t=time.perf_counter()
        if prof:
            pr = cProfile.Profile(); pr.enable()
        r = await rt.marketplace.sync_repo("bench")
        if prof:
            pr.disable(); pstats.Stats(pr).sort_stats("cumulative").print_stats(45)
        print("sync", time.perf_counter()-t, r.app_count)
import sys
with tempfile.TemporaryDirectory() as d:
    tmp=Path(d)
    repo = make_catalog_repo(tmp/"cat", 10000)
    t=time.perf_counter()
    subprocess.run(["git","clone","--depth","1","--quiet",f"file://{repo.path}",str(tmp/"cl")],env=git_env(),check=True)
    t1=time.perf_counter(); print("clone", t1-t)
    files = sorted((tmp/"cl"/"apps").glob("**/*.yaml"))
    texts=[p.read_text() for p in files]
    t2=time.perf_counter(); print("read", t2-t1)
    for x in texts: yaml.load(x, Loader=yaml.CSafeLoader)
    t3=time.perf_counter(); print("csafe parse", t3-t2)
    from tomo.marketplace.parse import parse_definition
    from tomo.marketplace.safe_yaml import load_yaml
    from tomo.marketplace.definition import AppDefinition
    bs=[x.encode() for x in texts]
    raws=[load_yaml(b, max_bytes=1<<20) for b in bs]
    t4=time.perf_counter(); print("tomo load_yaml", t4-t3)
    defs=[AppDefinition.model_validate(r) for r in raws]
    t5=time.perf_counter(); print("pydantic validate", t5-t4)
    from datetime import datetime, UTC
    now=datetime.now(UTC)
    rows=[s.app_row(dd, repo_id="x", path="p", blob="b", now=now) for dd in defs]
    t6=time.perf_counter(); print("app_row (dump+risks)", t6-t5)
    # bare fetch like tomo
    subprocess.run(["git","init","--bare","--quiet",str(tmp/"bare")],env=git_env(),check=True)
    t=time.perf_counter()
    subprocess.run(["git","-C",str(tmp/"bare"),"fetch","--depth=1","--no-tags","--quiet","--no-write-fetch-head","--",str(repo.path),"+refs/heads/main:refs/tomo/synced"],env=git_env(),check=True)
    print("bare fetch", time.perf_counter()-t)
    asyncio.run(main(tmp, repo, len(sys.argv)>1))
