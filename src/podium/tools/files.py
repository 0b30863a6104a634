"""A run's files as the project file holds them: list, and restore to a folder."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from podium.errors import PodiumError
from podium.store import ProjectStore
from podium.store.tools import ToolRepository, WorkspaceFile

__all__ = ["WorkspaceFile", "export_files", "list_files"]


async def list_files(store: ProjectStore, execution_id: str) -> list[WorkspaceFile]:
    """A run's files by path; NotFoundError for a run the project does not hold."""
    return await ToolRepository(store).workspace_files(execution_id)


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
        # A folder in `dest` may be a link (a fork's workspace holds the user's repository): never
        # write through one to somewhere outside.
        if not target.resolve().is_relative_to(root):
            skipped.append(f"{f.path} (a link leads outside {dest})")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(f.content)
        written.append(f.path)
    return written, skipped
