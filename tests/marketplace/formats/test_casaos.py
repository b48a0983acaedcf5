"""CasaOS app stores: a fixture catalog laid out as the CasaOS AppStore publishes
it, read through the format's entry points (detect, find_sources, parse)."""

from __future__ import annotations

import pytest

from tomo.errors import InvalidDefinition
from tomo.marketplace.formats.base import CatalogFormat, Parsed
from tomo.marketplace.formats.casaos import CasaOSFormat, localized

from .catalogs import fixture_tree, keyed, parse_source

CATALOG = fixture_tree("casaos")
FORMAT = CasaOSFormat()
MAX_BYTES = 65536


def parse(key: str, files: dict[str, bytes] = CATALOG, max_bytes: int = MAX_BYTES) -> Parsed:
    return parse_source(FORMAT, files, keyed(key), max_bytes=max_bytes)


def parse_text(text: str, folder: str = "Inline") -> Parsed:
    key = f"Apps/{folder}/docker-compose.yml"
    return parse(key, {key: text.encode()})


def test_meets_the_catalog_format_protocol() -> None:
    fmt: CatalogFormat = FORMAT
    assert (fmt.name, fmt.title) == ("casaos", "CasaOS AppStore")
    assert fmt.index_files(list(CATALOG)) == []


@pytest.mark.parametrize(
    ("paths", "detected"),
    [
        (list(CATALOG), True),
        (["Apps/Foo/docker-compose.yml"], True),
        (["Apps/Foo/docker-compose.yaml", "README.md"], True),
        (["apps/foo/docker-compose.yml"], False),  # Runtipi's and tomo's folders are lowercase
        (["Apps/docker-compose.yml"], False),
        (["Apps/Foo/bar/docker-compose.yml"], False),
        (["Apps/Foo/compose.yml", "Apps/Foo/icon.png"], False),
        ([], False),
    ],
)
def test_detect(paths: list[str], detected: bool) -> None:
    assert FORMAT.detect(paths) is detected


def test_find_sources_takes_each_apps_compose_file() -> None:
    found = FORMAT.find_sources(list(CATALOG), {})
    assert [s.key for s in found.sources] == [
        f"Apps/{name}/docker-compose.yml"
        for name in ("BadPort", "Broken", "Builder", "Mediabox", "NotCompose", "NoteStack",
                     "Plain_Tool", "Sysmon", "Twice", "WrongTypes")
    ]  # fmt: skip
    assert all(s.members == (s.key,) and s.optional == () for s in found.sources)
    assert found.errors == {
        "Apps/Twice/docker-compose.yaml": "Apps/Twice has two compose files; "
        "Apps/Twice/docker-compose.yml is the one read"
    }


def test_a_yaml_compose_file_alone_is_read() -> None:
    found = FORMAT.find_sources(["Apps/Solo/docker-compose.yaml"], {})
    assert [s.key for s in found.sources] == ["Apps/Solo/docker-compose.yaml"]


# --- a complete app ------------------------------------------------------------------------


def test_every_top_level_key_is_mapped() -> None:
    parsed = parse("Apps/Mediabox/docker-compose.yml")
    app = parsed.definition
    assert app.id == "mediabox"
    assert app.name == "Mediabox"
    assert app.tagline == "Your media, everywhere"  # no en_US: the first English text
    assert app.description == (
        "Mediabox streams your films and music\nto every screen of the house.\n\n"
        "Before installing: The first account you create becomes the administrator."
    )
    assert app.version == "2.4.1"  # from the image tag: x-casaos gives none
    assert app.category == "media"
    assert app.author == "Mediabox Developers"
    assert app.maintainers == ["Example Store Team"]
    assert app.icon == "Apps/Mediabox/icon.png"
    assert app.screenshots == ["Apps/Mediabox/screenshot-1.png",
                               "https://cdn.example.org/mediabox/screenshot-2.png"]  # fmt: skip
    assert app.repository == "https://github.com/example/mediabox"
    assert app.documentation == "https://docs.example.org/mediabox"
    assert app.requirements.architectures == ["amd64", "arm64"]
    assert app.not_installable is None
    assert app.main == "mediabox"
    assert not app.is_multi_container


