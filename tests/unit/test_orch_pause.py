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
from podium.domain import ExecutionStatus, SubtaskStatus
from podium.store import ProjectStore
from tests.unit.test_orch_collab import reviewing
from tests.unit.test_orch_engine import engine_for, planned


@pytest.fixture
async def store(tmp_path):  # type: ignore[no-untyped-def]
    s = await ProjectStore.open(tmp_path / "p.podium")
    yield s
    await s.close()


def phases(gateway) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.context.phase for c in gateway.calls]


async def statuses_since(store, run_id: str, seq: int) -> list[str]:  # type: ignore[no-untyped-def]
    rows = await store.query("SELECT payload FROM events WHERE execution_id = ? AND type = ? AND seq > ?"
                             " ORDER BY seq", (run_id, ev.RUN_STATUS, seq))
    return [json.loads(r[0])["status"] for r in rows]


async def last_seq(store) -> int:  # type: ignore[no-untyped-def]
    return (await store.query_one("SELECT max(seq) FROM events"))[0]


async def until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def pause_during_last_subtask(store, **settings):  # type: ignore[no-untyped-def]
    """Concurrency 1 on the diamond: t4 runs alone, last; pause while its turn is in flight."""
    engine, gateway = engine_for(store, latency=0.2, settings={"discussion": False, "concurrency": 1,
                                                               **settings})
    run_id = await planned(engine)
    task = asyncio.create_task(engine.execute(run_id))

    async def t4_asked() -> bool:
        return any(c.context.subtask_id == "t4" for c in gateway.calls)

    await until(t4_asked)
    mark = await last_seq(store)
    await engine.control(run_id).pause()

    async def t4_done() -> bool:
        return {s.id: s.status for s in await engine.repo.subtasks(run_id)}["t4"] is SubtaskStatus.DONE

    await until(t4_done)  # the turn in flight finished: the subtask is done, the pause stands
    await asyncio.sleep(0.4)  # longer than a model call: a synthesis would have started
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
    task = asyncio.create_task(engine.execute(run_id))

    async def synthesising() -> bool:
        return "synthesis" in phases(gateway)

    await until(synthesising)
    await engine.control(run_id).pause()
    await asyncio.sleep(0.6)  # the synthesis call returned meanwhile; a review would have started
    assert "review" not in phases(gateway) and not task.done()
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED

    await engine.control(run_id).resume()
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.REVIEW and phases(gateway)[-2:] == ["synthesis", "review"]
    assert final.result and final.result.startswith("FINAL")
