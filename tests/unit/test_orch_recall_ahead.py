"""Long-term memories are looked up ahead: a subtask's when the ones it depends on start."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from podium.domain import Subtask
from podium.orchestrator.recall_ahead import RecallAhead


@dataclass
class Recalled:
    text: str
    kind: str = "output"
    score: float = 1.0
    id: int = 0


class SlowMemory:
    """Counts lookups; each takes `delay` seconds; a text containing "broken" fails."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.asked: list[tuple[str, str]] = []

    async def remember_output(self, **_: Any) -> None:
        pass

    async def remember_lessons(self, **_: Any) -> None:
        pass

    async def recall_for(self, *, agent: str, text: str, execution_id: str | None, k: int = 3) -> list[Any]:
        self.asked.append((agent, text.splitlines()[0]))
        await asyncio.sleep(self.delay)
        if "broken" in text:
            raise RuntimeError("index damaged")
        return [Recalled(f"memory for {text.splitlines()[0]}")]


def _sub(sid: str, description: str = "d", agent: str = "a") -> Subtask:
    return Subtask(id=sid, agent=agent, description=description)


async def test_a_lookup_started_ahead_is_the_one_used():
    memory = SlowMemory(delay=0.05)
    ahead = RecallAhead(memory, objective="o", run_id="r", k=3)
    t2 = _sub("t2", "write the report")
    ahead.prefetch([t2])
    await asyncio.sleep(0.06)  # done before t2 starts
    assert [m.text for m in await ahead.get(t2)] == ["memory for write the report"]
    assert memory.asked == [("a", "write the report")]  # once


async def test_an_edited_subtask_is_looked_up_again():
    memory = SlowMemory()
    ahead = RecallAhead(memory, objective="o", run_id="r", k=3)
    ahead.prefetch([_sub("t2", "old words")])
    assert [m.text for m in await ahead.get(_sub("t2", "new words", agent="b"))] == ["memory for new words"]
    assert memory.asked == [("a", "old words"), ("b", "new words")]


async def test_a_failed_lookup_fails_the_subtask_that_needs_it_and_is_asked_anew():
    memory = SlowMemory()
    ahead = RecallAhead(memory, objective="o", run_id="r", k=3)
    broken = _sub("t2", "broken")
    ahead.prefetch([broken])
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="index damaged"):
        await ahead.get(broken)
    with pytest.raises(RuntimeError):
        await ahead.get(broken)
    assert len(memory.asked) == 2


async def test_close_stops_lookups_nobody_used():
    memory = SlowMemory(delay=10)
    ahead = RecallAhead(memory, objective="o", run_id="r", k=3)
    ahead.prefetch([_sub("t3")])
    await asyncio.sleep(0)
    await asyncio.wait_for(ahead.close(), 1)


async def test_the_engine_looks_a_dependents_memories_up_while_its_dependency_runs(store):
    from tests.unit.test_orch_engine import engine_for, planned

    memory = SlowMemory()
    engine, gateway = engine_for(store, latency=0.05, memory=memory,
                                 settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    order: list[str] = []
    real_complete = gateway.complete

    async def complete(*args: Any, **kwargs: Any) -> Any:
        ctx = kwargs["context"]
        if ctx.phase == "execution":
            order.append(f"call {ctx.subtask_id} after {len(memory.asked)} lookups")
        return await real_complete(*args, **kwargs)

    gateway.complete = complete  # type: ignore[method-assign]
    await engine.execute(run_id)
    subtasks = {s.id: s for s in await engine.repo.subtasks(run_id)}
    looked_up = [text for _, text in memory.asked]
    assert sorted(looked_up) == sorted(s.description for s in subtasks.values())  # each once
    # t1's dependents were looked up as t1 started: before its model call, with its own lookup.
    dependents = [s for s in subtasks.values() if "t1" in s.depends_on]
    assert dependents and order[0] == f"call t1 after {1 + len(dependents)} lookups"
    assert {text for _, text in memory.asked[: 1 + len(dependents)]} == \
        {subtasks["t1"].description} | {s.description for s in dependents}
