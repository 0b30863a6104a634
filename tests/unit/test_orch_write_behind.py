"""The engine queues subtask starts and ends without waiting for them, and takes first windows from
the run's recent-message log: what a prompt shows is what the database then holds."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from podium.domain import ExecutionStatus, SubtaskStatus
from podium.orchestrator.pending_writes import PendingWrites
from podium.store.runs import RunRepository
from tests.unit.orch_fakes import Call
from tests.unit.test_orch_collab import CONSULT, reviewing
from tests.unit.test_orch_engine import default, engine_for, planned


def consult_then_review(call: Call):
    ctx = call.context
    if ctx.phase == "consultation":
        return f"{ctx.agent} says: plausible."
    if ctx.subtask_id == "t2" and ctx.phase == "execution" and "Answer from" not in call.prompt:
        return "Let me ask.\n" + CONSULT.format(peer="fact-checker", q="Plausible?")
    if ctx.phase == "review":
        return reviewing()(call)
    return default(call)


async def test_every_message_the_run_writes_reaches_the_log_in_the_databases_order(store):
    engine, gateway = engine_for(store, consult_then_review,
                                 settings={"discussion": False, "review": "human"})
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.REVIEW
    repo = RunRepository(store)
    for sid in ("t1", "t2", "t3", "t4", "nobody"):
        logged = store.recent.window(run_id, 12, sid)
        assert logged is not None, "a message was written without being declared to the log"
        read = await repo.recent_messages(run_id, 12, exclude_subtask=sid)
        assert [(m.agent, m.subtask_id, m.content) for m in logged] == \
            [(m.agent, m.subtask_id, m.content) for m in read]
    # A dependent's first prompt showed its dependency's last reply, written but not waited for.
    t4_first = next(c for c in gateway.calls if c.context.subtask_id == "t4")
    assert "Recent team activity" in t4_first.prompt and "out-t3 by" in t4_first.prompt


async def test_a_subtask_end_that_fails_to_commit_stops_the_run(store, monkeypatch):
    real = RunRepository.finish_subtask

    def failing(self, run_id, subtask, *args, **kwargs):
        queued = real(self, run_id, subtask, *args, **kwargs)
        if subtask.id != "t1":
            return queued
        broken = asyncio.get_running_loop().create_future()
        queued.add_done_callback(lambda _: broken.set_exception(OSError("disk full")))
        return broken

    monkeypatch.setattr(RunRepository, "finish_subtask", failing)
    engine, gateway = engine_for(store, settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    with pytest.raises(OSError, match="disk full"):
        await engine.execute(run_id)
    started = {c.context.subtask_id for c in gateway.calls if c.context.phase == "execution"}
    assert "t4" not in started  # nothing after the failure was started


async def test_pending_writes_raise_the_first_failure_and_settle_everything():
    writes = PendingWrites()
    loop = asyncio.get_running_loop()
    ok, bad = loop.create_future(), loop.create_future()
    writes.add(ok)
    writes.add(bad)
    writes.check()  # nothing failed yet
    bad.set_exception(OSError("first"))
    await asyncio.sleep(0)
    with pytest.raises(OSError, match="first"):
        writes.check()
    later = asyncio.Event()

    async def background() -> None:
        await later.wait()

    writes.add(background())
    settling = asyncio.ensure_future(writes.settle(quiet=True))
    await asyncio.sleep(0.01)
    assert not settling.done()  # waits for everything tracked
    ok.set_result(None)
    later.set()
    await asyncio.wait_for(settling, 1)
    with pytest.raises(OSError, match="first"):
        await writes.settle()


async def test_statuses_and_times_are_those_of_the_moment_they_happened(store):
    engine, _ = engine_for(store, latency=0.02, settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    await engine.execute(run_id)
    done = await engine.repo.subtasks(run_id)
    assert all(s.status is SubtaskStatus.DONE for s in done)
    ordered = sorted(done, key=lambda s: s.started_at or 0)
    for before, after in itertools.pairwise(ordered):  # one slot: each started after the last ended
        assert before.finished_at <= after.started_at
        assert after.finished_at - after.started_at >= 0.02
