"""The variable table and compose interpolation: every meaning in every place a
value can land, every variable of the CasaOS and Umbrel tables, and the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tomo.marketplace.definition import BUILTIN_VARIABLES
from tomo.marketplace.formats.compose import BLOCKED, WARNED
from tomo.marketplace.formats.variables import (
    BASE_TABLE,
    Builtin,
    DataDir,
    Fixed,
    HostFolder,
    Imported,
    Interpolator,
    Ref,
    Setting,
    Source,
    Unsupported,
    VariableTable,
    casaos_table,
    parse_template,
    umbrel_table,
)

DOCS = Path(__file__).parents[3] / "docs" / "catalog-formats.md"

TABLE = BASE_TABLE.extend(
    {
        "DATA": DataDir(),
        "HOST": Builtin("TOMO_SERVER_HOST"),
        "APP": Fixed("myapp"),
        "EMPTY": Fixed(""),
        "PASSWORD": Setting("The password", secret=True, generate="password"),
        "SHARED": HostFolder("the shared folder", under=("media",), elsewhere="is private"),
        "TOR": Unsupported("is Tor's"),
    },
    paths={"/STORE/apps/myapp": DataDir(), "/STORE": HostFolder("the store's folder")},
)


def interpolator(data_prefix: str = "") -> Interpolator:
    return Interpolator(TABLE, prefix="file: ", data_prefix=data_prefix)


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("plain", ["plain"]),
        ("$A", [Ref("A")]),
        ("${A}", [Ref("A")]),
        ("x$A-y", ["x", Ref("A"), "-y"]),
        ("${A:-dflt}", [Ref("A", ":-", ("dflt",))]),
        ("${A-dflt}", [Ref("A", "-", ("dflt",))]),
        ("${A:?needed}", [Ref("A", ":?", ("needed",))]),
        ("${A?needed}", [Ref("A", "?", ("needed",))]),
        ("${A:+alt}", [Ref("A", ":+", ("alt",))]),
        ("${A:-${B:-c}}", [Ref("A", ":-", (Ref("B", ":-", ("c",)),))]),
        ("${A:-}", [Ref("A", ":-", ())]),
        ("costs $$5", ["costs $5"]),
        ("$$A", ["$A"]),
        ("${A:-a}b}", [Ref("A", ":-", ("a",)), "b}"]),
    ],
)
def test_compose_substitutions_are_read_as_compose_reads_them(
    text: str, parts: list[object]
) -> None:
    assert parse_template(text) == parts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("$1", "'$' must start a variable"),
        ("trailing $", "'$' must start a variable"),
        ("${A", "is never closed"),
        ("${A:-x", "is never closed"),
        ("${1A}", "must be followed by a variable name"),
        ("${A%x}", "is not a valid substitution"),
    ],
)
def test_malformed_substitutions_are_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_template(text)


# --- environment values: references stay references ---------------------------------------


def test_each_meaning_in_an_environment_value() -> None:
    vars = interpolator()
    assert vars.value("${DATA}/logs", "e.A") == "${TOMO_DATA_DIR}/logs"
    assert vars.value("http://$HOST:80", "e.B") == "http://${TOMO_SERVER_HOST}:80"
    assert vars.value("name-$APP", "e.C") == "name-myapp"
    assert vars.value("$PASSWORD", "e.D") == "${PASSWORD}"
    assert vars.value("$PUID", "e.E") == "${PUID}"
    assert vars.settings["PASSWORD"] == {
        "name": "PASSWORD", "description": "The password", "required": False,
        "default": None, "secret": True, "generate": "password",
    }  # fmt: skip
    assert vars.settings["PUID"]["default"] == "1000"
    assert vars.blockers == []


def test_data_directory_in_a_value_follows_the_data_prefix() -> None:
    assert interpolator("data/").value("${DATA}/x", "e.A") == "${TOMO_DATA_DIR}/data/x"


def test_literal_dollars_are_escaped_for_tomo() -> None:
    assert interpolator().value("costs $$5 or ${APP}", "e.A") == "costs $$5 or myapp"


def test_unknown_variable_without_default_becomes_a_required_setting() -> None:
    vars = interpolator()
    assert vars.value("postgres://u:${DB_PASSWORD}@db", "e.URL") == "postgres://u:${DB_PASSWORD}@db"
    assert vars.settings["DB_PASSWORD"] == {
        "name": "DB_PASSWORD", "description": "Value of ${DB_PASSWORD} in the app's compose file",
        "required": True, "default": None, "secret": True, "generate": None,
    }  # fmt: skip


def test_unknown_variable_with_default_becomes_a_setting_with_that_default() -> None:
    vars = interpolator()
    vars.value("${MODE:-fast}", "e.A")
    vars.value("${LEVEL-info}", "e.B")
    assert vars.settings["MODE"]["default"] == "fast"
    assert vars.settings["MODE"]["required"] is False
    assert vars.settings["MODE"]["secret"] is False
    assert vars.settings["LEVEL"]["default"] == "info"


def test_error_text_of_a_required_variable_describes_the_setting() -> None:
    vars = interpolator()
    vars.value("${API_KEY:?the key of your provider}", "e.A")
    assert vars.settings["API_KEY"]["description"] == "the key of your provider"
    assert vars.settings["API_KEY"]["required"] is True


def test_compose_default_wins_over_the_table_default_and_a_later_default_fills_a_gap() -> None:
    vars = interpolator()
    vars.value("${TZ:-Europe/Paris}", "e.A")
    vars.value("${TOKEN}", "e.B")
    vars.value("${TOKEN:-abc}", "e.C")
    assert vars.settings["TZ"]["default"] == "Europe/Paris"
    assert vars.settings["TOKEN"]["default"] == "abc"
    assert vars.settings["TOKEN"]["required"] is False


def test_a_default_naming_variables_is_written_out() -> None:
    vars = interpolator()
    vars.value("${URL:-http://$APP:${PORT:-80}}", "e.A")
    assert vars.settings["URL"]["default"] == "http://myapp:80"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${TOR}", "file: e.A: ${TOR} is Tor's"),
        (
            "${SHARED}/media",
            "file: e.A: ${SHARED} names the shared folder, which tomo passes only as a volume",
        ),
        ("${APP:+x}${NOPE:+y}", "file: e.A: ${NOPE:+…} depends on whether a value is given"),
    ],
)
def test_values_tomo_cannot_provide_block_the_app(text: str, reason: str) -> None:
    vars = interpolator()
    vars.value(text, "e.A")
    assert len(vars.blockers) == 1
    assert vars.blockers[0].startswith(reason)


def test_conditional_on_a_fixed_value() -> None:
    vars = interpolator()
    assert vars.value("${APP:+set}|${EMPTY:+set}|${EMPTY+set}|${EMPTY:-dflt}", "e.A") == (
        "set||set|dflt"
    )


# --- every other field: written out now --------------------------------------------------


def test_literal_values_fix_settings_to_their_default_with_a_warning() -> None:
    vars = interpolator()
    assert vars.literal("$PUID:$PGID", "s.user") == "1000:1000"
    assert vars.literal("--name=${APP}", "s.command") == "--name=myapp"
    assert vars.literal("${THREADS:-4}", "s.command") == "4"
    assert vars.warnings == [
        "file: s.user: ${PUID} is fixed to its default '1000' (tomo passes the user's settings "
        "to environment values only)",
        "file: s.user: ${PGID} is fixed to its default '1000' (tomo passes the user's settings "
        "to environment values only)",
        "file: s.command: ${THREADS} is fixed to its default '4' (tomo passes the user's settings "
        "to environment values only)",
    ]
    assert vars.settings == {}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${NOPE}", "${NOPE} has no value tomo could write here"),
        ("${PASSWORD}", "${PASSWORD} has no value tomo could write here"),
        (
            "${DATA}/x",
            "${DATA} is the data directory, which tomo can put into environment values only",
        ),
        (
            "${HOST}",
            "${HOST} is one of tomo's own values, which tomo can put into environment values only",
        ),
        ("${TOR}", "${TOR} is Tor's"),
    ],
)
def test_literal_values_that_cannot_be_known_block_the_app(text: str, reason: str) -> None:
    vars = interpolator()
    assert vars.literal(text, "s.command") is None
    assert len(vars.blockers) == 1
    assert vars.blockers[0].startswith(f"file: s.command: {reason}")


# --- volume sources and ports --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("${DATA}/config", Source("data", "config")),
        ("${DATA}", Source("data", "")),
        ("$DATA/a/b/", Source("data", "a/b")),
        ("/STORE/apps/$APP/db", Source("data", "db")),
        ("/STORE/apps/myapp", Source("data", "")),
        ("/STORE/media/films", Source("folder", note="under the store's folder")),
        ("/STORE", Source("folder", note="under the store's folder")),
        ("/STOREROOM/x", Source("path", "/STOREROOM/x")),
        ("/var/run/docker.sock", Source("path", "/var/run/docker.sock")),
        ("./conf", Source("path", "./conf")),
        ("${SHARED}/media/music", Source("folder", note="under the shared folder")),
        ("${MEDIA_DIR}/films", Source("folder", note="a folder ${MEDIA_DIR} leaves to the user")),
        ("${MEDIA_DIR:-/srv/media}", Source("path", "/srv/media")),
    ],
)
def test_volume_sources(text: str, source: Source) -> None:
    assert interpolator().source(text, "s.volumes[0]") == source


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("${SHARED}/secrets", "'${SHARED}/secrets' is private"),
        ("${TOR}/data", "${TOR} is Tor's"),
        ("${HOST}/x", "${HOST} is one of tomo's own values"),
    ],
)
def test_volume_sources_tomo_cannot_provide_block_the_app(text: str, reason: str) -> None:
    vars = interpolator()
    assert vars.source(text, "s.volumes[0]") == Source("blocked")
    assert vars.blockers[0].startswith(f"file: s.volumes[0]: {reason}")


def test_published_ports_take_defaults_or_are_left_to_tomo() -> None:
    vars = interpolator()
    assert vars.published("8080") == "8080"
    assert vars.published("${WEBUI_PORT:-8097}") == "8097"
    assert vars.published("${WEBUI_PORT}") is None
    assert vars.warnings == vars.blockers == []


# --- tables --------------------------------------------------------------------------------


def test_a_table_extends_another() -> None:
    table = VariableTable({"A": Fixed("1")}, paths={"/x": DataDir()})
    bigger = table.extend({"B": Fixed("2")}, paths={"/y": DataDir()})
    assert bigger.meaning("A") == Fixed("1")
    assert bigger.meaning("B") == Fixed("2")
    assert table.meaning("B") is None
    assert set(bigger.paths) == {"/x", "/y"}


def test_the_longest_path_prefix_wins_on_whole_components() -> None:
    assert TABLE.path_meaning("/STORE/apps/myapp/db") == (DataDir(), "db")
    assert TABLE.path_meaning("/STORE/apps/myapps") == (HostFolder("the store's folder"),
                                                        "apps/myapps")  # fmt: skip
    assert TABLE.path_meaning("/elsewhere") is None


CASAOS = casaos_table("mediabox")
UMBREL = umbrel_table(
    "notes-hub",
    version="3.1.0",
    exports={"APP_NOTES_HUB_MODE": "fast", "APP_NOTES_HUB_HOST": None},
    dependencies={"APP_BITCOIN_": "bitcoin"},
)


@pytest.mark.parametrize(
    ("table", "name", "meaning"),
    [
        (BASE_TABLE, "PUID", Setting("User id the app's processes run as", default="1000")),
        (BASE_TABLE, "PGID", Setting("Group id the app's processes run as", default="1000")),
        (BASE_TABLE, "TZ", Setting("Time zone, such as Europe/Paris", default="UTC")),
        (CASAOS, "AppID", Fixed("mediabox")),
        (
            CASAOS,
            "DefaultUserName",
            Setting("User name for the app's first login", default="admin"),
        ),
        (
            CASAOS,
            "DefaultPassword",
            Setting("Password for the app's first login", secret=True, generate="password"),
        ),
        (CASAOS, "PUID", BASE_TABLE.meaning("PUID")),
        (UMBREL, "APP_DATA_DIR", DataDir()),
        (UMBREL, "APP_PASSWORD", Setting("Password of the app", secret=True, generate="password")),
        (UMBREL, "APP_SEED", Setting("Secret seed of the app", secret=True, generate="hex")),
        (UMBREL, "DEVICE_DOMAIN_NAME", Builtin("TOMO_SERVER_HOST")),
        (UMBREL, "DEVICE_HOSTNAME", Builtin("TOMO_SERVER_HOST")),
        (UMBREL, "APP_DOMAIN", Builtin("TOMO_SERVER_HOST")),
        (UMBREL, "APP_HIDDEN_SERVICE", Fixed("not-enabled.onion")),
        (UMBREL, "APP_ID", Fixed("notes-hub")),
        (UMBREL, "APP_VERSION", Fixed("3.1.0")),
        (UMBREL, "APP_NOTES_HUB_MODE", Fixed("fast")),
        (UMBREL, "TZ", BASE_TABLE.meaning("TZ")),
    ],
)
def test_store_variables_mean_what_the_docs_say(
    table: VariableTable, name: str, meaning: object
) -> None:
    assert table.meaning(name) == meaning


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("TOR_DATA_DIR", "is part of Umbrel's Tor service"),
        ("TOR_PROXY_IP", "is part of Umbrel's Tor service"),
        ("TOR_PROXY_PORT", "is part of Umbrel's Tor service"),
        ("NETWORK_IP", "is an address of Umbrel's own Docker network"),
        ("GATEWAY_IP", "is an address of Umbrel's own Docker network"),
        ("MANAGER_IP", "is an address of Umbrel's own Docker network"),
        ("AUTH_PORT", "is the port of umbrelOS's login service"),
        ("APP_MANIFEST_FILE", "is a file of umbrelOS's app installation"),
        ("APP_PROXY_HOSTNAME", "belongs to Umbrel's app proxy"),
        ("APP_PROXY_PORT", "belongs to Umbrel's app proxy"),
        ("APP_NOTES_HUB_HOST", "is computed by the app's exports.sh"),
    ],
)
def test_umbrel_variables_tomo_cannot_provide(name: str, reason: str) -> None:
    meaning = UMBREL.meaning(name)
    assert isinstance(meaning, Unsupported)
    assert meaning.reason.startswith(reason)


def test_another_apps_variable_not_listed_is_an_optional_import() -> None:
    """A dependency's dependency's, or an app's umbrelOS gives only while installed."""
    assert UMBREL.meaning("APP_ELECTRS_NODE_IP") == Imported("")


