"""A real image registry on loopback and small busybox images pushed to it.

Docker treats registries on 127.0.0.0/8 as insecure-allowed, so pushes and
pulls go over plain HTTP to 127.0.0.1:<port> with no internet at all.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.services import free_port, unavailable

BUSYBOX_APPLETS = ("sh", "httpd", "sleep", "echo", "cat", "env", "ls", "wget", "true")
# What tomo's helper runs (a restore's, tomo/deployment/data_swap.py; a Swarm node's
# jobs, tomo/deployment/swarm/nodes.py), as busybox:1.36 has them.
HELPER_APPLETS = ("sh", "find", "xargs", "mv", "rm", "mkdir", "stat", "chown", "chmod", "df",
                  "awk", "cat", "chroot")  # fmt: skip


@dataclass
class Registry:
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Registry:
        binary = shutil.which("docker-registry")
        if binary is None:
            unavailable("docker-registry is not installed (apt-get install docker-registry)")
            raise AssertionError
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.process = subprocess.Popen([binary, "serve", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"http://{self.address}/v2/", timeout=1),
            ):
                return self
            time.sleep(0.1)
        raise RuntimeError("the registry did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@dataclass(frozen=True)
class TestImages:
    __test__ = False  # a record of image names, not a class of tests

    web_v1: str  # httpd serving /www on port 80, page "web v1"
    web_v2: str  # the same, page "web v2"
    broken: str  # exits 3 at once, after a line on stderr
    crashy: str  # says "starting", runs 2 s, says "dying" on stderr and exits 4
    helper: str  # a shell and the tools a restore's helper runs (tomo's TOMO_HELPER_IMAGE)


@contextlib.contextmanager
def local_registry() -> Iterator[Registry]:
    root = Path(tempfile.mkdtemp(prefix="tomo-registry-"))
    registry = Registry(root, free_port()).start()
    try:
        yield registry
    finally:
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)


def push_test_images(registry: Registry) -> TestImages:
    busybox = Path("/bin/busybox")
    if not busybox.exists():
        unavailable("a static busybox is needed for test images (apt-get install busybox-static)")
    base = f"{registry.address}/tomo-test"
    images = TestImages(web_v1=f"{base}/web:1", web_v2=f"{base}/web:2",
                        broken=f"{base}/broken:1", crashy=f"{base}/crashy:1",
                        helper=f"{base}/helper:1")  # fmt: skip
    # A shell as PID 1 that ends on SIGTERM, as real images do: `docker stop` is quick.
    httpd = '["/bin/sh","-c","trap \'exit 0\' TERM; /bin/httpd -f -p 80 -h /www & wait"]'
    # The web images declare a VOLUME, as database images do: data tomo must carry over.
    _import(busybox, images.web_v1, "web v1", httpd, "VOLUME /store")
    _import(busybox, images.web_v2, "web v2", httpd, "VOLUME /store")
    _import(
        busybox, images.broken, "broken", '["/bin/sh","-c","echo broken on purpose >&2; exit 3"]'
    )
    _import(busybox, images.crashy, "crashy",
            '["/bin/sh","-c","echo starting; sleep 2; echo dying >&2; exit 4"]')  # fmt: skip
    _import(busybox, images.helper, "helper", '["/bin/sh"]', applets=HELPER_APPLETS)
    for image in (images.web_v1, images.web_v2, images.broken, images.crashy, images.helper):
        _docker("push", image)
        _docker("rmi", image)  # installs must really pull
    return images


def _import(
    busybox: Path, image: str, page: str, cmd: str, *changes: str,
    applets: tuple[str, ...] = BUSYBOX_APPLETS,
) -> None:  # fmt: skip
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        html = page.encode() + b"\n"
        info = tarfile.TarInfo("www/index.html")
        info.size = len(html)
        tar.addfile(info, io.BytesIO(html))
        for directory in ("tmp", "data", "config", "store"):
            entry = tarfile.TarInfo(directory)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o1777
            tar.addfile(entry)
    options = [item for change in (f"CMD {cmd}", *changes) for item in ("--change", change)]
    subprocess.run(["docker", "import", *options, "-", image],
                   input=archive.getvalue(), check=True, capture_output=True)  # fmt: skip


def _docker(*args: str) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"docker {args[0]} failed: {done.stderr.strip()}")
    return done.stdout
