"""Umbrel app stores: a fixture catalog laid out as Umbrel stores publish it,
read through the format's entry points (detect, find_sources, parse)."""

from __future__ import annotations

import pytest

from tomo.errors import InvalidDefinition
from tomo.marketplace.formats.base import CatalogFormat, Parsed
from tomo.marketplace.formats.umbrel import UmbrelFormat, read_exports
from tomo.marketplace.formats.variables import DataDir

from .catalogs import fixture_tree, keyed, parse_source

CATALOG = fixture_tree("umbrel")
FORMAT = UmbrelFormat()
MAX_BYTES = 65536


def parse(key: str, files: dict[str, bytes] = CATALOG) -> Parsed:
    return parse_source(FORMAT, files, keyed(key), max_bytes=MAX_BYTES)


MANIFEST = """manifestVersion: 1
id: inline
name: Inline
version: "1.0"
port: 5000
"""
COMPOSE = """services:
  app_proxy:
    environment:
      APP_HOST: inline_web_1
      APP_PORT: 80
  web:
    image: example/web:1.0
"""


def parse_texts(manifest: str = MANIFEST, compose: str = COMPOSE, **more: str) -> Parsed:
    files = {"inline/umbrel-app.yml": manifest.encode(),
             "inline/docker-compose.yml": compose.encode(),
             **{f"inline/{name}": text.encode() for name, text in more.items()}}  # fmt: skip
    return parse("inline/umbrel-app.yml", files)


def test_meets_the_catalog_format_protocol() -> None:
    fmt: CatalogFormat = FORMAT
    assert (fmt.name, fmt.title) == ("umbrel", "Umbrel App Store")
    assert fmt.index_files(list(CATALOG)) == []


@pytest.mark.parametrize(
    ("paths", "detected"),
    [
        (list(CATALOG), True),
        (["umbrel-app-store.yml"], True),
        (["my-app/umbrel-app.yml", "my-app/docker-compose.yml"], True),
        (["umbrel-app.yml"], False),
        (["apps/my-app/umbrel-app.yml"], False),
        ([".github/umbrel-app.yml"], False),
        (["Apps/Foo/docker-compose.yml"], False),
        ([], False),
    ],
)
def test_detect(paths: list[str], detected: bool) -> None:
    assert FORMAT.detect(paths) is detected


def test_find_sources_pairs_each_manifest_with_its_compose_file() -> None:
    found = FORMAT.find_sources(list(CATALOG), {})
    assert [s.key for s in found.sources] == [
        f"{app}/umbrel-app.yml"
        for app in ("bad-host", "bad-types", "bitcoin", "broken-manifest", "hooked",
                    "node-explorer", "notes-hub", "shared-storage", "solo", "whole-data")
    ]  # fmt: skip
    assert all(s.members == (s.key, s.key.replace("umbrel-app.yml", "docker-compose.yml"))
               for s in found.sources)  # fmt: skip
    assert found.errors == {
        "no-compose/umbrel-app.yml": "no-compose has no docker-compose.yml beside umbrel-app.yml"
    }


def test_find_sources_reads_the_files_umbrel_runs_or_copies() -> None:
    sources = {s.key: s for s in FORMAT.find_sources(list(CATALOG), {}).sources}
    assert sources["hooked/umbrel-app.yml"].optional == (
        "hooked/data/settings.json", "hooked/exports.sh", "hooked/hooks/pre-start",
        "hooked/settings.yml.template",
    )  # fmt: skip
    # Images and placeholders are not read: Umbrel's gallery, a .gitkeep.
    assert sources["notes-hub/umbrel-app.yml"].optional == ("notes-hub/exports.sh",)
    assert sources["solo/umbrel-app.yml"].optional == ()


# --- a complete app ------------------------------------------------------------------------