def test_the_service_and_casaos_variables_are_mapped() -> None:
    docker = parse("Apps/Mediabox/docker-compose.yml").definition.docker
    assert docker.image == "example/mediabox:2.4.1"
    assert [(p.container, p.host, p.protocol, p.description) for p in docker.ports] == [
        (8096, 8097, "tcp", "Web interface"),  # port_map's port first: tomo links to it
        (1900, 1900, "udp", "DLNA discovery"),
        (7359, 7359, "udp", ""),
        (7360, 7360, "udp", ""),
    ]
    assert [(v.container_path, v.host_path, v.readonly, v.description) for v in docker.volumes] == [
        ("/config", "./config", False, "Configuration"),
        ("/media", None, True, "Media library (the store's folder /DATA/Media)"),
        ("/cache", "./cache", False, ""),
    ]
    assert [(e.name, e.default, e.description) for e in docker.environment] == [
        ("PUID", "${PUID}", "Run the media server as this user id"),
        ("PGID", "${PGID}", ""),
        ("TZ", "${TZ}", "Time zone of the server"),
        ("GREETING", "costs $$5", ""),
        ("MEDIA_SERVER_NAME", "mediabox", ""),
    ]
    assert docker.command == ["--ffmpeg", "/usr/lib/ffmpeg", "--name", "mediabox"]
    assert docker.devices == ["/dev/dri:/dev/dri"]
    assert docker.network_mode == "bridge"
    assert docker.restart_policy == "unless-stopped"
    assert docker.healthcheck is not None
    assert docker.healthcheck.test == ["CMD", "curl", "-f", "http://localhost:8096/health"]
    assert (docker.healthcheck.interval, docker.healthcheck.retries) == ("30s", 3)


def test_casaos_variables_become_settings() -> None:
    settings = parse("Apps/Mediabox/docker-compose.yml").definition.settings
    assert [(s.name, s.default, s.required) for s in settings] == [
        ("PUID", "1000", False), ("PGID", "1000", False), ("TZ", "UTC", False),
    ]  # fmt: skip


def test_warnings_name_each_key_left_out() -> None:
    assert parse("Apps/Mediabox/docker-compose.yml").warnings == [
        "services.mediabox.container_name: not supported, ignored (tomo names containers itself)",
        "services.mediabox.ports[1]: the address 127.0.0.1 is ignored: tomo publishes ports on "
        "the address it is set up with",
        "services.mediabox.volumes[1]: '/DATA/Media' is under CasaOS's shared data folder: tomo "
        "gives the installation a folder of its own, the user may choose another at install",
        "x-casaos.architectures: 'mips' is not an architecture tomo knows, ignored",
    ]


# --- several services ----------------------------------------------------------------------


def test_casaos_s_memory_reservation_is_kept() -> None:
    assert parse("Apps/Mediabox/docker-compose.yml").definition.docker.mem_reservation == 256 << 20


def test_a_multi_container_app() -> None:
    app = parse("Apps/NoteStack/docker-compose.yml").definition
    assert app.main == "app"
    assert set(app.services) == {"db", "cache"}
    assert app.version == "1.8"
    assert app.docker.depends_on == {"db": "healthy", "cache": "started"}
    assert [(p.container, p.host) for p in app.docker.ports] == [(3000, 8080)]
    assert app.docker.volumes[0].host_path == "./files"
    db = app.services["db"]
    assert [(v.container_path, v.volume) for v in db.volumes] == [
        ("/var/lib/postgresql/data", "db-data")
    ]
    assert db.healthcheck is not None
    assert db.healthcheck.test == ["CMD-SHELL", "pg_isready -U notes -h db"]
    cache = app.services["cache"]
    assert cache.command == ["redis-server", "--save", "60", "1"]
    assert cache.healthcheck is not None and cache.healthcheck.test == [
        "CMD-SHELL",
        "redis-cli ping",
    ]


def test_variables_the_compose_file_names_become_settings() -> None:
    app = parse("Apps/NoteStack/docker-compose.yml").definition
    settings = {s.name: s for s in app.settings}
    assert list(settings) == ["DB_PASSWORD", "ADMIN_EMAIL", "DefaultUserName", "DefaultPassword",
                              "API_KEY"]  # fmt: skip
    assert (settings["DB_PASSWORD"].required, settings["DB_PASSWORD"].secret) == (True, True)
    assert settings["ADMIN_EMAIL"].default == "admin@example.com"
    # The x-casaos description of the variable whose whole value the setting is:
    assert settings["ADMIN_EMAIL"].description == "E-mail address of the first administrator"
    assert settings["DefaultUserName"].default == "admin"
    assert (settings["DefaultPassword"].generate, settings["DefaultPassword"].secret) == (
        "password", True)  # fmt: skip
    assert settings["API_KEY"].description == "the API key of your notes provider"
    assert app.description.endswith("it is the app's setting DefaultPassword.")
    assert settings["API_KEY"].required
    environment = {e.name: e for e in app.docker.environment}
    assert environment["DB_HOST"].default == "db"  # the db's container_name, now its service name
    assert environment["DB_PASSWORD"].default == "${DB_PASSWORD}"
    assert environment["DB_PASSWORD"].secret
    assert environment["PRICE_TAG"].default == "$$9"
    assert environment["LOG_LEVEL"].default is None
    assert not environment["LOG_LEVEL"].required
    assert app.services["db"].environment[1].default == "${DB_PASSWORD}"


