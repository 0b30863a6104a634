"""A pause must hold after the in-flight turns finish: no synthesis, no review until resumed.

The agents stop at their next turn boundary; but the last subtask (or the
synthesis) may finish its turn with nobody left to stop. The engine must
then wait before the next step instead of going on to synthesise/review.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from podium import events as ev
from podium.domain import ExecutionStatus, InterventionKind, SubtaskStatus
from tests.conftest import eventually
from tests.unit.orch_fakes import PauseProbe
from tests.unit.test_orch_collab import reviewing
from tests.unit.test_orch_engine import engine_for, planned


def phases(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.context.phase for c in gateway.calls]


async def statuses_since(store, run_id: str, seq: int) -> list[str]:  # type: ignore[no-untyped-def]
    rows = await store.query("SELECT payload FROM events WHERE execution_id = ? AND type = ? AND seq > ?"
                             " ORDER BY seq", (run_id, ev.RUN_STATUS, seq))
    return [json.loads(r[0])["status"] for r in rows]


async def last_seq(store) -> int:  # type: ignore[no-untyped-def]
    return (await store.query_one("SELECT max(seq) FROM events"))[0]


async def pause_during_last_subtask(store, **settings):  # type: ignore[no-untyped-def]
    """Concurrency 1 on the diamond: t4 runs alone, last; pause while its turn is in flight."""
    engine, gateway = engine_for(store, latency=0.2, settings={"discussion": False, "concurrency": 1,
                                                               **settings})
    run_id = await planned(engine)
    probe = PauseProbe(engine.control(run_id))
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: any(c.context.subtask_id == "t4" for c in gateway.calls), what="t4's call")
    mark = await last_seq(store)
    await engine.control(run_id).pause()

    async def t4_done_and_held() -> bool:
        subtasks = {s.id: s.status for s in await engine.repo.subtasks(run_id)}
        return subtasks["t4"] is SubtaskStatus.DONE and probe.held > 0

    # The turn in flight finished (the subtask is done) and the next step holds at the pause:
    # the synthesis would have started instead.
    await eventually(t4_done_and_held, what="t4 done and the run held before the synthesis")
    return engine, gateway, run_id, task, mark


async def test_a_pause_during_the_last_subtask_holds_synthesis_until_resume(store):
    engine, gateway, run_id, task, mark = await pause_during_last_subtask(store)
    assert "synthesis" not in phases(gateway) and not task.done()
    # The run shows what it is doing: paused, not synthesising.
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED
    assert await statuses_since(store, run_id, mark) == ["paused"]

    await engine.control(run_id).resume()
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.COMPLETED
    assert phases(gateway).count("synthesis") == 1 and phases(gateway)[-1] == "synthesis"
    assert await statuses_since(store, run_id, mark) == ["paused", "running", "synthesising", "completed"]


async def test_a_halt_while_held_stops_before_synthesis_and_resume_only_synthesises(store):
    engine, gateway, run_id, task, _ = await pause_during_last_subtask(store)
    await engine.control(run_id).halt(reason="enough for today")
    final = await asyncio.wait_for(task, 2)
    assert final.status is ExecutionStatus.HALTED and "synthesis" not in phases(gateway)
    assert {s.status for s in await engine.repo.subtasks(run_id)} == {SubtaskStatus.DONE}

    mark = len(gateway.calls)
    assert (await engine.resume(run_id)).status is ExecutionStatus.COMPLETED
    assert phases(gateway)[mark:] == ["synthesis"]  # done work kept, nothing re-run


async def test_a_pause_during_synthesis_holds_the_review_until_resume(store):
    engine, gateway = engine_for(store, reviewing(), latency=0.2,
                                 settings={"discussion": False, "review": "human"})
    run_id = await planned(engine)
    probe = PauseProbe(engine.control(run_id))
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: "synthesis" in phases(gateway), what="the synthesis call")
    await engine.control(run_id).pause()
    # The synthesis call returns meanwhile and the run holds where the review would have started.
    await eventually(lambda: probe.held, what="the run held before the review")
    assert "review" not in phases(gateway) and not task.done()
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED

    await engine.control(run_id).resume()
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.REVIEW and phases(gateway)[-2:] == ["synthesis", "review"]
    assert final.result and final.result.startswith("FINAL")


async def pause_during_review(store, review: str, *, other_process: bool = False):  # type: ignore[no-untyped-def]
    """Pause while the leader's review call is in flight (in-process, or a row another process wrote)."""
    engine, gateway = engine_for(store, reviewing(), latency=0.2,
                                 settings={"discussion": False, "review": review})
    run_id = await planned(engine)
    probe = PauseProbe(engine.control(run_id))
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: "review" in phases(gateway), what="the review call")
    mark = await last_seq(store)
    if other_process:
        iid = await engine.repo.add_intervention(run_id, InterventionKind.PAUSE, source="cli")
        assert await engine.control_repo.wait_consumed(iid, timeout=2) is not None
    else:
        await engine.control(run_id).pause()

    async def verdict_recorded() -> bool:
        return bool(await store.query("SELECT 1 FROM events WHERE execution_id = ? AND type = ?",
                                      (run_id, ev.REVIEW_VERDICT)))

    await eventually(verdict_recorded, what="the review verdict")  # the review call returned while paused
    await eventually(lambda: probe.held, what="the run held after the verdict")
    return engine, gateway, run_id, task, mark


