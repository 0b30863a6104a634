"""A halt sent right after a halted run's resume was asked for stops the resumed session.

The window: `podium resume RUN` (or the app's resume, or `Engine.execute` on
a halted run) has started, the run is still `halted` in the file, and the
session has not yet taken the run's lease or read what was sent to it. A halt
from another process (`podium halt RUN`, or a second engine on the same file)
in that window must end the run `halted` with that reason, no subtask run,
and a later resume must finish it. Two sessions on one file stand in for two
processes here (the second one's engine under another lease owner); the
last test runs the real CLI in two subprocesses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import pytest

from podium.app.session import ProjectSession
from podium.domain import ExecutionStatus, InterventionKind, SubtaskStatus
from podium.orchestrator.engine import Engine
from podium.store.runs import RunBusyError
from tests.conftest import eventually, eventually_sync
from tests.integration.test_halt_after_approval import (
    RESEARCH,
    assert_halted_before_any_subtask,
    assert_resume_finishes,
)

REASON = "stopped from the other terminal"
Moment = Literal["before the lease", "after the lease"]
Sender = Literal["podium halt", "second engine"]
Act = Callable[[], Awaitable[None]]


async def halted_run(project: Path) -> str:
    """A run with an approved plan, halted before anything ran (nobody holds it)."""
    async with ProjectSession(project, model=RESEARCH) as session:
        run = await session.create_run("Brief on heat pumps", "research")
        await session.plan(run.id)
        await session.approve(run.id)
        await session.steering().halt(run.id, reason="halted before it ran")
        assert (await session.runs.get_execution(run.id)).status is ExecutionStatus.HALTED
        return run.id


def once_around(obj: Any, name: str, moment: Moment, act: Act) -> None:
    """Run `act` once, before or after the first call of `obj.name` (an engine's claim of the
    lease: `repo.claim`; the sweep right after it, before the watcher starts: `sweep_stale`)."""
    original = getattr(obj, name)
    fired = False

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        nonlocal fired
        first, fired = not fired, True
        if first and moment == "before the lease":
            await act()
        result = await original(*args, **kwargs)
        if first and moment == "after the lease":
            await act()
        return result

    setattr(obj, name, wrapped)


async def second_process_halt(project: Path, run_id: str, sender: Sender) -> tuple[Act, Act]:
    """What another process does to halt the run, and what waits for that process to end."""
    other = await ProjectSession.open(project, model=RESEARCH)
    pending: list[asyncio.Task[Any]] = []

    async def halt() -> None:
        if sender == "second engine":
            engine = await other.engine_for(run_id)
            engine.owner = "another-host:4242"  # a process of its own, not the one resuming
            await other.halt(run_id, reason=REASON, source="cli")
            return
        # `podium halt`: it waits (briefly) for the driver to take the row up, so it goes on in
        # the background once its row is in the file, as a second terminal would.
        task = asyncio.create_task(other.steering().halt(run_id, reason=REASON))
        pending.append(task)

        async def recorded() -> bool:
            rows = await other.store.query(
                "SELECT 1 FROM interventions WHERE execution_id = ? AND kind = ? AND text = ?",
                (run_id, InterventionKind.HALT.value, REASON))
            return bool(rows) or task.done()

        await eventually(recorded, what="the second process's halt in the file")

    async def finish() -> None:
        try:
            for task in pending:
                await asyncio.wait_for(task, 30)
        finally:
            await other.aclose()

    return halt, finish


@pytest.mark.parametrize("sender", ["podium halt", "second engine"])
@pytest.mark.parametrize("moment", ["before the lease", "after the lease"])
@pytest.mark.parametrize("entry", ["resume", "execute"])
async def test_a_halt_right_after_a_resume_was_asked_for_stops_it(
        tmp_path: Path, entry: str, moment: Moment, sender: Sender) -> None:
    project = tmp_path / "project.podium"
    run_id = await halted_run(project)
    async with ProjectSession(project, model=RESEARCH) as session:
        engine = await session.engine_for(run_id)
        halt, finish = await second_process_halt(project, run_id, sender)
        if moment == "before the lease":
            once_around(engine.repo, "claim", moment, halt)
        else:
            once_around(engine.control_repo, "sweep_stale", moment, halt)
        try:
            final = await (session.resume(run_id) if entry == "resume" else session.execute(run_id))
        finally:
            await finish()
        await assert_halted_before_any_subtask(session, run_id, final)
        assert await session.runs.status_reason(run_id) == REASON
    await assert_resume_finishes(project, run_id)


async def test_execute_on_a_halted_run_another_process_holds_is_refused(tmp_path: Path) -> None:
    """`Engine.execute` takes the run's lease like a resume: while another process holds the
    halted run (its resume getting going), it is refused and nothing runs or changes."""
    project = tmp_path / "project.podium"
    run_id = await halted_run(project)
    async with ProjectSession(project, model=RESEARCH) as holder, \
            ProjectSession(project, model=RESEARCH) as other:
        first = await holder.engine_for(run_id)
        second: Engine = await other.engine_for(run_id)
        second.owner = "another-host:4242"
        async with first.driving(run_id):
            with pytest.raises(RunBusyError):
                await second.execute(run_id)
            with pytest.raises(RunBusyError):
                await second.resume(run_id)
            assert (await other.runs.get_execution(run_id)).status is ExecutionStatus.HALTED
            assert {s.status for s in await other.runs.subtasks(run_id)} == {SubtaskStatus.PENDING}
            assert await other.runs.live_owner(run_id) == first.owner


async def test_execute_on_a_halted_run_changes_it_only_under_its_lease(tmp_path: Path) -> None:
    """Every status the run takes from `halted` on is written while the executing engine holds
    the run's lease."""
    project = tmp_path / "project.podium"
    run_id = await halted_run(project)
    async with ProjectSession(project, model=RESEARCH) as session:
        engine = await session.engine_for(run_id)
        unleased: list[str] = []
        set_status = engine.repo.set_status

        async def checked(rid: str, status: ExecutionStatus, reason: str | None = None) -> None:
            if await session.runs.live_owner(rid) != engine.owner:
                unleased.append(status.value)
            await set_status(rid, status, reason)

        engine.repo.set_status = checked  # type: ignore[method-assign]
        final = await engine.execute(run_id)
        assert final.status is ExecutionStatus.REVIEW
        assert unleased == []


