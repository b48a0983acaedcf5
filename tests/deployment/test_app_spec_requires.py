"""Apps that require other apps, from definition to containers (pure: no Docker, no
SSH): what the required installation exports becomes the dependant's values, its
secrets stay secret, and the dependant's containers join its network. The real
deployment is in test_dependencies.py."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from tomo.deployment.app_spec import AppSpec, Exported, build_app_spec
from tomo.deployment.spec import InstallConfig, build_docker_run_command
from tomo.errors import InvalidInput
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.risk import app_risks, risk_flag_problem
from tomo.marketplace.risk_words import explain_risk

NODE: dict[str, Any] = {
    "id": "node", "name": "Node", "version": "1",
    "settings": [{"name": "RPC_PASS", "secret": True, "generate": "hex"},
                 {"name": "RPC_USER", "default": "tomo"}],
    "services": {"rpc": {"image": "example/node:1"}, "ui": {"image": "example/node-ui:1",
                                                         "ports": [{"container": 80}]}},
    "main": "ui",
    "exports": [{"name": "NODE_HOST", "host": "rpc"},
                {"name": "NODE_USER", "value": "${RPC_USER}"},
                {"name": "NODE_PASS", "value": "${RPC_PASS}"},
                {"name": "NODE_URL", "value": "http://${RPC_USER}@${TOMO_INSTANCE}-rpc:8332"}],
}  # fmt: skip
EXPLORER: dict[str, Any] = {
    "id": "explorer", "name": "Explorer", "version": "1",
    "docker": {"image": "example/explorer:1", "environment": [
        {"name": "BACKEND", "default": "${NODE_HOST}:8332"},
        {"name": "BACKEND_AUTH", "default": "${NODE_USER}:${NODE_PASS}"},
        {"name": "TITLE", "default": "Explorer"}]},
    "requires": [{"app": "node", "imports": ["NODE_HOST", "NODE_USER", "NODE_PASS"]}],
}  # fmt: skip


def build(data: dict[str, Any], imports: dict[str, Exported] | None = None,
          **config: Any) -> AppSpec:  # fmt: skip
    return build_app_spec(
        AppDefinition.model_validate(data), InstallConfig(**config), repo_id="main",
        installation_id="i1", data_root="/srv/apps", server_host="nas.local", imports=imports,
    )  # fmt: skip


def test_an_installation_exports_host_names_on_its_network_and_values_of_its_settings() -> None:
    node = build(NODE, name="btc")
    assert node.network == "tomo-btc"
    password = node.exports["NODE_PASS"].value
    assert len(password) == 32 and node.exports["NODE_PASS"].secret
    assert {name: (e.value, e.secret, e.network) for name, e in node.exports.items()
            if name != "NODE_PASS"} == {
        "NODE_HOST": ("btc-rpc", False, "tomo-btc"),
        "NODE_USER": ("tomo", False, "tomo-btc"),
        "NODE_URL": ("http://tomo@btc-rpc:8332", False, "tomo-btc"),
    }  # fmt: skip


def test_one_container_that_exports_a_host_gets_a_network_of_its_own() -> None:
    solo = {**EXPLORER, "id": "solo", "requires": [], "docker": {"image": "example/solo:1"},
            "exports": [{"name": "SOLO_HOST", "host": "app"}]}  # fmt: skip
    assert build(solo).network == "tomo-solo"
    assert build({**solo, "exports": []}).network is None


def test_the_values_a_single_container_exports_are_templates_too() -> None:
    """A one-container app without settings takes its own values as written, but what
    it exports is always a template: `${NAME}` filled in, `$$` a `$`."""
    solo = {"id": "solo", "name": "Solo", "version": "1", "docker": {"image": "example/solo:1"},
            "exports": [{"name": "SOLO_URL", "value": "http://${TOMO_INSTANCE}:80/$$1"}]}  # fmt: skip
    assert build(solo, name="one").exports["SOLO_URL"].value == "http://one:80/$1"


def test_the_dependant_takes_the_exports_its_secrets_sealed_and_joins_the_network() -> None:
    node = build(NODE, name="btc")
    app = build(EXPLORER, node.exports, accept_risks=["app:node"])
    main = app.main
    assert main.env == {"BACKEND": "btc-rpc:8332", "TITLE": "Explorer"}
    assert main.secret_env == {"BACKEND_AUTH": f"tomo:{node.exports['NODE_PASS'].value}"}
    # What the dependency gives is worked out again at each update: never recorded.
    assert app.env == {"TITLE": "Explorer"} and app.secret_env == {}
    assert main.extra_networks == ["tomo-btc"]
    assert "app:node" in app.risks
    argv = build_docker_run_command(main, "127.0.0.1")
    assert argv[:2] == ["container", "create"]  # connected to the network before it starts


def test_joining_another_apps_network_is_a_risk_flag_to_accept() -> None:
    node = build(NODE, name="btc")
    with pytest.raises(InvalidInput, match="app:node"):
        build(EXPLORER, node.exports)
    assert "app:node" in app_risks(AppDefinition.model_validate(EXPLORER))
    assert risk_flag_problem("app:node") is None
    assert risk_flag_problem("app:Not An App") is not None
    assert explain_risk("app:node")[0] == "Reaches the app node"


def test_an_import_the_required_installation_does_not_give_is_refused() -> None:
    node = build(NODE, name="btc")
    partial = {k: v for k, v in node.exports.items() if k != "NODE_PASS"}
    with pytest.raises(InvalidInput, match="the app node it requires gives no NODE_PASS"):
        build(EXPLORER, partial, accept_risks=["app:node"])


@pytest.mark.parametrize(("change", "error"), [
    ({"requires": [{"app": "node", "imports": ["TITLE!"]}]}, "cannot be referred to"),
    ({"requires": [{"app": "Node"}]}, "is not an app"),
    ({"requires": [{"app": "explorer"}]}, "is this app itself"),
    ({"requires": [{"app": "node", "imports": ["NODE_HOST"]},
                   {"app": "main/node", "imports": ["NODE_HOST"]}]}, "given twice"),
    ({"settings": [{"name": "NODE_HOST"}]}, "imported and also a setting"),
    ({"exports": [{"name": "X", "host": "nope"}]}, "'nope' is not a service"),
    ({"exports": [{"name": "X", "value": "${NODE_HOST}"}]}, "is not a setting of this app"),
    ({"exports": [{"name": "X"}]}, "give either host"),
    ({"docker": {"image": "a:1", "volumes": [
        {"container_path": "/lnd", "imported_folder": "NODE_DATA"}]}},
     "NODE_DATA is none of the imports of the apps it requires"),
    ({"docker": {"image": "a:1", "volumes": [
        {"container_path": "/lnd", "imported_folder": "NODE_HOST/../x"}]}}, "no '..'"),
    ({"docker": {"image": "a:1", "volumes": [
        {"container_path": "/lnd", "imported_folder": "NODE_HOST", "host_path": "./x"}]}},
     "give only one of host_path / volume / imported_folder"),
])  # fmt: skip
def test_requirements_and_exports_that_cannot_work_are_refused(
    change: dict[str, Any], error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        AppDefinition.model_validate({**EXPLORER, **change})


def test_a_store_template_is_filled_in_with_the_installations_values() -> None:
    """A template carrying a secret is not left readable by everyone on the server."""
    template = "user: ${RPC_USER}\npass: ${RPC_PASS}\nhost: ${TOMO_SERVER_HOST}\ncost: $$5\n"
    plain = "title: ${RPC_USER}\n"
    node = {**NODE, "files": [
        {"path": "./conf/node.conf", "content": base64.b64encode(template.encode()).decode(),
         "mode": "0644", "template": True},
        {"path": "./conf/title.conf", "content": base64.b64encode(plain.encode()).decode(),
         "template": True},
    ]}  # fmt: skip
    app = build(node, name="btc")
    secret, public = app.files
    password = app.exports["NODE_PASS"].value
    assert secret.data.decode() == f"user: tomo\npass: {password}\nhost: nas.local\ncost: $5\n"
    assert (secret.host_path, secret.mode) == ("/srv/apps/btc/conf/node.conf", 0o640)
    assert (public.data, public.mode) == (b"title: tomo\n", 0o644)
    with pytest.raises(ValueError, match=re.escape("files: ./conf/title.conf: ${NOPE} is not a")):
        AppDefinition.model_validate({**node, "files": [{**node["files"][1], "content":
            base64.b64encode(b"${NOPE}").decode()}]})  # fmt: skip


def test_a_device_chosen_at_install_takes_the_settings_value() -> None:
    chosen = {"id": "zigbee", "name": "Zigbee", "version": "1",
              "settings": [{"name": "SERIAL", "required": True}],
              "docker": {"image": "example/zigbee:1", "devices": ["${SERIAL}:/dev/ttyACM0"]}}  # fmt: skip
    app = build(chosen, env={"SERIAL": "/dev/ttyUSB0"}, accept_risks=["device-setting:SERIAL"])
    assert app.main.devices == ["/dev/ttyUSB0:/dev/ttyACM0"]
    assert app.risks == ["device-setting:SERIAL"]
    assert "--device" in build_docker_run_command(app.main, "127.0.0.1")
    with pytest.raises(InvalidInput, match="SERIAL must name a device of the server"):
        build(chosen, env={"SERIAL": "/etc/shadow"}, accept_risks=["device-setting:SERIAL"])
    # as the catalog's attacker: a default device is never taken for the user's choice
    defaulted = {**chosen, "settings": [{"name": "SERIAL", "default": "/dev/sda"}]}
    with pytest.raises(InvalidInput, match="give SERIAL, the server's device the app gets"):
        build(defaulted, accept_risks=["device-setting:SERIAL"])
    with pytest.raises(ValueError, match=re.escape("devices[0]: ${SERIAL} is not a setting")):
        AppDefinition.model_validate({**chosen, "settings": []})
    assert (
        explain_risk("device-setting:SERIAL")[0]
        == "Direct access to the device you choose (SERIAL)"
    )
    assert risk_flag_problem("device-setting:SERIAL") is None


# --- folders of the data of a required app ------------------------------------------------

LIGHTNING: dict[str, Any] = {
    "id": "lightning", "name": "Lightning", "version": "1",
    "services": {"lnd": {"image": "example/lnd:1", "volumes": [
        {"container_path": "/data/.lnd", "host_path": "./data/lnd"}]}},
    "exports": [{"name": "LND_DATA", "value": "${TOMO_DATA_DIR}/data/lnd"},
                {"name": "LND_HOST", "host": "lnd"}],
}  # fmt: skip
WALLET: dict[str, Any] = {
    "id": "wallet", "name": "Wallet", "version": "1",
    "docker": {"image": "example/wallet:1", "volumes": [
        {"container_path": "/lnd", "imported_folder": "LND_DATA/tls", "readonly": True}]},
    "requires": [{"app": "lightning", "imports": ["LND_DATA"]}],
}  # fmt: skip


def test_a_folder_a_required_app_exports_is_mounted_with_its_own_risk_flag() -> None:
    lightning = build(LIGHTNING, name="ln")
    given = lightning.exports["LND_DATA"]
    assert (given.value, given.folder, given.writable_above) == (
        "/srv/apps/ln/data/lnd", True, None)  # fmt: skip
    assert not lightning.exports["LND_HOST"].folder
    assert "app-data:lightning" in app_risks(AppDefinition.model_validate(WALLET))
    with pytest.raises(InvalidInput, match="app-data:lightning"):
        build(WALLET, lightning.exports)
    wallet = build(WALLET, lightning.exports, accept_risks=["app-data:lightning"])
    [mount] = wallet.main.mounts
    assert (mount.host_path, mount.container_path, mount.readonly, mount.owned) == (
        "/srv/apps/ln/data/lnd/tls", "/lnd", True, False)  # fmt: skip
    # judged as the other app's data, not as a path under the server's app folders
    assert wallet.risks == ["app-data:lightning"]
    assert explain_risk("app-data:lightning")[0] == "Reads and writes lightning's data"
    assert risk_flag_problem("app-data:lightning") is None


def test_a_folder_its_app_can_write_around_is_also_a_nested_mount() -> None:
    """A container of the exporting app that writes the folder holding the exported
    one could swap it for a link, which Docker follows at the dependant's next start."""
    whole = {**LIGHTNING, "services": {"lnd": {"image": "example/lnd:1", "volumes": [
        {"container_path": "/data", "host_path": "./data"}]}}}  # fmt: skip
    lightning = build(whole, name="ln")
    assert lightning.exports["LND_DATA"].writable_above == "/srv/apps/ln/data"
    hooked = {**LIGHTNING, "hooks": [{"name": "pre-start", "runs": "before-start",
                                      "script": "chown -R 1000 \"$APP_DATA_DIR\""}]}  # fmt: skip
    assert build(hooked, name="ln").exports["LND_DATA"].writable_above == "/srv/apps/ln"
    with pytest.raises(InvalidInput, match="nested-mount:/srv/apps/ln/data/lnd/tls"):
        build(WALLET, lightning.exports, accept_risks=["app-data:lightning"])


def test_an_import_that_is_no_folder_of_the_apps_data_is_never_mounted() -> None:
    """An export naming any other path (an attacker's `/`, or `/etc`) is refused."""
    hostile = {**LIGHTNING, "exports": [{"name": "LND_DATA", "value": "/etc"}]}
    for exports in (build(hostile, name="ln").exports,
                    {"LND_DATA": Exported("/", False, None, "lightning")}):  # fmt: skip
        with pytest.raises(InvalidInput, match="gives LND_DATA, which is not a folder of its"):
            build(WALLET, exports, accept_risks=["app-data:lightning"])
