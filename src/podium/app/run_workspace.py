"""Runs on the user's own folder (`podium run --workspace PATH`, the new-run form's field).

A git repository gets a worktree on the branch `podium/run-ID` in the run's workspace folder (next
to the project file); any other folder is copied there. Agents work in it as in any workspace (what
their tools write is recorded, exported and archived as always). At any time, and at the end,
`review` commits what they changed and shows the diff against where they started; `apply` merges
the branch into the user's current branch, or writes the changed files back into the folder.

The git and file work (`tools.repo_workspace`) is synchronous: it runs in a thread here, so the
event loop (a live run, the terminal app) never waits on it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel

from podium.domain import RunWorkspace
from podium.errors import NotFoundError, PodiumError
from podium.store import ProjectStore
from podium.store.run_workspaces import RunWorkspaceRepository
from podium.tools import repo_workspace as repo
from podium.tools.workspace import workspace_root_for

__all__ = ["RunWorkspace", "RunWorkspaces", "WorkspaceReview", "WorkspaceSource"]

# Podium's own repositories holding a copied folder's baseline, beside the runs' folders.
BASELINES = ".baselines"


class WorkspaceSource(BaseModel):
    """A folder checked for a new run: its absolute path and what it is."""

    path: str
    kind: str  # git | dir
    head: str | None = None


class WorkspaceReview(BaseModel):
    """What a run changed in the user's folder: the diff and its files ("M path" lines)."""

    workspace: RunWorkspace
    diff: str
    files: list[str]
    live: bool  # committed and diffed now (False: as last recorded, e.g. in an archive)

    @property
    def summary(self) -> str:
        ws = self.workspace
        where = f"branch {ws.branch}" if ws.kind == "git" else f"a copy of {ws.source}"
        if not self.files:
            return f"no changes yet ({where})"
        return f"{len(self.files)} files changed on {where}"


def check_source(path: Path | str) -> WorkspaceSource:
    """Check a folder for `--workspace` (exists, is a folder, a repository with a commit...);
    PodiumError saying what is wrong. Synchronous: a front end checks before it starts a run."""
    found = repo.inspect(path)
    return WorkspaceSource(path=str(found.path), kind=found.kind, head=found.head)


class RunWorkspaces:
    """The runs of one project that work on the user's folders."""

    def __init__(self, store: ProjectStore, root: Path | None = None) -> None:
        self.store = store
        self.root = Path(root) if root is not None else workspace_root_for(store.path)
        self.records = RunWorkspaceRepository(store)

    def run_folder(self, run_id: str) -> Path:
        """Where the run's agents work (the tool box's workspace for the run)."""
        return self.root / run_id

    async def attach(self, run_id: str, source: WorkspaceSource) -> RunWorkspace:
        """Make the run's workspace from the user's folder and record where it came from."""
        found = repo.Source(path=Path(source.path), kind=source.kind,  # type: ignore[arg-type]
                            head=source.head)
        project = self.store.path.resolve()
        # A folder that holds the project file (or its workspaces) is copied without them.
        skip = [self.root.resolve(), project, project.with_name(project.name + "-wal"),
                project.with_name(project.name + "-shm")]
        made = await asyncio.to_thread(repo.attach, found, self.run_folder(run_id), run_id,
                                       git_dir=self.root / BASELINES / f"{run_id}.git", skip=skip)
        ws = RunWorkspace(execution_id=run_id, kind=made.kind, source=str(made.source), path=str(made.path),
                          base_commit=made.base_commit, branch=made.branch,
                          git_dir=str(made.git_dir) if made.git_dir else None, manifest=made.manifest or {})
        await self.records.add(ws)
        return ws

    async def discard_unrecorded(self, run_id: str, source: WorkspaceSource) -> None:
        """Before `attach` again: what a process killed while attaching left (a worktree and the
        run's branch, or a half copy); only for a run with no workspace recorded."""
        if await self.get(run_id) is not None:
            raise PodiumError(f"run {run_id} has its workspace; nothing was discarded")
        found = repo.Source(path=Path(source.path), kind=source.kind,  # type: ignore[arg-type]
                            head=source.head)
        await asyncio.to_thread(repo.discard, found, self.run_folder(run_id), run_id,
                                git_dir=self.root / BASELINES / f"{run_id}.git")

    async def get(self, run_id: str) -> RunWorkspace | None:
        return await self.records.get(run_id)

    async def require(self, run_id: str) -> RunWorkspace:
        ws = await self.get(run_id)
        if ws is None:
            raise NotFoundError(f"run {run_id} was not started on a folder of yours (--workspace): "
                                f"`podium workspace {run_id}` lists the files it wrote")
        return ws

    async def ensure(self, run_id: str) -> bool:
        """Before a run goes on: its worktree or copy is there (made again if it went missing)."""
        ws = await self.get(run_id)
        if ws is None or self.store.readonly:
            return False
        remade = await asyncio.to_thread(repo.ensure, _where(ws))
        if remade is None:
            return False
        await self.records.remade(ws, str(remade.git_dir) if remade.git_dir else None)
        return True

    async def review(self, run_id: str, message: str | None = None) -> WorkspaceReview:
        """Commit what the agents changed so far on the run's branch (or in the copy's repository)
        and diff it against the base; the diff is recorded. Read-only (an archive), or the
        workspace is gone: the diff last recorded."""
        ws = await self.require(run_id)
        if self.store.readonly or not Path(ws.path).is_dir():
            return WorkspaceReview(workspace=ws, diff=ws.diff or "", files=ws.files, live=False)
        where = _where(ws)
        message = message or f"podium run {run_id}: the agents' changes"
        head, diff, changes = await asyncio.to_thread(_commit_and_diff, where, message)
        files = [f"{c.status} {c.path}" for c in changes]
        await self.records.committed(ws, head, diff, files)
        ws = ws.model_copy(update={"head_commit": head, "diff": diff, "files": files})
        return WorkspaceReview(workspace=ws, diff=diff, files=files, live=True)

    async def apply(self, run_id: str, *, force: bool = False, branch_only: bool = False) -> str:
        """Bring the run's changes into the user's folder: merge the branch into their current
        branch (git) or write the changed files back (a copy). `branch_only`: commit them on the
        run's branch and say where they are, nothing merged. Returns what was done."""
        if self.store.readonly:
            raise PodiumError(f"{self.store.path} is open read-only (an archive): apply from the project "
                              "file the run was made in")
        review = await self.review(run_id)
        ws = review.workspace
        head = ws.head_commit or ws.base_commit
        if branch_only:
            if ws.kind != "git":
                raise PodiumError("--branch-only is for a git repository; a copied folder has no branch")
            return f"the changes are on branch {ws.branch} of {ws.source} ({len(review.files)} files); " \
                   f"merge them with `git merge {ws.branch}`"
        where = _where(ws)
        if ws.kind == "git":
            done = await asyncio.to_thread(repo.merge, where, head)
        else:
            done = await asyncio.to_thread(repo.write_back, where, head, ws.manifest, force=force)
        await self.records.applied(ws, head, done.to, done.message, len(review.files), done.manifest)
        return done.message


def _where(ws: RunWorkspace) -> repo.Where:
    return repo.Where(kind=ws.kind, source=Path(ws.source), path=Path(ws.path), base_commit=ws.base_commit,
                      branch=ws.branch, git_dir=Path(ws.git_dir) if ws.git_dir else None)


def _commit_and_diff(where: repo.Where, message: str) -> tuple[str, str, list[repo.Change]]:
    head = repo.commit(where, message)
    return head, repo.diff(where, head), repo.changes(where, head)
