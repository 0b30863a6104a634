"""The application layer: one session composes store, gateway, memory, tools and engines; the
use cases take a run from objective to accepted result on the scripted model."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from podium.app.drive import PlanDecision
from podium.app.run_settings import ResumeOptions
from podium.app.session import ProjectSession, accept_review
from podium.domain import Execution, ExecutionStatus, PlanVersion, RunSettings
from podium.errors import NotFoundError, PodiumError, ReadOnlyError
from podium.orchestrator.settings import EngineSettings

SCRIPTS = Path(__file__).parents[1] / "tui" / "scripts"
RESEARCH = f"scripted:{SCRIPTS / 'research.toml'}"


class Recorder:
    """A front end for `drive`: answers plans from a list of decisions, counts what happened."""

    def __init__(self, *decisions: PlanDecision) -> None:
        self.decisions = list(decisions)
        self.seen: list[int] = []
        self.plannings = 0
        self.executed: list[str] = []

    def planning(self) -> None:
        self.plannings += 1

    async def decide_plan(self, latest: PlanVersion) -> PlanDecision:
        self.seen.append(latest.version)
        return self.decisions.pop(0)

    async def execute(self, run_id: str, run: Callable[[], Awaitable[Execution]]) -> Execution:
        self.executed.append(run_id)
        return await run()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return tmp_path / "project.podium"


async def test_one_session_composes_store_memory_tools_and_an_engine(project: Path) -> None:
    async with ProjectSession(project, model=RESEARCH) as session:
        engine = await session.ensure_engine()
        assert engine is await session.engine_for() is session.engine
        assert engine.memory is session.memory is not None
        assert engine.tools is session.tools is not None
        assert engine.settings.review == "human"  # a person at the terminal app reviews results
        assert "research" in session.team_names()
        created = await session.create_run("Brief on heat pumps", "research")
        assert created.status is ExecutionStatus.PLANNING
        assert created.settings is not None and created.settings.review == "human"
        assert created.settings.model == f"scripted:{(SCRIPTS / 'research.toml').resolve()}"
    assert not session.is_open
    with pytest.raises(PodiumError, match="not open"):
        _ = session.store


async def test_drive_plans_takes_the_decisions_executes_and_accept_completes(project: Path) -> None:
    front = Recorder(PlanDecision(action="reject", feedback="Add a fact-check before writing."),
                     PlanDecision(action="approve", by="test"))
    async with ProjectSession(project, model=RESEARCH) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        outcome = await session.drive(run.id, front)
        assert front.plannings == 1 and front.seen == [1, 2] and front.executed == [run.id]
        assert outcome.executed and not outcome.left_for_approval
        assert outcome.execution.status is ExecutionStatus.REVIEW  # human review: it waits
        assert {s.id for s in await session.runs.subtasks(run.id)} == {"t1", "t2", "t3", "t4"}
        done = await session.accept(run.id, by="test", source="test")
        assert done.status is ExecutionStatus.COMPLETED
        again = await session.drive(run.id, Recorder())  # a finished run: nothing to do
        assert again.execution.status is ExecutionStatus.COMPLETED and not again.executed


async def test_stopping_at_the_plan_leaves_it_awaiting_approval_and_resume_checks_status(
        project: Path) -> None:
    async with ProjectSession(project, run_settings=RunSettings(model=RESEARCH, review="human")) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        outcome = await session.drive(run.id, Recorder(PlanDecision(action="stop")))
        assert outcome.left_for_approval and not outcome.executed
        assert outcome.execution.status is ExecutionStatus.AWAITING_APPROVAL
        # Resuming goes on with the recorded settings, the overrides recorded.
        execution, settings = await session.prepare_resume(run.id[:6], ResumeOptions(concurrency=2,
                                                                                    budget_steps=99))
        assert execution.id == run.id and settings.concurrency == 2
        stored = await session.runs.get_execution(run.id)
        assert stored.settings is not None and stored.settings.concurrency == 2
        assert stored.budget.steps == 99
        assert session.engine.settings.concurrency == 2
        outcome = await session.drive(run.id, Recorder(PlanDecision(action="approve")))
        assert outcome.execution.status is ExecutionStatus.REVIEW
        with pytest.raises(PodiumError, match="awaits your review"):
            await session.prepare_resume(run.id, ResumeOptions())
    assert (await accept_review(project, run.id)).status is ExecutionStatus.COMPLETED
    async with ProjectSession(project, run_settings=RunSettings(model=RESEARCH)) as session:
        with pytest.raises(PodiumError, match="already completed"):
            await session.prepare_resume(run.id, ResumeOptions())


async def test_a_run_that_recorded_other_settings_gets_an_engine_of_its_own(project: Path) -> None:
    async with ProjectSession(project, run_settings=RunSettings(model=RESEARCH, concurrency=1)) as headless:
        run = await headless.create_run("Brief on heat pumps", "research")
        assert await headless.engine_for(run.id) is headless.engine  # a command's one engine
    async with ProjectSession(project, model=RESEARCH) as app:
        own = await app.engine_for(run.id)
        assert own is not app.engine and own.settings.concurrency == 1
        assert await app.engine_for(run.id) is own  # the same one while the session lives
        assert await app.engine_for("no-such-run") is app.engine
        fresh = await app.create_run("Another", "research")
        assert await app.engine_for(fresh.id) is app.engine


async def test_steering_and_tool_approvals_check_their_input(project: Path) -> None:
    async with ProjectSession(project, model=RESEARCH, settings=EngineSettings(review="auto")) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        assert await session.pending_tool_approvals(run.id) == []
        with pytest.raises(NotFoundError, match="no tool approval #7"):
            await session.decide_tool(7, True, by="test", run_id=run.id)
        with pytest.raises(NotFoundError, match="no run"):
            await session.pending_tool_approvals("zzz")
        steered = await session.steering().guide(run.id, "Cite sources.")
        assert "guidance recorded" in steered.message
        with pytest.raises(PodiumError, match="empty"):
            await session.steering().guide(run.id, "  ")


async def test_a_read_only_session_builds_no_engine(project: Path) -> None:
    async with ProjectSession(project, model=RESEARCH):
        pass  # creates the file
    async with ProjectSession(project, readonly=True) as session:
        with pytest.raises(ReadOnlyError):
            await session.ensure_engine()
        with pytest.raises(ReadOnlyError):
            session.steering()
