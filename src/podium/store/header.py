"""Check a project file's header before SQLite touches it.

Reading the 100-byte header ourselves lets us refuse a foreign or damaged
file without opening it read-write, so a wrong path never gets modified.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from podium.errors import NotAProjectError

SQLITE_MAGIC = b"SQLite format 3\x00"
# "PODM" as a big-endian int; SQLite stores application_id at byte 68.
APPLICATION_ID = 0x50_4F_44_4D
SCHEMA_VERSION_OFFSET = 60
APPLICATION_ID_OFFSET = 68


@dataclass(frozen=True)
class Header:
    page_size: int
    page_count: int
    schema_version: int
    application_id: int


def read_header(path: Path) -> Header:
    with path.open("rb") as f:
        raw = f.read(100)
    if len(raw) < 100 or not raw.startswith(SQLITE_MAGIC):
        raise NotAProjectError(f"{path} is not a Podium project (not an SQLite file)")
    page_size = struct.unpack(">H", raw[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    page_count = struct.unpack(">I", raw[28:32])[0]
    schema_version = struct.unpack(">I", raw[60:64])[0]
    application_id = struct.unpack(">I", raw[68:72])[0]
    return Header(page_size, page_count, schema_version, application_id)


def check_project_file(path: Path, known_version: int) -> Header:
    """Raise NotAProjectError unless `path` is a Podium project this build can open."""
    if path.is_dir():
        raise NotAProjectError(f"{path} is a directory, not a Podium project file")
    header = read_header(path)
    wal = path.with_name(path.name + "-wal")
    live_wal = wal.exists() and wal.stat().st_size > 0
    # A project being created by another process, or whose stamp still sits
    # in the WAL, reads 0 here; the store re-checks through SQL before writing.
    if header.application_id == 0:
        return header
    if header.application_id != APPLICATION_ID:
        raise NotAProjectError(
            f"{path} is an SQLite file but not a Podium project (application_id "
            f"{header.application_id:#x})"
        )
    if header.schema_version > known_version:
        raise NotAProjectError(
            f"{path} uses project schema v{header.schema_version}, newer than this "
            f"podium understands (v{known_version}); upgrade podium to open it"
        )
    size = path.stat().st_size
    # With a live WAL the main file may legitimately lag the header's page count.
    if size < header.page_size * header.page_count and not live_wal:
        raise NotAProjectError(
            f"{path} is truncated ({size} bytes, header says "
            f"{header.page_size * header.page_count}); restore it from an archive"
        )
    return header
