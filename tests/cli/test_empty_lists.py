"""A list with nothing in it says so in a sentence (and what to do), never an
empty table; with --json it is still the empty list (or an empty page).

Runs the real entry point on a real data directory, as test_cli.py does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.tomo_cli import Tomo
from tests.gitrepo import CatalogRepo


@pytest.fixture
def tomo(tmp_path: Path) -> Tomo:
    return Tomo(tmp_path / "data")


def said(tomo: Tomo, *args: str) -> str:
    """The command's one sentence (on stderr, as every message); nothing on stdout."""
    done = tomo.run(*args)
    assert done.stdout == "", done.stdout
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr.strip()


EMPTY = {
    ("repo", "list"): "No repositories yet. Add one with `tomo repo add URL --name NAME`.",
    ("server", "list"): "No servers yet. Add one with "
    "`tomo server add NAME HOST --user USER --key PATH`.",
    ("ps",): "No installations yet. Install an app with `tomo install APP --server SERVER`.",
    ("job", "list"): "No jobs yet: each install, update, start, stop or uninstall runs as one.",
    ("user", "list"): "No users yet. Create the first admin with "
    "`tomo user create NAME --admin --password-stdin`.",
    ("token", "list"): "No API tokens yet. Make one with `tomo token create NAME`.",
    ("audit",): "The audit log is empty: nothing was changed through the API or the web UI, "
    "and nobody logged in, yet.",
    ("app", "categories"): "The catalog has no apps yet. Add a repository of app definitions "
    "with `tomo repo add URL --name NAME`.",
    ("app", "search"): "The catalog has no apps yet. Add a repository of app definitions "
    "with `tomo repo add URL --name NAME`.",
}  # fmt: skip


def test_every_empty_list_says_so_in_a_sentence(tomo: Tomo) -> None:
    for args, sentence in EMPTY.items():
        assert said(tomo, *args) == sentence, args
        assert sentence.endswith(".")
    for args in EMPTY:
        if args != ("app", "search"):
            assert tomo.json(*args) == [], args
    assert tomo.json("app", "search")["items"] == []


def test_a_filter_that_finds_nothing_is_named(tomo: Tomo) -> None:
    assert said(tomo, "job", "list", "--installation", "web") == "No job for web."


def test_a_search_that_finds_nothing_names_what_was_asked(tomo: Tomo, make_repo) -> None:
    catalog: CatalogRepo = make_repo("catalog")
    catalog.add_app("jellyfin", "media", tags=["media"])
    catalog.commit()
    tomo.run("repo", "add", catalog.url, "--name", "Home")
    assert said(tomo, "app", "search", "zzzz") == (
        "No app matches “zzzz”. Try other words; `tomo app search` alone lists every app."
    )
    assert said(tomo, "app", "search", "jellyfin", "--category", "tools") == (
        "No app matches “jellyfin” in category tools. Try other words or fewer filters; "
        "`tomo app search` alone lists every app."
    )
    assert said(tomo, "app", "search", "--tag", "music", "--repo", "home") == (
        "No app is tagged music, in repo home. Try other words or fewer filters; "
        "`tomo app search` alone lists every app."
    )
    assert said(tomo, "app", "search", "--offset", "5") == (
        "1 app matches, none from number 6 on: give a lower --offset."
    )
    page = json.loads(tomo.run("app", "search", "zzzz", "--json").stdout)
    assert (page["items"], page["total"]) == ([], 0)
    found = tomo.run("app", "search", "jellyfin")  # a match is still a table
    assert "home/jellyfin" in found.stdout and "No app" not in found.stderr
    assert "No repositories" not in tomo.run("repo", "list").stderr
