"""Schemathesis against the OpenAPI document (tests/fuzz/fuzz_api.py), run in a
network namespace of its own so that no fuzzed repo URL or server address can
reach a network: inside it even loopback is down, and the app is called in
process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.services import unavailable

ROOT = Path(__file__).resolve().parents[2]
FUZZ = ROOT / "tests" / "fuzz" / "fuzz_api.py"


def _can_unshare_network() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


def test_schemathesis_finds_no_error_and_no_answer_unlike_the_document() -> None:
    if not _can_unshare_network():
        unavailable("fuzzing the API needs `unshare -n` (util-linux, as root): none here")
    command = ["unshare", "-n", "--", sys.executable, "-m", "pytest", "-q",
               "-p", "no:cacheprovider", str(FUZZ)]  # fmt: skip
    env = {**os.environ, "FUZZ_EXAMPLES": os.environ.get("FUZZ_EXAMPLES", "15")}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-30000:] + done.stderr[-5000:]
