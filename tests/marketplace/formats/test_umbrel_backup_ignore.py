"""Umbrel's `backupIgnore` becomes the definition's `backup.ignore`: globs relative to
the installation's data folder, where tomo puts what Umbrel keeps in the app's data
directory (`${APP_DATA_DIR}/x` and `./x` alike)."""

from __future__ import annotations

from tomo.marketplace.formats.base import Parsed
from tomo.marketplace.formats.umbrel import UmbrelFormat

from .catalogs import keyed, parse_source

MANIFEST = """manifestVersion: 1
id: keeper
name: Keeper
version: "1.0"
port: 5000
backupIgnore:
  - data/cache/*
  - ./logs
  - ${APP_DATA_DIR}/data/*.tmp
  - ../../etc/passwd
  - /etc
"""
# The app's data in folders of the data directory.
IN_FOLDERS = """services:
  app_proxy:
    environment:
      APP_HOST: keeper_web_1
      APP_PORT: 80
  web:
    image: example/web:1.0
    volumes:
      - ${APP_DATA_DIR}/data:/data
      - ./logs:/var/log/keeper
"""
# The data directory itself mounted: tomo keeps the app's data one level down.
WHOLE = """services:
  app_proxy:
    environment:
      APP_HOST: keeper_web_1
      APP_PORT: 80
  web:
    image: example/web:1.0
    volumes:
      - ${APP_DATA_DIR}:/srv
"""


def parse(manifest: str, compose: str) -> Parsed:
    files = {"keeper/umbrel-app.yml": manifest.encode(),
             "keeper/docker-compose.yml": compose.encode()}  # fmt: skip
    return parse_source(UmbrelFormat(), files, keyed("keeper/umbrel-app.yml"), max_bytes=65536)


def test_backup_ignore_is_relative_to_the_installations_data_folder() -> None:
    parsed = parse(MANIFEST, IN_FOLDERS)
    docker = parsed.definition.docker
    assert [v.host_path for v in docker.volumes] == ["./data", "./logs"]
    assert parsed.definition.backup.ignore == ["data/cache/*", "logs", "data/*.tmp"]
    assert parsed.definition.backup.dumps == []


def test_an_entry_outside_the_data_directory_is_dropped_with_a_warning() -> None:
    warnings = parse(MANIFEST, IN_FOLDERS).warnings
    assert ("backupIgnore: '../../etc/passwd' is not a path under the app's data directory, "
            "ignored") in warnings  # fmt: skip
    assert "backupIgnore: '/etc' is not a path under the app's data directory, ignored" in warnings


def test_an_app_mounting_its_whole_data_directory_has_its_ignores_moved_with_its_data() -> None:
    parsed = parse(MANIFEST, WHOLE)
    assert [v.host_path for v in parsed.definition.docker.volumes] == ["./data"]
    assert parsed.definition.backup.ignore == ["data/data/cache/*", "data/logs",
                                               "data/data/*.tmp"]  # fmt: skip


def test_no_backup_ignore_leaves_the_backup_section_empty() -> None:
    manifest = MANIFEST.split("backupIgnore:")[0]
    assert parse(manifest, IN_FOLDERS).definition.backup.ignore == []
