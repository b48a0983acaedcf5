"""Formats benchmark: sync of a catalog in each other store's format vs git clone + parse.

Run from the project root:  .venv/bin/python -m benchmarks.bench_formats [--apps N]

A seeded generator writes the same N apps as a CasaOS, Runtipi, Umbrel and
Portainer catalog, each laid out as that store publishes it (see
benchmarks/README.md). Every figure is a ratio against a lower bound measured
in this same run; absolute times are shown only for context.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchmarks.bench_sync import (
    REPO_NAME,
    LowerBound,
    SyncRun,
    check,
    lower_bound,
    phase_medians,
    settings_for,
    timed_syncs,
)
from benchmarks.common import (
    CATEGORIES,
    Vocabulary,
    commit_all,
    git,
    median,
    ms,
    new_app_name,
    secs,
    table,
    timer,
)
from tomo.config import Settings
from tomo.errors import SyncFailed
from tomo.marketplace.schemas import RepoCreate, SyncReport
from tomo.runtime import open_runtime

TARGET = 1.5
LIMIT_VARIABLE = "TOMO_MAX_DEFINITION_BYTES"
DEFAULT_LIMIT: int = Settings.model_fields["max_definition_bytes"].default

# -- The apps, as every store would describe them ---------------------------------------

WEB_PORTS = (80, 3000, 5000, 8000, 8080, 8096, 8443, 9000)
APP_PATHS = ("/config", "/data", "/cache", "/media", "/downloads", "/backups", "/library")
ARCHES = ("amd64", "arm64", "arm")
# Environment variables of the main service besides TZ (and PUID/PGID), by kind.
EXTRA_ENV = {
    "ADMIN_EMAIL": "email",
    "BASE_URL": "url",
    "LOG_LEVEL": "fixed",
    "SECRET_KEY": "secret",
    "SMTP_HOST": "fixed",
    "UMASK": "fixed",
}
FIXED_VALUES = {"LOG_LEVEL": "info", "SMTP_HOST": "smtp.example.org", "UMASK": "022"}
DATABASES = (("postgres:16.4", "POSTGRES", "/var/lib/postgresql/data", "pg_isready -U {id}"),
             ("mariadb:11.4", "MARIADB", "/var/lib/mysql",
              "healthcheck.sh --connect --innodb_initialized"))  # fmt: skip
CACHES = (("redis:7.4-alpine", "redis-cli ping"), ("valkey/valkey:8.0", "valkey-cli ping"))


@dataclass(frozen=True)
class Port:
    host: int
    container: int
    protocol: str = "tcp"


@dataclass(frozen=True)
class Env:
    """One variable; `kind` says what it is, and so how each store writes its value:
    tz, puid, pgid (every store's own), password (the database's, shared by app and db),
    secret, email, url (the app's own address), db_host, redis_url, fixed (`value`)."""

    name: str
    kind: str
    value: str = ""


@dataclass(frozen=True)
class Service:
    role: str  # app, db or cache
    image: str
    ports: tuple[Port, ...] = ()
    paths: tuple[str, ...] = ()  # container paths, each kept under the app's data directory
    env: tuple[Env, ...] = ()
    healthcheck: str = ""  # a shell command; "": none
    depends_on: tuple[tuple[str, str], ...] = ()  # (role, condition)


@dataclass(frozen=True)
class App:
    id: str
    name: str
    tagline: str
    description: str
    version: str
    category: str
    tags: tuple[str, ...]
    author: str
    arches: tuple[str, ...]
    services: tuple[Service, ...]  # the main one first

    @property
    def main(self) -> Service:
        return self.services[0]

    @property
    def web(self) -> Port:
        return self.main.ports[0]

    @property
    def folder(self) -> str:
        """CasaOS names app folders like the app: `Apps/GovoLido`."""
        return "".join(part.capitalize() for part in self.id.split("-"))

    @property
    def prefix(self) -> str:
        """The app's own variable prefix (Runtipi's form fields): GOVO_LIDO."""
        return self.id.upper().replace("-", "_")


def make_apps(count: int, *, seed: int = 3) -> list[App]:
    """`count` apps; about a third have a database, and half of those a cache too."""
    rng = random.Random(seed)
    vocab = Vocabulary.build()
    taken: set[str] = set()
    return [_new_app(rng, vocab, taken) for _ in range(count)]


def _new_app(rng: random.Random, vocab: Vocabulary, taken: set[str]) -> App:
    app_id, name = new_app_name(rng, vocab, taken)
    version = f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
    author = " ".join(w.capitalize() for w in rng.sample(vocab.words[:2000], 2))
    db = rng.choice(DATABASES) if rng.random() < 1 / 3 else None
    cache = rng.choice(CACHES) if db and rng.random() < 0.5 else None
    services = [_main_service(rng, app_id, author, version, db is not None, cache is not None)]
    if db:
        image, env, path, probe = db
        services.append(Service("db", image, paths=(path,), healthcheck=probe.format(id=app_id),
                                env=(Env(f"{env}_USER", "fixed", app_id),
                                     Env(f"{env}_PASSWORD", "password"),
                                     Env(f"{env}_DB", "fixed", app_id))))  # fmt: skip
    if cache:
        services.append(Service("cache", cache[0], paths=("/data",), healthcheck=cache[1]))
    return App(
        id=app_id, name=name,
        tagline=" ".join(vocab.sentence(rng, rng.randint(4, 8))).capitalize(),
        description=" ".join(vocab.sentence(rng, rng.randint(20, 60))).capitalize() + ".",
        version=version, category=rng.choice(CATEGORIES),
        tags=tuple(vocab.pick_tags(rng, rng.randint(1, 4))), author=author,
        arches=tuple(sorted(rng.sample(ARCHES, rng.randint(1, 3)))), services=tuple(services),
    )  # fmt: skip


def _main_service(rng: random.Random, app_id: str, author: str, version: str, db: bool,
                  cache: bool) -> Service:  # fmt: skip
    web = Port(rng.randint(1024, 49151), rng.choice(WEB_PORTS))
    ports = [web]
    if rng.random() < 0.3:
        other = rng.randint(1024, 49151)
        ports.append(Port(other, other, rng.choice(("tcp", "udp"))))
    env = [Env("TZ", "tz")]
    if rng.random() < 0.5:
        env += [Env("PUID", "puid"), Env("PGID", "pgid")]
    for name in rng.sample(sorted(EXTRA_ENV), rng.randint(0, 3)):
        env.append(Env(name, EXTRA_ENV[name], FIXED_VALUES.get(name, "")))
    depends: list[tuple[str, str]] = []
    if db:
        env += [Env("DB_HOST", "db_host"), Env("DB_USER", "fixed", app_id),
                Env("DB_PASSWORD", "password")]  # fmt: skip
        depends.append(("db", "service_healthy"))
    if cache:
        env.append(Env("REDIS_URL", "redis_url"))
        depends.append(("cache", "service_started"))
    probe = f"wget -qO- http://localhost:{web.container}/ || exit 1" if rng.random() < 0.6 else ""
    owner = author.lower().replace(" ", "")
    return Service("app", f"ghcr.io/{owner}/{app_id}:{version}", tuple(ports),
                   tuple(rng.sample(APP_PATHS, rng.randint(1, 3))), tuple(env), probe,
                   tuple(depends))  # fmt: skip


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _depends(depends_on: Iterable[tuple[str, str]], name: Callable[[str], str]) -> dict[str, Any]:
    return {name(role): {"condition": condition} for role, condition in depends_on}


def _healthcheck(test: str) -> dict[str, Any]:
    return {"test": ["CMD-SHELL", test], "interval": "30s", "timeout": "5s", "retries": 3}


def _yaml(doc: Any) -> str:
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=88)


