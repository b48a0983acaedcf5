"""A store's hook scripts (Umbrel's `hooks/`), run by tomo in one-shot containers of
the app's image on the sshd + Docker test server: before the app's containers
exist, after they are up, and at an update; one that fails fails the install,
which leaves nothing behind."""

from __future__ import annotations

from tests.cli.tomo_cli import Tomo
from tests.deployment.conftest import Deploy
from tests.deployment.test_install import docker, page
from tests.services import free_port


def hooked_app(deploy: Deploy, port: int, **hooks: str) -> dict[str, object]:
    return {
        "docker": deploy.web_app(port=port, volumes=[{"host_path": "./www",
                                                      "container_path": "/www"}]),
        "hooks": [{"name": name.replace("_", "-"), "runs": name.replace("_", "-"),
                   "script": script} for name, script in hooks.items()],
    }  # fmt: skip


async def test_hooks_run_in_the_apps_image_with_its_data_directory(
    deploy: Deploy, tomo: Tomo
) -> None:
    port = free_port()
    app = await deploy.publish("hooked", **hooked_app(
        deploy, port,
        before_install='echo "page from the hook" > "$APP_DATA_DIR/www/index.html" && '
                       'chown 1234:1234 "$APP_DATA_DIR/www/index.html"',  # as umbrelOS: root
        after_start='echo "$APP_ID was up" > "$APP_DATA_DIR/www/after.txt"',
        before_update='echo "updated by a hook" > "$APP_DATA_DIR/www/index.html"',
    ))  # fmt: skip
    installed = tomo.json("install", app, "--server", "box")
    steps = [s["name"] for s in installed["job"]["steps"]]
    assert steps == ["validate", "preflight", "pull", "hooks", "create", "wait", "hooks"]
    assert page(port) == "page from the hook\n"
    assert (deploy.data_root / "hooked" / "www" / "index.html").stat().st_uid == 1234
    assert (deploy.data_root / "hooked" / "www" / "after.txt").read_text() == "hooked was up\n"
    # one-shot: nothing of the hooks stays on the server
    assert "-hook-" not in docker("ps", "-a", "--format", "{{.Names}}")

    tomo.json("update", app.split("/")[1], "--tag", "2")
    assert page(port) == "updated by a hook\n"
    tomo.json("uninstall", "hooked", "--remove-data")


async def test_a_hook_that_fails_fails_the_install_and_leaves_nothing(
    deploy: Deploy, tomo: Tomo
) -> None:
    app = await deploy.publish("broken-hook", **hooked_app(
        deploy, free_port(), before_install="echo cannot prepare >&2; exit 7"))  # fmt: skip
    failed = tomo.run("install", app, "--server", "box", expect=8)
    assert "the hook before-install failed with code 7: cannot prepare" in failed.stderr
    assert tomo.json("ps") == []
    assert "broken-hook" not in docker("ps", "-a", "--format", "{{.Names}}")
    assert not (deploy.data_root / "broken-hook").exists()


async def test_a_hook_that_turns_the_apps_folders_into_links_fails_the_install(
    deploy: Deploy, tomo: Tomo
) -> None:
    """As the catalog's attacker: a hook may write the whole data directory, so it
    could swap a folder Docker mounts (or an env file Docker reads) for a link to
    the server's root or the SSH user's keys. They are resolved again after the
    hooks: the install fails, is undone, and no container ever mounted the link."""
    for name, script in (
        ("to-root", 'rm -rf "$APP_DATA_DIR/www" && ln -s / "$APP_DATA_DIR/www"'),
        ("to-keys", 'rm -f "$APP_DATA_DIR/.tomo.env" && ln -s /etc/hostname '
                    '"$APP_DATA_DIR/.tomo.env"'),
    ):  # fmt: skip
        app = await deploy.publish(name, **hooked_app(deploy, free_port(), before_install=script))
        failed = tomo.run("install", app, "--server", "box", expect=8)
        assert "leads to" in failed.stderr, failed.stderr
        assert tomo.json("ps") == []
        assert name not in docker("ps", "-a", "--format", "{{.Names}}")
