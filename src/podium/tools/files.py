"""A run's files as the project file holds them: list, and restore to a folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import BaseModel

from podium.errors import NotFoundError, PodiumError
from podium.store import ProjectStore


class WorkspaceFile(BaseModel):
    path: str
    sha256: str
    size: int
    is_text: bool
    content: bytes | None
    subtask_id: str | None
    agent: str | None
    tool: str
    updated_at: float


async def list_files(store: ProjectStore, execution_id: str) -> list[WorkspaceFile]:
    if await store.query_one("SELECT 1 FROM executions WHERE id = ?", (execution_id,)) is None:
        raise NotFoundError(f"no run {execution_id!r} in {store.path}")
    rows = await store.query(
        "SELECT * FROM workspace_files WHERE execution_id = ? ORDER BY path", (execution_id,)
    )
    return [_file(r) for r in rows]


def _file(row: Any) -> WorkspaceFile:
    content = row["content"]
    return WorkspaceFile(
        path=row["path"],
        sha256=row["sha256"],
        size=row["size"],
        is_text=bool(row["is_text"]),
        content=bytes(content) if content is not None else None,
        subtask_id=row["subtask_id"],
        agent=row["agent"],
        tool=row["tool"],
        updated_at=row["updated_at"],
    )


def export_files(
    files: list[WorkspaceFile], dest: Path, *, force: bool = False
) -> tuple[list[str], list[str]]:
    """Write files under `dest`; returns (written, skipped-with-reason)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise PodiumError(f"{dest} exists and is not a folder")
    clashes = [f.path for f in files if (dest / f.path).exists()]
    if clashes and not force:
        raise PodiumError(f"{len(clashes)} files already exist in {dest} (e.g. {clashes[0]}); pass --force")
    root = dest.resolve()
    written, skipped = [], []
    for f in files:
        rel = PurePosixPath(f.path)
        # Paths were checked when written; check again, since an archive may come from anywhere.
        if rel.is_absolute() or ".." in rel.parts:
            skipped.append(f"{f.path} (unsafe path)")
            continue
        if f.content is None:
            skipped.append(f"{f.path} (too large to be stored: {f.size:,} bytes)")
            continue
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.content)
        written.append(f.path)
    return written, skipped
