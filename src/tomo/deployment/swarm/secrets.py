"""A Swarm app's secrets as Swarm secrets, where its image reads them from a file.

A secret variable whose definition names a file variable (`file:
POSTGRES_PASSWORD_FILE`) is not put in the service's environment, where the
Swarm keeps it in the spec for `docker service inspect` to show: its value becomes
a Swarm secret (encrypted in the Swarm's store, given to the task as a file under
/run/secrets), and the file variable names that file. Every other secret stays in
the environment, sealed in tomo's database as on one host.

A Swarm secret cannot change: each install or update makes new ones (a random name
of the container's and the variable's), the update takes the old ones away once it
has committed, and an uninstall removes all of the installation's by its label.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass, field

from tomo.deployment.app_spec import AppSpec
from tomo.deployment.remote import Docker
from tomo.errors import CommandFailed
from tomo.marketplace.definition import AppDefinition

SECRETS_DIR = "/run/secrets"
NOT_IN_A_NAME = re.compile(r"[^a-zA-Z0-9_.-]")


@dataclass(frozen=True)
class SwarmSecret:
    name: str  # the Swarm's
    target: str  # its file under SECRETS_DIR: the variable's name
    value: str = field(repr=False)


def file_variables(definition: AppDefinition) -> dict[str, str]:
    """secret variable -> the variable naming its file, of every service."""
    return {variable.name: variable.file for service in definition.all_services.values()
            for variable in service.environment if variable.file}  # fmt: skip


def as_files(app: AppSpec, files: dict[str, str]) -> tuple[AppSpec, list[SwarmSecret]]:
    """The app with those secrets as Swarm secrets (the file variables in their
    place), and the secrets to make."""
    made: list[SwarmSecret] = []
    containers = []
    for container in app.containers:
        moved = {k: v for k, v in container.secret_env.items() if k in files}
        if not moved:
            containers.append(container)
            continue
        these = [SwarmSecret(_name(container.name, key), key, value)
                 for key, value in moved.items()]  # fmt: skip
        containers.append(dataclasses.replace(
            container,
            env={**container.env, **{files[k]: f"{SECRETS_DIR}/{k}" for k in moved}},
            secret_env={k: v for k, v in container.secret_env.items() if k not in moved},
            swarm_secrets=[(secret.name, secret.target) for secret in these]))  # fmt: skip
        made += these
    return dataclasses.replace(app, containers=containers), made


def _name(container: str, variable: str) -> str:
    """A new name: never derived from the value (a name is listed to anyone)."""
    readable = NOT_IN_A_NAME.sub("-", f"tomo-{container}-{variable}".lower())[:54]
    return f"{readable}-{secrets.token_hex(4)}"


async def create(docker: Docker, secret: SwarmSecret, labels: dict[str, str]) -> None:
    """`docker secret create NAME -`, the value on stdin (never a command line)."""
    argv = ["secret", "create", *(a for k, v in labels.items() for a in ("--label", f"{k}={v}")),
            secret.name, "-"]  # fmt: skip
    await docker.run(argv, stdin=secret.value)


async def remove(docker: Docker, names: list[str], installation_id: str) -> list[str]:
    """Those of the named secrets that are this installation's; [] said for none."""
    removed = []
    for name in names:
        owner = await docker.ssh.run_docker(docker.target, [
            "secret", "inspect", "--format", '{{index .Spec.Labels "tomo.installation"}}', name,
        ], check=False)  # fmt: skip
        if owner.exit_code != 0 or owner.stdout.strip() != installation_id:
            continue  # gone already, or not this installation's
        result = await docker.ssh.run_docker(docker.target, ["secret", "rm", name], check=False)
        if result.exit_code != 0:
            raise CommandFailed(docker.server, f"docker secret rm {name}", result.exit_code,
                                result.stderr)  # fmt: skip
        removed.append(name)
    return [f"removed Swarm secret '{name}'" for name in removed]


async def of_installation(docker: Docker, installation_id: str) -> list[str]:
    listed = await docker.run(["secret", "ls", "--format", "{{.Name}}", "--filter",
                               f"label=tomo.installation={installation_id}"])  # fmt: skip
    return listed.split()
