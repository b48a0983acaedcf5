"""An install is prepared and run as every other operation is, through the entry
points the faces call (`install_app`, then `run_job`). No Docker needed: the server
is a closed port, so the job fails at its preflight, takes back what it recorded
and says why. The same paths against a real server: test_install.py and
test_install_failures.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from tests.gitrepo import app_definition
from tests.services import free_port
from tomo.config import Settings
from tomo.deployment.models import Installation
from tomo.deployment.spec import InstallConfig
from tomo.deployment.statuses import InstallationStatus
from tomo.marketplace.schemas import RepoCreate
from tomo.runtime import Runtime, open_runtime
from tomo.servers.models import Server

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def away(settings: Settings, make_repo) -> AsyncIterator[Runtime]:
    """A runtime whose catalog has "notes" and whose only server, "nas", is away."""
    repo = make_repo()
    repo.add_app("notes")
    repo.commit()
    async with open_runtime(settings) as runtime:
        created = await runtime.marketplace.add_repo(RepoCreate(url=repo.url, name="home"))
        await runtime.marketplace.sync_repo(created.id)
        async with runtime.db.session() as session, session.begin():
            session.add(Server(id="nas", name="nas", host="127.0.0.1", port=free_port(),
                               username="tomo", auth_type="password",
                               password_enc=runtime.servers.secrets.encrypt("a password"),
                               data_root="/opt/tomo/apps", use_sudo=False, status="unknown",
                               created_at=datetime.now(UTC)))  # fmt: skip
        yield runtime


async def test_an_install_whose_server_is_away_leaves_only_its_job(away: Runtime) -> None:
    deployment = away.deployment
    started = await deployment.install_app("nas", "notes", InstallConfig())
    assert (started.installation.status, started.installation.operation) == ("pending", "install")

    view = await deployment.run_job(started.job_id)

    assert view.kind == "install" and view.status == "failed", view
    assert view.error is not None and "nas" in view.error
    assert "nothing had been created on nas" in view.error
    assert [(step.name, step.status) for step in view.steps][-1] == ("preflight", "failed")
    assert await deployment.list_installations() == []
    # The job has ended: running it again (a second `tomo job run`) changes nothing.
    assert await deployment.run_job(started.job_id) == view


async def test_a_job_run_carries_out_install_jobs_only(away: Runtime) -> None:
    """`tomo job run` of another operation's job (recorded, not yet run) runs nothing."""
    now = datetime.now(UTC)
    async with away.db.session() as session, session.begin():
        session.add(Installation(
            id="notes", server_id="nas", name="notes", repo_id="home", app_id="notes",
            version="1.0.0", image="example/notes:1.0.0", definition=app_definition("notes"),
            config={}, container_id="c0ffee", status=InstallationStatus.RUNNING,
            created_at=now, updated_at=now,
        ))  # fmt: skip
    uninstall = await away.deployment.prepare_uninstall("notes")

    view = await away.deployment.run_job(uninstall.job_id)

    assert (view.kind, view.status, view.steps) == ("uninstall", "pending", [])
