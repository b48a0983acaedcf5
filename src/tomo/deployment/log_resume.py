"""Where a log reader is in each container's output, so that reading on (following
after a page was shown, reconnecting after a stream dropped) starts right after
the last line it has: none lost, none twice.

Docker stamps each line with the time it took it in (`--timestamps`: RFC 3339 in
UTC with nanoseconds, fixed width). A reader's place in one container's output is
the stamp of its last line and how many lines of that stamp it has, since a host
with a coarse clock gives several lines one stamp. `docker logs --since STAMP`
starts at the first line of that stamp (it keeps equal stamps); `resumed` drops
the ones the reader has, by count. Stamps are the server's clock, never tomo's.

A place is written `SERVICE` (none of its lines read yet: from its first) or
`SERVICE,STAMP,COUNT`, one `after` query parameter per container.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from dataclasses import dataclass

from tomo.errors import InvalidInput, Refusal

STAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?Z")
_MOST_SEEN = 1_000_000_000  # a count past any log's lines of one nanosecond


@dataclass(frozen=True)
class Stamped:
    """One line of a container's output and Docker's stamp ("": a line that has
    none, such as Docker's own words)."""

    stamp: str
    text: str

    @classmethod
    def parse(cls, line: str) -> Stamped:
        stamp, _, text = line.partition(" ")
        return cls(stamp, text) if STAMP.fullmatch(stamp) else cls("", line)

    def __str__(self) -> str:
        return f"{self.stamp} {self.text}" if self.stamp else self.text


@dataclass(frozen=True)
class Place:
    """The last line a reader has of one container: its stamp ("": none yet) and
    how many lines of that stamp it has."""

    stamp: str = ""
    seen: int = 0

    def past(self, line: Stamped) -> Place:
        """The place once `line`, the next line of the container, is read too."""
        if not line.stamp:  # no stamp to resume from: the place stays at the last one
            return self
        return Place(line.stamp, self.seen + 1 if line.stamp == self.stamp else 1)

    def written(self, service: str) -> str:
        return f"{service},{self.stamp},{self.seen}" if self.stamp else service


def place_after(lines: Iterable[Stamped], start: Place = Place()) -> Place:
    """The place of a reader who has read `lines` from `start` on."""
    place = start
    for line in lines:
        place = place.past(line)
    return place


async def resumed(lines: AsyncIterator[str], place: Place) -> AsyncGenerator[Stamped]:
    """`lines` read `--since place.stamp`, parsed, without the ones the reader has
    (the first `place.seen` of that stamp)."""
    skip = place.seen
    async for line in lines:
        stamped = Stamped.parse(line)
        if skip and stamped.stamp == place.stamp:
            skip -= 1
            continue
        yield stamped


def places_read(written: Sequence[str], services: Iterable[str]) -> dict[str, Place]:
    """Each service's place from `after`'s values; a service they do not name reads
    from its first line. InvalidInput names every value at fault."""
    known = set(services)
    places: dict[str, Place] = {}
    problems = []
    for index, value in enumerate(written):
        service, place, fault = _place_of(value)
        if not fault and service not in known:
            fault = f"names no service of this app (it has: {', '.join(sorted(known))})"
        if not fault and service in places:
            fault = f"gives service {service} a second place"
        if fault:
            problems.append(Refusal(f"after: '{value[:120]}' {fault}", (f"after[{index}]",)))
        else:
            places[service] = place
    if problems:
        raise InvalidInput(problems)
    return places


def _place_of(value: str) -> tuple[str, Place, str]:
    """(service, place, "") or, for a value that is no place, ("", Place(), why)."""
    parts = value.split(",")
    if len(parts) == 1:
        return parts[0], Place(), ""
    if len(parts) != 3:
        return "", Place(), "is not SERVICE or SERVICE,STAMP,COUNT"
    service, stamp, count = parts
    if not STAMP.fullmatch(stamp):
        return "", Place(), "has no Docker timestamp (such as 2026-05-01T12:00:00.123456789Z)"
    if not re.fullmatch(r"[0-9]{1,10}", count) or not 1 <= int(count) <= _MOST_SEEN:
        return "", Place(), "counts its lines of that timestamp as a whole number from 1"
    return service, Place(stamp, int(count)), ""