def test_a_services_stop_signal_and_grace_are_kept() -> None:
    """A database given time to shut down cleanly is not killed after Docker's 10 s."""
    app = parse("Apps/NoteStack/docker-compose.yml").definition
    assert app.all_services["app"].stop_grace_period == "30s"


def test_multi_container_warnings() -> None:
    assert parse("Apps/NoteStack/docker-compose.yml").warnings == [
        "services.app.container_name: not supported, ignored (tomo names containers itself)",
        "services.app.logging: not supported, ignored (tomo keeps Docker's default logging)",
        "services.db.container_name: not supported, ignored (tomo names containers itself)",
        "services.cache.labels: not supported, ignored (tomo sets its own labels)",
        "services: values that name 'notestack-db' now name the service 'db' (tomo's network "
        "knows services by their names)",
    ]


# --- not installable -------------------------------------------------------------------------


def test_keys_tomo_cannot_honour_make_the_app_not_installable() -> None:
    parsed = parse("Apps/Builder/docker-compose.yml")
    assert parsed.definition.not_installable == "; ".join([
        "services.builder.build: not supported (tomo pulls images; it does not build them)",
        "services.builder.secrets: not supported (tomo does not provide compose secrets)",
        "services.builder.security_opt: not supported (options other than no-new-privileges "
        "can switch protections off)",
        "services.builder.sysctls.kernel.panic: 'kernel.panic' is not a kernel parameter of the "
        "container's own network or IPC namespace (net.*, fs.mqueue.*, kernel.shm*, "
        "kernel.msg*, kernel.sem)",
        "services.builder.ports[0]: publishes 101 ports (tomo publishes ranges of at most 16)",
        "x-casaos.pre-install-cmd: runs a command on the server around the install, which tomo "
        "does not do",
        # CasaOS's store ships no files with an app: its env_file is never there.
        "services.builder.env_file: ./.env is not a file the store ships with the app",
    ])  # fmt: skip
    assert parsed.warnings == [
        "secrets: not supported, ignored (a service that uses them says so)",
        "services.builder.logging: not supported, ignored (tomo keeps Docker's default logging)",
        "services.builder.hostname: not supported, ignored (the container keeps Docker's default "
        "host name)",
        "services.builder.x-custom: extension, ignored",
    ]


def test_host_powers_are_kept_for_the_risk_flags() -> None:
    parsed = parse("Apps/Sysmon/docker-compose.yml")
    docker = parsed.definition.docker
    assert (docker.network_mode, docker.pid_mode, docker.privileged) == ("host", "host", True)
    assert docker.capabilities == ["SYS_ADMIN", "NET_ADMIN"]
    assert docker.volumes[0].host_path == "/var/run/docker.sock"
    assert (docker.user, docker.working_dir, docker.entrypoint) == (
        "1000:1000", "/srv", ["/usr/bin/sysmon"])  # fmt: skip
    assert parsed.definition.requirements.architectures == ["amd64"]
    assert parsed.definition.not_installable == (
        "services.sysmon.volumes[0]: mounts the server's whole filesystem"
    )
    assert parsed.warnings[0] == ("services.sysmon.user: ${PUID} is fixed to its default '1000' "
                                  "(tomo passes the user's settings to environment values only)")  # fmt: skip


# --- plain compose files ---------------------------------------------------------------------


def test_a_plain_compose_file_without_casaos_metadata() -> None:
    app = parse("Apps/Plain_Tool/docker-compose.yml").definition
    assert app.id == "plain-tool"  # the project name is not an id: the folder's name
    assert app.name == "plain_tool"
    assert app.version == "latest"
    assert app.category == "other"
    assert app.settings == []
    assert app.docker.environment[0].default == "$3"  # one container, no settings: as written
    assert [(p.container, p.host) for p in app.docker.ports] == [(9000, None)]