# -- CasaOS: Apps/<Name>/docker-compose.yml with x-casaos ------------------------------


def write_casaos(root: Path, apps: list[App]) -> None:
    for app in apps:
        folder = root / "Apps" / app.folder
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(_yaml(casaos_compose(app)))


def casaos_compose(app: App) -> dict[str, Any]:
    def name(role: str) -> str:
        return app.id if role == "app" else role

    services = {name(s.role): _casaos_service(app, s, name) for s in app.services}
    cdn = f"https://cdn.jsdelivr.net/gh/IceWhaleTech/CasaOS-AppStore@main/Apps/{app.folder}"
    meta: dict[str, Any] = {
        "architectures": list(app.arches), "main": app.id, "author": "CasaOS Team",
        "category": app.category.replace("-", " ").title(),
        "description": {"en_us": app.description}, "developer": app.author,
        "icon": f"{cdn}/icon.png",
        "screenshot_link": [f"{cdn}/screenshot-{n}.png" for n in (1, 2, 3)],
        "tagline": {"en_us": app.tagline}, "thumbnail": "", "title": {"en_us": app.name},
        "index": "/", "port_map": str(app.web.host), "scheme": "http",
    }  # fmt: skip
    if any(env.kind == "password" for env in app.main.env):
        meta["tips"] = {"before_install": {"en_us": "Log in as admin with the default password."}}
    return {"name": app.id, "services": services, "x-casaos": meta}


