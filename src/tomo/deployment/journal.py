"""What an operation changed on a server, written down before each change.

Every change is recorded on the job (before it is made) together with the
action that takes it back. A failure, an interruption, or a restart after tomo
died replays those actions newest first. An operation that reaches its commit
point records instead what is left to finish (`cleanup`), which recovery
completes rather than undoes. Nothing here guesses: each action checks what
is on the server (a container is removed only if it carries this
installation's label) and says what it did.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import asdict, dataclass, field
from typing import Any

from tomo.deployment import data_swap
from tomo.deployment.remote import Docker
from tomo.deployment.swarm import nodes as swarm_nodes
from tomo.deployment.swarm import secrets as swarm_secrets
from tomo.deployment.swarm import services as swarm
from tomo.errors import CommandFailed, RemoteError, ServerTimeout, ServerUnreachable

log = logging.getLogger("tomo.deployment")

Action = dict[str, Any]


@dataclass
class Journal:
    undo: list[Action] = field(default_factory=list)  # oldest first; replayed newest first
    committed: bool = False  # past the commit point: finish, never undo
    cleanup: list[Action] = field(default_factory=list)  # what finishing still has to do
    settled: bool = False  # everything undone or finished
    # The backup an update made of the data before changing anything: put back if
    # the update fails (see update.py).
    backup: str | None = None

    @classmethod
    def load(cls, stored: dict[str, Any] | None) -> Journal:
        return cls(**stored) if stored else cls()

    def dump(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def open_actions(self) -> list[Action]:
        """What recovery has to do now: finish a committed operation, else undo."""
        return list(self.cleanup) if self.committed else list(reversed(self.undo))


@dataclass
class Replay:
    """The outcome of replaying actions, in words a user can act on."""

    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    left: list[Action] = field(default_factory=list)  # not done: replay again later

    @property
    def complete(self) -> bool:
        return not self.failed and not self.left


async def replay(docker: Docker, actions: list[Action], installation_id: str) -> Replay:
    """Carry out each action in order. A server that cannot be reached stops the
    replay (the rest stays to be done later); any other failure is noted and the
    replay goes on with the next action."""
    outcome = Replay()
    for index, action in enumerate(actions):
        try:
            said = await _carry_out(docker, action, installation_id)
        except (ServerUnreachable, ServerTimeout) as exc:
            outcome.failed.append(f"{_describe(action)} ({exc.message})")
            outcome.left = actions[index:]
            break
        except RemoteError as exc:
            outcome.failed.append(f"{_describe(action)} ({exc.message})")
            outcome.left.append(action)
        except Exception:  # a bug must not stop the rest of the cleanup
            log.exception("replaying %s for installation %s failed", action, installation_id)
            outcome.failed.append(f"{_describe(action)} (internal error; see tomo's log)")
            outcome.left.append(action)
        else:
            outcome.done.extend(said)
    return outcome


def on_node(node: str, image: str, action: Action) -> Action:
    """`action` carried out on another node of a Swarm (see swarm/nodes.py), by a
    helper job of `image`."""
    return {"on_node": {"node": node, "image": image, "action": action}}


def _describe(action: Action) -> str:
    """What the action would do, for a message saying it could not."""
    kind, value = next(iter(action.items()))
    if kind == "on_node":
        return f"{_describe(value['action'])} on node {value['node'][:12]}"
    if kind in ("remove_container", "retire_container"):
        return f"could not remove container '{value}'"
    if kind == "remove_files":
        return f"could not remove {', '.join(value)}"
    if kind == "put_back_file":
        return f"could not put {value} back as it was"
    if kind == "forget_previous_files":
        return f"could not remove the copies of {', '.join(value)} kept from before"
    if kind == "remove_empty_dirs":
        return f"could not remove directories {', '.join(value)}"
    if kind == "remove_created_dirs":
        return f"could not remove directories {', '.join(value['dirs'])}"
    if kind == "restore_container":
        return f"could not put the previous container back as '{value['name']}'"
    if kind == "start_container":
        return f"could not start container '{value}' again"
    if kind == "remove_owned":
        return f"could not remove the data under {value['instance_dir']}"
    if kind in ("remove_volumes", "remove_named_volumes"):
        return f"could not remove volumes {', '.join(value)}"
    if kind == "remove_network":
        return f"could not remove network '{value}'"
    if kind == "remove_service":
        return f"could not remove Swarm service '{value}'"
    if kind == "remove_helper_jobs":
        return "could not remove the helper jobs on other nodes"
    if kind in ("remove_secret", "remove_swarm_secrets"):
        return "could not remove the Swarm secrets"
    if kind == "roll_back_service":
        return f"could not put the previous version of Swarm service '{value['name']}' back"
    if kind == "swap_back_data":
        return f"could not put the data of {value['path']} back as it was"
    if kind == "drop_previous_data":
        return f"could not remove the data {', '.join(value['paths'])} held before the restore"
    return f"could not {kind}"


async def _carry_out(docker: Docker, action: Action, installation_id: str) -> list[str]:
    kind, value = next(iter(action.items()))
    if kind == "on_node":
        node = await swarm_nodes.on_node(docker, value["node"], value["image"], installation_id)
        done = await _carry_out(node, value["action"], installation_id)
        return done if node is docker else [f"{s} on node {value['node'][:12]}" for s in done]
    if kind == "remove_container":
        return await _remove_container(docker, value, installation_id, volumes=True)
    if kind == "retire_container":  # set aside by an update: its volumes live on
        return await _remove_container(docker, value, installation_id, volumes=False)
    if kind == "remove_files":
        return [f"removed {path}" for path in await docker.remove_files(value)]
    if kind == "put_back_file":
        said = await docker.put_back(value)
        return [f"{said} {value}"] if said else []
    if kind == "forget_previous_files":  # an update done: what its files were goes
        await docker.remove_files([f"{path}{end}" for path in value
                                   for end in (".previous", ".absent")])  # fmt: skip
        return []
    if kind == "remove_empty_dirs":
        left = await docker.remove_empty_dirs(value)
        gone = [d for d in value if d not in left]
        return (
            [f"removed {len(gone)} director{'y' if len(gone) == 1 else 'ies'}"] if gone else []
        ) + [f"kept {d} (not empty)" for d in left]
    if kind == "remove_created_dirs":
        return await _remove_created(docker, **value)
    if kind == "restore_container":
        return await _restore(docker, installation_id, **value)
    if kind == "start_container":  # stopped to be removed, and then it was not
        return await _start_again(docker, value, installation_id)
    if kind == "remove_owned":
        report = await docker.remove_owned(**value)
        if report.failed:
            raise RemoteError(docker.server, f"rm failed for {', '.join(report.failed)}")
        return [f"removed {path}" for path in report.removed] + [
            f"kept {why}" for why in report.kept
        ]
    if kind == "remove_volumes":
        in_use = await docker.remove_volumes(value)
        return [f"kept volume {name} (another container uses it)" for name in in_use]
    if kind == "remove_named_volumes":  # the app's own: say which went
        there = [name for name in value if await docker.volume_exists(name)]
        in_use = await docker.remove_volumes(there)
        return [f"removed volume {name}" for name in there if name not in in_use] + [
            f"kept volume {name} (a container still uses it)" for name in in_use
        ]
    if kind == "remove_network":
        return await _remove_network(docker, value, installation_id)
    if kind == "remove_service":
        return await swarm.remove_service(docker, value, installation_id)
    if kind == "remove_secret":
        return await swarm_secrets.remove(docker, [value], installation_id)
    if kind == "remove_swarm_secrets":  # all of an installation's, once its services are gone
        names = await swarm_secrets.of_installation(docker, value)
        return await swarm_secrets.remove(docker, names, installation_id)
    if kind == "remove_helper_jobs":  # left by a tomo stopped while one ran (swarm/nodes.py)
        return await swarm_nodes.remove_helper_jobs(docker, value)
    if kind == "roll_back_service":  # an update's: see swarm/update.py
        return await swarm.roll_back(docker, **value, installation_id=installation_id)
    if kind == "swap_back_data":  # a restore that did not finish (see data_swap.py)
        return await data_swap.swap_back(docker, **value)
    if kind == "drop_previous_data":  # a restore that did
        await data_swap.drop_previous(docker, **value)
        return []
    raise ValueError(f"unknown journal action {kind!r}")


async def _remove_container(
    docker: Docker, name: str, installation_id: str, *, volumes: bool
) -> list[str]:
    state = await docker.state(name)
    if state is None:
        return []
    if state.installation != installation_id:
        return [f"kept container '{name}' (it is not this installation's)"]
    await docker.remove_container(name, with_volumes=volumes)
    if await docker.state(name) is not None:
        raise RemoteError(docker.server, f"container '{name}' is still there after removal")
    return [f"removed container '{name}'"]


async def _remove_created(docker: Docker, instance_dir: str, dirs: list[str]) -> list[str]:
    """The directories an attempt made, with their content, never beyond the
    instance folder (see remote.REMOVE_OWNED); the instance folder itself once empty."""
    inside = [d for d in dirs if posixpath.normpath(d) != posixpath.normpath(instance_dir)]
    report = await docker.remove_owned(posixpath.dirname(instance_dir), instance_dir, inside)
    if report.failed:
        raise RemoteError(docker.server, f"rm failed for {', '.join(report.failed)}")
    gone = [path for path in report.removed if path in dirs]
    said = [f"removed {len(gone)} director{'y' if len(gone) == 1 else 'ies'}"] if gone else []
    return said + [f"kept {why}" for why in report.kept if why.split(" ")[0] in dirs]


async def _remove_network(docker: Docker, name: str, installation_id: str) -> list[str]:
    owner = await docker.network_owner(name)
    if owner is None:
        return []
    if owner != installation_id:
        return [f"kept network '{name}' (it is not this installation's)"]
    removed = await docker.ssh.run_docker(docker.target, ["network", "rm", name], check=False)
    if removed.exit_code != 0:
        if "active endpoints" not in removed.stderr:
            raise CommandFailed(docker.target.name, f"docker network rm {name}",
                                removed.exit_code, removed.stderr)  # fmt: skip
        # What is still on it leaves first (the front door joins an app with a name's).
        args = ["network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", name]
        for container in (await docker.run(args)).split():
            await docker.run(["network", "disconnect", "--force", name, container])
        await docker.run(["network", "rm", name])
    return [f"removed network '{name}'"]


async def _start_again(docker: Docker, name: str, installation_id: str) -> list[str]:
    state = await docker.state(name)
    if state is None or state.installation != installation_id or state.status == "running":
        return []
    await docker.run(["container", "start", name])
    return [f"started container '{name}' again"]


async def _restore(
    docker: Docker, installation_id: str, *, name: str, previous: str, start: bool
) -> list[str]:
    """Give the container set aside by an update its name back, started as it was."""
    aside = await docker.state(previous)
    if aside is None or aside.installation != installation_id:
        return []  # it was never set aside: the current one is still the previous version
    current = await docker.state(name)
    if current is not None and current.installation == installation_id:
        await docker.remove_container(name, with_volumes=False)
    await docker.run(["container", "rename", previous, name])
    if start:
        await docker.run(["container", "start", name])
    return [f"put the previous container back as '{name}'" + (" and started it" if start else "")]
