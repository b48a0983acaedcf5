"""A real git repository of app definitions, built in a test's tmp_path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def app_definition(app_id: str, **overrides: Any) -> dict[str, Any]:
    """A valid definition in this project's format; overrides replace top-level keys."""
    definition: dict[str, Any] = {
        "id": app_id,
        "name": app_id.replace("-", " ").title(),
        "description": f"The {app_id} app for tests.",
        "version": "1.0.0",
        "tags": ["test"],
        "author": "Test Author",
        "docker": {
            "image": f"example/{app_id}:1.0.0",
            "ports": [{"container": 80, "host": 8080}],
            "volumes": [{"host_path": "./data", "container_path": "/data"}],
            "environment": [{"name": "TZ", "default": "UTC"}],
        },
    }
    definition.update(overrides)
    return definition


def app_yaml(app_id: str, **overrides: Any) -> str:
    return yaml.safe_dump(app_definition(app_id, **overrides), sort_keys=False)


class CatalogRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, path: Path, branch: str = "main") -> CatalogRepo:
        path.mkdir(parents=True)
        repo = cls(path)
        repo.git("init", "--quiet", f"--initial-branch={branch}")
        return repo

    @property
    def url(self) -> str:
        return str(self.path)

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=_ENV, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, relative: str, content: str | bytes) -> None:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)

    def add_app(self, app_id: str, category: str = "tools", **overrides: Any) -> str:
        relative = f"apps/{category}/{app_id}.yaml"
        self.write(relative, app_yaml(app_id, **overrides))
        return relative

    def symlink(self, relative: str, target: str) -> None:
        link = self.path / relative
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)

    def remove(self, relative: str) -> None:
        self.git("rm", "--quiet", "-r", relative)

    def commit(self, message: str = "change") -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")
