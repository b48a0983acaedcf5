"""The installations' statuses as a health pass read them, kept on their records, so
that the installed list shows them without asking the servers again on every view
(deployment/service.py `list_for_page`).

A status is what `tomo ps` would say (manage.status_from / combined_status), made
from the pass's one `docker container inspect` per server; a server that did not
answer makes its installations `unknown`, with the reason. An installation with a
tomo operation under way is left to it: the operation sets its status itself.
"""

from __future__ import annotations

from sqlalchemy import update

from tomo.deployment.context import DeploymentContext
from tomo.deployment.manage import (
    combined_status,
    containers_of,
    long_running,
    status_from,
    swarm_services,
)
from tomo.deployment.models import Installation, runs_on_swarm
from tomo.deployment.remote import ContainerState
from tomo.deployment.statuses import InstallationStatus
from tomo.deployment.swarm import services as swarm
from tomo.deployment.swarm.services import ServiceState
from tomo.monitor.health import Container


def status_of(
    row: Installation, containers: dict[str, Container]
) -> tuple[InstallationStatus, str | None]:
    """Its status from the pass's containers (by name; one not there is gone)."""
    keep = set(long_running(row))
    states = {service: _state(containers.get(name))
              for service, name in containers_of(row).items() if name in keep}  # fmt: skip
    if len(states) == 1:
        return status_from(next(iter(states.values())))
    return combined_status(states)


def _state(container: Container | None) -> ContainerState | None:
    if container is None:
        return None
    return ContainerState(status=container.status, exit_code=container.exit_code,
                          health=container.health, restart_count=container.restarts,
                          error="")  # fmt: skip


async def keep_statuses(
    ctx: DeploymentContext, rows: list[Installation], containers: dict[str, Container],
    services: dict[str, ServiceState],
) -> None:  # fmt: skip
    """Each installation's status as read, where it changed and no operation runs
    (an app on a Swarm: from its services' tasks, as `tomo ps` says it)."""
    for row in rows:
        if runs_on_swarm(row):
            await keep_status(ctx, row, *swarm.status_of(swarm_services(row), services))
        else:
            await keep_status(ctx, row, *status_of(row, containers))


async def keep_unknown(ctx: DeploymentContext, rows: list[Installation], reason: str) -> None:
    for row in rows:
        await keep_status(ctx, row, InstallationStatus.UNKNOWN, reason)


async def keep_status(
    ctx: DeploymentContext, row: Installation, status: InstallationStatus, message: str | None
) -> None:
    if (row.status, row.status_message) == (status, message):
        return
    idle = update(Installation).where(Installation.id == row.id, Installation.operation.is_(None))
    async with ctx.db.session() as session, session.begin():
        await session.execute(idle.values(status=status, status_message=message))