def test_every_manifest_key_is_mapped() -> None:
    app = parse("notes-hub/umbrel-app.yml").definition
    assert app.id == "notes-hub"
    assert app.name == "Notes Hub"
    assert app.version == "3.1.0"
    assert app.release_notes == "Faster search."
    assert app.tagline == "Notes for everyone in the house"
    assert app.description == (
        "Notes Hub keeps everyone's notes on your own server.\n\nIt syncs with the phone app."
        "\n\nDefault username: admin. The password is the app's generated setting APP_PASSWORD."
    )
    assert app.category == "files"
    assert app.author == "Notes Inc"
    assert app.maintainers == ["Store Maintainers"]
    assert app.icon == "https://cdn.example.org/notes-hub/icon.svg"
    assert app.repository == "https://github.com/example/notes-hub"
    assert app.screenshots == ["notes-hub/1.jpg", "notes-hub/2.jpg",
                               "https://cdn.example.org/notes-hub/3.jpg"]  # fmt: skip
    assert app.not_installable is None


def test_the_app_proxy_names_the_main_service_and_its_port() -> None:
    app = parse("notes-hub/umbrel-app.yml").definition
    assert app.main == "web"
    assert set(app.services) == {"db"}  # app_proxy is left out
    assert [(p.container, p.host, p.protocol) for p in app.docker.ports] == [(8080, 3010, "tcp")]
    assert app.docker.depends_on == {"db": "started"}
    assert app.docker.user == "1000:1000"
    assert app.docker.restart_policy == "on-failure"


def test_umbrels_variables_are_mapped() -> None:
    app = parse("notes-hub/umbrel-app.yml").definition
    environment = {e.name: e for e in app.docker.environment}
    assert {name: e.default for name, e in environment.items()} == {
        # APP_PASSWORD is a setting; notes-hub_db_1 (Umbrel's container name) is now `db`.
        "DATABASE_URL": "postgres://notes:${APP_PASSWORD}@db:5432/notes",
        "PUBLIC_URL": "http://${TOMO_SERVER_HOST}:3010",
        "HOST_NAME": "${TOMO_SERVER_HOST}",
        "LOCAL_DOMAIN": "${TOMO_SERVER_HOST}",
        "ONION": "not-enabled.onion",
        "SESSION_SECRET": "${APP_SEED}",
        "SEARCH_MODE": "full-text",  # the app's own exports.sh
        "INSTANCE": "notes-hub-3.1.0",
        "TZ": "${TZ}",
    }
    assert environment["DATABASE_URL"].secret and environment["SESSION_SECRET"].secret
    assert [(v.container_path, v.host_path) for v in app.docker.volumes] == [
        ("/notes", "./data/notes")
    ]
    db = app.services["db"]
    assert db.environment[1].default == "${APP_PASSWORD}"
    assert db.volumes[0].host_path == "./data/db"
    settings = {s.name: s for s in app.settings}
    assert list(settings) == ["APP_PASSWORD", "APP_SEED", "TZ"]
    assert (settings["APP_PASSWORD"].generate, settings["APP_PASSWORD"].secret) == (
        "password",
        True,
    )
    assert (settings["APP_SEED"].generate, settings["APP_SEED"].secret) == ("hex", True)
    assert settings["TZ"].default == "Europe/Paris"


def test_the_login_of_umbrels_proxy_stands_before_the_name_only() -> None:
    parsed = parse("notes-hub/umbrel-app.yml")
    assert parsed.warnings == [
        "docker-compose.yml: services.app_proxy: Umbrel asks for the user's Umbrel password "
        "before showing this app; tomo asks for a tomo login on the app's name only, its port "
        "stays open on the LAN without one",
    ]
    proxy = parsed.definition.proxy
    assert proxy is not None
    assert (proxy.service, proxy.port, proxy.hostname, proxy.login) == (None, 8080, "optional",
                                                                       True)  # fmt: skip
    assert (proxy.open_paths, proxy.closed_paths) == (["/api/*"], [])


# --- not installable -------------------------------------------------------------------------


