"""Memory across two real runs: the engine, the scripted model through the gateway, MemoryService.

Run 1's analyst output carries a fact; run 2 plans one subtask that needs
it and one that does not. The fact must reach the first subtask's context
(and its `memory.recalled` event) and stay out of the second's.
"""

from __future__ import annotations

import json

from podium import events
from podium.llm.gateway import Gateway
from podium.memory.service import MemoryService
from podium.orchestrator.engine import Engine
from podium.orchestrator.teams import get_team
from podium.store import ProjectStore

FACT = "Our customers live mostly in Tromsø, Norway, and heat their homes with heat pumps."

SCRIPT = """
seed = 1

[[rules]]
phase = "discussion"
reply = "{agent}: a short perspective."

[[rules]]
phase = "planning"
match = "customer profile"
json = {rationale = "one step", subtasks = [
  {id = "t1", agent = "analyst", description = "Describe where our customers live and how they heat"},
]}

[[rules]]
phase = "planning"
match = "quarterly"
json = {rationale = "two steps", subtasks = [
  {id = "a1", agent = "analyst", description = "Estimate yearly heating costs for customers in Norway"},
  {id = "a2", agent = "analyst", description = "Compose a haiku about autumn leaves"},
]}

[[rules]]
phase = "execution"
subtask = "t1"
reply = "FACT_TEXT\\n```json\\n{\\"action\\": \\"done\\"}\\n```"

[[rules]]
phase = "execution"
reply = "Done: {subtask}.\\n```json\\n{\\"action\\": \\"done\\"}\\n```"

[[rules]]
phase = "synthesis"
reply = "Final result."
""".replace("FACT_TEXT", FACT)


async def _run(engine: Engine, objective: str) -> str:
    run_id = await engine.create_run(objective, get_team("research"))
    await engine.plan(run_id)
    await engine.approve(run_id)
    await engine.execute(run_id)
    return run_id


async def test_a_fact_from_run_one_is_recalled_into_the_relevant_subtask_of_run_two(tmp_path):
    script = tmp_path / "model.toml"
    script.write_text(SCRIPT, encoding="utf-8")
    store = await ProjectStore.open(tmp_path / "p.podium")
    try:
        gateway = Gateway(f"scripted:{script}")
        engine = Engine(store, gateway, memory=MemoryService(store))
        first = await _run(engine, "Build a customer profile")
        stored = await store.query(
            "SELECT text, agent, kind, source_execution FROM memories WHERE source_execution = ?", (first,)
        )
        assert (FACT, "analyst", "output", first) in [tuple(r) for r in stored]

        # Run 2 in a fresh engine and service, as a later process would have.
        engine = Engine(store, gateway, memory=MemoryService(store))
        second = await _run(engine, "Prepare notes for the quarterly meeting")
        rows = await store.query(
            "SELECT payload FROM events WHERE type = ? AND execution_id = ?", (events.MEMORY_RECALLED, second)
        )
        payloads = [json.loads(r[0]) for r in rows]
        recalled = {p["subtask_id"]: [i["text"] for i in p["items"]] for p in payloads}
        assert FACT in recalled["a1"]
        assert FACT not in recalled["a2"]
    finally:
        await store.close()