def _casaos_service(app: App, service: Service, name: Callable[[str], str]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "image": service.image,
        "container_name": app.id if service.role == "app" else f"{app.id}-{service.role}",
        "restart": "unless-stopped",
        "environment": {env.name: _casaos_value(app, env) for env in service.env},
    }
    if service.ports:
        result["ports"] = [{"target": p.container, "published": str(p.host), "protocol": p.protocol}
                           for p in service.ports]  # fmt: skip
    result["volumes"] = [{"type": "bind", "source": f"/DATA/AppData/$AppID/{_basename(path)}",
                          "target": path} for path in service.paths]  # fmt: skip
    if service.healthcheck:
        result["healthcheck"] = _healthcheck(service.healthcheck)
    if service.depends_on:
        result["depends_on"] = _depends(service.depends_on, name)
    result["x-casaos"] = {
        "envs": [{"container": env.name, "description": {"en_us": f"The {env.name.lower()}"}}
                 for env in service.env],
        "ports": [{"container": str(p.container), "description": {"en_us": "WebUI port"}}
                  for p in service.ports],
        "volumes": [{"container": path, "description": {"en_us": f"{_basename(path)} directory"}}
                    for path in service.paths],
    }  # fmt: skip
    return result


def _casaos_value(app: App, env: Env) -> str:
    return {
        "tz": "$TZ", "puid": "$PUID", "pgid": "${PGID}", "password": "$DefaultPassword",
        "secret": "${SECRET_KEY:-change-me}", "email": "${ADMIN_EMAIL:-admin@example.com}",
        "url": f"http://casaos.local:{app.web.host}", "db_host": f"{app.id}-db",
        "redis_url": f"redis://{app.id}-cache:6379",
    }.get(env.kind, env.value)  # fmt: skip


# -- Runtipi: apps/<id>/config.json + docker-compose.json (or .yml) ----------------------


def write_runtipi(root: Path, apps: list[App]) -> None:
    rng = random.Random(11)
    for app in apps:
        folder = root / "apps" / app.id
        folder.mkdir(parents=True)
        dynamic = rng.random() < 0.85  # the rest keep the older plain compose file
        (folder / "config.json").write_text(json.dumps(runtipi_config(app, dynamic), indent=2))
        if dynamic:
            compose = json.dumps(runtipi_dynamic(app), indent=2)
            (folder / "docker-compose.json").write_text(compose)
        else:
            (folder / "docker-compose.yml").write_text(_yaml(runtipi_plain(app)))


def runtipi_config(app: App, dynamic: bool) -> dict[str, Any]:
    # One field per variable: the app and its database share the database's password.
    fields = {f["env_variable"]: f for s in app.services for e in s.env
              if (f := _runtipi_field(app, e))}  # fmt: skip
    return {
        "$schema": "../schema/app-info.json", "name": app.name, "id": app.id, "available": True,
        "short_desc": app.tagline, "author": app.author, "port": app.web.host,
        "categories": [app.category], "description": app.description, "tipi_version": 1,
        "version": app.version, "source": f"https://github.com/{app.id}/{app.id}",
        "website": f"https://{app.id}.example.org", "exposable": True, "dynamic_config": dynamic,
        "supported_architectures": list(app.arches), "form_fields": list(fields.values()),
        "created_at": 1700000000000, "updated_at": 1710000000000,
    }  # fmt: skip


def _runtipi_field(app: App, env: Env) -> dict[str, Any]:
    """The form field whose variable Runtipi writes for this one ({} when none)."""
    if env.kind == "password":
        return {"type": "random", "label": "Database password", "min": 32,
                "env_variable": f"{app.prefix}_DB_PASSWORD"}  # fmt: skip
    if env.kind == "secret":
        return {"type": "random", "label": "Secret key", "min": 32, "encoding": "base64",
                "env_variable": f"{app.prefix}_SECRET_KEY"}  # fmt: skip
    if env.kind == "email":
        return {"type": "email", "label": "Admin email", "required": True,
                "env_variable": f"{app.prefix}_ADMIN_EMAIL"}  # fmt: skip
    return {}


def _runtipi_value(app: App, env: Env) -> str:
    field = _runtipi_field(app, env)
    if field:
        return f"${{{field['env_variable']}}}"
    return {
        "tz": "${TZ}", "puid": "${PUID:-1000}", "pgid": "${PGID:-1000}",
        "url": "${APP_PROTOCOL:-http}://${APP_DOMAIN}", "db_host": f"{app.id}-db",
        "redis_url": f"redis://{app.id}-cache:6379",
    }.get(env.kind, env.value)  # fmt: skip


