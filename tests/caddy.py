"""A Caddy image built from Debian's caddy binary, pushed to the test registry: the
front door's image for the proxy tests and benchmarks/bench_proxy.py (no internet)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from tests.registry import Registry
from tests.services import unavailable

CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# `ldd` lines: "libzstd.so.1 => /lib/x86_64-linux-gnu/libzstd.so.1 (0x…)" and
# "/lib64/ld-linux-x86-64.so.2 (0x…)"; the vDSO has no file.
_LIBRARY = re.compile(r"(?:=>\s*)?(/\S+)\s+\(0x[0-9a-f]+\)")


def caddy_binary() -> Path:
    """Debian's caddy, installed here when missing (and when this may install)."""
    found = shutil.which("caddy")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "caddy"],
                       capture_output=True, check=False, timeout=600,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
        found = shutil.which("caddy")
    if found is None:
        unavailable("caddy is not installed and could not be (apt-get install caddy)")
    return Path(found)


def caddy_archive(binary: Path) -> bytes:
    """A root filesystem: the binary, the libraries ldd lists, the CA bundle, /data."""
    listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
    libraries = _LIBRARY.findall(listed.stdout)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(binary.resolve(), arcname="usr/bin/caddy")
        for library in libraries:  # the file itself under the name the loader asks for
            tar.add(Path(library).resolve(), arcname=library.lstrip("/"))
        tar.add(CA_BUNDLE.resolve(), arcname=str(CA_BUNDLE).lstrip("/"))
        for directory in ("data", "tmp"):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(entry)
    return archive.getvalue()


def push_caddy_image(registry: Registry) -> str:
    """Debian's Caddy as an image in the registry (a server pulls it, as it would pull
    caddy:2), removed from the local engine so that it really does; its reference."""
    image = f"{registry.address}/tomo-test/caddy:2"
    changes = ["ENV PATH=/usr/bin:/bin", 'CMD ["caddy", "run"]']
    options = [item for change in changes for item in ("--change", change)]
    subprocess.run(["docker", "import", *options, "-", image],
                   input=caddy_archive(caddy_binary()), check=True, capture_output=True)  # fmt: skip
    for args in (["push", image], ["rmi", image]):
        done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return image
