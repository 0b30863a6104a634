"""Describe a project file and export it as a compact single-file archive."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from podium.domain import ProjectInfo
from podium.errors import NotAProjectError, PodiumError
from podium.store.connection import SqliteError
from podium.store.header import APPLICATION_ID
from podium.store.project import ProjectStore
from podium.store.schema import SCHEMA_VERSION


async def describe(store: ProjectStore, *, full_check: bool = True) -> ProjectInfo:
    def gather(conn: Any) -> dict[str, Any]:
        one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        by_status = {
            r[0]: r[1]
            for r in conn.execute("SELECT status, count(*) FROM executions GROUP BY status")
        }
        agents = one(
            "SELECT count(*) FROM (SELECT agent FROM subtasks UNION SELECT agent FROM messages"
            " UNION SELECT agent FROM memories WHERE agent IS NOT NULL)"
        )
        check = "integrity_check" if full_check else "quick_check"
        return {
            "schema_version": one("PRAGMA user_version"),
            "application_id": f"{one('PRAGMA application_id'):#x}",
            "sqlite_version": one("SELECT sqlite_version()"),
            "sqlite_vec_version": one("SELECT vec_version()"),
            "journal_mode": one("PRAGMA journal_mode"),
            "integrity": one(f"PRAGMA {check}"),
            "runs": sum(by_status.values()),
            "runs_by_status": by_status,
            "agents": agents,
            "memories": one("SELECT count(*) FROM memories"),
            "messages": one("SELECT count(*) FROM messages"),
            "events": one("SELECT count(*) FROM events"),
        }

    facts = await store.run(gather)
    size = store.path.stat().st_size
    wal = store.path.with_name(store.path.name + "-wal")
    if wal.exists():
        size += wal.stat().st_size
    return ProjectInfo(path=str(store.path), size_bytes=size, **facts)


async def export_archive(store: ProjectStore, dest: Path, *, force: bool = False) -> ProjectInfo:
    """Write a consistent, compacted copy of the project to `dest` and verify it.

    VACUUM INTO reads one snapshot, so a run writing meanwhile cannot tear
    the copy. The copy is switched out of WAL so it is one self-contained
    file, then reopened read-only and integrity-checked.
    """
    dest = Path(dest)
    if dest.resolve() == store.path.resolve():
        raise PodiumError("the archive must be a different file from the project")
    if dest.exists() and not force:
        raise PodiumError(f"{dest} already exists; pass --force to replace it")
    if not dest.parent.exists():
        raise PodiumError(f"cannot write {dest}: folder {dest.parent} does not exist")
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)

    def vacuum(conn: Any) -> None:
        conn.execute("VACUUM INTO ?", (str(partial),)).close()

    try:
        await store.run(vacuum)
        await _finalise_copy(partial)
        os.replace(partial, dest)
    except SqliteError as exc:
        partial.unlink(missing_ok=True)
        raise PodiumError(f"export failed: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    archive = await ProjectStore.open(dest, readonly=True)
    try:
        info = await describe(archive)
    finally:
        await archive.close()
    if info.integrity != "ok" or info.application_id != f"{APPLICATION_ID:#x}":
        raise NotAProjectError(f"the archive {dest} failed verification: {info.integrity}")
    if info.schema_version != SCHEMA_VERSION:
        raise NotAProjectError(f"the archive {dest} has schema v{info.schema_version}")
    return info


async def _finalise_copy(path: Path) -> None:
    """Make the fresh copy a rollback-journal file so it needs no -wal/-shm."""
    import aiosqlite

    from podium.store.connection import connect

    def to_single_file() -> Any:
        conn = connect(path)
        conn.execute("PRAGMA journal_mode = DELETE").close()
        return conn

    async with aiosqlite.Connection(to_single_file, iter_chunk_size=64):
        pass