def test_the_apps_an_umbrel_app_depends_on_are_its_requirements() -> None:
    parsed = parse("node-explorer/umbrel-app.yml")
    app = parsed.definition
    assert any(w.startswith("APP_LIGHTNING_NODE_IP: exported by apps this one does not list")
               for w in parsed.warnings)  # fmt: skip
    assert [(r.app, r.imports) for r in app.requires] == [
        ("bitcoin", ["APP_BITCOIN_NODE_IP", "APP_BITCOIN_RPC_PORT"]),
        ("electrs", ["APP_ELECTRS_NODE_IP", "APP_ELECTRS_NODE_PORT"]),
    ]  # fmt: skip
    env = {v.name: v.default for v in app.docker.environment}
    assert env["BITCOIND_HOST"] == "${APP_BITCOIN_NODE_IP}"
    assert env["ELECTRUM"] == "tcp://${APP_ELECTRS_NODE_IP}:${APP_ELECTRS_NODE_PORT}"
    # what it uses of an app it does not list comes from the apps it requires (or
    # theirs) if one exports it, else is empty; umbrelOS's own values it cannot have
    assert app.optional_imports == ["APP_LIGHTNING_NODE_IP"]
    assert env["LIGHTNING"] == "${APP_LIGHTNING_NODE_IP}"
    reason = app.not_installable
    assert reason is not None
    assert "${TOR_PROXY_IP} is part of Umbrel's Tor service, which tomo does not run" in reason
    assert "bitcoin" not in reason and "electrs" not in reason and "LIGHTNING" not in reason


def test_an_umbrel_app_exports_its_addresses_as_hosts_and_its_literal_values() -> None:
    app = parse("bitcoin/umbrel-app.yml").definition
    assert app.main == "ui"  # APP_HOST is the address the ui service is given
    assert [(e.name, e.host, e.value) for e in app.exports] == [
        ("APP_BITCOIN_IP", "ui", None),
        ("APP_BITCOIN_NODE_IP", "node", None),  # the address the service is given
        ("APP_BITCOIN_RPC_PORT", None, "8332"),
        ("APP_BITCOIN_RPC_USER", None, "node"),
    ]  # computed by the script (RPC_PASS): not known, not exported
    assert app.not_installable is None
    # its own services reach the addressed one by its name
    ui = {v.name: v.default for v in app.docker.environment}
    assert ui["RPC_HOST"] == "node"


def test_what_umbrel_runs_or_copies_for_the_app_makes_it_not_installable() -> None:
    parsed = parse("hooked/umbrel-app.yml")
    assert parsed.definition.main == "web"  # APP_HOST in compose v2's form: hooked-web-1
    assert parsed.definition.not_installable == (
        "docker-compose.yml: services.web.environment.NODE_NAME: ${APP_HOOKED_NODE_NAME} is "
        "computed by the app's exports.sh, a shell script tomo does not run")  # fmt: skip
    # its hook only works in its data directory: tomo runs it, in a container
    assert [(h.name, h.runs, h.interpreter) for h in parsed.definition.hooks] == [
        ("pre-start", "before-start", "bash")]  # fmt: skip
    # the app folder's own files are placed as umbrelOS copies them (its user, 1000)
    assert [(f.path, f.owner, f.template) for f in parsed.definition.files] == [
        ("./data/settings.json", "1000:1000", False),
        ("./settings.yml", "1000:1000", True),  # filled in as it is placed
    ]
    template = parsed.definition.files[1].data.decode()
    assert template == "password: ${APP_PASSWORD}\n"


def test_shared_storage_is_chosen_at_install_and_umbrels_own_files_are_refused() -> None:
    parsed = parse("shared-storage/umbrel-app.yml")
    app = parsed.definition
    downloads = app.docker.volumes[0]
    assert (downloads.container_path, downloads.host_path) == ("/downloads", None)
    assert downloads.description == "the store's folder ${UMBREL_ROOT}/data/storage/downloads"
    # The downloader's fixed address, from exports.sh, now names the service.
    assert app.services["helper"].environment[0].default == "http://downloader:6800"
    assert app.not_installable == "; ".join([
        "docker-compose.yml: services.downloader.volumes[1]: '${UMBREL_ROOT}/db' reaches "
        "umbrelOS's own files",
        "docker-compose.yml: services.downloader.volumes[2]: ${TOR_DATA_DIR} is part of Umbrel's "
        "Tor service, which tomo does not run",
        "docker-compose.yml: services.helper.environment.NETWORK: ${NETWORK_IP} is an address of "
        "Umbrel's own Docker network",
    ])  # fmt: skip
    assert parsed.warnings[-2:] == [
        "torOnly: Umbrel offers this app over Tor only; tomo publishes its port like any other",
        "permissions: STORAGE_DOWNLOADS are not granted; folders the app shares are chosen at "
        "install",
    ]