# --- errors of the file ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("Apps/Broken/docker-compose.yml", "line 5: duplicate key 'web' (first given on line 3)"),
        ("Apps/NotCompose/docker-compose.yml",
         "not a compose file: 'services' must map service names to services"),
        ("Apps/WrongTypes/docker-compose.yml",
         "x-casaos.title: must be a text, or texts by language (en_US: …)"),
        ("Apps/BadPort/docker-compose.yml",
         "services.web.ports[0]: 'http' is not a port number or range"),
    ],
)  # fmt: skip
def test_errors_name_the_file_and_the_key(key: str, reason: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse(key)
    assert caught.value.path == key
    assert reason in caught.value.reason


def test_a_file_over_the_size_limit_is_refused() -> None:
    with pytest.raises(InvalidDefinition, match="larger than the 100-byte limit"):
        parse("Apps/Mediabox/docker-compose.yml", max_bytes=100)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("services: {web: {image: 'a:1'}}\nx-casaos: [1]", "x-casaos: must be a mapping"),
        ("services: {web: {image: 'a:1'}}\nx-casaos: {main: db}",
         "x-casaos.main: 'db' is not one of the services (web)"),
        ("services: {web: {image: 'a:1'}}\nx-casaos: {category: [a]}",
         "x-casaos.category: must be text"),
        ("services: {web: {image: 'a:1'}}\nx-casaos: {architectures: {a: 1}}",
         "x-casaos.architectures: must be a list"),
        ("services: {web: {image: 'a:1', x-casaos: {envs: [TZ]}}}",
         "services.web.x-casaos.envs[0]: must be a mapping with 'container'"),
        ("services: {web: {image: 'a:1', x-casaos: {ports: {a: 1}}}}",
         "services.web.x-casaos.ports: must be a list"),
        ("services: {web: {image: 'a:1', x-casaos: 3}}", "services.web.x-casaos: must be a mapping"),
        ("services: {web: {image: 'a:1', cap_add: [FLY]}}",
         "services.web.capabilities[0]: 'FLY' is not a Linux capability"),
        ("name: app\nservices: {web: {image: 'a:1'}}\nx-casaos: {version: '', title: {en_us: ''}}",
         ""),
    ],
)  # fmt: skip
def test_wrong_types_are_errors_naming_the_key(text: str, reason: str) -> None:
    if not reason:  # empty texts fall back: not an error
        assert parse_text(text).definition.name == "app"
        return
    with pytest.raises(InvalidDefinition) as caught:
        parse_text(text)
    assert reason in caught.value.reason


def test_long_texts_are_shortened_with_a_warning() -> None:
    parsed = parse_text("services: {web: {image: 'a:1'}}\nx-casaos:\n  tagline:\n"
                        f"    en_us: '{'word ' * 80}'\n")  # fmt: skip
    assert len(parsed.definition.tagline) <= 256
    assert parsed.definition.tagline.endswith("word…")
    assert parsed.warnings == ["x-casaos.tagline: longer than 256 characters, shortened"]


def test_screenshots_are_capped_and_bad_assets_dropped() -> None:
    shots = "\n".join(f"    - shot-{i}.png" for i in range(20))
    parsed = parse_text(f"services: {{web: {{image: 'a:1'}}}}\nx-casaos:\n  icon: icon.txt\n"
                        f"  screenshot_link:\n{shots}\n")  # fmt: skip
    assert len(parsed.definition.screenshots) == 16
    assert parsed.definition.icon is None
    assert parsed.warnings == [
        "x-casaos.screenshot_link: only the first 16 screenshots are kept",
        "x-casaos.icon: 'icon.txt' is neither a URL nor an image of the app's folder, ignored",
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ({"en_US": "US", "en_us": "us", "fr_FR": "fr"}, "US"),
        ({"zh_CN": "zh", "en_us": "us"}, "us"),
        ({"zh_CN": "zh", "en_GB": "gb"}, "gb"),
        ({"zh_CN": "zh", "fr_FR": "fr"}, "zh"),
        ({"en_US": "", "de_DE": "de"}, "de"),
        ("  plain  ", "plain"),
        (None, ""),
    ],
)
def test_texts_by_locale_prefer_english(value: object, text: str) -> None:
    assert localized(value, "x-casaos.title") == text


def test_the_page_and_scheme_of_the_web_port_are_the_app_s_link() -> None:
    """`index` is the page the app opens on; `scheme: https` says its web port speaks
    TLS (the link is https://, and the front door talks TLS to it)."""
    text = ("services: {web: {image: 'a:1', ports: ['9443:443']}}\n"
            "x-casaos: {main: web, index: /admin/, scheme: https, port_map: '9443'}")  # fmt: skip
    app = parse_text(text).definition
    assert (app.web_path, app.proxy is not None and app.proxy.tls) == ("/admin/", True)
    plain = parse_text("services: {web: {image: 'a:1'}}\nx-casaos: {index: /, scheme: http}")
    assert (plain.definition.web_path, plain.definition.proxy) == ("/", None)
    odd = parse_text("services: {web: {image: 'a:1'}}\nx-casaos: {index: 'a b'}")
    assert odd.definition.web_path == "/"
    assert odd.warnings[-1].startswith("x-casaos.index: 'a b' is not a page of the app's port")
