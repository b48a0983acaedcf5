"""Every container of one server, read with one `docker container inspect`; every
Swarm service of the apps on a Swarm manager, read with one more command."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tomo.deployment.remote import Docker
from tomo.deployment.swarm.services import ServiceState
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


def as_container(state: ServiceState) -> Container:
    """A Swarm service as the health rules read a container: running while its
    tasks all run; a task that failed since counts as a restart (the Swarm made a
    new one), as many as the Swarm keeps in its history."""
    if state.up:
        status = "running"
    elif state.replicas == 0:
        status = "exited"  # scaled to 0: stopped
    else:
        status = "restarting" if state.failed_ids else "created"
    return Container(name=state.name, status=status, exit_code=0, health=None,
                     restarts=len(state.failed_ids), started_at=_moment(state.since))  # fmt: skip