def test_an_app_mounting_its_whole_data_directory() -> None:
    parsed = parse("whole-data/umbrel-app.yml")
    docker = parsed.definition.docker
    assert [(v.container_path, v.host_path) for v in docker.volumes] == [
        ("/srv", "./data"), ("/cache", "./data/cache"),
    ]  # fmt: skip
    assert docker.environment[0].default == "${TOMO_DATA_DIR}/data/cache"
    assert [(p.container, p.host) for p in docker.ports] == [(80, 4100)]
    assert (
        "docker-compose.yml: volumes: the app mounts its whole data directory; tomo keeps its "
        "own files there, so the app's data lives under ./data" in parsed.warnings
    )
    # PROXY_AUTH_ADD: "false": Umbrel adds no login either, nothing to warn about.
    assert not any("Umbrel password" in w for w in parsed.warnings)
    # One container without settings that uses a built-in: its values are templates.
    assert parsed.definition.not_installable is None
    assert parsed.definition.templated


def test_an_app_without_the_proxy_publishes_its_own_ports() -> None:
    app = parse("solo/umbrel-app.yml").definition
    assert app.main == "server"
    assert [(p.container, p.host) for p in app.docker.ports] == [(4700, 4700)]


def test_an_app_proxy_host_naming_nothing_beside_one_service_is_that_service() -> None:
    """Airsonic Advanced's APP_HOST names no container (a name umbrelOS would not find
    either): with one service besides the proxy, that one is the app, with a warning;
    among several, the file stays an error (below)."""
    compose = COMPOSE.replace("APP_HOST: inline_web_1", "APP_HOST: inline_nothing_1")
    parsed = parse_texts(compose=compose)
    assert (parsed.definition.main, parsed.definition.not_installable) == ("web", None)
    assert parsed.warnings[0] == (
        "docker-compose.yml: services.app_proxy.environment.APP_HOST: 'inline_nothing_1' names "
        "no service of the app; its only service, web, is taken"
    )


def test_the_manifest_s_path_is_the_page_the_app_s_link_opens() -> None:
    assert parse_texts(manifest=MANIFEST + 'path: "/admin"\n').definition.web_path == "/admin"
    assert parse_texts(manifest=MANIFEST + 'path: ""\n').definition.web_path == "/"


