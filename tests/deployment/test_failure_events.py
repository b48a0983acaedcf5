"""A real install that fails (on the test server: a port a plain process holds) is one
event in tomo's list and one notification at a real local receiver; an install that
succeeds is neither."""

from __future__ import annotations

from pydantic import SecretStr

from tests.deployment.conftest import Deploy
from tests.deployment.test_install import install
from tests.events.receivers import http_receiver
from tests.services import free_port
from tomo.events.kinds import EventKind
from tomo.events.schemas import ChannelCreate


async def test_a_failed_install_is_one_event_and_one_notification(
    deploy: Deploy, busy_port: int
) -> None:
    events = deploy.runtime.events
    with http_receiver() as receiver:
        await events.add_channel(ChannelCreate(name="hooks", url=SecretStr(receiver.url())))
        working = await deploy.publish("fine", docker=deploy.web_app(port=free_port()))
        _, done = await install(deploy, working)
        blocked = await deploy.publish("web", docker=deploy.web_app(port=busy_port))
        _, failed = await install(deploy, blocked)
        await events.flush()
        posts = receiver.posts.wait_for(1)
        await events.flush()  # anything queued after the first has gone out too
        posts = list(receiver.posts.items)
    assert (done.status, failed.status) == ("done", "failed"), (done.error, failed.error)
    page = await events.list_events(user_id="someone")
    assert [(e.kind, e.server_id, e.installation_name, e.detail) for e in page.events] == [
        (EventKind.INSTALL_FAILED, "box", "web", failed.error)
    ]
    assert len(posts) == 1
    message = posts[0]["json"]
    assert message["title"] == "tomo: Install of web on box failed"
    assert "Server: box" in message["message"] and "App: web (" in message["message"]
    assert f"host port {busy_port}/tcp is already in use" in message["message"]
