"""A device the user chooses at install (Runtipi's zigbee2mqtt: `${Z2M_DEVICE}:/dev/ttyACM0`),
on the sshd + Docker test server: the value given is the server's device the
container gets, checked first, under the risk flag that names the setting."""

from __future__ import annotations

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker


async def test_the_device_given_at_install_is_the_one_the_container_gets(
    deploy: Deploy, tomo: Tomo
) -> None:
    app = await deploy.publish("dongle", docker=deploy.web_app(devices=["${SERIAL}:/dev/serial0"]),
                               settings=[{"name": "SERIAL", "required": True}])  # fmt: skip
    unaccepted = tomo.error("install", app, "--server", "box", "--env", "SERIAL=/dev/null",
                            expect=2)  # fmt: skip
    assert "device-setting:SERIAL" in unaccepted
    missing = tomo.run("install", app, "--server", "box", "--env", "SERIAL=/dev/no-such-dongle",
                       "--accept-risk", "device-setting:SERIAL", expect=8)  # fmt: skip
    assert "device /dev/no-such-dongle does not exist on the server" in missing.stderr
    assert tomo.json("ps") == []

    tomo.json("install", app, "--server", "box", "--env", "SERIAL=/dev/null",
              "--accept-risk", "device-setting:SERIAL")  # fmt: skip
    assert docker("exec", "dongle", "ls", "/dev/serial0").strip() == "/dev/serial0"
    tomo.json("uninstall", "dongle")