def _runtipi_name(app: App) -> Callable[[str], str]:
    return lambda role: app.id if role == "app" else f"{app.id}-{role}"


def runtipi_dynamic(app: App) -> dict[str, Any]:
    name = _runtipi_name(app)
    services = []
    for service in app.services:
        entry: dict[str, Any] = {"name": name(service.role), "image": service.image}
        if service.role == "app":
            entry.update(isMain=True, internalPort=app.web.container)
            entry["addPorts"] = [{"containerPort": p.container, "hostPort": p.host,
                                  p.protocol: True} for p in service.ports[1:]]  # fmt: skip
        entry["environment"] = [{"key": env.name, "value": _runtipi_value(app, env)}
                                for env in service.env]  # fmt: skip
        entry["volumes"] = [{"hostPath": f"${{APP_DATA_DIR}}/data/{_basename(path)}",
                             "containerPath": path} for path in service.paths]  # fmt: skip
        if service.healthcheck:
            entry["healthCheck"] = {"test": service.healthcheck, "interval": "30s",
                                    "timeout": "5s", "retries": 3}  # fmt: skip
        if service.depends_on:
            entry["dependsOn"] = _depends(service.depends_on, name)
        services.append(entry)
    return {"$schema": "../dynamic-compose-schema.json", "schemaVersion": 2, "services": services}


def runtipi_plain(app: App) -> dict[str, Any]:
    name = _runtipi_name(app)
    services: dict[str, Any] = {}
    for service in app.services:
        entry: dict[str, Any] = {"image": service.image, "container_name": name(service.role),
                                 "restart": "unless-stopped"}  # fmt: skip
        if service.role == "app":
            entry["ports"] = [f"${{APP_PORT}}:{app.web.container}"] + [
                f"{p.host}:{p.container}/{p.protocol}" for p in service.ports[1:]
            ]
        entry["volumes"] = [f"${{APP_DATA_DIR}}/data/{_basename(path)}:{path}"
                            for path in service.paths]  # fmt: skip
        entry["environment"] = [f"{env.name}={_runtipi_value(app, env)}" for env in service.env]
        if service.healthcheck:
            entry["healthcheck"] = _healthcheck(service.healthcheck)
        if service.depends_on:
            entry["depends_on"] = _depends(service.depends_on, name)
        entry["networks"] = ["tipi_main_network"]
        if service.role == "app":
            entry["labels"] = {"traefik.enable": True, f"traefik.http.routers.{app.id}.rule":
                               "Host(`${APP_DOMAIN}`)"}  # fmt: skip
        services[name(service.role)] = entry
    networks = {"tipi_main_network": {"name": "runtipi_tipi_main_network", "external": True}}
    return {"version": "3.7", "services": services, "networks": networks}


# -- Umbrel: <id>/umbrel-app.yml + <id>/docker-compose.yml with app_proxy ------------------


def write_umbrel(root: Path, apps: list[App]) -> None:
    for app in apps:
        folder = root / app.id
        folder.mkdir()
        (folder / "umbrel-app.yml").write_text(_yaml(umbrel_manifest(app)))
        (folder / "docker-compose.yml").write_text(_yaml(umbrel_compose(app)))


def umbrel_manifest(app: App) -> dict[str, Any]:
    return {
        "manifestVersion": 1, "id": app.id, "category": app.category, "name": app.name,
        "version": app.version, "tagline": app.tagline, "description": app.description,
        "releaseNotes": "", "developer": app.author, "website": f"https://{app.id}.example.org",
        "dependencies": [], "repo": f"https://github.com/{app.id}/{app.id}",
        "support": f"https://github.com/{app.id}/{app.id}/issues", "port": app.web.host,
        "gallery": ["1.jpg", "2.jpg", "3.jpg"], "path": "", "defaultUsername": "",
        "defaultPassword": "", "submitter": app.author, "submission": "https://github.com/x/1",
    }  # fmt: skip