def test_what_a_dependency_exports_is_imported_from_it() -> None:
    assert UMBREL.meaning("APP_BITCOIN_RPC_PASS") == Imported("bitcoin")
    # the longest prefix wins: APP_CORE_LIGHTNING_ is core-lightning's, not core's
    table = umbrel_table("x", version="1", exports={},
                         dependencies={"APP_CORE_": "core", "APP_CORE_LIGHTNING_": "core-lightning"})  # fmt: skip
    assert table.meaning("APP_CORE_LIGHTNING_RPC_PORT") == Imported("core-lightning")
    assert table.meaning("APP_CORE_PORT") == Imported("core")
    # its own prefix, not exported plainly: the script computes it
    own = umbrel_table("bitcoin", version="1", exports={},
                       dependencies={"APP_BITCOIN_KNOTS_": "bitcoin-knots"})  # fmt: skip
    assert own.meaning("APP_BITCOIN_RPC_USER") == Unsupported(
        "is computed by the app's exports.sh, a shell script tomo does not run"
    )
    assert own.meaning("APP_BITCOIN_KNOTS_PORT") == Imported("bitcoin-knots")


def test_umbrel_root_is_a_folder_only_under_shared_storage() -> None:
    vars = Interpolator(UMBREL)
    assert vars.source("${UMBREL_ROOT}/data/storage/downloads", "v").kind == "folder"
    assert vars.source("${UMBREL_ROOT}/db", "v").kind == "blocked"
    assert vars.blockers == ["v: '${UMBREL_ROOT}/db' reaches umbrelOS's own files"]


