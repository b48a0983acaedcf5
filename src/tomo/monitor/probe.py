"""Every container of one server, read with one `docker container inspect`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed
from tomo.monitor.health import Container


async def inspect_all(docker: Docker, names: Sequence[str]) -> dict[str, Container]:
    """name -> container, for those of `names` that exist (Docker leaves the others
    out of its answer and names them on stderr)."""
    if not names:
        return {}
    result = await docker.ssh.run_docker(
        docker.target, ["container", "inspect", "--", *names], check=False
    )
    if result.exit_code != 0 and "no such" not in result.stderr.lower():
        raise CommandFailed(docker.server, "docker container inspect",
                            result.exit_code, result.stderr)  # fmt: skip
    found = [_container(doc) for doc in json.loads(result.stdout or "[]")]
    return {container.name: container for container in found}


def _container(doc: dict[str, Any]) -> Container:
    state = doc.get("State") or {}
    return Container(
        name=str(doc.get("Name", "")).lstrip("/"),
        status=state.get("Status", "unknown"),
        exit_code=int(state.get("ExitCode") or 0),
        health=(state.get("Health") or {}).get("Status"),
        restarts=int(doc.get("RestartCount") or 0),
        started_at=_moment(state.get("StartedAt")),
    )


def _moment(text: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.year > 1 and moment.tzinfo is not None else None
