"""A run on the user's repository goes on in its worktree when resumed, and gets it back (on the
run's branch, with what the agents committed) if the folder went missing meanwhile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from podium.app.run_workspace import check_source
from podium.app.session import ProjectSession
from podium.domain import ExecutionStatus
from podium.errors import PodiumError
from podium.tools import repo_workspace
from tests.integration.run_helpers import events_of
from tests.integration.test_workspace_repo import ORIGINAL, SCRIPT, _repo


async def test_resume_goes_on_in_the_worktree_and_remakes_a_missing_one(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "software.toml").write_text(SCRIPT)
    model = f"scripted:{tmp_path / 'software.toml'}"
    project = tmp_path / "project.podium"

    async with ProjectSession(project, model=model) as session:
        run = await session.create_run("Fix add", "software", workspace=repo)
        await session.plan(run.id)
        await session.approve(run.id)  # approved, not executed: as a run stopped before executing
        ws = await session.run_workspaces.require(run.id)
        assert ws.kind == "git" and ws.branch == f"podium/run-{run.id}"
        worktree = Path(ws.path)
        assert worktree == tmp_path / "project-workspace" / run.id
        (worktree / "draft.txt").write_text("kept across the resume\n")
        await session.run_workspaces.review(run.id)  # committed on the run's branch
        assert not await session.run_workspaces.ensure(run.id)  # there: nothing to do

    shutil.rmtree(worktree)  # the folder went missing while nothing ran

    async with ProjectSession(project, model=model) as session:
        done = await session.resume(run.id)
        assert done.status in (ExecutionStatus.REVIEW, ExecutionStatus.COMPLETED), done.status
        # Made again on the run's branch, with what was committed before, then worked in.
        assert (worktree / "draft.txt").read_text() == "kept across the resume\n"
        assert "a + b" in (worktree / "calc.py").read_text()
        review = await session.run_workspaces.review(run.id)
        assert {"A draft.txt", "M calc.py", "A test_calc.py"} <= set(review.files)

    actions = [e["action"] for e in events_of(project, run.id, "workspace.changed")]
    assert actions[0] == "attached" and "remade" in actions
    branch = subprocess.run(["git", "-C", str(repo), "symbolic-ref", "--short", "HEAD"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert branch == "main" and (repo / "calc.py").read_text() == ORIGINAL


async def test_a_workspace_that_cannot_be_made_fails_the_run_with_the_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "software.toml").write_text(SCRIPT)
    project = tmp_path / "project.podium"
    async with ProjectSession(project, model=f"scripted:{tmp_path / 'software.toml'}") as session:
        # A folder that already holds files is never used as a run's worktree.
        taken = tmp_path / "project-workspace" / "stray"
        taken.mkdir(parents=True)
        (taken / "x").write_text("x")
        with pytest.raises(PodiumError, match="already holds files"):
            await session.run_workspaces.attach("stray", check_source(repo))

        def fails(*args: object, **kwargs: object) -> None:
            raise PodiumError("git worktree failed: disk full")

        monkeypatch.setattr(repo_workspace, "attach", fails)
        with pytest.raises(PodiumError, match="disk full"):
            await session.create_run("Fix add", "software", workspace=repo)
        (run,) = await session.queries.runs()
        assert run.status == "failed"
        reason = await session.runs.status_reason(run.id)
        assert reason is not None and "its workspace could not be made" in reason and "disk full" in reason
