"""`tomo update-policy` and `tomo install --updates`, as the real command runs them:
what it says, what it keeps, and bad input refused naming the option with nothing
saved. No server is reached: a policy is tomo's own record."""

from __future__ import annotations

import json

from tests.cli.test_outdated_cli import record_installations, tomo  # noqa: F401 - fixture
from tests.cli.tomo_cli import Tomo
from tests.gitrepo import CatalogRepo


def policy_of(cli: Tomo, name: str) -> dict[str, object]:
    listed = json.loads(cli.run("ps", "--json").stdout)
    return next(i["updates"] for i in listed if i["name"] == name)


async def test_update_policy_is_set_said_and_kept(tomo: Tomo, make_repo) -> None:  # noqa: F811
    repo: CatalogRepo = make_repo()
    repo.add_app("notes")
    repo.add_app("photos")
    repo.commit()
    tomo.run("repo", "add", repo.url, "--name", "Home")
    tomo.run("repo", "sync", "home")
    await record_installations(tomo.data_dir)
    assert policy_of(tomo, "notes") == {"policy": "manual", "window": None, "major": False}

    said = tomo.run("update-policy", "notes", "auto", "--window", "1:00-2:30")
    assert said.stderr == ("notes on nas: updates auto (applied by tomo inside its maintenance "
                           "window, 01:00-02:30, within the major version)\n")  # fmt: skip
    shown = json.loads(tomo.run("update-policy", "pics", "pinned", "--json").stdout)
    assert shown["updates"] == {"policy": "pinned", "window": None, "major": False}
    assert policy_of(tomo, "notes") == {"policy": "auto", "window": "01:00-02:30", "major": False}

    for args, words in (
        (("notes", "auto", "--window", "25:00"),
         "error: --window: '25:00' is not a maintenance window: write it as HH:MM-HH:MM, "
         "e.g. 03:00-05:00\n"),
        (("notes", "auto", "--window", "03:00-03:61"), "03:61 is not a time of day"),
        (("notes", "weekly"), "error: POLICY: 'weekly' is not an update policy (one of: "
                              "manual, notify, auto, pinned)"),
        (("notes", "notify", "--window", "03:00-04:00"),
         "error: --window: a window is for automatic updates only (choose auto, or leave "
         "--window out)"),
    ):  # fmt: skip
        refused = tomo.run("update-policy", *args, expect=2)
        assert words in refused.stderr, refused.stderr
    refused = tomo.run("update-policy", "nothing", "auto", expect=3)
    assert "nothing" in refused.stderr
    assert policy_of(tomo, "notes") == {"policy": "auto", "window": "01:00-02:30", "major": False}


def test_install_refuses_a_bad_policy_before_anything(tomo: Tomo) -> None:  # noqa: F811
    refused = tomo.run("install", "home/notes", "--server", "nas", "--updates", "sometimes",
                       expect=2)  # fmt: skip
    assert "--updates: 'sometimes' is not an update policy" in refused.stderr
    refused = tomo.run("install", "home/notes", "--server", "nas", "--update-window", "9-5",
                       expect=2)  # fmt: skip
    assert "--update-window: '9-5' is not a maintenance window" in refused.stderr
