"""Where a test run's time went, by lane: the tests that need a server run one after
another in their lane (tests/lanes.py), so the slowest lane is the run's floor.

    .venv/bin/python scripts/lane_times.py JUNIT_XML [--write tests/lane_seconds.json]

Prints each lane's total (setup, call and teardown of its tests) and its slowest
files, and the same for the tests that may run anywhere. With --write, stores each
server test file's seconds where tests/lanes.py balances the lanes by them.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict

LANE = re.compile(r"@(server-\d+)$")  # xdist's group, at the end of a test's name
SHOWN = 5


def main(path: str, write: str | None = None) -> int:
    files: dict[str, Counter[str]] = defaultdict(Counter)
    report = ElementTree.parse(path)  # noqa: S314  pytest's own report of this run
    for case in report.iter("testcase"):
        found = LANE.search(case.get("name", ""))
        lane = found.group(1) if found else "anywhere"
        files[lane][case.get("classname", "?")] += float(case.get("time", 0))
    for lane, spent in sorted(files.items()):
        slowest = ", ".join(f"{name.rsplit('.', 1)[-1]} {seconds:.0f} s"
                            for name, seconds in spent.most_common(SHOWN))  # fmt: skip
        print(f"{lane}: {sum(spent.values()):.0f} s in {len(spent)} files; slowest: {slowest}")
    if write:
        seconds = {f"{name.replace('.', '/')}.py": round(spent_in, 1)
                   for lane, spent in files.items() if lane != "anywhere"
                   for name, spent_in in spent.items()}  # fmt: skip
        with open(write, "w") as out:
            json.dump(dict(sorted(seconds.items())), out, indent=1)
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[3] if sys.argv[2:3] == ["--write"] else None))
