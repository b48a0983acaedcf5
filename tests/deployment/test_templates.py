"""A store's template (Umbrel's, Runtipi's `*.template`) placed filled in with the
installation's values, on the sshd + Docker test server."""

from __future__ import annotations

import base64
from pathlib import Path

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import page
from tests.services import free_port


async def test_a_template_is_placed_filled_in_and_never_over_the_users_file(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    text = "${GREETING} from ${TOMO_INSTANCE}, $$5\n"
    app = await deploy.publish("templ", docker=deploy.web_app(
        port=port, volumes=[{"host_path": "./www", "container_path": "/www"}],
        environment=[{"name": "GREETING", "default": "${GREETING}"}]),
        settings=[{"name": "GREETING", "default": "hello"}],
        files=[{"path": "./www/index.html", "template": True,
                "content": base64.b64encode(text.encode()).decode()}])  # fmt: skip
    tomo.json("install", app, "--server", "box", "--env", "GREETING=bonjour")
    assert page(port) == "bonjour from templ, $5\n"

    # kept data keeps the file as the user left it: an install over it places nothing
    (deploy.data_root / "templ" / "www" / "index.html").write_text("mine\n")
    tomo.json("uninstall", "templ")
    tomo.json("install", app, "--server", "box")
    assert page(port) == "mine\n"
    tomo.json("uninstall", "templ", "--remove-data")


async def test_a_file_the_store_ships_mounted_alone_arrives_as_that_file(
    deploy: Deploy, tomo: Tomo
) -> None:
    """Runtipi's crowdsec mounts data/crowdsec/acquis.yaml alone: the file is placed,
    then mounted (a folder made first at its path would take its place)."""
    port = free_port()
    shipped = base64.b64encode(b"the store's page\n").decode()
    app = await deploy.publish("lone", docker=deploy.web_app(
        port=port, volumes=[{"host_path": "./conf/index.html", "container_path": "/www/index.html",
                             "readonly": True}]),
        files=[{"path": "./conf/index.html", "content": shipped, "mode": "0444"}])  # fmt: skip
    tomo.json("install", app, "--server", "box")
    assert page(port) == "the store's page\n"
    placed = deploy.data_root / "lone" / "conf" / "index.html"
    assert placed.is_file() and oct(placed.stat().st_mode & 0o777) == "0o444"
    tomo.json("uninstall", "lone", "--remove-data")


async def test_a_compose_config_written_out_reaches_the_container_filled_in(
    deploy: Deploy, tomo: Tomo, tmp_path: Path
) -> None:
    """compose's `configs` with `content:` (CasaOS's GiteaRunner): placed filled in with
    the installation's values and mounted read-only where the service asks."""
    port = free_port()
    compose = tmp_path / "docker-compose.yml"
    compose.write_text(
        "configs:\n  page:\n    content: |\n      ${GREETING:-hello} from a config, $$5\n"
        f"services:\n  web:\n    image: {deploy.images.web_v1}\n    ports: ['{port}:80']\n"
        "    configs:\n      - {source: page, target: /www/index.html}\n"
    )
    tomo.json("install", "--compose", str(compose), "--name", "conf", "--server", "box",
              "--env", "GREETING=bonjour")  # fmt: skip
    assert page(port) == "bonjour from a config, $5\n"
    placed = deploy.data_root / "conf" / "compose-configs" / "page"
    assert oct(placed.stat().st_mode & 0o777) == "0o444"
    tomo.json("uninstall", "conf", "--remove-data")