# --- errors of the files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("broken-manifest/umbrel-app.yml", "invalid YAML, line 4"),
        ("bad-types/umbrel-app.yml", "name: must be text"),
        ("bad-host/umbrel-app.yml", "docker-compose.yml: services.app_proxy.environment.APP_HOST: "
                                    "'bad-host_frontend_1' names no service of the app"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_the_key(key: str, reason: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse(key)
    assert caught.value.path == key
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    ("manifest", "compose", "reason"),
    [
        ("- a list", COMPOSE, "the top level must be a mapping of fields"),
        (MANIFEST.replace("id: inline\n", ""), COMPOSE, "id: is required"),
        (MANIFEST.replace('version: "1.0"\n', ""), COMPOSE, "version: is required"),
        (MANIFEST.replace("port: 5000", "port: web"), COMPOSE, "port: must be a port number"),
        (MANIFEST + "dependencies: bitcoin\n", COMPOSE, ""),
        (MANIFEST + "dependencies: {a: 1}\n", COMPOSE, "dependencies: must be a list of texts"),
        (MANIFEST + "gallery: [1, [2]]\n", COMPOSE, "gallery: must be a list of texts"),
        (MANIFEST.replace("id: inline", "id: Not_An_Id"), COMPOSE,
         "id: 'Not_An_Id' is not a valid id"),
        (MANIFEST, "services: {web: {image: 'a:1'}\n", "docker-compose.yml: invalid YAML"),
        (MANIFEST, "version: '3'\n", "docker-compose.yml: not a compose file"),
        (MANIFEST, COMPOSE.replace("      APP_HOST: inline_web_1\n", ""),
         "services.app_proxy.environment.APP_HOST: is required"),
        (MANIFEST, "services:\n  app_proxy:\n    environment: [APP_HOST]\n  web:\n"
                   "    image: a:1\n", "services.app_proxy.environment.APP_HOST: is required"),
        (MANIFEST, COMPOSE.replace("  web:\n    image: example/web:1.0\n",
                                   "  web:\n    ports: ['80']\n"),
         "docker-compose.yml: services.web.image: is required"),
    ],
)  # fmt: skip
def test_malformed_apps_are_errors_naming_the_key(manifest: str, compose: str, reason: str) -> None:
    if not reason:  # a lone dependency is a list of one
        parsed = parse_texts(manifest, compose)
        assert [(r.app, r.imports) for r in parsed.definition.requires] == [("bitcoin", [])]
        return
    with pytest.raises(InvalidDefinition) as caught:
        parse_texts(manifest, compose)
    assert caught.value.path == "inline/umbrel-app.yml"
    assert reason in caught.value.reason


def test_a_port_the_proxy_names_by_an_unknown_value_blocks_the_app() -> None:
    parsed = parse_texts(compose=COMPOSE.replace("APP_PORT: 80", "APP_PORT: $APP_INLINE_PORT"))
    assert parsed.definition.not_installable == (
        "docker-compose.yml: services.app_proxy.environment.APP_PORT: '$APP_INLINE_PORT' is not "
        "a port tomo can publish"
    )


def test_the_proxy_port_may_come_from_exports() -> None:
    parsed = parse_texts(compose=COMPOSE.replace("APP_PORT: 80", "APP_PORT: $APP_INLINE_PORT"),
                         **{"exports.sh": "export APP_INLINE_PORT=8088\n"})  # fmt: skip
    assert [(p.container, p.host) for p in parsed.definition.docker.ports] == [(8088, 5000)]


def test_manifest_notes_are_warnings() -> None:
    parsed = parse_texts(MANIFEST.replace("manifestVersion: 1", "manifestVersion: 2")
                         + "tagline: " + "long " * 60 + "\nicon: logo.png\n")  # fmt: skip
    assert "manifestVersion: 2 is newer than tomo knows (1, 1.1)" in parsed.warnings
    assert "tagline: longer than 256 characters, shortened" in parsed.warnings
    assert "icon: 'logo.png' is not an http(s) URL, ignored" in parsed.warnings
    # Where Umbrel's store finds an icon instead: the app folder's icon.svg (in the
    # repository, or on the official store's gallery site).
    assert parsed.definition.icon == "inline/icon.svg"


def test_a_folder_named_unlike_the_id_is_a_warning() -> None:
    parsed = parse_texts(MANIFEST.replace("id: inline", "id: store-inline"),
                         COMPOSE.replace("inline_web_1", "store-inline_web_1"))  # fmt: skip
    assert parsed.definition.id == "store-inline"
    assert "id: 'store-inline' differs from the folder 'inline'" in parsed.warnings


@pytest.mark.parametrize(
    ("script", "exports"),
    [
        ('export A="10.21.21.5"', {"A": "10.21.21.5"}),
        ("export A='single $quoted'", {"A": "single $quoted"}),
        ("export A=bare", {"A": "bare"}),
        ("export A=", {"A": ""}),
        ('export A="x" # a comment', {"A": "x"}),
        ('  export A="${B}"', {"A": None}),
        ("export A=$(cat /x)", {"A": None}),
        ("export A=`hostname`", {"A": None}),
        ('export A="$B-suffix"', {"A": None}),
        ("A=not-exported\nif true; then\n  export B=1\nfi", {"B": "1"}),
        ("# export C=1", {}),
        # Read as umbrelOS gives them, without running the script:
        (
            'export A="$(cat "${hidden_file}" 2>/dev/null || echo "notyetset.onion")"',
            {"A": "notyetset.onion"},
        ),
        ('export A="${EXPORTS_APP_DIR}/data/bitcoin"', {"A": DataDir("data/bitcoin")}),
        ('export A="${EXPORTS_APP_DIR}/../other"', {"A": None}),
        ('export A="$(cat /x || echo y)"', {"A": None}),  # errors not silenced: not a fallback
    ],
)
def test_read_exports(script: str, exports: dict[str, str | None]) -> None:
    assert read_exports(script) == exports


def test_a_secret_umbrelos_derives_from_its_seed_is_one_tomo_generates() -> None:
    """`derive_entropy` is an HMAC-SHA256 of the device's seed, in hex (64
    characters, `| head -cN` fewer): a secret tomo generates once, as long."""
    script = ('export APP_INLINE_KEY=$(derive_entropy "${app_entropy_identifier}-KEY" | head -c32)\n'
              'export APP_INLINE_PASS="$(derive_entropy "inline-pass")"\n')  # fmt: skip
    compose = (
        COMPOSE + "    environment:\n      KEY: ${APP_INLINE_KEY}\n      PASS: $APP_INLINE_PASS\n"
    )
    parsed = parse_texts(compose=compose, **{"exports.sh": script})
    assert parsed.definition.not_installable is None
    settings = {s.name: (s.secret, s.generate, s.length) for s in parsed.definition.settings}
    assert settings == {"APP_INLINE_KEY": (True, "hex", 32), "APP_INLINE_PASS": (True, "hex", 64)}
    exported = {e.name: e.value for e in parsed.definition.exports}
    assert exported == {
        "APP_INLINE_KEY": "${APP_INLINE_KEY}",
        "APP_INLINE_PASS": "${APP_INLINE_PASS}",
    }


def test_a_folder_of_the_app_directory_export_is_that_folder() -> None:
    script = 'export APP_INLINE_DATA_DIR="${EXPORTS_APP_DIR}/data/chain"\n'
    compose = COMPOSE + "    volumes:\n      - ${APP_INLINE_DATA_DIR}:/chain\n"
    parsed = parse_texts(compose=compose, **{"exports.sh": script})
    assert parsed.definition.not_installable is None
    assert parsed.definition.docker.volumes[0].host_path == "./data/chain"
    assert {e.name: e.value for e in parsed.definition.exports} == {
        "APP_INLINE_DATA_DIR": "${TOMO_DATA_DIR}/data/chain"}  # fmt: skip


def test_a_dependency_exporting_under_a_shorter_prefix_than_its_id_is_found() -> None:
    """litecoin-core's exports.sh exports APP_LITECOIN_NODE_IP, not APP_LITECOIN_CORE_…"""
    manifest = MANIFEST + "dependencies:\n  - litecoin-core\n"
    compose = COMPOSE + "    environment:\n      NODE: ${APP_LITECOIN_NODE_IP}\n"
    parsed = parse_texts(manifest=manifest, compose=compose)
    assert parsed.definition.not_installable is None
    assert [(r.app, r.imports) for r in parsed.definition.requires] == [
        ("litecoin-core", ["APP_LITECOIN_NODE_IP"])]  # fmt: skip


# --- hooks -----------------------------------------------------------------------------------


def test_hooks_that_work_in_the_data_directory_are_run_by_tomo() -> None:
    parsed = parse_texts(**{
        "hooks/pre-install": '#!/bin/sh\nmkdir -p "$APP_DATA_DIR/db"\nchown 1000:1000 "$APP_DATA_DIR/db"\n',
        "hooks/post-start": "touch ${APP_DATA_DIR}/started\n",
    })  # fmt: skip
    assert parsed.definition.not_installable is None
    assert [(h.name, h.runs, h.interpreter) for h in parsed.definition.hooks] == [
        ("post-start", "after-start", "sh"), ("pre-install", "before-install", "sh")]  # fmt: skip
    assert parsed.definition.hooks[1].script.startswith("#!/bin/sh\nmkdir -p")


@pytest.mark.parametrize(("name", "script", "reason"), [
    ("pre-start", '"${UMBREL_ROOT}/scripts/app" compose "${APP_ID}" up tor\n',
     "it uses UMBREL_ROOT, which exists on umbrelOS itself"),
    ("pre-start", 'echo "${BASH_SOURCE[0]}"\n', "it finds files from where the script itself"),
    ("post-install", "docker exec inline_web_1 true\n", "it uses docker"),
    ("pre-start", "#!/usr/bin/env python3\nprint(1)\n", "it is written for /usr/bin/env python3"),
    ("pre-stop", "echo bye\n", "umbrelOS runs it when tomo runs no hook"),
])  # fmt: skip
def test_hooks_that_need_umbrelos_keep_the_app_not_installable(
    name: str, script: str, reason: str
) -> None:
    parsed = parse_texts(**{f"hooks/{name}": script})
    assert parsed.definition.not_installable is not None
    assert parsed.definition.not_installable.startswith(f"hooks/{name}: {reason}")
    assert parsed.definition.hooks == []


def test_a_post_update_hook_that_only_restarts_the_app_is_left_out_with_a_warning() -> None:
    """Immich's: tomo's update has just started every container afresh, in order."""
    script = ('#!/usr/bin/env bash\n# restart app so that migrations run\nsleep 10\n'
              '"${UMBREL_ROOT}/scripts/app" restart "${APP_ID}" &\n')  # fmt: skip
    parsed = parse_texts(**{"hooks/post-update": script})
    assert (parsed.definition.not_installable, parsed.definition.hooks) == (None, [])
    assert "hooks/post-update: left out: it only restarts the app" in parsed.warnings[-1]
    more = parse_texts(**{"hooks/post-update": script + "rm -rf ${UMBREL_ROOT}/x\n"})
    assert more.definition.not_installable is not None  # anything else: as before


def test_a_hook_that_finds_the_apps_folder_from_its_own_path_gets_the_data_directory() -> None:
    """umbrelOS's hooks locate the app folder from where they lie; tomo gives that
    folder as $APP_DATA_DIR (the installation's data directory)."""
    script = ('#!/usr/bin/env bash\n'
              'APP_DATA_DIR="$(readlink -f $(dirname "${BASH_SOURCE[0]}")/../data)"\n'
              'OTHER=$(dirname "${BASH_SOURCE[0]}")/..\n'
              '# settings live beside docker-compose.yml\n'
              'chown 1000:1000 "${APP_DATA_DIR}/settings.json"\n')  # fmt: skip
    parsed = parse_texts(**{"hooks/pre-start": script})
    assert parsed.definition.not_installable is None
    [hook] = parsed.definition.hooks
    assert hook.script.splitlines()[1:3] == ['APP_DATA_DIR="${APP_DATA_DIR}/data"',
                                             "OTHER=${APP_DATA_DIR}"]  # fmt: skip
    assert hook.interpreter == "bash"


def test_the_tor_template_umbrelos_reads_itself_is_left_out_with_a_warning() -> None:
    """`torrc.template` is umbrelOS's Tor service's, not the app's: tomo runs no Tor."""
    parsed = parse_texts(**{"torrc.template": "HiddenServicePort 80 $APP_INLINE_IP:80\n"})
    assert parsed.definition.not_installable is None
    assert parsed.definition.files == []
    assert any(w.startswith("torrc.template: umbrelOS's Tor service offers the app as a "
                            "hidden service") for w in parsed.warnings)  # fmt: skip
    other = parse_texts(**{"settings.yml.template": "proxy: $TOR_PROXY_IP\n"})
    assert other.definition.not_installable is not None  # tomo runs no Tor at all


def test_a_template_beside_values_that_hold_a_dollar_keeps_the_app_not_installable() -> None:
    """A template makes every value a template: `pa$word`, read as written until then,
    would read differently, so the app says so instead."""
    compose = COMPOSE + "    environment:\n      PASS: pa$$word\n"
    parsed = parse_texts(MANIFEST, compose, **{"motd.template": "hello from $APP_ID\n"})
    assert parsed.definition.not_installable == (
        "templates: its templates would make tomo read the compose file's values, which hold "
        "a $, as templates")  # fmt: skip
    assert parsed.definition.docker.environment[0].default == "pa$word"
    plain = parse_texts(**{"motd.template": "hello from $APP_ID\n"}).definition
    assert plain.not_installable is None and plain.templated
    assert plain.files[0].data == b"hello from inline\n"


def test_optional_manifest_texts_written_as_mappings_are_read_not_refused() -> None:
    """Stores derived from Umbrel's write `developer: {name, website}` and `repo: {url}`:
    the name or URL is taken; another value of the wrong type is a warning, never the
    reason an app is dropped."""
    parsed = parse_texts(manifest=MANIFEST + (
        "developer: {name: Mastodon gGmbH, website: 'https://joinmastodon.org'}\n"
        "repo: {active: true, url: 'https://github.com/mastodon/mastodon'}\n"
        "submitter: [someone]\n"))  # fmt: skip
    app = parsed.definition
    assert (app.author, app.repository) == (
        "Mastodon gGmbH",
        "https://github.com/mastodon/mastodon",
    )
    assert app.maintainers == []
    assert "submitter: must be text, ignored" in parsed.warnings


def test_a_fixed_address_variable_is_its_services_host_whether_exported_or_not() -> None:
    """`ipv4_address: $APP_X_IP` makes `$APP_X_IP` that service's host name, also when
    exports.sh does not export it plainly (APP_HOST included)."""
    compose = """services:
  app_proxy:
    environment:
      APP_HOST: $APP_INLINE_IP
      APP_PORT: 80
  web:
    image: example/web:1.0
    environment:
      PEER: tcp://${APP_INLINE_WORKER_IP}:5556
    networks:
      default:
        ipv4_address: $APP_INLINE_IP
  worker:
    image: example/worker:1.0
    networks:
      default:
        ipv4_address: ${APP_INLINE_WORKER_IP}
"""
    app = parse_texts(compose=compose, **{"exports.sh": "export APP_INLINE_PORT=80\n"}).definition
    assert (app.main, app.not_installable) == ("web", None)
    web = {v.name: v.default for v in app.docker.environment}
    assert web["PEER"] == "tcp://worker:5556"


def test_a_template_wins_over_a_shipped_file_of_the_name_it_is_rendered_to() -> None:
    """umbrelOS copies the app folder, then renders each `*.template` beside it: the
    rendered file replaces a shipped one of the same name."""
    app = parse_texts(**{"nginx.conf": "old\n", "nginx.conf.template": "port $APP_ID\n"})
    files = [(f.path, f.template) for f in app.definition.files]
    assert files == [("./nginx.conf", True)]


def test_a_folder_a_dependency_exports_is_a_volume_of_that_apps_data() -> None:
    """`${APP_LIGHTNING_NODE_DATA_DIR}:/lnd:ro`: lightning's data folder, mounted from its
    installation (whether the export is such a folder is checked at install)."""
    manifest = MANIFEST + "dependencies: [lightning]\n"
    compose = COMPOSE.replace(
        "    image: example/web:1.0\n",
        """    image: example/web:1.0
    volumes:
      - ${APP_LIGHTNING_NODE_DATA_DIR}:/lnd:ro
      - ${APP_LIGHTNING_NODE_DATA_DIR}/tls/:/tls
""",
    )
    app = parse_texts(manifest, compose).definition
    assert app.not_installable is None
    assert [(v.container_path, v.imported_folder, v.readonly) for v in app.docker.volumes] == [
        ("/lnd", "APP_LIGHTNING_NODE_DATA_DIR", True),
        ("/tls", "APP_LIGHTNING_NODE_DATA_DIR/tls", False)]  # fmt: skip
    assert [(r.app, r.imports) for r in app.requires] == [
        ("lightning", ["APP_LIGHTNING_NODE_DATA_DIR"])]  # fmt: skip
    for outside in ("/../bitcoin:/tls", "-old:/tls"):  # above it, or beside it
        reason = parse_texts(
            manifest, compose.replace("/tls/:/tls", outside)
        ).definition.not_installable
        assert reason is not None and "reaches outside the folder lightning exports" in reason
