"""The user's own folder as a run's workspace, and every git call Podium makes.

A git repository (PATH is its top level) gets a worktree on a new branch,
`podium/run-ID`, checked out from HEAD into the run's workspace folder: the
user's working tree, index and current branch are never touched. A plain
folder (or a folder inside a repository) is copied into the workspace, and a
repository of Podium's own (`git --git-dir G --work-tree COPY`, outside the
workspace) records the copy as a baseline commit, so both kinds are diffed
and applied the same way: commit what the agents changed, diff against the
base commit.

Git runs as a subprocess with list arguments (never a shell), with the
user's hooks switched off and no signing: these commits are bookkeeping on
Podium's own branch, and a hook must not run code nobody asked for.
Everything here is synchronous; the application layer calls it in a thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from podium.errors import PodiumError
from podium.tools.workspace import IGNORED_DIRS

GIT_TIMEOUT = 300.0
# Not copied from a plain folder, and never committed: caches, tool state, other VCS metadata.
SKIPPED_DIRS = IGNORED_DIRS | {".hg", ".svn", ".tox", ".nox"}
# A plain folder larger than this is not copied (a home folder given by mistake, a data dump):
# work on a repository (a worktree costs no copy) or a smaller folder.
MAX_COPY_FILES = 50_000
MAX_COPY_BYTES = 2 * 1024**3
# The shell tool's scratch folder inside a workspace.
SCRATCH = ".tmp"
IDENTITY = {"GIT_AUTHOR_NAME": "Podium", "GIT_AUTHOR_EMAIL": "podium@localhost",
            "GIT_COMMITTER_NAME": "Podium", "GIT_COMMITTER_EMAIL": "podium@localhost"}
# Switched off for every call: the user's hooks, signing, pagers, prompts.
SAFE = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "core.quotePath=false",
        "-c", "color.ui=false"]
# Variables that would point git at another repository than the one named.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX")

Kind = Literal["git", "dir"]


@dataclass(frozen=True)
class Source:
    """The folder a run was asked to work on, checked."""

    path: Path  # absolute
    kind: Kind
    head: str | None = None  # git: the commit the run's branch starts from


@dataclass(frozen=True)
class Where:
    """A run's workspace as git sees it (built from the stored record)."""

    kind: Kind
    source: Path
    path: Path
    base_commit: str
    branch: str | None = None
    git_dir: Path | None = None


@dataclass(frozen=True)
class Attached(Where):
    """What `attach` made: the record the project file keeps (a copy's manifest besides)."""

    manifest: dict[str, str] | None = None


@dataclass(frozen=True)
class Change:
    status: str  # A (added), M (modified), D (deleted), T (type changed)
    path: str
    mode: str  # the new mode (000000 when deleted)


# ---------------------------------------------------------------- running git


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTS}
    env.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_EDITOR": "true"})
    env.update(extra or {})
    return env


def _git(args: Sequence[str], *, cwd: Path | None = None, where: Where | None = None,
         check: bool = True, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git. `where` of a plain folder: Podium's own repository over the copy."""
    command = ["git", *SAFE]
    if where is not None:
        cwd = where.path  # pathspecs are relative to the work tree
        if where.git_dir is not None:
            # Named, never read from the workspace: agents write there, and a `.git` file of theirs
            # must not send Podium's commits into another repository.
            command += [f"--git-dir={where.git_dir}", f"--work-tree={where.path}"]
    command += list(args)
    try:
        done = subprocess.run(command, capture_output=True, env=_env(extra_env), timeout=GIT_TIMEOUT,
                              check=False, stdin=subprocess.DEVNULL, cwd=cwd)
    except FileNotFoundError:
        if shutil.which("git") is None:
            raise PodiumError("git is not installed: Podium needs it to work on a folder "
                              "(--workspace)") from None
        raise PodiumError(f"the folder {cwd} does not exist") from None
    except subprocess.TimeoutExpired:
        raise PodiumError(f"git {args[0]} took longer than {GIT_TIMEOUT:.0f} s; nothing more was "
                          "done") from None
    if check and done.returncode != 0:
        raise PodiumError(f"git {args[0]} failed: {_said(done)}")
    return done


def _said(done: subprocess.CompletedProcess[bytes]) -> str:
    text = (done.stderr or done.stdout or b"").decode("utf-8", errors="replace").strip()
    return " ".join(text.split())[:600] or f"exit code {done.returncode}"


def _out(done: subprocess.CompletedProcess[bytes]) -> str:
    return done.stdout.decode("utf-8", errors="replace").strip()


# ---------------------------------------------------------------- checking and attaching


def inspect(path: Path | str) -> Source:
    """Check the folder a run should work on; PodiumError saying what is wrong."""
    given = str(path)
    folder = Path(path).expanduser()
    if not given.strip():
        raise PodiumError("--workspace needs a folder")
    if not folder.exists():
        raise PodiumError(f"--workspace {given}: no such folder")
    if not folder.is_dir():
        raise PodiumError(f"--workspace {given}: not a folder")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise PodiumError(f"--workspace {given}: the folder cannot be read")
    folder = folder.resolve()
    top = _git(["rev-parse", "--show-toplevel"], cwd=folder, check=False)
    if top.returncode == 0 and _out(top) and Path(_out(top)).resolve() == folder:
        head = _git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=folder, check=False)
        if head.returncode != 0:
            raise PodiumError(f"--workspace {given}: the repository has no commit yet; commit once "
                              "(a run's branch starts from HEAD)")
        return Source(path=folder, kind="git", head=_out(head))
    return Source(path=folder, kind="dir")


