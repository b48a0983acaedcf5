import asyncio, tempfile, shutil, sys
from pathlib import Path
from benchmarks.common import make_catalog_repo, median
from benchmarks.bench_sync import lower_bound, timed_syncs
import tomo.marketplace.sync as s

orig = s.RepoSync._parse_changed
async def fixed(self, sources, previous):
    changed = [x for x in sources.values() if s._needs_parse(x, previous.get(x.path))]
    changed_paths = {x.path for x in changed}
    outcomes = {path: previous[path] for path in sources if path not in changed_paths}
    outcomes.update(await self._parse(changed))
    return outcomes

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
with tempfile.TemporaryDirectory() as d:
    tmp = Path(d)
    repo = make_catalog_repo(tmp / "cat", n)
    res = {"lower": [], "orig": [], "fixed": []}
    for i in range(3):
        res["lower"].append(lower_bound(repo.path, tmp)[0])
        for name, impl in (("orig", orig), ("fixed", fixed)):
            s.RepoSync._parse_changed = impl
            shutil.rmtree(tmp / "data", ignore_errors=True)
            res[name].append(asyncio.run(timed_syncs(tmp / "data", repo.path, 1))[0].seconds)
        print(i, {k: round(v[-1], 2) for k, v in res.items()})
    m = {k: median(v) for k, v in res.items()}
    print("medians", m, "orig/lower", m["orig"] / m["lower"], "fixed/lower", m["fixed"] / m["lower"])
