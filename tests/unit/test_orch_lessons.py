"""The leader's end-of-run lessons: the tight schema, and the engine storing result and lessons."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from podium import events as ev
from podium.domain import ExecutionStatus, Subtask, SubtaskStatus
from podium.llm.structured import json_schema
from podium.llm.types import LLMError
from podium.orchestrator.lessons import LESSON_CHARS, MAX_LESSONS, lessons_of, lessons_schema
from tests.unit.orch_fakes import Call
from tests.unit.test_orch_engine import TEAM, default, engine_for, planned

LESSON = "Check local electricity prices before estimating heat pump running costs."


class Memory:
    """Records what the engine asks long-term memory to keep."""

    def __init__(self) -> None:
        self.results: list[tuple[str, str]] = []
        self.lessons: list[tuple[str | None, str]] = []

    async def recall_for(self, *, agent, text, execution_id, k=3):
        return []

    async def remember_output(self, *, agent, text, execution_id, subtask_id):
        pass

    async def remember_result(self, *, text, execution_id):
        self.results.append((execution_id, text))

    async def remember_lessons(self, *, lessons, execution_id):
        self.lessons.extend(lessons)


def test_schema_is_tight():
    schema = lessons_schema(TEAM.agent_names)
    js = json_schema(schema)
    assert js["properties"]["lessons"]["maxItems"] == MAX_LESSONS
    item = js["$defs"]["Lesson"]
    assert item["properties"]["text"]["maxLength"] == LESSON_CHARS
    enum = next(o for o in item["properties"]["agent"]["anyOf"] if "enum" in o)["enum"]
    assert enum == TEAM.agent_names and {"type": "null"} in item["properties"]["agent"]["anyOf"]
    assert set(item["required"]) == {"agent", "text"}
    for bad in ({"lessons": [{"agent": "intern", "text": "x"}]},
                {"lessons": [{"agent": None, "text": "x" * (LESSON_CHARS + 1)}]},
                {"lessons": [{"agent": None, "text": f"l{i}"} for i in range(MAX_LESSONS + 1)]}):
        with pytest.raises(ValidationError):
            schema.model_validate(bad)
    draft = schema.model_validate({"lessons": [{"agent": "analyst", "text": "  Cite  NVE. "},
                                               {"agent": "analyst", "text": "Cite NVE."},
                                               {"agent": None, "text": " "}]})
    assert lessons_of(draft) == [("analyst", "Cite NVE.")]


def _lessons_reply(call: Call):
    if call.context.phase == "lessons":
        return {"lessons": [{"agent": "analyst", "text": LESSON}, {"agent": None, "text": "Plan first."}]}
    return default(call)


async def test_run_ends_with_result_and_leader_lessons_in_memory_and_transcript(store):
    memory = Memory()
    engine, gateway = engine_for(store, _lessons_reply, memory=memory)
    run_id = await planned(engine)
    execution = await engine.execute(run_id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert memory.results == [(run_id, execution.result)]
    assert memory.lessons == [("analyst", LESSON), (None, "Plan first.")]
    call = next(c for c in gateway.calls if c.context.phase == "lessons")
    assert call.context.agent == TEAM.leader and "out-t4 by writer" in call.prompt
    assert call.prompt.count("FINAL:") == 1  # the result is in the prompt
    msgs = await store.query("SELECT phase, content FROM messages WHERE execution_id = ? AND content LIKE"
                             " 'Lessons learned%'", (run_id,))
    assert [m["phase"] for m in msgs] == ["synthesis"] and "(team) Plan first." in msgs[0]["content"]
    assert execution.usage.calls == len(gateway.calls)  # the lessons call is counted
    types = [r[0] for r in await store.query(
        "SELECT type FROM events WHERE execution_id = ? ORDER BY seq", (run_id,))]
    assert types[-1] == ev.RUN_STATUS


async def test_a_failing_lessons_call_keeps_failed_subtasks_errors_and_says_why(store):
    def respond(call: Call):
        if call.context.phase == "lessons":
            return LLMError("model down")
        if call.context.phase == "execution" and call.context.subtask_id == "t3":
            return LLMError("server error after 3 retries")
        return default(call)

    memory = Memory()
    engine, _ = engine_for(store, respond, memory=memory)
    run_id = await planned(engine)
    execution = await engine.execute(run_id)
    assert execution.status is ExecutionStatus.PARTIAL
    assert len(memory.results) == 1
    assert len(memory.lessons) == 1 and memory.lessons[0][0] == "fact-checker"
    assert "server error after 3 retries" in memory.lessons[0][1]
    rows = await store.query("SELECT payload FROM events WHERE type = ? AND execution_id = ?",
                             (ev.MEMORY_LESSONS_SKIPPED, run_id))
    payload = json.loads(rows[0][0])
    assert "model down" in payload["reason"] and payload["fallback"] == 1


async def test_a_run_with_no_finished_subtask_still_gets_lessons_but_no_result(store):
    def respond(call: Call):
        if call.context.phase == "execution":
            return LLMError("down")
        return _lessons_reply(call)

    memory = Memory()
    engine, gateway = engine_for(store, respond, memory=memory)
    execution = await engine.execute(await planned(engine))
    assert execution.status is ExecutionStatus.FAILED
    assert memory.results == [] and memory.lessons[0] == ("analyst", LESSON)
    call = next(c for c in gateway.calls if c.context.phase == "lessons")
    assert "no subtask finished" in call.prompt and "did not finish: failed: model call failed" in call.prompt


def test_failed_subtask_fallback_is_per_agent():
    from podium.orchestrator.lessons import fallback_lessons

    done = Subtask(id="a", agent="writer", description="Write", status=SubtaskStatus.DONE, output="x")
    failed = Subtask(id="b", agent="analyst", description="Price it", status=SubtaskStatus.FAILED,
                     error="timeout")
    assert fallback_lessons([done, failed]) == [("analyst", "A subtask like 'Price it' failed: timeout")]
