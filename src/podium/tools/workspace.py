"""A run's workspace: one directory per run, and paths that cannot leave it.

Agents name files relative to the workspace. A path that is absolute, has a
`..` component, or resolves (through symlinks) outside the root is refused
before anything touches the disk.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from podium.tools.types import ToolError

# Files up to this size have their bytes stored in the project file.
CONTENT_LIMIT = 1024 * 1024
# ... and PNG images up to this size (a generated 1024x1024 image is 1-3 MiB), so an archive carries them.
IMAGE_CONTENT_LIMIT = 16 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Directories tools never report as written (caches and tool state, not work).
IGNORED_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv", "node_modules"}
)


def workspace_root_for(project: Path) -> Path:
    """Where a project's run workspaces live: a folder next to the project file."""
    project = Path(project)
    return project.resolve().parent / f"{project.stem}-workspace"


@dataclass(frozen=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    is_text: bool
    content: bytes | None


def describe_file(root: Path, rel: str) -> FileRecord:
    data = (root / rel).read_bytes()
    is_text = _looks_textual(data)
    return FileRecord(
        path=rel,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        is_text=is_text,
        content=data if len(data) <= _content_limit(data) else None,
    )


def _content_limit(data: bytes) -> int:
    return IMAGE_CONTENT_LIMIT if data.startswith(PNG_SIGNATURE) else CONTENT_LIMIT


def _looks_textual(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return False
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the sample's end is still text.
        return exc.start >= 8188
    return True


class Workspace:
    """The directory a run's agents read and write."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def ensure(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def resolve(self, path: str, *, must_exist: bool = False) -> Path:
        """The absolute path for `path`, or ToolError if it would leave the workspace."""
        if not isinstance(path, str) or not path.strip():
            raise ToolError("path must be a non-empty string relative to the workspace")
        if "\x00" in path:
            raise ToolError("path contains a NUL byte")
        raw = path.strip().replace("\\", "/")
        pure = PurePosixPath(raw)
        if pure.is_absolute() or raw.startswith("~") or (len(raw) > 1 and raw[1] == ":"):
            raise ToolError(
                f"refused {path!r}: absolute paths are outside the workspace; use a relative path"
            )
        if ".." in pure.parts:
            raise ToolError(f"refused {path!r}: '..' would leave the workspace")
        root = self.ensure().resolve()
        target = (root / pure).resolve()
        # resolve() follows symlinks, so a link pointing out is caught here.
        if target != root and not target.is_relative_to(root):
            raise ToolError(f"refused {path!r}: it resolves outside the workspace (symlink)")
        if must_exist and not target.exists():
            raise ToolError(f"no such file in the workspace: {self.relative(target)}")
        return target

    def relative(self, target: Path) -> str:
        rel = Path(target).resolve().relative_to(self.root.resolve())
        return rel.as_posix() or "."

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """(mtime_ns, size) per file: compared before/after a command to find what it wrote."""
        found: dict[str, tuple[int, int]] = {}
        if not self.root.exists():
            return found
        root = self.root.resolve()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in IGNORED_DIRS]
            for name in filenames:
                full = Path(dirpath) / name
                if full.is_symlink():
                    continue
                try:
                    st = full.stat()
                except OSError:
                    continue
                found[full.relative_to(root).as_posix()] = (st.st_mtime_ns, st.st_size)
        return found

    @staticmethod
    def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
        return sorted(p for p, stamp in after.items() if before.get(p) != stamp)
