"""Containers on a server that tomo did not create (left by CasaOS, Portainer,
Umbrel or made by hand), each with the catalog apps that run its image: what
`tomo server containers` lists, and what an adoption starts from.

Read-only: one `docker container ls` on the server, and the catalog."""

from __future__ import annotations

import json
from typing import Any

from tomo.deployment.context import DeploymentContext
from tomo.deployment.schemas import ForeignContainer
from tomo.marketplace.definition import image_repository

# One JSON object per container: Docker's own fields (Names, Image, State, Status,
# Ports, Labels as "k=v,k=v").
_LISTING = ["container", "ls", "--all", "--no-trunc", "--format", "{{json .}}"]
_OWN_LABEL = "tomo.installation="


async def foreign_containers(ctx: DeploymentContext, server: str) -> list[ForeignContainer]:
    """The server's containers that are no installation's (made or adopted), by name."""
    found = await ctx.servers.get_server(server)
    docker = await ctx.docker(found.id)
    listed = [json.loads(line) for line in (await docker.run(_LISTING)).splitlines() if line]
    foreign = [c for c in listed if _OWN_LABEL not in str(c.get("Labels", ""))
               and c.get("ID") not in docker.adopted]  # fmt: skip
    by_image = await ctx.marketplace.apps_by_image(
        {image_repository(str(c["Image"])) for c in foreign}
    )
    return sorted((_container(c, by_image) for c in foreign), key=lambda c: c.name)


def _container(listed: dict[str, Any], by_image: dict[str, list[str]]) -> ForeignContainer:
    image = str(listed.get("Image", ""))
    return ForeignContainer(
        name=str(listed.get("Names", "")).split(",")[0], image=image,
        state=str(listed.get("State", "")), status=str(listed.get("Status", "")),
        ports=str(listed.get("Ports", "")), apps=by_image.get(image_repository(image), []),
    )  # fmt: skip
