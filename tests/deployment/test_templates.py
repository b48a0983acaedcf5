"""A store's template (Umbrel's, Runtipi's `*.template`) placed filled in with the
installation's values, on the sshd + Docker test server."""

from __future__ import annotations

import base64

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
