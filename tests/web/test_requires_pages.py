"""An app that requires other apps, on its page and its install form, as a browser
without JavaScript sees them, on a real catalog repository synced by the service."""

from __future__ import annotations

from html import unescape
from typing import Any

from tests.web.conftest import Web, text_of
from tests.web.test_store_pages import MakeRepo, catalog_of, subscribe

NODE: dict[str, Any] = {
    "settings": [{"name": "TOKEN", "secret": True, "generate": "hex"}],
    "exports": [{"name": "NODE_HOST", "host": "app"}, {"name": "NODE_TOKEN", "value": "${TOKEN}"}],
}
VIEWER: dict[str, Any] = {
    "requires": [{"app": "node", "imports": ["NODE_HOST", "NODE_TOKEN"]}],
    "docker": {"image": "example/viewer:1", "environment": [
        {"name": "UPSTREAM", "default": "${NODE_HOST}"}]},
}  # fmt: skip


def test_the_app_page_shows_the_tree_of_what_it_needs(web: Web, make_repo: MakeRepo) -> None:
    repo = catalog_of(make_repo, ("node", "tools", NODE), ("viewer", "tools", VIEWER),
                      ("explorer", "tools", {**VIEWER, "requires": [
                          {"app": "viewer"}, {"app": "ghost", "imports": ["GHOST_URL"]}],
                          "docker": {"image": "example/explorer:1"}}))  # fmt: skip
    repo_id = subscribe(web, repo, "chain")
    page = unescape(text_of(web.viewer().get(f"/apps/{repo_id}/viewer")))
    assert "Apps it needs" in page
    assert f"Node {repo_id}/node gives NODE_HOST, NODE_TOKEN" in page
    assert "Reaches the app node" in page  # its risk flag, explained
    assert "tomo cannot install Viewer" not in page

    deeper = unescape(text_of(web.viewer().get(f"/apps/{repo_id}/explorer")))
    assert f"Viewer {repo_id}/viewer Node {repo_id}/node" in deeper  # the tree, nested
    assert (f"tomo cannot install Explorer. It requires {repo_id}/ghost, but it is not in "
            "the catalog.") in deeper  # fmt: skip


def test_an_export_the_required_app_lacks_is_said_on_the_page(
    web: Web, make_repo: MakeRepo
) -> None:
    repo = catalog_of(make_repo, ("node", "tools", {**NODE, "exports": []}),
                      ("viewer", "tools", VIEWER))  # fmt: skip
    repo_id = subscribe(web, repo, "chain")
    page = unescape(text_of(web.viewer().get(f"/apps/{repo_id}/viewer")))
    assert (f"tomo cannot install Viewer. It requires {repo_id}/node, but it gives no "
            "NODE_HOST, NODE_TOKEN.") in page  # fmt: skip


def test_a_catalog_of_apps_that_all_require_each_other_keeps_the_page_quick(
    web: Web, make_repo: MakeRepo
) -> None:
    """As the catalog's attacker: 12 apps, each requiring all the others, would be
    a tree of billions of branches; each app is looked up and walked once."""
    names = [f"mesh-{i}" for i in range(12)]
    apps = [(name, "tools", {"requires": [{"app": other} for other in names if other != name],
                             "docker": {"image": f"example/{name}:1"}}) for name in names]  # fmt: skip
    repo_id = subscribe(web, catalog_of(make_repo, *apps), "mesh")
    answer = web.viewer().get(f"/apps/{repo_id}/mesh-0")
    assert answer.status_code == 200
    assert "apps require each other in a circle" in unescape(text_of(answer))
    assert answer.text.count("<li>") < 12 * 12


def test_what_a_required_app_gives_through_its_own_requirements_counts(
    web: Web, make_repo: MakeRepo
) -> None:
    """An app requiring `viewer` may import what `viewer`'s own requirement `node`
    exports (Umbrel's apps use their dependencies' dependencies')."""
    wallet = {"requires": [{"app": "viewer", "imports": ["NODE_TOKEN"]}],
              "docker": {"image": "example/wallet:1", "environment": [
                  {"name": "TOKEN", "default": "${NODE_TOKEN}"}]}}  # fmt: skip
    repo = catalog_of(make_repo, ("node", "tools", NODE), ("viewer", "tools", VIEWER),
                      ("wallet", "tools", wallet),
                      ("purse", "tools", {**wallet, "requires": [
                          {"app": "viewer", "imports": ["NODE_SEED"]}],
                          "docker": {"image": "example/purse:1", "environment": [
                              {"name": "SEED", "default": "${NODE_SEED}"}]}}))  # fmt: skip
    repo_id = subscribe(web, repo, "chain")
    page = unescape(text_of(web.viewer().get(f"/apps/{repo_id}/wallet")))
    assert f"Viewer {repo_id}/viewer gives NODE_TOKEN" in page
    assert "tomo cannot install Wallet" not in page
    lacking = unescape(text_of(web.viewer().get(f"/apps/{repo_id}/purse")))
    assert (f"tomo cannot install Purse. It requires {repo_id}/viewer, but it gives no "
            "NODE_SEED.") in lacking  # fmt: skip
