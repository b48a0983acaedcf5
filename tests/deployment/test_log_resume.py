"""Reading logs on from where a reader is (log_resume.py): none lost, none twice,
even when several lines share one Docker stamp; then the same on real containers,
one app of two services, each resumed after its own last line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path

import pytest

from tests.deployment.conftest import Deploy
from tests.deployment.test_install import install
from tomo.deployment.log_resume import Place, Stamped, place_after, places_read, resumed
from tomo.errors import InvalidInput, RemoteError

T1, T2, T3 = (f"2026-05-01T12:00:00.00000000{n}Z" for n in (1, 2, 3))
# A coarse clock: most lines share a stamp with their neighbours.
LOG = [Stamped(stamp, text) for stamp, text in [
    (T1, "a"), (T1, "b"), (T2, "c"), (T2, "d"), (T2, "d"), (T2, "e"), (T3, "f"), (T3, "g"),
]]  # fmt: skip


async def docker_since(stamp: str, log: list[Stamped]) -> AsyncIterator[str]:
    """What `docker logs --timestamps --since STAMP` prints of `log` (a stand-in for
    Docker, checked against the real one below): the lines stamped `stamp` or later."""
    for line in log:
        if not stamp or line.stamp >= stamp:
            yield str(line)


async def read_on(place: Place, log: list[Stamped]) -> list[Stamped]:
    return [line async for line in resumed(docker_since(place.stamp, log), place)]


async def test_reading_on_from_any_line_gives_exactly_the_lines_after_it() -> None:
    for cut in range(len(LOG) + 1):
        had = LOG[:cut]
        assert await read_on(place_after(had), LOG) == LOG[cut:], cut


async def test_a_reconnection_after_each_line_loses_and_repeats_none() -> None:
    got: list[Stamped] = []
    place = Place()
    while len(got) < len(LOG):  # bounded: each round reads at least one line
        more = (await read_on(place, LOG))[:1]  # the stream drops after one line
        assert more, got
        got += more
        place = place_after(more, place)
    assert got == LOG


def test_a_line_without_a_stamp_keeps_the_place_and_its_text() -> None:
    said = Stamped.parse("Error response from daemon: gone")
    assert said == Stamped("", "Error response from daemon: gone")
    assert Place(T1, 2).past(said) == Place(T1, 2)
    assert Stamped.parse(f"{T2} ") == Stamped(T2, "")  # an empty line the container printed
    assert Stamped.parse(f"{T2}  two  spaces") == Stamped(T2, " two  spaces")


def test_places_are_written_and_read_back() -> None:
    places = {"web": Place(T2, 3), "db": Place()}
    written = [place.written(service) for service, place in places.items()]

    assert written == [f"web,{T2},3", "db"]
    assert places_read(written, ["web", "db", "cache"]) == places


def test_a_place_that_is_none_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput) as refused:
        places_read(["web,yesterday,1", f"db,{T1},0", "cache,1", "nope", "web", "web"],
                    ["web", "db", "cache"])  # fmt: skip

    said = [(p.fields, p.text) for p in refused.value.problems]
    assert said == [
        (("after[0]",), "after: 'web,yesterday,1' has no Docker timestamp (such as "
                        "2026-05-01T12:00:00.123456789Z)"),
        (("after[1]",), f"after: 'db,{T1},0' counts its lines of that timestamp as a whole "
                        "number from 1"),
        (("after[2]",), "after: 'cache,1' is not SERVICE or SERVICE,STAMP,COUNT"),
        (("after[3]",), "after: 'nope' names no service of this app (it has: cache, db, web)"),
        (("after[5]",), "after: 'web' gives service web a second place"),
    ]  # fmt: skip


# -- on real containers -----------------------------------------------------------

COUNTED = 80  # numbers each container prints, one each 0.1 s


def counter(word: str) -> list[str]:
    return ["sh", "-c", f"i=0; while [ $i -lt {COUNTED} ]; do i=$((i+1)); echo {word}-$i; "
                        "sleep 0.1; done; sleep 3600"]  # fmt: skip


def numbers_of(word: str, lines: list[str]) -> list[int]:
    return [int(line.rsplit("-", 1)[1]) for line in lines if f"| {word}-" in line]


async def two_counters(deploy: Deploy) -> None:
    app = await deploy.publish("tally", main="one", services={
        "one": {"image": deploy.images.web_v1, "command": counter("one")},
        "two": {"image": deploy.images.web_v1, "command": counter("two")},
    })  # fmt: skip
    await install(deploy, app)


def log_followers(container: str) -> list[int]:
    """The ids of the `docker container logs --follow` processes reading `container`
    (the test server is this machine, so they are in its /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # not a process, or one that ended meanwhile
            continue
        if "docker" in argv[:3] and "logs" in argv and "--follow" in argv and container in argv:
            found.append(int(entry.name))
    return found


def places_past(lines: list[str]) -> list[str]:
    """What a reader of `STAMP service | text` lines sends to read on after them."""
    places: dict[str, Place] = {}
    for line in map(Stamped.parse, lines):
        service = line.text.split(" ", 1)[0]
        places[service] = places.get(service, Place()).past(line)
    return [place.written(service) for service, place in places.items()]


async def following(
    lines: AsyncIterator[str], until: Callable[[list[str]], bool]
) -> AsyncIterator[str]:
    """`lines` until `until(the lines so far)` (or 30 s: then the test fails)."""
    assert isinstance(lines, AsyncGenerator)  # closed here: its streams end with it
    got: list[str] = []
    async with contextlib.aclosing(lines), asyncio.timeout(30):
        async for line in lines:
            got.append(line)
            yield line
            if until(got):
                return


async def test_following_an_app_of_two_resumes_each_container_after_its_own_last_line(
    deploy: Deploy,
) -> None:
    service = deploy.runtime.deployment
    await two_counters(deploy)
    shown = await service.log_page("tally", tail=1000)
    assert [place.split(",")[0] for place in shown.after] == ["one", "two"]
    await asyncio.sleep(1)  # both go on counting meanwhile

    def both_done(got: list[str]) -> bool:
        return all(numbers_of(word, got)[-1:] == [COUNTED] for word in ("one", "two"))

    lines = service.logs("tally", follow=True, after=shown.after)
    followed = [line async for line in following(lines, both_done)]

    every = shown.lines + followed
    for word in ("one", "two"):
        assert numbers_of(word, every) == list(range(1, COUNTED + 1)), word
    assert numbers_of("one", shown.lines), "the page was read before the counting began"


async def test_when_one_containers_stream_drops_the_whole_ends_and_each_resumes(
    deploy: Deploy,
) -> None:
    service = deploy.runtime.deployment
    await two_counters(deploy)
    got: list[str] = []

    async def dropped_after_ten_lines() -> None:
        lines = service.logs("tally", follow=True, tail=1000, timestamps=True)
        async for line in following(lines, lambda _: False):
            got.append(line)
            if len(got) == 10:
                [dropped] = log_followers("tally-two")
                os.kill(dropped, signal.SIGTERM)  # its server end goes

    with pytest.raises(RemoteError):  # the merged stream ends with the one that failed
        await dropped_after_ten_lines()

    def both_done(more: list[str]) -> bool:
        return all(numbers_of(word, got + more)[-1:] == [COUNTED] for word in ("one", "two"))

    after = places_past(got)
    lines = service.logs("tally", follow=True, after=after, timestamps=True)
    got += [line async for line in following(lines, both_done)]

    for word in ("one", "two"):
        assert numbers_of(word, got) == list(range(1, COUNTED + 1)), word


async def test_docker_keeps_equal_stamps_since_and_until_as_resumed_expects(
    deploy: Deploy,
) -> None:
    service = deploy.runtime.deployment
    app = await deploy.publish("tally", docker={"image": deploy.images.web_v1,
                                                "command": counter("one")})  # fmt: skip
    await install(deploy, app)
    await asyncio.sleep(0.5)
    stamped = [line async for line in service.logs("tally", tail=3, timestamps=True)]
    first = Stamped.parse(stamped[0])

    # Read on from a reader who has the first line: Docker's --since keeps it, resumed
    # drops it, and the next two follow.
    after = [Place(first.stamp, 1).written("app")]
    again = [line async for line in service.logs("tally", after=after, timestamps=True)]
    assert again[:2] == stamped[1:]
