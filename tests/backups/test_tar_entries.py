"""The files of a tar stream counted as its chunks pass, against what Python's
tarfile reads in the same archive: every format tarfile writes, long names, links,
folders, FIFOs, sizes given by PAX records and in base-256, any chunking."""

from __future__ import annotations

import io
import tarfile

import pytest

from tomo.backups.tar_entries import TarEntries

CHUNKINGS = (1, 7, 511, 512, 513, 4096, 1 << 20)


def archive(format_: int) -> bytes:
    """A tar with what a data folder holds: files (empty, small, over one block),
    a long name, a name with a newline and a fake PAX record in it, folders, a
    symbolic and a hard link, a FIFO."""
    made = io.BytesIO()
    with tarfile.open(fileobj=made, mode="w", format=format_) as tar:
        folder = tarfile.TarInfo("data")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, content in (
            ("data/empty", b""),
            ("data/small.txt", b"hello\n"),
            ("data/big.bin", bytes(range(256)) * 9),  # 2304 bytes: five blocks
            ("data/" + "long-name-" * 20, b"long"),
            ("data/odd\n20 size=99999\nname", b"odd"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, kind, link in (
            ("data/link", tarfile.SYMTYPE, "small.txt"),
            ("data/hard", tarfile.LNKTYPE, "data/small.txt"),
            ("data/pipe", tarfile.FIFOTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            tar.addfile(info)
    return made.getvalue()


def files_by_tarfile(data: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
        return sum(1 for member in tar if member.isreg() or member.islnk())


def counted(data: bytes, chunk: int) -> TarEntries:
    entries = TarEntries()
    for at in range(0, len(data), chunk):
        entries.feed(data[at : at + chunk])
    return entries


def with_checksum(header: bytearray) -> bytearray:
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return header


@pytest.mark.parametrize("format_", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])  # USTAR: no
@pytest.mark.parametrize("chunk", CHUNKINGS)  # long names (GNU's, then PAX's, are Docker's)
def test_files_are_counted_as_tarfile_reads_them(format_: int, chunk: int) -> None:
    data = archive(format_)

    entries = counted(data, chunk)

    assert (entries.files, entries.lost, entries.ended) == (files_by_tarfile(data), False, True)
    assert entries.files == 6


def test_a_size_from_a_pax_record_is_the_next_entrys() -> None:
    """A size past what the header's field holds (8 GiB) comes in a PAX record; the
    field is then 0, and the data is as long as the record says."""
    made = io.BytesIO()
    with tarfile.open(fileobj=made, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("first")
        info.size, info.pax_headers = 700, {"size": "700"}
        tar.addfile(info, io.BytesIO(b"\x00" * 200 + bytes(512) + b"x" * 500))
        second = tarfile.TarInfo("second")
        second.size = 3
        tar.addfile(second, io.BytesIO(b"abc"))
    data = bytearray(made.getvalue())
    header = data[1024:1536]  # the extended header and its records come first
    assert header[:5] == b"first"
    header[124:136] = b"00000000000\0"
    data[1024:1536] = with_checksum(header)
    assert files_by_tarfile(bytes(data)) == 2  # tarfile reads 700 bytes of data too

    for chunk in CHUNKINGS:
        assert counted(bytes(data), chunk).files == 2


def test_a_base_256_size_is_read() -> None:
    made = io.BytesIO()
    with tarfile.open(fileobj=made, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("one", "two"):
            info = tarfile.TarInfo(name)
            info.size = 600
            tar.addfile(info, io.BytesIO(bytes(600)))
    data = bytearray(made.getvalue())
    data[124:136] = b"\x80" + (600).to_bytes(11, "big")
    data[0:512] = with_checksum(data[0:512])
    assert files_by_tarfile(bytes(data)) == 2

    assert counted(bytes(data), 100).files == 2


def test_what_is_no_tar_is_counted_no_further_and_never_raises() -> None:
    entries = counted(b"not a tar at all" + bytes(range(256)) * 20, 333)
    assert (entries.lost, entries.files) == (True, 0)  # its "size" is no octal number

    header = bytearray(archive(tarfile.GNU_FORMAT)[:512])
    header[124:136] = b"not octal!!\0"
    broken = counted(bytes(header) + bytes(2048), 512)
    assert (broken.lost, broken.files) == (True, 0)


def test_what_follows_the_end_is_not_counted() -> None:
    data = archive(tarfile.PAX_FORMAT)
    entries = counted(data + data, 4096)  # a second archive after the first's end
    assert (entries.files, entries.ended) == (6, True)
