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
# Apps looked up for one tree at most: a catalog that makes each app require many
# others, each requiring many more, never makes a page (a viewer's) slow to answer.
MAX_LOOKUPS = 64


async def requirement_tree(service: MarketplaceService, app: MarketplaceApp) -> list[RequiredApp]:
    """Each app `app` requires, with what it requires in turn (shown under the first
    app that requires it: met again on another branch, it is not walked again)."""
    walk = _Walk(service)
    return await walk.required(app, app.repo_id, [f"{app.repo_id}/{app.id}"])


class _Walk:
    def __init__(self, service: MarketplaceService) -> None:
        self.service = service
        self.entries: dict[str, MarketplaceApp | None] = {}  # ref -> entry, None: missing
        self.walked: set[str] = set()  # the apps whose requirements are in the tree already
        self.given: dict[str, set[str]] = {}  # app -> what it gives, through its requirements

    async def required(
        self, definition: AppDefinition, repo_id: str, path: list[str]
    ) -> list[RequiredApp]:
        found = []
        for requirement in definition.requires:
            ref = requirement.app_ref(repo_id)
            node = RequiredApp(app=ref, name=requirement.app, imports=list(requirement.imports))
            found.append(node)
            if ref in path or len(path) > MAX_DEPTH:
                node.problem = f"apps require each other in a circle: {' → '.join([*path, ref])}"
                continue
            if ref not in self.entries and len(self.entries) >= MAX_LOOKUPS:
                node.problem = f"it requires more than {MAX_LOOKUPS} apps in all"
                continue
            entry = await self._entry(ref)
            if entry is None:
                node.problem = "it is not in the catalog"
                continue
            node.name, node.found = entry.name, True
            given = await self._given(entry, [*path, ref])
            lacking = [name for name in requirement.imports if name not in given]
            if entry.not_installable:
                node.problem = f"tomo cannot install it: {entry.not_installable}"
            elif lacking:
                node.problem = f"it gives no {', '.join(lacking)}"
            if ref not in self.walked:
                self.walked.add(ref)
                node.requires = await self.required(entry, entry.repo_id, [*path, ref])
        return found

    async def _given(self, entry: MarketplaceApp, path: list[str]) -> set[str]:
        """What an app gives the apps that require it: its exports, and what the apps
        it requires give (deployment.dependencies.given_by, read from the catalog)."""
        key = f"{entry.repo_id}/{entry.id}"
        if key in self.given:  # each app worked out once: a catalog of apps requiring
            return self.given[key]  # each other many times over costs no more
        given = self.given[key] = {export.name for export in entry.exports}
        for requirement in entry.requires:
            ref = requirement.app_ref(entry.repo_id)
            if ref in path or len(path) > MAX_DEPTH:
                continue
            if ref not in self.entries and len(self.entries) >= MAX_LOOKUPS:
                continue
            required = await self._entry(ref)
            if required is not None:
                given |= await self._given(required, [*path, ref])
        return given

    async def _entry(self, ref: str) -> MarketplaceApp | None:
        if ref not in self.entries:
            try:
                self.entries[ref] = await self.service.get_app(ref)
            except TomoError:
                self.entries[ref] = None
        return self.entries[ref]


def tree_problem(tree: list[RequiredApp]) -> str | None:
    """The first reason a requirement in the tree cannot be met, in words."""
    for node in tree:
        if node.problem:
            return f"it requires {node.app}, but {node.problem}"
        deeper = tree_problem(node.requires)
        if deeper:
            return f"{node.app}: {deeper}"
    return None