def test_casaos_paths_map_to_the_data_directory_or_a_folder() -> None:
    vars = Interpolator(CASAOS)
    assert vars.source("/DATA/AppData/$AppID/config", "v") == Source("data", "config")
    assert vars.source("/DATA/AppData/mediabox/cache", "v") == Source("data", "cache")
    assert vars.source("/DATA/AppData/other/x", "v").kind == "folder"
    assert vars.source("/DATA/Media", "v").kind == "folder"


def test_unknown_names_fall_through_the_tables() -> None:
    assert CASAOS.meaning("WEBUI_PORT") is None
    assert UMBREL.meaning("MY_OWN") is None


# --- the docs ------------------------------------------------------------------------------


def _documented() -> str:
    return DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "name",
    sorted(
        {
            *BASE_TABLE.variables,
            *CASAOS.variables,
            *umbrel_table("x", version="1", exports={}, dependencies={}).variables,
        }
    ),
)
def test_every_variable_of_the_tables_is_documented(name: str) -> None:
    assert f"`{name}`" in _documented()


@pytest.mark.parametrize("key", sorted({*WARNED, *BLOCKED}))
def test_every_judged_compose_key_is_documented(key: str) -> None:
    assert f"`{key}`" in _documented()


def test_built_ins_used_by_the_tables_exist() -> None:
    for table in (CASAOS, UMBREL):
        for meaning in table.variables.values():
            if isinstance(meaning, Builtin):
                assert meaning.name in BUILTIN_VARIABLES
