"""The app on the real local model survives its worker dying mid-run (a native crash)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from podium.app.session import ProjectSession
from podium.domain import ExecutionStatus
from podium.llm.local_model import get_local_model
from podium.orchestrator.settings import EngineSettings
from podium.tui.app import PodiumApp
from tests.support.teams import write_duo
from tests.tui.conftest import wait_for
from tests.tui.test_flow import accept_review, start_run


@pytest.mark.local_model
@pytest.mark.timeout(900)
async def test_a_worker_killed_with_sigsegv_mid_run_leaves_the_app_up_and_the_run_completes(
    tmp_path: Path,
) -> None:
    write_duo(tmp_path)
    project = tmp_path / "project.podium"
    # As few local-model tokens as the run needs: what is tested is the crash, not the output
    # (at most two subtasks, no leader's lessons after the run).
    small = EngineSettings(review="human", discussion=False, perspective_max_tokens=48,
                           plan_max_tokens=400, turn_max_tokens=64, synthesis_max_tokens=96,
                           review_max_tokens=96, max_steps_per_subtask=2, max_plan_subtasks=2,
                           lessons=False)
    session = ProjectSession(project, model="local", team="duo", settings=small)
    app = PodiumApp(project, session=session, model="local", team="duo")
    local = get_local_model()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_run(pilot, "List two uses of salt")
        await wait_for(pilot, lambda: screen.state.awaiting_approval, timeout=300, what="plan")
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.state.status is ExecutionStatus.RUNNING and any(
            t.status.value == "running" for t in screen.state.subtasks.values()), timeout=120,
            what="a subtask running")
        victim = local.worker_pid
        assert victim is not None and victim != os.getpid()
        os.kill(victim, signal.SIGSEGV)
        await wait_for(pilot, lambda: local.worker_pid not in (None, victim), timeout=30,
                       what="a new worker")
        await wait_for(pilot, lambda: screen.state.awaiting_review, timeout=600, what="review")
        await accept_review(pilot, screen)
        await wait_for(pilot, lambda: screen.state.status in (ExecutionStatus.COMPLETED,
                                                              ExecutionStatus.PARTIAL),
                       timeout=300, what="the run to end")
        assert app.is_running and isinstance(app.screen, type(screen))
        assert local.last_death is not None and "SIGSEGV" in local.last_death
