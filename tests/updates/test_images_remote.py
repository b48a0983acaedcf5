"""`tomo outdated --check` on a laptop logged in to a served tomo: the check runs in
the served tomo (`POST /api/image-checks`), against the real sshd,
Docker engine and test registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.cli.tomo_cli import Laptop
from tests.deployment.test_api_end_to_end import PASSWORD, Served, served  # noqa: F401 - fixture
from tests.gitrepo import CatalogRepo, app_definition
from tests.services import free_port
from tests.sshd import Sshd, SshUsers
from tests.updates.registries import FloatingTag


def test_outdated_check_through_a_served_tomo_offers_the_new_image(
    served: Served, make_repo: Any, floating: FloatingTag, sshd: Sshd, ssh_users: SshUsers,  # noqa: F811
    data_root: Path, tmp_path: Path,
) -> None:  # fmt: skip
    floating.push(floating.images.web_v1)
    repo: CatalogRepo = make_repo()
    repo.write("apps/tools/web.yaml", yaml.safe_dump(app_definition("web", docker={
        "image": floating.reference, "ports": [{"container": 80, "host": free_port()}],
    })))  # fmt: skip
    repo.commit()
    laptop = Laptop(tmp_path / "home", tmp_path / "laptop")
    laptop.login(str(served.http.base_url), PASSWORD)
    laptop.json("repo", "add", repo.url, "--name", "test")
    laptop.json("server", "add", "box", "127.0.0.1", "--port", str(sshd.port), "--user",
                ssh_users.user, "--key", str(ssh_users.key), "--fingerprint", sshd.fingerprint,
                "--data-root", str(data_root))  # fmt: skip
    assert laptop.json("install", "test/web", "--server", "box")["installation"]["status"] == (
        "running")  # fmt: skip
    assert laptop.json("outdated", "--check") == []

    second = floating.push(floating.images.web_v2)
    listed = laptop.run("outdated", "--check")
    row = next(line for line in listed.stdout.splitlines() if " web " in line)
    assert "1.0.0 (new image)" in row, listed.stdout
    (shown,) = laptop.json("outdated")
    assert shown["update"]["images"] == [f"{floating.reference} has a new image ({second[:19]}…)"]
