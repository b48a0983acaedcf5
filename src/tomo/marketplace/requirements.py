"""The apps an app requires, as a tree read from the catalog (no server): what the
app page and the install form show, and why an app whose requirements cannot be
met is not installable (a required app missing from the catalog, one tomo
cannot install, one that does not export what is imported, a circle)."""

from __future__ import annotations

from tomo.errors import TomoError
from tomo.marketplace.definition import AppDefinition
from tomo.marketplace.schemas import MarketplaceApp, RequiredApp
from tomo.marketplace.service import MarketplaceService

MAX_DEPTH = 8


async def requirement_tree(service: MarketplaceService, app: MarketplaceApp) -> list[RequiredApp]:
    """Each app `app` requires, with what it requires in turn."""
    return await _required(service, app, app.repo_id, [f"{app.repo_id}/{app.id}"])


async def _required(
    service: MarketplaceService, definition: AppDefinition, repo_id: str, path: list[str]
) -> list[RequiredApp]:
    found = []
    for requirement in definition.requires:
        ref = requirement.app_ref(repo_id)
        node = RequiredApp(app=ref, name=requirement.app, imports=list(requirement.imports))
        if ref in path or len(path) > MAX_DEPTH:
            node.problem = f"apps require each other in a circle: {' → '.join([*path, ref])}"
            found.append(node)
            continue
        try:
            entry = await service.get_app(ref)
        except TomoError:
            node.problem = "it is not in the catalog"
            found.append(node)
            continue
        node.name, node.found = entry.name, True
        exported = {export.name for export in entry.exports}
        lacking = [name for name in requirement.imports if name not in exported]
        if entry.not_installable:
            node.problem = f"tomo cannot install it: {entry.not_installable}"
        elif lacking:
            node.problem = f"it gives no {', '.join(lacking)}"
        node.requires = await _required(service, entry, entry.repo_id, [*path, ref])
        found.append(node)
    return found


def tree_problem(tree: list[RequiredApp]) -> str | None:
    """The first reason a requirement in the tree cannot be met, in words."""
    for node in tree:
        if node.problem:
            return f"it requires {node.app}, but {node.problem}"
        deeper = tree_problem(node.requires)
        if deeper:
            return f"{node.app}: {deeper}"
    return None
