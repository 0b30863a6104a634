"""A fork's workspace on disk: the reused work's files, and the user's folder for a fork of a run
that worked on one (`--workspace`).

A fork copies its reused subtasks' rows, files included (`workspace_files`), into the project
file; here those files are written into the fork's folder, so an agent that runs again opens a
file a reused subtask wrote. That happens once, after the fork's plan is approved (the approval
decides which subtasks are reused: a replanned fork may re-run some) and before anything runs,
and is marked in the file (`run_forks.files_restored_at`, `fork.files_restored`): a fork resumed
after a kill writes them again only if the mark was not made, which means nothing ran yet, so
writing them twice is harmless, and never over what its re-run agents wrote since.

A fork of a run on the user's folder gets its own workspace of the same kind: a worktree on the
branch `podium/run-FORK` from the parent's base commit (git), or a fresh copy of the folder; the
reused files are then committed on it, so `podium workspace FORK --diff` shows the reused and the
re-run changes against the base. It is made when the fork is made, or, if a kill came first,
before the fork runs (what a half-made attempt left is discarded first).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from podium.app.run_workspace import RunWorkspace, RunWorkspaces, WorkspaceSource
from podium.errors import PodiumError
from podium.store import ProjectStore
from podium.store.fork import ForkRepository
from podium.store.runs import RunRepository
from podium.store.tools import ToolRepository
from podium.tools import repo_workspace as repo
from podium.tools.files import export_files

log = logging.getLogger(__name__)

__all__ = ["ForkWorkspaces"]


class ForkWorkspaces:
    """The folders of one project's forks."""

    def __init__(self, store: ProjectStore, workspaces: RunWorkspaces) -> None:
        self.store = store
        self.workspaces = workspaces
        self.forks = ForkRepository(store)

    async def ready(self, run_id: str) -> None:
        """Before a run's agents work: its workspace is there (a fork's own worktree or copy made
        if it has none yet, a missing one made again) and, for a fork whose plan is approved, the
        reused subtasks' files are in it. Nothing for a run that is not a fork but the first."""
        if self.store.readonly:
            return
        await self.attach(run_id)
        await self.workspaces.ensure(run_id)
        await self.restore(run_id)

    async def attach(self, run_id: str) -> RunWorkspace | None:
        """A fork of a run on the user's folder: its own workspace of that kind (the parent's base
        commit on a new branch, or a fresh copy). None when the run is no such fork, already has
        its workspace, or (made by an older Podium) already ran in a folder of its own."""
        record = await self.forks.lineage(run_id)
        if record is None or await self.workspaces.get(run_id) is not None:
            return None
        parent = await self.workspaces.get(record.parent_id)
        if parent is None:
            return None
        if await self.forks.ran(run_id):
            log.warning("fork %s already ran in its own folder; it goes on there", run_id)
            return None
        try:
            found = await asyncio.to_thread(repo.inspect, parent.source)
        except PodiumError as exc:
            raise PodiumError(f"run {record.parent_id} worked on {parent.source}, which its fork cannot "
                              f"work on now: {exc}") from None
        if found.kind != parent.kind:
            raise PodiumError(f"run {record.parent_id} worked on {parent.source} as a "
                              f"{'git repository' if parent.kind == 'git' else 'plain folder'}; it is not "
                              "one now, so its fork cannot work on it")
        # git: the parent's starting point, not today's HEAD, so the fork's diff is comparable to
        # the parent's; a plain folder is copied as it is now (its hashes recorded afresh).
        source = WorkspaceSource(path=str(found.path), kind=found.kind,
                                 head=parent.base_commit if found.kind == "git" else None)
        await self.workspaces.discard_unrecorded(run_id, source)
        return await self.workspaces.attach(run_id, source)

    async def restore(self, run_id: str) -> list[str]:
        """Write the files the fork's reused subtasks wrote (their latest content, as copied from
        the parent) into its folder, once its plan is approved; on the user's folder, commit them
        on the fork's branch. Returns the paths written (nothing when done before)."""
        if not await self.forks.restore_pending(run_id):
            return []
        if not await RunRepository(self.store).subtasks(run_id):
            return []  # not approved yet: which subtasks are reused is decided at approval
        record = await self.forks.lineage(run_id)
        assert record is not None
        reused = [sid for sid, r in record.reused.items() if r.applied]
        stored = await ToolRepository(self.store).workspace_files(run_id)
        files = [f for f in stored if f.subtask_id in reused]
        ws = await self.workspaces.get(run_id)
        folder = self.workspaces.run_folder(run_id) if ws is None else Path(ws.path)
        written, skipped = await asyncio.to_thread(export_files, files, folder, force=True)
        commit = None
        if ws is not None and written:
            review = await self.workspaces.review(
                run_id, f"podium fork {run_id} of {record.parent_id}: the files of {', '.join(reused)}")
            commit = review.workspace.head_commit
        for why in skipped:
            log.warning("fork %s: a reused file was not written: %s", run_id, why)
        await self.forks.restored(run_id, reused, written, skipped, commit)
        return written