def branch_for(run_id: str) -> str:
    return f"podium/run-{run_id}"


def attach(source: Source, dest: Path, run_id: str, *, git_dir: Path,
           skip: Iterable[Path] = ()) -> Attached:
    """Make the run's workspace at `dest` (which must not exist yet) from `source`.

    git: a worktree on a new branch from HEAD. dir: a copy (without `skip` paths, e.g. the
    project file and its workspaces when they live inside the folder, nor caches and VCS
    folders) and a baseline commit in Podium's repository at `git_dir`."""
    dest, git_dir = Path(dest).absolute(), Path(git_dir).absolute()  # git -C would read them from elsewhere
    if dest.exists() and any(dest.iterdir()):
        raise PodiumError(f"the run's workspace {dest} already holds files; nothing was attached")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if source.kind == "git":
        assert source.head is not None
        branch = branch_for(run_id)
        exists = _git(["show-ref", "--verify", "-q", f"refs/heads/{branch}"], cwd=source.path, check=False)
        if exists.returncode == 0:
            raise PodiumError(f"the repository already has a branch {branch}; nothing was attached")
        if dest.exists():
            dest.rmdir()
        _git(["worktree", "add", "-q", "-b", branch, str(dest), source.head], cwd=source.path)
        return Attached(kind="git", source=source.path, path=dest, base_commit=source.head, branch=branch,
                        git_dir=_worktree_git_dir(dest))
    try:
        manifest = _copy(source.path, dest, skip=[Path(p).resolve() for p in skip])
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)  # no half copy left behind
        raise
    where = Where(kind="dir", source=source.path, path=dest, base_commit="", git_dir=Path(git_dir))
    Path(git_dir).parent.mkdir(parents=True, exist_ok=True)
    _git(["init", "-q"], where=where)
    _git(["config", "core.autocrlf", "false"], where=where)
    exclude = Path(git_dir) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    exclude.write_text("".join(f"{name}/\n" for name in sorted(SKIPPED_DIRS)) + f"/{SCRATCH}/\n")
    _git(["add", "-A", "."], where=where)
    _git(["commit", "-q", "--allow-empty", "--no-verify", "-m", f"podium: {source.path} as copied"],
         where=where, extra_env=IDENTITY)
    base = _out(_git(["rev-parse", "HEAD"], where=where))
    return Attached(kind="dir", source=source.path, path=dest, base_commit=base, git_dir=Path(git_dir),
                    manifest=manifest)


def discard(source: Source, dest: Path, run_id: str, *, git_dir: Path) -> None:
    """Undo what a process killed in the middle of `attach` left (the workspace was never
    recorded, nobody worked in it): the worktree and the run's branch, or the half copy and its
    baseline repository, so `attach` can start again."""
    dest, git_dir = Path(dest).absolute(), Path(git_dir).absolute()
    if source.kind == "git":
        branch = branch_for(run_id)
        if dest.exists():
            _git(["worktree", "remove", "--force", str(dest)], cwd=source.path, check=False)
            shutil.rmtree(dest, ignore_errors=True)
        _git(["worktree", "prune"], cwd=source.path, check=False)
        exists = _git(["show-ref", "--verify", "-q", f"refs/heads/{branch}"], cwd=source.path, check=False)
        if exists.returncode == 0:
            _git(["branch", "-D", branch], cwd=source.path)
        return
    shutil.rmtree(dest, ignore_errors=True)
    shutil.rmtree(git_dir, ignore_errors=True)


