"""The files in a tar stream, counted as its chunks pass: a job's progress says
how many files a backup or a restore has moved so far, not only bytes.

Python's tarfile reads a stream only by pulling from a blocking file; these
streams are pushed (asyncio chunks on their way between the server and restic),
and only the headers matter: each is read, and the data after it is skipped by
its size, as tarfile does (data follows a regular file's header, or one of a
kind it does not know; a link's or a folder's size is not data). PAX extended
headers (which Docker writes for long names and sizes past 8 GiB) are read for
the size they give the next entry; GNU base-256 sizes are read too. A stream that
is not a tar as this reads it is counted no further (`lost`), never an error:
the count is for people, the transfer goes on whatever it says.
"""

from __future__ import annotations

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
REGULAR = frozenset(b"07S\0")  # regular, contiguous, GNU sparse, old regular
HARD_LINK = ord("1")
# Kinds whose size is not data: hard link, symbolic link, devices, folder, FIFO.
NO_DATA = frozenset(b"123456")
PAX = frozenset(b"xg")  # extended headers: records for the next entry (x) or all (g)
GNU_LONG = frozenset(b"LK")  # a long name or link name for the next entry
MAX_PAX = 1 << 20  # larger extended headers are skipped, not read


class TarEntries:
    def __init__(self) -> None:
        self.files = 0  # regular files and hard links to them
        self.lost = False  # the stream stopped looking like a tar: counted no further
        self.ended = False
        self._header = bytearray()
        self._skip = 0  # bytes of the current entry's data (and padding) still to pass
        self._pax: bytearray | None = None  # an extended header's records being read
        self._pax_size: int | None = None  # the size they give the next entry

    def feed(self, chunk: bytes) -> None:
        view, at = memoryview(chunk), 0
        while at < len(view) and not (self.ended or self.lost):
            if self._skip:
                step = min(self._skip, len(view) - at)
                if self._pax is not None and len(self._pax) < MAX_PAX:
                    self._pax += view[at : at + step]
                self._skip -= step
                at += step
                if not self._skip and self._pax is not None:
                    self._pax_size = _pax_size(bytes(self._pax), self._pax_size)
                    self._pax = None
                continue
            step = min(BLOCK - len(self._header), len(view) - at)
            self._header += view[at : at + step]
            at += step
            if len(self._header) == BLOCK:
                self._entry(bytes(self._header))
                self._header.clear()

    def _entry(self, header: bytes) -> None:
        if header == ZERO_BLOCK:  # the end (two of them, then padding)
            self.ended = True
            return
        size = _number(header[124:136])
        if size is None:
            self.lost = True
            return
        kind = header[156]
        if kind in PAX:
            self._skip = _padded(size)
            self._pax = bytearray() if kind == ord("x") and self._skip else None
            return
        if kind in GNU_LONG:
            self._skip = _padded(size)
            return
        if self._pax_size is not None:
            size, self._pax_size = self._pax_size, None
        if kind in REGULAR or kind == HARD_LINK:
            self.files += 1
        if kind not in NO_DATA:
            self._skip = _padded(size)


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _number(field: bytes) -> int | None:
    """A header's number: octal text, or GNU's base-256 (first byte 0x80);
    None when it is neither (a negative base-256 size is no size)."""
    if field[0] == 0x80:
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text or b"0", 8)
    except ValueError:
        return None


def _pax_size(records: bytes, before: int | None) -> int | None:
    """The `size` an extended header's records give, else what was given before.
    Each record is "LEN key=value\\n", LEN counting the whole record (a value may
    hold newlines); the padding after the last one ends the walk."""
    at = 0
    while at < len(records):
        space = records.find(b" ", at)
        length = records[at:space]
        if space < 0 or not length.isdigit() or int(length) <= space - at:
            break
        record = records[space + 1 : at + int(length)].removesuffix(b"\n")
        key, _, value = record.partition(b"=")
        if key == b"size" and value.isdigit():
            before = int(value)
        at += int(length)
    return before