def umbrel_compose(app: App) -> dict[str, Any]:
    services: dict[str, Any] = {"app_proxy": {"environment": {
        "APP_HOST": f"{app.id}_web_1", "APP_PORT": app.web.container,
    }}}  # fmt: skip
    names = {"app": "web", "db": "db", "cache": "redis"}
    for service in app.services:
        entry: dict[str, Any] = {"image": service.image, "restart": "on-failure",
                                 "stop_grace_period": "1m"}  # fmt: skip
        if service.ports[1:]:
            entry["ports"] = [f"{p.host}:{p.container}/{p.protocol}" for p in service.ports[1:]]
        entry["volumes"] = [f"${{APP_DATA_DIR}}/data/{_basename(path)}:{path}"
                            for path in service.paths]  # fmt: skip
        entry["environment"] = {env.name: _umbrel_value(app, env) for env in service.env}
        if service.healthcheck:
            entry["healthcheck"] = _healthcheck(service.healthcheck)
        if service.depends_on:
            entry["depends_on"] = [names[role] for role, _ in service.depends_on]
        services[names[service.role]] = entry
    return {"version": "3.7", "services": services}


def _umbrel_value(app: App, env: Env) -> str:
    return {
        "tz": "${TZ:-Etc/UTC}", "puid": "1000", "pgid": "1000", "password": "${APP_PASSWORD}",
        "secret": "${APP_SEED}", "email": "admin@umbrel.local",
        "url": f"http://${{DEVICE_DOMAIN_NAME}}:{app.web.host}", "db_host": f"{app.id}_db_1",
        "redis_url": f"redis://{app.id}_redis_1:6379",
    }.get(env.kind, env.value)  # fmt: skip


# -- Portainer: templates.json (version 2), stacks/<id>/docker-compose.yml ----------------


def write_portainer(root: Path, apps: list[App]) -> None:
    templates = []
    for app in apps:
        if len(app.services) == 1:
            templates.append(portainer_container(app))
            continue
        templates.append(portainer_stack(app))
        folder = root / "stacks" / app.id
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(_yaml(portainer_compose(app)))
    catalog = {"version": "2", "templates": templates}
    (root / "templates.json").write_text(json.dumps(catalog, indent=2))


def _portainer_common(app: App) -> dict[str, Any]:
    return {
        "title": app.name, "name": app.id, "description": app.tagline,
        "note": f"<p>{app.description}</p>", "categories": [app.category.title(), *app.tags[:1]],
        "platform": "linux", "logo": f"https://portainer-io-assets.example.org/{app.id}.png",
    }  # fmt: skip


def portainer_container(app: App) -> dict[str, Any]:
    main = app.main
    volumes = [{"container": path, "bind": f"/portainer/Files/AppData/{app.folder}/"
                f"{_basename(path)}"} if n % 2 == 0 else {"container": path}
               for n, path in enumerate(main.paths)]  # fmt: skip
    return {
        "type": 1, **_portainer_common(app), "image": main.image,
        "ports": [f"{p.host}:{p.container}/{p.protocol}" for p in main.ports],
        "volumes": volumes, "env": [_portainer_env(app, env) for env in main.env],
        "restart_policy": "unless-stopped",
    }  # fmt: skip


def _portainer_env(app: App, env: Env) -> dict[str, Any]:
    label = env.name.replace("_", " ").capitalize()
    if env.kind in ("password", "secret"):
        return {"name": env.name, "label": label}
    default = {
        "tz": "Europe/London", "puid": "1000", "pgid": "1000", "email": "admin@example.com",
        "url": f"http://localhost:{app.web.host}", "db_host": "db",
        "redis_url": "redis://cache:6379",
    }.get(env.kind)  # fmt: skip
    if default is None:
        return {"name": env.name, "label": label, "default": env.value, "preset": True}
    return {"name": env.name, "label": label, "default": default}


def portainer_stack(app: App) -> dict[str, Any]:
    """A stack of this repository; its compose file asks for ${TZ} and ${DB_PASSWORD}."""
    env = [{"name": "DB_PASSWORD", "label": "Database password"}]
    if any(e.kind == "tz" for e in app.main.env):
        env.insert(0, {"name": "TZ", "label": "Time zone", "default": "Europe/London"})
    return {
        "type": 3, **_portainer_common(app),
        "repository": {"url": "https://github.com/example/templates",
                       "stackfile": f"stacks/{app.id}/docker-compose.yml"},
        "env": env,
    }  # fmt: skip


