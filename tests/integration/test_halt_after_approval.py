"""A halt that lands after a plan is approved and before its first subtask starts stops the run.

The window: the plan is approved (the run is `running`), then the front end
gets the run's folder ready and the engine starts executing. A halt from
this process (the terminal app's `x`/`q`, Ctrl-C of `podium run`) or from a
second one (`podium halt RUN_ID`) in that window must end the run `halted`
with no subtask started, and `podium resume` must then finish it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from podium.app.drive import PlanDecision
from podium.app.session import ProjectSession
from podium.domain import Execution, ExecutionStatus, InterventionKind, PlanVersion, SubtaskStatus
from tests.conftest import eventually

SCRIPTS = Path(__file__).parents[1] / "tui" / "scripts"
RESEARCH = f"scripted:{SCRIPTS / 'research.toml'}"


class HaltFirst:
    """A front end for `drive` that approves the plan, then lets `halt` act in the window between
    the approval and the engine's execution (where the front end would start its live view)."""

    def __init__(self, halt: Callable[[str], Awaitable[None]]) -> None:
        self.halt = halt
        self.approved_status: ExecutionStatus | None = None

    def planning(self) -> None:
        pass

    async def decide_plan(self, latest: PlanVersion) -> PlanDecision:
        return PlanDecision(action="approve", by="test")

    async def execute(self, run_id: str, run: Callable[[], Awaitable[Execution]]) -> Execution:
        await self.halt(run_id)
        return await run()


async def started_subtasks(session: ProjectSession, run_id: str) -> list[str]:
    rows = await session.store.query(
        "SELECT DISTINCT json_extract(payload, '$.subtask_id') FROM events WHERE execution_id = ?"
        " AND type = 'subtask.status' AND json_extract(payload, '$.status') = 'running'", (run_id,))
    return [r[0] for r in rows]


async def assert_halted_before_any_subtask(session: ProjectSession, run_id: str, final: Execution) -> None:
    assert final.status is ExecutionStatus.HALTED, (final.status, await session.runs.status_reason(run_id))
    assert await started_subtasks(session, run_id) == []
    assert {s.status for s in await session.runs.subtasks(run_id)} == {SubtaskStatus.PENDING}
    assert await session.runs.live_owner(run_id) is None  # nobody holds it: resumable


async def assert_resume_finishes(project: Path, run_id: str) -> None:
    async with ProjectSession(project, model=RESEARCH) as session:
        resumed = await session.resume(run_id)
        assert resumed.status is ExecutionStatus.REVIEW  # human review: the result waits
        # Every subtask ran once, now (finished work awaiting the review sits in its column).
        subtasks = await session.runs.subtasks(run_id)
        assert {s.status for s in subtasks} <= {SubtaskStatus.DONE, SubtaskStatus.REVIEW}
        assert sorted(await started_subtasks(session, run_id)) == sorted(s.id for s in subtasks)


async def test_a_halt_from_this_process_right_after_approval_stops_the_run(tmp_path: Path) -> None:
    project = tmp_path / "project.podium"
    async with ProjectSession(project, model=RESEARCH) as session:
        run = await session.create_run("Brief on heat pumps", "research")

        async def halt(run_id: str) -> None:  # what the app's `q` does for a live run
            await session.halt(run_id, reason="the app was closed")

        outcome = await session.drive(run.id, HaltFirst(halt))
        await assert_halted_before_any_subtask(session, run.id, outcome.execution)
        assert await session.runs.status_reason(run.id) == "the app was closed"
    await assert_resume_finishes(project, run.id)


async def test_a_halt_from_a_second_process_right_after_approval_stops_the_run(tmp_path: Path) -> None:
    project = tmp_path / "project.podium"
    async with ProjectSession(project, model=RESEARCH) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        second: list[asyncio.subprocess.Process] = []

        async def halt(run_id: str) -> None:
            # `podium halt` in another terminal; the run goes on towards its first subtask as soon
            # as the halt is in the file (whoever picks it up).
            second.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "podium", "halt", run_id, "--project", str(project),
                "--reason", "stopped from the other terminal", env=dict(os.environ),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE))

            async def recorded() -> bool:
                rows = await session.store.query(
                    "SELECT 1 FROM interventions WHERE execution_id = ? AND kind = ?",
                    (run_id, InterventionKind.HALT.value))
                return bool(rows)

            await eventually(recorded, what="the second process's halt in the file", timeout=30)

        outcome = await session.drive(run.id, HaltFirst(halt))
        out, err = await asyncio.wait_for(second[0].communicate(), 30)
        assert second[0].returncode == 0, err.decode()
        assert "halted" in out.decode()
        await assert_halted_before_any_subtask(session, run.id, outcome.execution)
        assert await session.runs.status_reason(run.id) == "stopped from the other terminal"
    await assert_resume_finishes(project, run.id)


async def test_the_apps_approve_and_run_stops_for_a_halt_after_the_approval(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The terminal app approves and runs in one step (`a`); `q` right after halts the run."""
    from podium.app.fork_workspace import ForkWorkspaces

    project = tmp_path / "project.podium"
    async with ProjectSession(project, model=RESEARCH) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        await session.plan(run.id)
        ready = ForkWorkspaces.ready

        async def halt_then_ready(self: ForkWorkspaces, run_id: str) -> None:
            # Between the approval and the execution: the run is approved, nothing runs yet.
            assert (await session.runs.get_execution(run_id)).status is ExecutionStatus.RUNNING
            await session.halt(run_id, reason="the app was closed")
            await ready(self, run_id)

        monkeypatch.setattr(ForkWorkspaces, "ready", halt_then_ready)
        final = await session.approve(run.id, execute=True)
        monkeypatch.setattr(ForkWorkspaces, "ready", ready)
        await assert_halted_before_any_subtask(session, run.id, final)
    await assert_resume_finishes(project, run.id)