def test_podium_halt_right_after_podium_resume_stops_it(tmp_path: Path) -> None:
    """Two real processes: `podium resume RUN --yes`, and `podium halt RUN` once the resume holds
    the run while it is still `halted` in the file. The resume is frozen there (SIGSTOP) between
    two of its writes: this test holds the file's write lock while it stops it."""
    project = tmp_path / "project.podium"
    run_id = asyncio.run(halted_run(project))
    env = dict(os.environ)
    resume = subprocess.Popen([sys.executable, "-m", "podium", "resume", run_id, "--yes",
                               "--project", str(project)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        db = sqlite3.connect(project, timeout=10, isolation_level=None)

        def frozen_holding() -> str | None:
            """Under the file's write lock (the resume cannot be inside a write then): once the
            resume holds the run, freeze it; the run's status at that moment."""
            if resume.poll() is not None:
                raise AssertionError(f"the resume ended first: {resume.communicate()}")
            db.execute("BEGIN IMMEDIATE")
            try:
                owner, status = db.execute("SELECT owner, status FROM executions WHERE id = ?",
                                           (run_id,)).fetchone()
                if not (owner and str(owner).endswith(f":{resume.pid}")):
                    return None
                os.kill(resume.pid, signal.SIGSTOP)
                return str(status)
            finally:
                db.execute("COMMIT")

        try:
            status = eventually_sync(frozen_holding, what="the resume holding the run", timeout=60,
                                     interval=0.001)
        finally:
            db.close()
        try:
            # Frozen with the run still halted in the file: its session has not started it yet.
            assert status == ExecutionStatus.HALTED.value, status
            halt = subprocess.run([sys.executable, "-m", "podium", "halt", run_id, "--project",
                                   str(project), "--reason", REASON], env=env, capture_output=True,
                                  text=True, timeout=60)
            assert halt.returncode == 0, halt.stderr
            assert "already halted" not in halt.stdout, halt.stdout
        finally:
            os.kill(resume.pid, signal.SIGCONT)
        out, err = resume.communicate(timeout=60)
        assert resume.returncode == 3, (out, err)  # stopped, resumable
    finally:
        if resume.poll() is None:
            resume.kill()
            resume.wait()

    async def check() -> None:
        async with ProjectSession(project, model=RESEARCH) as session:
            final = await session.runs.get_execution(run_id)
            assert final.status is ExecutionStatus.HALTED
            assert await session.runs.status_reason(run_id) == REASON
            # Halt keeps state: nothing is left running (the halt may have reached a first subtask).
            assert {s.status for s in await session.runs.subtasks(run_id)} <= {
                SubtaskStatus.PENDING, SubtaskStatus.DONE}
            assert await session.runs.live_owner(run_id) is None
        await assert_resume_finishes(project, run_id)

    asyncio.run(check())
