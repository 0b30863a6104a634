"""The images a run's tools made, for the front ends: where one is on disk, and opening it in the
system's image viewer (the run screen's `i`).

An image is opened from the run's workspace when the file there is still the one the tool wrote;
otherwise (an archive opened elsewhere, a workspace deleted or changed since) its bytes as the
project file holds them are written to a folder under the system's temporary directory first.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path, PurePosixPath

from podium.errors import PodiumError
from podium.store import ProjectStore
from podium.tools.files import list_files
from podium.tools.workspace import workspace_root_for

VIEWER_SETTLE_S = 3.0  # a viewer launcher that fails does so at once; one that works may run for long


class ViewerError(PodiumError):
    """No image viewer on this system, or it would not start: the person is told which command."""


class RunImages:
    def __init__(self, store: ProjectStore, workspace_root: Path | None = None) -> None:
        self.store = store
        self.workspace_root = workspace_root or workspace_root_for(store.path)

    async def file_for(self, run_id: str, path: str, sha256: str | None = None) -> Path:
        """A file on disk holding the run's image at `path`; PodiumError when the run never stored it."""
        rel = PurePosixPath(path)
        if rel.is_absolute() or ".." in rel.parts:
            raise PodiumError(f"refused {path!r}: not a path inside the run's workspace")
        on_disk = self.workspace_root / run_id / rel
        if on_disk.is_file() and (sha256 is None or _sha256(on_disk) == sha256):
            return on_disk
        stored = next((f for f in await list_files(self.store, run_id) if f.path == path), None)
        if stored is None or stored.content is None:
            why = "too large to be stored" if stored is not None else "not stored in this project file"
            raise PodiumError(f"{path} is not in the run's workspace and is {why}")
        folder = Path(tempfile.gettempdir()) / "podium-images" / run_id
        target = folder / f"{stored.sha256[:16]}-{rel.name}"
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(stored.content)
            partial.replace(target)
        return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def viewer_command() -> list[str] | None:
    """The system's "open this file" command: `open` on macOS, `xdg-open` elsewhere (None: none)."""
    if sys.platform == "darwin":
        name = "open"
    elif sys.platform.startswith("win"):
        return ["cmd", "/c", "start", ""]
    else:
        name = "xdg-open"
    found = shutil.which(name)
    return [found] if found else None


async def open_in_viewer(path: Path) -> None:
    """Open `path` with the system's viewer without waiting for the viewer to close; ViewerError
    when there is none or it fails at once."""
    command = viewer_command()
    if command is None:
        wanted = "open" if sys.platform == "darwin" else "xdg-open (the xdg-utils package)"
        raise ViewerError(f"no image viewer found: {wanted} is not installed. The image is at {path}")
    try:
        proc = await asyncio.create_subprocess_exec(
            *command, str(path), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)  # not killed with the TUI, no terminal
    except OSError as exc:
        raise ViewerError(f"could not start {command[0]}: {exc}. The image is at {path}") from None
    try:
        code = await asyncio.wait_for(proc.wait(), VIEWER_SETTLE_S)
    except TimeoutError:
        # Still running: the viewer itself. Reap it whenever it exits, off the caller's path.
        _reapers.add(task := asyncio.get_running_loop().create_task(proc.wait()))
        task.add_done_callback(_reapers.discard)
        return
    if code != 0:
        raise ViewerError(f"{Path(command[0]).name} could not open the image (exit {code}); it is at {path}")


_reapers: set[asyncio.Task[int]] = set()