def portainer_compose(app: App) -> dict[str, Any]:
    def value(env: Env) -> str:
        return {"tz": "${TZ}", "password": "${DB_PASSWORD}", "db_host": "db",
                "redis_url": "redis://cache:6379", "puid": "1000", "pgid": "1000",
                "url": f"http://localhost:{app.web.host}", "email": "admin@example.com",
                "secret": "${SECRET_KEY:-change-me}"}.get(env.kind, env.value)  # fmt: skip

    services: dict[str, Any] = {}
    names = {"app": app.id, "db": "db", "cache": "cache"}
    for service in app.services:
        entry: dict[str, Any] = {"image": service.image, "restart": "unless-stopped"}
        if service.ports:
            entry["ports"] = [f"{p.host}:{p.container}/{p.protocol}" for p in service.ports]
        entry["volumes"] = [f"{names[service.role]}_{_basename(p)}:{p}" for p in service.paths]
        entry["environment"] = {env.name: value(env) for env in service.env}
        if service.healthcheck:
            entry["healthcheck"] = _healthcheck(service.healthcheck)
        if service.depends_on:
            entry["depends_on"] = _depends(service.depends_on, names.__getitem__)
        services[names[service.role]] = entry
    volumes: dict[str, Any] = {
        f"{names[s.role]}_{_basename(p)}": {} for s in app.services for p in s.paths
    }
    return {"services": services, "volumes": volumes}


# -- Which files each store's apps are read from ------------------------------------------


@dataclass(frozen=True)
class Store:
    name: str  # tomo's format name
    title: str
    write: Callable[[Path, list[App]], None]
    patterns: tuple[str, ...]  # every file tomo reads for the apps, as globs of the checkout

    def definition_files(self, root: Path) -> list[Path]:
        return sorted(path for pattern in self.patterns for path in root.glob(pattern))


STORES = (
    Store("casaos", "CasaOS", write_casaos, ("Apps/*/docker-compose.yml",)),
    Store("runtipi", "Runtipi", write_runtipi, ("apps/*/config.json", "apps/*/docker-compose.json",
                                                 "apps/*/docker-compose.yml")),
    Store("umbrel", "Umbrel", write_umbrel, ("*/umbrel-app.yml", "*/docker-compose.yml")),
    Store("portainer", "Portainer", write_portainer, ("templates.json",
                                                      "stacks/*/docker-compose.yml")),
)  # fmt: skip