async def resume_from(engine, run_id: str, other_process: bool) -> None:  # type: ignore[no-untyped-def]
    if other_process:
        iid = await engine.repo.add_intervention(run_id, InterventionKind.RESUME, source="cli")
        assert await engine.control_repo.wait_consumed(iid, timeout=2) is not None
    else:
        await engine.control(run_id).resume()


@pytest.mark.parametrize("other_process", [False, True], ids=["in-process", "from-another-process"])
async def test_a_pause_during_the_review_holds_and_resume_goes_to_awaiting_review(store, other_process):
    engine, gateway, run_id, task, mark = await pause_during_review(store, "human",
                                                                    other_process=other_process)
    # The pause holds: the verdict is recorded, the run stays paused, the result is not out yet.
    assert not task.done()
    execution = await engine.repo.get_execution(run_id)
    assert execution.status is ExecutionStatus.PAUSED and execution.result is None
    assert await statuses_since(store, run_id, mark) == ["paused"]
    [review] = await engine.control_repo.reviews(run_id)
    assert review["decision"] is None and review["verdict"]["ok"] is True
    assert not await store.query("SELECT 1 FROM events WHERE execution_id = ? AND type = ?",
                                 (run_id, ev.RUN_RESULT))

    await resume_from(engine, run_id, other_process)
    final = await asyncio.wait_for(task, 5)
    # As if the pause had come after the review: awaiting the human's review, with the result.
    assert final.status is ExecutionStatus.REVIEW and final.result and final.result.startswith("FINAL")
    assert await statuses_since(store, run_id, mark) == ["paused", "running", "review"]
    assert phases(gateway).count("review") == 1 and len(await engine.control_repo.reviews(run_id)) == 1
    assert (await engine.accept(run_id)).status is ExecutionStatus.COMPLETED


async def test_a_pause_during_an_automatic_review_holds_the_acceptance_until_resume(store):
    engine, _, run_id, task, mark = await pause_during_review(store, "auto")
    assert not task.done()
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED
    [review] = await engine.control_repo.reviews(run_id)
    assert review["decision"] is None  # not accepted while paused

    await engine.control(run_id).resume()
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.COMPLETED and final.result and final.result.startswith("FINAL")
    assert await statuses_since(store, run_id, mark) == ["paused", "running", "completed"]
    [review] = await engine.control_repo.reviews(run_id)
    assert (review["decision"], review["decided_by"]) == ("accept", "auto")


async def test_a_halt_while_the_review_is_held_keeps_the_verdict_and_resume_reviews_again(store):
    engine, gateway, run_id, task, _ = await pause_during_review(store, "human")
    await engine.control(run_id).halt(reason="later")
    final = await asyncio.wait_for(task, 2)
    assert final.status is ExecutionStatus.HALTED
    assert len(await engine.control_repo.reviews(run_id)) == 1

    mark = len(gateway.calls)
    assert (await engine.resume(run_id)).status is ExecutionStatus.REVIEW
    assert phases(gateway)[mark:] == ["synthesis", "review"]
