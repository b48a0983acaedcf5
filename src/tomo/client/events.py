"""EventService's calls the CLI makes, over the API. The token's user reads the
list (the `user_id` the CLI passes for a local data directory is not sent); a
channel's URL goes in and never comes back."""

from __future__ import annotations

from tomo.client.transport import Api, revealed, segment
from tomo.events.schemas import ChannelCreate, ChannelPublic, ChannelTested, EventsPage, EventsRead


class RemoteEvents:
    def __init__(self, api: Api) -> None:
        self.api = api

    async def list_events(self, *, user_id: str, unread: bool = False,
                          limit: int = 100) -> EventsPage:  # fmt: skip
        answer = await self.api.get("/events", {"unread": unread, "limit": limit})
        return EventsPage.model_validate(answer)

    async def mark_read(self, *, user_id: str) -> EventsRead:
        return EventsRead.model_validate(await self.api.call("POST", "/events/read"))

    async def add_channel(self, request: ChannelCreate) -> ChannelPublic:
        answer = await self.api.call("POST", "/channels", body=revealed(request))
        return ChannelPublic.model_validate(answer)

    async def list_channels(self) -> list[ChannelPublic]:
        return [ChannelPublic.model_validate(c) for c in await self.api.get("/channels")]

    async def remove_channel(self, name: str) -> ChannelPublic:
        return ChannelPublic.model_validate(await self.api.call("DELETE", _path(name)))

    async def test_channel(self, name: str) -> ChannelTested:
        return ChannelTested.model_validate(await self.api.call("POST", f"{_path(name)}/test"))


def _path(name: str) -> str:
    return f"/channels/{segment(name)}"