@dataclass
class StoreRepo:
    store: Store
    path: Path
    files: int
    size: int  # bytes of the definition files
    largest: int  # bytes of the largest one
    generate_seconds: float
    commit_seconds: float

    @property
    def limit(self) -> int | None:
        """The per-file limit tomo needs to read every file, when the default is too small
        (a templates file holds every app): the largest file, rounded up to 64 KiB."""
        return None if self.largest <= DEFAULT_LIMIT else -(-self.largest // 65536) * 65536


def make_store_repo(store: Store, path: Path, apps: list[App]) -> StoreRepo:
    path.mkdir(parents=True)
    git("init", "--quiet", "-b", "main", str(path))
    with timer() as generating:
        store.write(path, apps)
    with timer() as committing:
        commit_all(path, f"{len(apps)} generated apps")
    sizes = [file.stat().st_size for file in store.definition_files(path)]
    return StoreRepo(store, path, len(sizes), sum(sizes), max(sizes), generating.seconds,
                     committing.seconds)  # fmt: skip


@contextmanager
def definition_limit(limit: int | None) -> Iterator[None]:
    """tomo's max_definition_bytes raised to `limit` (None: the default), for the
    runtimes of this process and the commands it starts."""
    if limit is not None:
        os.environ[LIMIT_VARIABLE] = str(limit)
    try:
        yield
    finally:
        os.environ.pop(LIMIT_VARIABLE, None)


# -- Measuring ----------------------------------------------------------------------------


@dataclass
class CliRun:
    seconds: float
    report: dict[str, Any]


def cli_repo_add(data_dir: Path, repo: Path) -> CliRun:
    """The whole command a user runs: `tomo repo add <path> --name x`, which syncs."""
    env = {**os.environ, "TOMO_ALLOW_LOCAL_REPOS": "1", "TOMO_BUILTIN_CATALOG": "false"}
    argv = [sys.executable, "-m", "tomo", "--data-dir", str(data_dir), "repo", "add",
            str(repo), "--name", "x", "--json"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"tomo repo add failed ({done.returncode}): {done.stderr[-2000:]}")
    return CliRun(seconds, json.loads(done.stdout))


@dataclass
class Measured:
    repo: StoreRepo
    lower: list[LowerBound] = field(default_factory=list)
    full: list[SyncRun] = field(default_factory=list)
    cli: list[CliRun] = field(default_factory=list)
    resync: list[SyncRun] = field(default_factory=list)

    @property
    def lower_s(self) -> float:
        return median([run.seconds for run in self.lower])

    @property
    def full_s(self) -> float:
        return median([run.seconds for run in self.full])

    @property
    def cli_s(self) -> float:
        return median([run.seconds for run in self.cli])

    @property
    def resync_s(self) -> float:
        return median([run.seconds for run in self.resync])

    @property
    def ratio(self) -> float:
        return self.full_s / self.lower_s


def measure(repo: StoreRepo, tmp: Path, repeat: int, failures: list[str]) -> Measured:
    """Lower bound, in-process full sync and the CLI command, alternating; then re-syncs."""
    result = Measured(repo)
    data_dir, cli_dir = tmp / "data", tmp / "cli-data"
    for n in range(repeat):
        result.lower.append(lower_bound(repo.path, tmp, repo.store.definition_files))
        shutil.rmtree(data_dir, ignore_errors=True)
        result.full += asyncio.run(timed_syncs(data_dir, repo.path, 1))
        shutil.rmtree(cli_dir, ignore_errors=True)
        result.cli.append(cli_repo_add(cli_dir, repo.path))
        low, full, cli = result.lower[-1], result.full[-1], result.cli[-1]
        print(f"  run {n + 1}: lower bound {secs(low.seconds)} (clone {secs(low.clone)} + parse "
              f"{secs(low.parse)}), full sync {secs(full.seconds)}, "
              f"repo add command {secs(cli.seconds)}")  # fmt: skip
        if low.files != repo.files:
            failures.append(f"{repo.store.name}: lower bound read {low.files} files, not "
                            f"{repo.files}")  # fmt: skip
    shutil.rmtree(cli_dir, ignore_errors=True)
    result.resync = asyncio.run(timed_syncs(data_dir, None, repeat))
    return result


def print_measured(result: Measured, apps: int, failures: list[str]) -> None:
    lower, full = result.lower, result.full
    rows: list[list[Any]] = [
        ["lower bound", secs(result.lower_s), "1.00x"],
        ["  git clone --depth 1", secs(median([r.clone for r in lower])), ""],
        [f"  parse {result.repo.files} files (CSafeLoader / json)",
         secs(median([r.parse for r in lower])), ""],
        ["tomo full sync (in-process)", secs(result.full_s), f"{result.ratio:.2f}x"],
    ]  # fmt: skip
    rows += [[label, secs(seconds), ""] for label, seconds in phase_medians(full)]
    rows.append(["tomo repo add (whole command)", secs(result.cli_s),
                 f"{result.cli_s / result.lower_s:.2f}x"])  # fmt: skip
    print(table(rows, ["step (median of runs)", "time", "vs lower"]))
    verdict = "met" if result.ratio <= TARGET else "NOT met"
    print(f"full/lower = {result.ratio:.2f}  (target <= {TARGET}: {verdict}); "
          f"command/lower = {result.cli_s / result.lower_s:.2f}")  # fmt: skip
    report = full[-1].report
    ok = report.app_count == apps and report.added == apps and not report.errors
    print(
        f"report: {report.format} catalog, {report.app_count} apps, added {report.added}, "
        f"{len(report.errors)} errors, {len(report.warnings)} apps with warnings, "
        f"{full[-1].parsed} apps parsed "
        f"[{check(ok, f'{result.repo.store.name}: full sync report is wrong', failures)}]"
    )
    statuses = {run.report.status for run in result.resync}
    resync_ok = statuses == {"unchanged"}
    print(
        f"re-sync, no new commit: {ms(result.resync_s)} "
        f"({result.resync_s / result.full_s * 100:.2f}% of the full sync), status "
        f"{sorted(statuses)} [{check(resync_ok, f'{report.format}: re-sync', failures)}]"
    )


# -- Checking the generated catalogs, profiling ------------------------------------------------


async def first_sync(data_dir: Path, repo: Path) -> SyncReport:
    async with open_runtime(settings_for(data_dir)) as runtime:
        await runtime.marketplace.add_repo(RepoCreate(url=str(repo), name=REPO_NAME))
        return await runtime.marketplace.sync_repo(REPO_NAME)


def check_catalog(repo: StoreRepo, tmp: Path, apps: int) -> list[str]:
    """What is wrong with a sync of the generated repo ([] when it stores every app).
    A file over tomo's default size limit is shown failing with it, then checked with
    the limit `repo.limit` that every timed run of this format uses."""
    data_dir = tmp / f"check-{repo.store.name}"
    if repo.limit is not None:
        try:
            asyncio.run(first_sync(data_dir, repo.path))
            print(f"  {repo.store.title}: synced with the default limit")
        except SyncFailed as exc:
            print(f"  {repo.store.title}, default max_definition_bytes ({DEFAULT_LIMIT}): "
                  f"the sync fails: {exc.message}")  # fmt: skip
        shutil.rmtree(data_dir)
        print(f"  {repo.store.title}: checked and measured with {LIMIT_VARIABLE}={repo.limit}")
    with definition_limit(repo.limit):
        report = asyncio.run(first_sync(data_dir, repo.path))
    shutil.rmtree(data_dir)
    problems = [f"{repo.store.name}: {e.path}: {e.message}" for e in report.errors[:10]]
    if report.format != repo.store.name:
        problems.append(f"{repo.store.name}: detected as {report.format}")
    if report.app_count != apps or report.added != apps:
        problems.append(f"{repo.store.name}: {report.app_count} apps stored, not {apps}")
    print(
        f"  {repo.store.title}: {report.app_count} apps, {len(report.errors)} errors, "
        f"{len(report.warnings)} apps with warnings [{'ok' if not problems else 'FAILED'}]"
    )
    return problems


async def profiled_sync(data_dir: Path, repo: Path) -> cProfile.Profile:
    profiler = cProfile.Profile()
    async with open_runtime(settings_for(data_dir)) as runtime:
        await runtime.marketplace.add_repo(RepoCreate(url=str(repo), name=REPO_NAME))
        profiler.enable()
        await runtime.marketplace.sync_repo(REPO_NAME)
        profiler.disable()
    return profiler


def print_profile(repo: StoreRepo, tmp: Path) -> None:
    data_dir = tmp / f"profile-{repo.store.name}"
    profiler = asyncio.run(profiled_sync(data_dir, repo.path))
    shutil.rmtree(data_dir)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(15)
    print(
        f"\n{repo.store.title}: cProfile of one full sync (top 15, cumulative; git and "
        "SQLite run in other processes and threads, seen here as waiting)"
    )
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=1000, help="apps in each catalog")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed step")
    parser.add_argument("--formats", nargs="+", choices=[s.name for s in STORES],
                        default=[s.name for s in STORES])  # fmt: skip
    parser.add_argument("--profile", action="store_true",
                        help="profile the sync of each format that misses the target")  # fmt: skip
    args = parser.parse_args(argv)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tomo-bench-formats-") as tmp_name:
        tmp = Path(tmp_name)
        print(f"tomo formats benchmark: {args.apps} apps per catalog, {args.repeat} runs per step")
        print(f"python {sys.version.split()[0]}, yaml CSafeLoader, data in {tmp}")
        apps = make_apps(args.apps)
        shapes = [len(app.services) for app in apps]
        print(f"apps: {shapes.count(1)} of 1 service, {shapes.count(2)} of 2, "
              f"{shapes.count(3)} of 3")  # fmt: skip
        repos = []
        for store in (s for s in STORES if s.name in args.formats):
            repo = make_store_repo(store, tmp / store.name, apps)
            repos.append(repo)
            print(f"setup {store.title}: {repo.files} definition files "
                  f"({repo.size / 1e6:.2f} MB, largest {repo.largest / 1e3:.0f} kB) written in "
                  f"{secs(repo.generate_seconds)}, git add+commit in "
                  f"{secs(repo.commit_seconds)}")  # fmt: skip
        print("\nChecking that a sync stores every generated app")
        problems = [p for repo in repos for p in check_catalog(repo, tmp, args.apps)]
        if problems:
            print("\nGENERATED CATALOGS ARE NOT VALID:\n  " + "\n  ".join(problems))
            return 1
        results = []
        for repo in repos:
            print(f"\n{repo.store.title} ({repo.store.name}): lower bound (git clone --depth 1 + "
                  "parse every definition file), tomo full sync, tomo repo add")  # fmt: skip
            with definition_limit(repo.limit):
                results.append(measure(repo, tmp, args.repeat, failures))
            print_measured(results[-1], args.apps, failures)
        print_summary(results)
        if args.profile:
            for result in results:
                if result.ratio > TARGET:
                    with definition_limit(result.repo.limit):
                        print_profile(result.repo, tmp)
    if failures:
        print("\nCHECKS FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


def print_summary(results: list[Measured]) -> None:
    print("\nSummary (ratios; the absolute times above are for context only)")
    rows = [
        [r.repo.store.title, r.repo.files, secs(r.lower_s), secs(r.full_s), f"{r.ratio:.2f}x",
         "met" if r.ratio <= TARGET else "NOT met", f"{r.cli_s / r.lower_s:.2f}x",
         f"{r.resync_s / r.full_s * 100:.2f}%"]
        for r in results
    ]  # fmt: skip
    headers = ["format", "files", "lower", "full sync", "full/lower", f"<= {TARGET}x",
               "command/lower", "resync/full"]  # fmt: skip
    print(table(rows, headers))


if __name__ == "__main__":
    sys.exit(main())