def _copy(source: Path, dest: Path, *, skip: list[Path]) -> dict[str, str]:
    """Copy a folder (symlinks as links); the sha256 of every file copied, by relative path."""
    manifest: dict[str, str] = {}
    size = 0
    dest.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(source):
        here = Path(dirpath)
        kept = []
        for d in sorted(dirnames):
            if d in SKIPPED_DIRS or (here / d).resolve() in skip:
                continue
            if (here / d).is_symlink():
                filenames.append(d)  # a link to a folder is copied as the link, never followed
                continue
            kept.append(d)
        dirnames[:] = kept
        target_dir = dest / here.relative_to(source)
        target_dir.mkdir(exist_ok=True)
        for name in filenames:
            full = here / name
            if full.resolve() in skip or any(full.resolve().is_relative_to(s) for s in skip):
                continue
            rel = full.relative_to(source).as_posix()
            target = target_dir / name
            if full.is_symlink():
                os.symlink(os.readlink(full), target)
            elif full.is_file():
                size += full.stat().st_size
                if len(manifest) >= MAX_COPY_FILES or size > MAX_COPY_BYTES:
                    raise PodiumError(f"{source} is too large to copy (over {MAX_COPY_FILES:,} files or "
                                      f"{MAX_COPY_BYTES >> 30} GiB): give a git repository (a worktree, "
                                      "no copy) or a smaller folder")
                shutil.copy2(full, target)
            else:
                continue  # sockets, fifos: not files to work on
            manifest[rel] = fingerprint(full)
    return manifest


def fingerprint(path: Path) -> str:
    """sha256 of a file's bytes (a symlink: of its target), as recorded when copied."""
    if path.is_symlink():
        return hashlib.sha256(b"symlink:" + os.fsencode(os.readlink(path))).hexdigest()
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _worktree_git_dir(worktree: Path) -> Path:
    """The worktree's own git folder inside the user's repository (.git/worktrees/NAME)."""
    return Path(_out(_git(["rev-parse", "--absolute-git-dir"], cwd=worktree)))


def ensure(where: Where) -> Where | None:
    """The workspace exists again if it went missing (a resumed run): the worktree is added back
    on the run's branch, a copy is checked out from its last commit. The workspace as remade (a
    worktree's git folder may have a new name), or None when it was there."""
    if where.path.is_dir():
        return None
    if where.kind == "git":
        if not where.source.is_dir():
            raise PodiumError(f"the run's repository {where.source} is gone; its workspace cannot be made")
        _git(["worktree", "prune"], cwd=where.source)
        _git(["worktree", "add", "-q", str(where.path), str(where.branch)], cwd=where.source)
        return dataclasses.replace(where, git_dir=_worktree_git_dir(where.path))
    if where.git_dir is None or not where.git_dir.is_dir():
        raise PodiumError(f"the run's copy {where.path} and its baseline are gone; it cannot be made again")
    where.path.mkdir(parents=True)
    _git(["reset", "-q", "--hard", "HEAD"], where=where)
    return where


# ---------------------------------------------------------------- reviewing


def _excluded() -> list[str]:
    """Pathspecs that keep caches and the shell's scratch folder out of a commit."""
    return [f":(exclude,glob)**/{name}/**" for name in sorted(SKIPPED_DIRS)] + [f":(exclude){SCRATCH}"]


def commit(where: Where, message: str) -> str:
    """Commit what the agents changed (new files too) on the run's branch; the head commit."""
    if not where.path.is_dir():
        raise PodiumError(f"the run's workspace {where.path} is gone (resume the run to make it again)")
    _git(["add", "-A", "--", ".", *_excluded()], where=where)
    staged = _git(["diff", "--cached", "--quiet"], where=where, check=False)
    if staged.returncode == 1:
        _git(["commit", "-q", "--no-verify", "-m", message], where=where, extra_env=IDENTITY)
    elif staged.returncode != 0:
        raise PodiumError(f"git diff failed: {_said(staged)}")
    return _out(_git(["rev-parse", "HEAD"], where=where))


def diff(where: Where, head: str) -> str:
    """The unified diff from the base commit to `head` (new and deleted files included)."""
    done = _git(["diff", "--no-color", "--no-ext-diff", "--find-renames", where.base_commit, head,
                 "--"], where=where)
    return done.stdout.decode("utf-8", errors="replace")


def changes(where: Where, head: str) -> list[Change]:
    """What changed from the base commit to `head`, file by file (renames as delete + add)."""
    done = _git(["diff", "--raw", "-z", "--no-renames", "--no-abbrev", where.base_commit, head, "--"],
                where=where)
    fields = done.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    found: list[Change] = []
    # Each entry: ":oldmode newmode oldsha newsha STATUS" then the path.
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        parts = meta[1:].split()
        found.append(Change(status=parts[4][0], path=path, mode=parts[1]))
    return found


# ---------------------------------------------------------------- applying


@dataclass(frozen=True)
class Applied:
    message: str
    to: str  # the branch merged into, or the folder written
    manifest: dict[str, str] | None = None  # a folder: the hashes of its files as now written


def current_branch(repo: Path) -> str | None:
    done = _git(["symbolic-ref", "-q", "--short", "HEAD"], cwd=repo, check=False)
    return _out(done) or None if done.returncode == 0 else None


