"""A throwaway git repository for tests of runs on a user's repository (--workspace)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(repo: Path, *args: str) -> str:
    """Run git in `repo`; its stdout, stripped. A failing command fails the test with git's stderr."""
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_repo(folder: Path, files: dict[str, str]) -> Path:
    """`folder` as a repository on branch main with `files` (name -> text) in one initial commit."""
    folder.mkdir(parents=True)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "config", "user.name", "Test User")
    git(folder, "config", "user.email", "test@example.com")
    for name, text in files.items():
        (folder / name).write_text(text)
    git(folder, "add", ".")
    git(folder, "commit", "-q", "-m", "initial")
    return folder
