"""What the shell's box must reach so that git works in a run's worktree of the user's repository.

A worktree's `.git` is a file naming its admin folder inside the user's repository
(`<common>/worktrees/<name>/`: this worktree's HEAD and index), and everything else (objects,
refs, config) is in the repository's common git folder. Both lie outside the workspace, so without
them the box refuses every git command. The box gets read access to the common folder (the admin
folder is inside it) and nothing more of the user's repository:

- `git status`, `git diff`, `git log`, `git show` work (git refreshes the index only when it can
  write it; without that it hashes the changed files again, and its answers are the same);
- `git commit`, `git add`, `git branch`, `git stash` would write objects, refs or the index and
  are refused: Podium commits the agents' changes itself, on the run's branch.

The admin folder stays read-only on purpose, although git keeps the worktree's index there: it
also holds the worktree's HEAD, its `commondir` pointer and (with `extensions.worktreeConfig`)
its `config.worktree`, which Podium's own git reads outside the box when it commits the run's
changes. Writable, they would let a command move that commit to another branch, or point Podium's
git at a repository whose config runs a program (`core.fsmonitor`, a filter).

The paths are never read from the workspace (agents write its `.git` file): the common folder
comes from git run by Podium, outside the box, in the user's own checkout, and the admin folder is
the one Podium recorded when it made the worktree; it must sit in `<common>/worktrees/`, or
nothing is granted.
"""

from __future__ import annotations

import functools
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 30.0
# Variables that would point git at another repository than the one named.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX", "GIT_CEILING_DIRECTORIES")


@dataclass(frozen=True)
class RepoAccess:
    """A worktree's git folders: the box may read `common` (which holds `admin`)."""

    common: Path
    admin: Path

    @property
    def read(self) -> tuple[Path, ...]:
        return (self.common,)


def common_dir(repository: Path) -> Path | None:
    """The common git folder of the user's checkout at `repository` (git run here, not in a box)."""
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTS}
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    try:
        done = subprocess.run(
            ["git", "-c", "core.fsmonitor=false", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=repository, capture_output=True, env=env, timeout=GIT_TIMEOUT, check=False,
            stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.decode("utf-8", errors="surrogateescape").strip()
    return Path(text).resolve() if done.returncode == 0 and text else None


@functools.lru_cache(maxsize=64)
def repo_access(repository: str, admin: str) -> RepoAccess | None:
    """What the box needs for git in the worktree whose admin folder Podium recorded as `admin`,
    of the user's checkout `repository`; None when the two do not fit together (then the box gets
    nothing of the repository, and git in it is refused as before)."""
    common = common_dir(Path(repository))
    if common is None:
        return None
    folder = Path(admin).resolve()
    if folder.parent != common / "worktrees" or not folder.is_dir():
        return None
    return RepoAccess(common=common, admin=folder)