def merge(where: Where, head: str) -> Applied:
    """Merge the run's branch into the user's current branch (fast-forward when it can). The
    user's checkout is left as it was when git refuses (local changes in the way) or the merge
    conflicts (it is aborted); the branch stays for them to merge by hand."""
    repo, branch = where.source, str(where.branch)
    if not repo.is_dir():
        raise PodiumError(f"the repository {repo} is gone; the changes are on branch {branch}")
    current = current_branch(repo)
    if current is None:
        raise PodiumError(f"{repo} is not on a branch (detached HEAD): nothing was merged; the changes "
                          f"are on branch {branch} (`git merge {branch}` on the branch you want)")
    if current == branch:
        raise PodiumError(f"{repo} has the run's own branch {branch} checked out; nothing to merge")
    merged = _git(["merge-base", "--is-ancestor", head, "HEAD"], cwd=repo, check=False)
    if merged.returncode == 0:
        return Applied(f"nothing to merge: {current} already has the run's changes", current)
    env = {} if _has_identity(repo) else IDENTITY
    done = _git(["merge", "--no-edit", "--no-verify", "-m", f"Merge {branch} (a Podium run)", branch],
                cwd=repo, check=False, extra_env=env)
    if done.returncode == 0:
        how = "fast-forward" if b"Fast-forward" in done.stdout else "merge commit"
        return Applied(f"merged {branch} into {current} ({how})", current)
    in_merge = _git(["rev-parse", "-q", "--verify", "MERGE_HEAD"], cwd=repo, check=False)
    if in_merge.returncode == 0:
        conflicted = _out(_git(["diff", "--name-only", "--diff-filter=U"], cwd=repo, check=False))
        _git(["merge", "--abort"], cwd=repo, check=False)
        files = ", ".join(conflicted.split()) or "some files"
        raise PodiumError(f"merging {branch} into {current} conflicts in {files}: the merge was undone, "
                          f"your checkout is as it was; merge the branch by hand (`git merge {branch}`)")
    raise PodiumError(f"git refused to merge {branch} into {current}, nothing was changed: {_said(done)} "
                      f"(the changes stay on branch {branch})")


def _has_identity(repo: Path) -> bool:
    name = _git(["config", "user.name"], cwd=repo, check=False)
    email = _git(["config", "user.email"], cwd=repo, check=False)
    return name.returncode == 0 and email.returncode == 0


def write_back(where: Where, head: str, manifest: dict[str, str], *, force: bool = False) -> Applied:
    """Write what changed in the copy (up to `head`) into the original folder: changed and new
    files, deletions. Refused (nothing written) when a file it would touch changed in the original
    since the copy, by the sha256 recorded then, unless `force`."""
    target = where.source
    if not target.is_dir():
        raise PodiumError(f"the original folder {target} is gone; nothing was written")
    found = changes(where, head)
    if not found:
        return Applied(f"nothing to apply: the run changed no file of {target}", str(target))
    stale: list[str] = []
    for change in found:
        original = target / change.path
        recorded = manifest.get(change.path)
        present = original.exists() or original.is_symlink()
        if recorded is None:
            if present:
                stale.append(f"{change.path} (new in the original too)")
        elif not present:
            if change.status != "D":
                stale.append(f"{change.path} (deleted in the original)")
        elif fingerprint(original) != recorded:
            stale.append(f"{change.path} (changed in the original)")
    root = target.resolve()
    for change in found:
        original = root / change.path
        # Paths come from git's listing of the copy; still, nothing is written outside the folder
        # (a folder of the original may be a link to elsewhere).
        if not original.is_symlink() and not original.resolve().is_relative_to(root):
            raise PodiumError(f"refused {change.path}: it would be written outside {target}; nothing "
                              "was written")
    if stale and not force:
        shown = ", ".join(stale[:10]) + (f" and {len(stale) - 10} more" if len(stale) > 10 else "")
        raise PodiumError(f"the original folder changed since it was copied: {shown}; nothing was "
                          "written (--force overwrites)")
    now = dict(manifest)
    for change in found:
        original = root / change.path
        if change.status == "D":
            if original.is_symlink() or original.is_file():
                original.unlink()
            now.pop(change.path, None)
            continue
        blob = _git(["cat-file", "blob", f"{head}:{change.path}"], where=where).stdout
        if original.is_symlink() or original.is_file():
            original.unlink()
        original.parent.mkdir(parents=True, exist_ok=True)
        if change.mode == "120000":
            os.symlink(os.fsdecode(blob), original)
        else:
            original.write_bytes(blob)
            if change.mode == "100755":
                original.chmod(original.stat().st_mode | 0o111)
        # Applying the same changes again later finds the folder as this left it.
        now[change.path] = fingerprint(original)
    return Applied(f"wrote {len(found)} changes into {target}", str(target), manifest=now)
