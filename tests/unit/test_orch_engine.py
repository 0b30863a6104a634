"""The engine against an in-test gateway: planning, approval, execution, control, budgets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from podium import events as ev
from podium.domain import Budget, ExecutionStatus, PlanStatus, SubtaskStatus
from podium.errors import PodiumError
from podium.llm.types import LLMError
from podium.orchestrator.engine import Engine, RunStopped
from podium.orchestrator.settings import EngineSettings
from podium.orchestrator.teams import PRESETS
from tests.conftest import eventually
from tests.unit.orch_fakes import Call, FakeGateway, PauseProbe, plan_json, tool_call

TEAM = PRESETS["research"]
DIAMOND = plan_json(("t1", "researcher", []), ("t2", "analyst", ["t1"]), ("t3", "fact-checker", ["t1"]),
                    ("t4", "writer", ["t2", "t3"]))
DONE = '\n```json\n{"action": "done"}\n```'


def default(call: Call):
    ctx = call.context
    if ctx.phase == "discussion":
        return f"{ctx.agent} thinks this matters."
    if ctx.phase == "planning":
        return DIAMOND
    if ctx.phase == "synthesis":
        return "FINAL: " + " | ".join(line for line in call.prompt.splitlines() if line.startswith("out-"))
    return f"out-{ctx.subtask_id} by {ctx.agent}{DONE}"


def engine_for(store, respond=default, **kw) -> tuple[Engine, FakeGateway]:
    gateway = FakeGateway(respond, latency=kw.pop("latency", 0.0), tools=kw.pop("tools", False))
    settings = EngineSettings(**{"concurrency": 4, **kw.pop("settings", {})})
    return Engine(store, gateway, settings=settings, **kw), gateway


async def planned(engine, budget=None) -> str:
    run_id = await engine.create_run("Report on heat pumps", TEAM, budget=budget)
    await engine.plan(run_id)
    await engine.approve(run_id)
    return run_id


async def event_types(store, run_id):
    return [r[0] for r in await store.query("SELECT type FROM events WHERE execution_id = ? ORDER BY seq",
                                            (run_id,))]


async def test_full_run_discusses_plans_executes_and_synthesises(store):
    engine, gateway = engine_for(store)
    run_id = await engine.create_run("Report on heat pumps", TEAM)
    proposal = await engine.plan(run_id)
    assert not proposal.fallback and [s.id for s in proposal.plan.subtasks] == ["t1", "t2", "t3", "t4"]
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.AWAITING_APPROVAL
    await engine.approve(run_id)
    final = await engine.execute(run_id)

    assert final.status is ExecutionStatus.COMPLETED
    # Synthesis is a real model call that saw every subtask output.
    assert final.result == ("FINAL: out-t1 by researcher | out-t2 by analyst | out-t3 by fact-checker"
                            " | out-t4 by writer")
    subtasks = await engine.repo.subtasks(run_id)
    assert (subtasks[0].status, subtasks[0].output) == (SubtaskStatus.DONE, "out-t1 by researcher")
    assert all(s.usage.tokens > 0 for s in subtasks)
    phases = [c.context.phase for c in gateway.calls]
    assert phases[:3] == ["discussion"] * 3 and phases[3] == "planning" and phases[-1] == "synthesis"
    assert [c.context.agent for c in gateway.calls[:3]] == ["researcher", "fact-checker", "writer"]
    # the leader's plan prompt carried the perspectives
    assert "fact-checker thinks this matters." in gateway.calls[3].prompt
    types = await event_types(store, run_id)
    for earlier, later in [(ev.RUN_CREATED, ev.DISCUSSION_CONTRIBUTION), (ev.DISCUSSION_CONTRIBUTION,
                           ev.PLAN_PROPOSED), (ev.PLAN_PROPOSED, ev.PLAN_APPROVED),
                           (ev.PLAN_APPROVED, ev.SUBTASK_STATUS), (ev.SUBTASK_STATUS, ev.RUN_RESULT)]:
        assert types.index(earlier) < types.index(later)
    assert final.usage.calls == len(gateway.calls) == final.steps


async def test_context_has_handoffs_window_and_recalled_memory(store):
    @dataclass
    class Item:
        id: int
        text: str
        kind: str
        score: float

    class Memory:
        def __init__(self):
            self.remembered = []

        async def recall_for(self, *, agent, text, execution_id, k=3):
            return [Item(7, f"{agent} remembers the Tromsø customers", "fact", 0.8)]

        async def remember_output(self, *, agent, text, execution_id, subtask_id):
            self.remembered.append((agent, subtask_id, text))

        async def remember_result(self, *, text, execution_id):
            self.remembered.append(("result", None, text))

        async def remember_lessons(self, *, lessons, execution_id):
            # The leader's lessons reply here is not valid JSON and no subtask failed: none to keep.
            raise AssertionError("no failures, no lessons")

    memory = Memory()
    engine, gateway = engine_for(store, memory=memory, settings={"window_messages": 2, "concurrency": 1})
    run_id = await planned(engine)
    await engine.execute(run_id)
    t4 = next(c for c in gateway.calls if c.context.subtask_id == "t4")
    brief = t4.messages[1]["content"]
    assert "out-t2 by analyst" in brief and "out-t3 by fact-checker" in brief  # handoffs
    assert "out-t1 by researcher" not in brief.split("Results you build on:")[1].split("From long-term")[0]
    assert "writer remembers the Tromsø customers" in brief
    window = brief.split("Recent team activity:\n")[1].split("\n\nNow do")[0].splitlines()
    assert len(window) == 2  # the sliding window is the configured size
    assert ("writer", "t4", "out-t4 by writer") in memory.remembered
    assert memory.remembered[-1][:2] == ("result", None)
    recalled = await store.query("SELECT payload FROM events WHERE type = ?", (ev.MEMORY_RECALLED,))
    assert len(recalled) == 4 and "researcher remembers the Troms" in recalled[0][0]


async def test_a_mendable_plan_is_mended_without_a_repair_round_and_says_so(store):
    def respond(call):  # a cycle and a self-dependency: mended, no second call
        return plan_json(("t1", "writer", ["t2"]), ("t2", "analyst", ["t1", "t2"])) \
            if call.context.phase == "planning" else default(call)

    engine, gateway = engine_for(store, respond, settings={"discussion": False})
    run_id = await engine.create_run("x", TEAM)
    proposal = await engine.plan(run_id)
    assert len(gateway.calls) == 1 and not proposal.fallback
    assert [(s.id, s.depends_on) for s in proposal.plan.subtasks] == [("t1", []), ("t2", ["t1"])]
    assert proposal.plan.mends == ["t2: dropped its dependency on itself",
                                   "t1: dropped its dependency on t2 to break the cycle t1 -> t2 -> t1"]
    [payload] = await store.query("SELECT payload FROM events WHERE type = ?", (ev.PLAN_PROPOSED,))
    assert "break the cycle" in payload[0] and '"fallback": false' in payload[0]
    stored = await engine.repo.latest_plan(run_id)
    assert stored.plan.mends == proposal.plan.mends and not stored.fallback
    [message] = [m for m in await engine.repo.messages(run_id) if m.phase.value == "planning"]
    assert "Mended: t2: dropped its dependency on itself" in message.content


async def test_fallback_plan_when_the_plan_cannot_be_mended_and_the_event_says_so(store):
    def respond(call):  # no description anywhere: nothing to mend, the gateway gives up
        return {"subtasks": [{"id": "t1", "agent": "writer"}]} if call.context.phase == "planning" \
            else default(call)

    engine, gateway = engine_for(store, respond, settings={"discussion": False})
    run_id = await engine.create_run("Heat pumps", TEAM)
    proposal = await engine.plan(run_id)
    assert len(gateway.calls) == 1
    assert proposal.fallback and proposal.errors == ["Field required"]
    assert [s.agent for s in proposal.plan.subtasks] == TEAM.agent_names
    [payload] = await store.query("SELECT payload FROM events WHERE type = ?", (ev.PLAN_PROPOSED,))
    assert '"fallback": true' in payload[0]
    assert (await engine.repo.latest_plan(run_id)).fallback


async def test_unparseable_plan_falls_back_after_the_gateways_repair_round(store):
    engine, gateway = engine_for(store, lambda c: {"nonsense": True} if c.context.phase == "planning"
                                 else default(c), settings={"discussion": False})
    run_id = await engine.create_run("Heat pumps", TEAM)
    proposal = await engine.plan(run_id)
    # structured() has its own repair round inside; the engine does not add another.
    assert len(gateway.calls) == 1 and proposal.fallback and proposal.errors == ["Field required"]


async def test_reject_keeps_the_plan_and_replans_with_the_feedback(store):
    engine, gateway = engine_for(store, settings={"discussion": False})
    run_id = await engine.create_run("Heat pumps", TEAM)
    await engine.plan(run_id)
    second = await engine.reject(run_id, "Skip fact-checking, we trust the sources")
    assert second.version == 2
    plans = await engine.repo.plans(run_id)
    assert [(p.version, p.status, p.feedback) for p in plans] == [
        (1, PlanStatus.REJECTED, "Skip fact-checking, we trust the sources"),
        (2, PlanStatus.PROPOSED, "Skip fact-checking, we trust the sources")]
    replan_prompt = gateway.calls[-1].prompt
    assert "REJECTED" in replan_prompt and "Skip fact-checking" in replan_prompt
    assert "t4 [writer]" in replan_prompt
    with pytest.raises(PodiumError, match="feedback is empty"):
        await engine.reject(run_id, "  ")
    assert ev.PLAN_REJECTED in await event_types(store, run_id)


async def test_a_failed_subtask_leaves_its_dependents_waiting_and_the_rest_runs(store):
    def respond(call):
        if call.context.subtask_id == "t2":
            return LLMError("server error after 3 retries")
        return default(call)

    engine, _ = engine_for(store, respond)
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    status = {s.id: (s.status, s.error) for s in await engine.repo.subtasks(run_id)}
    assert status["t2"] == (SubtaskStatus.FAILED, "model call failed: server error after 3 retries")
    assert status["t3"][0] is SubtaskStatus.DONE and status["t1"][0] is SubtaskStatus.DONE
    # Not blocked for good: it waits on t2, which a person can retry, reassign, skip or edit.
    assert status["t4"][0] is SubtaskStatus.PENDING
    assert final.status is ExecutionStatus.PARTIAL and final.result.startswith("FINAL: out-t1")
    reason = (await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1",
                                (ev.RUN_STATUS,)))[0][0]
    assert "2 done" in reason and "1 failed" in reason and "1 pending" in reason
    assert "waiting: t2, t4" in reason


async def test_all_failing_ends_failed_without_synthesis(store):
    engine, gateway = engine_for(store, lambda c: LLMError("down") if c.context.phase == "execution"
                                 else default(c))
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.FAILED and final.result is None
    assert "synthesis" not in [c.context.phase for c in gateway.calls]


async def test_token_budget_halts_cleanly_and_resume_finishes_without_rerunning(store):
    engine, gateway = engine_for(store, settings={"concurrency": 1, "discussion": False})
    run_id = await planned(engine)
    used = (await engine.repo.get_execution(run_id)).usage.tokens
    # A turn holds its prompt estimate plus its reply cap (turn_max_tokens) while in flight.
    await engine.repo.set_budget(run_id, Budget(tokens=used + 700 + engine.settings.turn_max_tokens))
    halted = await engine.execute(run_id)
    assert halted.status is ExecutionStatus.HALTED
    subtasks = {s.id: s for s in await engine.repo.subtasks(run_id)}
    assert subtasks["t1"].status is SubtaskStatus.DONE
    assert all(s.status in (SubtaskStatus.DONE, SubtaskStatus.PENDING) for s in subtasks.values())
    reason = (await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq DESC LIMIT 1",
                                (ev.RUN_STATUS,)))[0][0]
    assert "token budget exhausted" in reason
    ran_before = [c.context.subtask_id for c in gateway.calls if c.context.phase == "execution"]
    final = await engine.resume(run_id, budget=Budget(tokens=1_000_000))
    assert final.status is ExecutionStatus.COMPLETED
    executed = [c.context.subtask_id for c in gateway.calls if c.context.phase == "execution"]
    ran_after = executed[len(ran_before):]
    assert not set(ran_after) & {s.id for s in subtasks.values() if s.status is SubtaskStatus.DONE}
    assert (await engine.repo.get_execution(run_id)).usage.tokens > halted.usage.tokens


async def test_budget_is_checked_before_planning_calls(store):
    engine, gateway = engine_for(store)
    run_id = await engine.create_run("x", TEAM, budget=Budget(steps=2))
    with pytest.raises(RunStopped, match="step budget exhausted"):
        await engine.plan(run_id)
    assert len(gateway.calls) == 2
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.HALTED
    await engine.repo.set_budget(run_id, Budget(steps=100))
    resumed = await engine.resume(run_id)
    assert resumed.status is ExecutionStatus.AWAITING_APPROVAL
    # the two perspectives already given are not asked again
    assert [c.context.agent for c in gateway.calls if c.context.phase == "discussion"] == [
        "researcher", "fact-checker", "writer"]


async def test_wall_time_budget(store):
    engine, _ = engine_for(store, latency=0.05, settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine, budget=Budget(wall_seconds=0.12))
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.HALTED


async def test_guidance_reaches_a_running_agent_at_its_next_turn(store):
    def respond(call):
        if call.context.subtask_id == "t1" and "Guidance from the human" not in call.prompt:
            return 'Still thinking.\n```json\n{"action": "ponder", "peer": "analyst"}\n```'
        return default(call)

    engine, gateway = engine_for(store, respond, latency=0.1, settings={"discussion": False})
    run_id = await planned(engine)
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: any(c.context.subtask_id == "t1" for c in gateway.calls), what="t1's first call")
    await engine.control(run_id).guide("Use metric units", source="tui")
    assert (await task).status is ExecutionStatus.COMPLETED
    t1_calls = [c for c in gateway.calls if c.context.subtask_id == "t1"]
    assert len(t1_calls) == 2  # delivered at the very next turn
    assert "Guidance from the human (tui): Use metric units" in t1_calls[1].prompt
    # the unknown action got an error naming the available ones, and the loop went on
    assert "Unknown action 'ponder'" in t1_calls[1].prompt
    transcript = await engine.repo.messages(run_id, subtask_id="t1")
    assert [m.role.value for m in transcript] == ["assistant", "tool", "human", "assistant"]
    interventions = await store.query("SELECT kind, text, source, consumed_at FROM interventions")
    assert [tuple(r)[:3] for r in interventions] == [("guidance", "Use metric units", "tui")]
    assert interventions[0][3] is not None


async def test_pause_holds_at_the_turn_boundary_and_resume_continues(store):
    engine, gateway = engine_for(store, latency=0.05, settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    control = engine.control(run_id)
    probe = PauseProbe(control)
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: gateway.calls[2:], what="t1's call in flight")  # plan, t1 running
    await control.pause()
    frozen = len(gateway.calls)  # the turn in flight is counted already
    # It finishes; the next turn (or the next subtask) then holds at the pause.
    await eventually(lambda: probe.held, what="the run held at the pause")
    assert len(gateway.calls) == frozen and not task.done()
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED
    await control.resume()
    assert (await task).status is ExecutionStatus.COMPLETED


async def test_halt_cancels_in_flight_turns_and_resume_restarts_them(store):
    def respond(call):
        return default(call)

    engine, gateway = engine_for(store, respond, latency=0.05, settings={"discussion": False})
    run_id = await planned(engine)
    gateway.latency = 5.0
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: any(c.context.subtask_id == "t1" for c in gateway.calls), what="t1's first call")
    await engine.control(run_id).halt(reason="stop for lunch")
    final = await asyncio.wait_for(task, 2)
    assert final.status is ExecutionStatus.HALTED
    assert {s.status for s in await engine.repo.subtasks(run_id)} == {SubtaskStatus.PENDING}
    gateway.latency = 0
    assert (await engine.resume(run_id)).status is ExecutionStatus.COMPLETED


async def test_a_crashed_session_resumes_done_work_kept_in_flight_restarted(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    subtasks = {s.id: s for s in await engine.repo.subtasks(run_id)}
    # What a killed process leaves behind: t1 done, t2 running.
    await engine.repo.set_subtask_status(run_id, subtasks["t1"], SubtaskStatus.RUNNING)
    await engine.repo.set_subtask_status(run_id, subtasks["t1"], SubtaskStatus.DONE, output="kept output")
    await engine.repo.set_subtask_status(run_id, subtasks["t2"], SubtaskStatus.RUNNING)
    fresh, fresh_gateway = engine_for(store, settings={"discussion": False})
    final = await fresh.resume(run_id)
    assert final.status is ExecutionStatus.COMPLETED
    ran = [c.context.subtask_id for c in fresh_gateway.calls if c.context.phase == "execution"]
    assert sorted(ran) == ["t2", "t3", "t4"]
    assert (await fresh.repo.subtasks(run_id))[0].output == "kept output"
    t2 = next(c for c in fresh_gateway.calls if c.context.subtask_id == "t2")
    assert "kept output" in t2.prompt  # the handoff survived the crash


async def test_resume_of_a_finished_run_is_refused(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    await engine.execute(run_id)
    with pytest.raises(PodiumError, match="already completed"):
        await engine.resume(run_id)
    with pytest.raises(PodiumError, match="already completed"):
        await engine.control(run_id).pause()


async def test_stream_deltas_are_published_but_never_stored(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    async with store.bus.subscribe(run_id) as queue:
        await engine.execute(run_id)
    seen = []
    while not queue.empty():
        seen.append(queue.get_nowait())
    deltas = [e.payload for e in seen if isinstance(e.payload, ev.StreamDelta)]
    assert deltas and {d.subtask_id for d in deltas} >= {"t1", "t4"}
    assert "".join(d.text for d in deltas if d.subtask_id == "t1").startswith("out-t1")
    assert ev.STREAM_DELTA not in await event_types(store, run_id)


async def test_malformed_output_never_loops_forever(store):
    def respond(call):
        if call.context.phase == "execution":
            return 'partial thoughts ```json\n{"action": "frobnicate"}\n```'
        return default(call)

    engine, gateway = engine_for(store, respond, settings={"discussion": False, "max_steps_per_subtask": 3})
    run_id = await engine.create_run("x", TEAM)
    await engine.plan(run_id)
    await engine.approve(run_id)
    final = await engine.execute(run_id)
    per_subtask = [c.context.subtask_id for c in gateway.calls if c.context.phase == "execution"]
    assert all(per_subtask.count(s) == 3 for s in set(per_subtask))
    assert "This is your last turn" in next(c for c in gateway.calls if c.context.phase == "execution"
                                            and "last turn" in c.prompt).prompt
    assert final.status is ExecutionStatus.COMPLETED
    assert (await engine.repo.subtasks(run_id))[0].output == "partial thoughts"


async def test_reply_without_signal_is_the_output_and_blocked_fails(store):
    def respond(call):
        if call.context.subtask_id == "t3":
            return '```json\n{"action": "blocked", "reason": "no access to the archive"}\n```'
        if call.context.phase == "execution":
            return f"plain answer {call.context.subtask_id}"
        return default(call)

    engine, _ = engine_for(store, respond)
    final = await engine.execute(await planned(engine))
    subtasks = {s.id: s for s in await engine.repo.subtasks(final.id)}
    assert subtasks["t1"].output == "plain answer t1"
    assert subtasks["t3"].error == "fact-checker is blocked: no access to the archive"


async def test_native_tool_calls_go_to_the_tools_port(store):
    class Tools:
        def __init__(self):
            self.calls = []

        def specs_for(self, agent, subtask):
            return [{"type": "function", "function": {"name": "read_file", "parameters": {}}}]

        async def call(self, name, arguments, *, ctx):
            self.calls.append((name, arguments, ctx.subtask_id))
            return type("R", (), {"text": "file says 42"})()

    def respond(call):
        if call.context.phase == "execution":
            if any(m["role"] == "tool" for m in call.messages):
                return "The answer is 42."
            return tool_call("read_file", path="notes.txt")
        return default(call)

    tools = Tools()
    engine, gateway = engine_for(store, respond, tools=True, settings={"discussion": False})
    engine.tools = tools
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    assert ("read_file", {"path": "notes.txt"}, "t1") in tools.calls
    offered = gateway.calls[-2].tools
    assert {t["function"]["name"] for t in offered} >= {"read_file", "report_blocked"}
    assert (await engine.repo.subtasks(final.id))[0].output == "The answer is 42."
    t1 = await engine.repo.messages(final.id, subtask_id="t1")
    assert [m.role.value for m in t1] == ["assistant", "tool", "assistant"]
    assert t1[1].content == "file says 42"


async def test_unknown_and_prefix_run_ids(store):
    engine, _ = engine_for(store)
    run_id = await engine.create_run("x", TEAM)
    assert (await engine.repo.get_execution(run_id[:5])).id == run_id
    with pytest.raises(PodiumError, match="no run 'zzz'"):
        await engine.repo.get_execution("zzz")
    with pytest.raises(PodiumError, match="objective is empty"):
        await engine.create_run("   ", TEAM)


async def test_a_live_process_holding_the_run_keeps_a_second_one_out(store):
    import os
    import socket
    import subprocess
    import sys

    from podium.store.runs import RunBusyError

    engine, gateway = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    assert (await engine.repo.live_owner(run_id)) is None  # released after planning
    other = f"{socket.gethostname()}:{os.getppid()}"  # a live process that is not us
    await engine.repo.claim(run_id, other)
    with pytest.raises(RunBusyError, match="another live process"):
        await engine.resume(run_id)
    with pytest.raises(RunBusyError):
        await engine.execute(run_id)
    assert not [c for c in gateway.calls if c.context.phase == "execution"]
    # The lease of a process that died (kill -9) is taken over at once.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    await store.write(lambda tx: tx.execute("UPDATE executions SET owner = ? WHERE id = ?",
                                            (f"{socket.gethostname()}:{dead}", run_id)).close())
    assert (await engine.resume(run_id)).status is ExecutionStatus.COMPLETED
    assert (await engine.repo.live_owner(run_id)) is None


async def test_guidance_given_before_a_crash_still_reaches_restarted_agents(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    await engine.control(run_id).guide("Use metric units", source="cli")
    fresh, gateway = engine_for(store, settings={"discussion": False})  # a new process
    await fresh.resume(run_id)
    first_turns = [c for c in gateway.calls if c.context.phase == "execution"]
    assert all("Guidance from the human (cli): Use metric units" in c.prompt for c in first_turns)
