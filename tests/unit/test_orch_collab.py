"""Peer consultation, help requests, the cross-process watcher and quality review, on the engine."""

from __future__ import annotations

import asyncio
import time

import pytest

from podium import events as ev
from podium.domain import Budget, ExecutionStatus, InterventionKind, SubtaskStatus
from podium.errors import PodiumError
from podium.store import ProjectStore
from tests.conftest import eventually
from tests.unit.orch_fakes import Call, PauseProbe, tool_call
from tests.unit.test_orch_engine import DONE, default, engine_for, event_types, planned

CONSULT = '```json\n{{"action": "consult", "peer": "{peer}", "question": "{q}"}}\n```'


def consulting(peer: str, question: str = "Is COP 3.1 plausible?", *, subtask: str = "t2"):
    """t2 asks `peer` once, then finishes with what it was told."""

    def respond(call: Call):
        ctx = call.context
        if ctx.phase == "consultation":
            return f"{ctx.agent} says: plausible, cite NVE."
        if ctx.subtask_id == subtask and ctx.phase == "execution":
            if "Answer from" in call.prompt or "Available peers" in call.prompt or "refused" in call.prompt:
                return f"t2 used the answer.{DONE}"
            return "Let me ask.\n" + CONSULT.format(peer=peer, q=question)
        return default(call)

    return respond


async def test_consultation_by_fenced_signal_is_recorded_in_both_transcripts(store):
    engine, gateway = engine_for(store, consulting("fact-checker"), settings={"discussion": False})
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.COMPLETED

    [row] = await store.query("SELECT * FROM consultations")
    assert (row["asker"], row["peer"], row["question"], row["depth"]) == \
        ("analyst", "fact-checker", "Is COP 3.1 plausible?", 1)
    assert row["answer"] == "fact-checker says: plausible, cite NVE." and row["error"] is None
    assert row["prompt_tokens"] > 0 and row["cost_usd"] > 0 and row["finished_at"] >= row["started_at"]
    # The peer ran with its own persona, the run's objective and the asker's subtask.
    peer_call = next(c for c in gateway.calls if c.context.phase == "consultation")
    assert peer_call.context.agent == "fact-checker" and peer_call.context.subtask_id == "t2"
    assert peer_call.messages[0]["content"].startswith("You are the fact-checker")
    assert "Report on heat pumps" in peer_call.prompt and "Question from analyst" in peer_call.prompt
    # The asker got the answer at its next turn.
    t2_turns = [c for c in gateway.calls if c.context.subtask_id == "t2" and c.context.phase == "execution"]
    assert len(t2_turns) == 2 and "fact-checker says: plausible" in t2_turns[1].prompt
    transcript = await engine.repo.messages(run_id, subtask_id="t2")
    by = [(m.agent, m.role.value, m.phase.value) for m in transcript]
    assert ("fact-checker", "user", "consultation") in by
    assert ("fact-checker", "assistant", "consultation") in by
    assert ("analyst", "tool", "execution") in by
    types = await event_types(store, run_id)
    assert types.count(ev.CONSULTATION_STARTED) == 1 and types.count(ev.CONSULTATION_FINISHED) == 1
    statuses = [r[0] for r in await store.query(
        "SELECT json_extract(payload, '$.status') FROM events WHERE type = ? AND "
        "json_extract(payload, '$.subtask_id') = 't2' ORDER BY seq", (ev.SUBTASK_STATUS,))]
    assert statuses == ["running", "waiting_peer", "running", "done"]
    # Consultation tokens count in the run's usage (and budget).
    assert final.usage.calls == len(gateway.calls)


async def test_consultation_by_native_tool_call(store):
    def respond(call: Call):
        ctx = call.context
        if ctx.phase == "consultation":
            return "Use the NVE figures."
        if ctx.subtask_id == "t1" and ctx.phase == "execution":
            if any(m["role"] == "tool" for m in call.messages):
                return "Sources collected, per the writer."
            return tool_call("consult_peer", peer="writer", question="Which sources do you need?")
        return default(call)

    engine, gateway = engine_for(store, respond, tools=True, settings={"discussion": False})
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    offered = {t["function"]["name"] for t in gateway.calls[1].tools}
    assert {"consult_peer", "ask_human"} <= offered
    [row] = await store.query("SELECT asker, peer, answer FROM consultations")
    assert tuple(row) == ("researcher", "writer", "Use the NVE figures.")
    tool_turn = next(c for c in gateway.calls if c.context.subtask_id == "t1" and
                     any(m["role"] == "tool" for m in c.messages))
    reply = next(m for m in tool_turn.messages if m["role"] == "tool")
    assert reply["tool_call_id"] == "c-consult_peer" and "Use the NVE figures." in reply["content"]


@pytest.mark.parametrize(("peer", "expected"), [
    ("plumber", "There is no teammate called 'plumber'. Available peers: researcher, fact-checker, writer"),
    ("analyst", "You cannot consult yourself. Available peers: researcher, fact-checker, writer"),
])
async def test_unknown_peer_or_self_gets_an_error_naming_the_peers_and_continues(store, peer, expected):
    engine, gateway = engine_for(store, consulting(peer), settings={"discussion": False})
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    assert not await store.query("SELECT * FROM consultations")
    t2_turns = [c for c in gateway.calls if c.context.subtask_id == "t2"]
    assert len(t2_turns) == 2 and expected in t2_turns[1].prompt


async def test_per_subtask_limit_refuses_clearly(store):
    def respond(call: Call):
        ctx = call.context
        if ctx.phase == "consultation":
            return "an answer"
        if ctx.subtask_id == "t1" and ctx.phase == "execution":
            if "refused" in call.prompt:
                return f"done anyway{DONE}"
            return CONSULT.format(peer="writer", q="again?")
        return default(call)

    engine, gateway = engine_for(store, respond, settings={"discussion": False,
                                                           "max_consultations_per_subtask": 2})
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    assert len(await store.query("SELECT * FROM consultations")) == 2
    last = [c for c in gateway.calls if c.context.subtask_id == "t1" and c.context.phase == "execution"][-1]
    assert "Consultation refused: this subtask has used its 2 consultations" in last.prompt


def consulting_until_refused(subtask: str = "t1"):
    def respond(call: Call):
        ctx = call.context
        if ctx.phase == "consultation":
            return "an answer"
        if ctx.subtask_id == subtask and ctx.phase == "execution":
            if "refused" in call.prompt:
                return f"done with what I know{DONE}"
            return CONSULT.format(peer="writer", q="again?")
        return default(call)

    return respond


async def left_by_a_killed_process(engine, run_id: str, subtask_id: str, n: int) -> None:
    """What a process killed mid-subtask leaves: the subtask running, its consultations recorded."""
    from podium.domain import Message, Phase, Role, Usage

    subtask = {s.id: s for s in await engine.repo.subtasks(run_id)}[subtask_id]
    await engine.repo.set_subtask_status(run_id, subtask, SubtaskStatus.RUNNING)
    for i in range(n):
        question = Message(execution_id=run_id, subtask_id=subtask_id, agent="writer", role=Role.USER,
                           phase=Phase.CONSULTATION, content=f"Question from researcher: q{i}")
        cid = await engine.control_repo.start_consultation(
            run_id, subtask, asker="researcher", peer="writer", question=f"q{i}", depth=1, wait=True,
            question_message=question)
        await engine.control_repo.finish_consultation(
            run_id, subtask, cid, asker="researcher", peer="writer", answer="a", error=None, usage=Usage(),
            resume=True, elapsed_s=0.1)


async def test_the_consultation_limit_holds_across_a_crash_and_resume(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    await left_by_a_killed_process(engine, run_id, "t1", 2)

    fresh, gateway = engine_for(store, consulting_until_refused(),
                                settings={"discussion": False, "max_consultations_per_subtask": 2})
    final = await fresh.resume(run_id)
    assert final.status is ExecutionStatus.COMPLETED
    # The restarted subtask had used its allowance before the crash: no fresh one.
    assert len(await store.query("SELECT * FROM consultations WHERE subtask_id = 't1'")) == 2
    assert not [c for c in gateway.calls if c.context.phase == "consultation"]
    first = next(c for c in gateway.calls if c.context.subtask_id == "t1" and "refused" in c.prompt)
    assert "Consultation refused: this subtask has used its 2 consultations" in first.prompt


async def test_a_restarted_subtask_may_use_what_is_left_of_its_allowance(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    await left_by_a_killed_process(engine, run_id, "t1", 1)

    fresh, _ = engine_for(store, consulting_until_refused(),
                          settings={"discussion": False, "max_consultations_per_subtask": 3})
    assert (await fresh.resume(run_id)).status is ExecutionStatus.COMPLETED
    assert len(await store.query("SELECT * FROM consultations WHERE subtask_id = 't1'")) == 3


async def test_a_subtask_sent_back_for_rework_gets_a_new_consultation_allowance(store):
    def respond(call: Call):
        if call.context.phase == "review":
            return reviewing()(call)
        return consulting_until_refused("t2")(call)

    engine, _ = engine_for(store, respond, settings={"discussion": False, "review": "human",
                                                     "max_consultations_per_subtask": 1})
    run_id = await planned(engine)
    assert (await engine.execute(run_id)).status is ExecutionStatus.REVIEW
    assert len(await store.query("SELECT * FROM consultations WHERE subtask_id = 't2'")) == 1
    await engine.rework(run_id, "Check the numbers again", ["t2"])
    assert len(await store.query("SELECT * FROM consultations WHERE subtask_id = 't2'")) == 2


async def test_a_peer_may_consult_once_more_then_depth_refuses(store):
    def respond(call: Call):
        ctx = call.context
        if ctx.phase == "consultation":
            if "refused" in call.prompt or "Answer from" in call.prompt:
                return f"{ctx.agent} answers after asking around."
            nxt = {"writer": "fact-checker", "fact-checker": "researcher"}[ctx.agent]
            return CONSULT.format(peer=nxt, q=f"{ctx.agent} wonders")
        if ctx.subtask_id == "t1" and ctx.phase == "execution":
            if "Answer from" in call.prompt:
                return f"ok{DONE}"
            return CONSULT.format(peer="writer", q="what do readers need?")
        return default(call)

    engine, _ = engine_for(store, respond, settings={"discussion": False})
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    rows = await store.query("SELECT asker, peer, depth, answer FROM consultations ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [("researcher", "writer", 1), ("writer", "fact-checker", 2)]
    # fact-checker (depth 2) tried to go deeper and was refused; it answered from what it knew.
    assert rows[1][3] == "fact-checker answers after asking around."
    assert rows[0][3] == "writer answers after asking around."


async def test_consultation_usage_counts_against_the_run_budget(store):
    engine, gateway = engine_for(store, consulting("writer", subtask="t1"), settings={"discussion": False})
    run_id = await planned(engine, budget=Budget(steps=3))  # plan + t1 + the consultation
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.HALTED
    assert [c.context.phase for c in gateway.calls] == ["planning", "execution", "consultation"]
    assert (await engine.repo.get_execution(run_id)).steps == 3


async def test_help_request_waits_for_the_answer_while_independent_work_continues(store):
    def respond(call: Call):
        ctx = call.context
        if ctx.subtask_id == "t2" and ctx.phase == "execution":
            if "The human answered" in call.prompt:
                return f"costs in metric units{DONE}"
            return '```json\n{"action": "ask_human", "question": "Metric or imperial?"}\n```'
        return default(call)

    # One slot: t3 can only run because t2 gives its slot back while it waits on the person.
    engine, gateway = engine_for(store, respond, latency=0.01,
                                 settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    task = asyncio.create_task(engine.execute(run_id))

    async def t3_done() -> bool:
        return (await engine.repo.subtasks(run_id))[2].status is SubtaskStatus.DONE

    await eventually(t3_done, what="t3 done while t2 waits for the human", timeout=5)
    st = {s.id: s.status for s in await engine.repo.subtasks(run_id)}
    assert st == {"t1": SubtaskStatus.DONE, "t2": SubtaskStatus.NEEDS_HELP, "t3": SubtaskStatus.DONE,
                  "t4": SubtaskStatus.PENDING}  # the dependent waits
    [(question,)] = await store.query("SELECT json_extract(payload, '$.question') FROM events WHERE type = ?",
                                      (ev.HELP_REQUESTED,))
    assert question == "Metric or imperial?"
    await engine.control(run_id).answer("t2", "Use metric units", source="tui")
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.COMPLETED
    t2 = (await engine.repo.subtasks(run_id))[1]
    assert t2.output == "costs in metric units"
    last = [c for c in gateway.calls if c.context.subtask_id == "t2"][-1]
    assert "The human answered your question (Metric or imperial?): Use metric units" in last.prompt


async def test_an_answer_nobody_asked_for_is_not_kept_for_a_later_question(store):
    engine, _ = engine_for(store, settings={"discussion": False})
    control = engine.control(await planned(engine))
    control.apply(InterventionKind.ANSWER, "yes", "t1")  # meant for a tool approval
    control.expect_answer("t1")
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await control.wait_answer("t1")


async def test_rows_written_by_another_process_are_applied_by_the_watcher(store):
    """What `podium guide/pause/resume` in a second terminal write: pending rows."""
    engine, gateway = engine_for(store, settings={"discussion": False, "concurrency": 1})
    run_id = await planned(engine)
    gateway.latency = 0.3  # t1's turn is in flight while the rows arrive
    probe = PauseProbe(engine.control(run_id))
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: any(c.context.subtask_id == "t1" for c in gateway.calls), what="t1's first call")

    async def post(kind, text=""):
        iid = await engine.repo.add_intervention(run_id, InterventionKind(kind), text=text, source="cli")
        start = time.monotonic()
        waited = await engine.control_repo.wait_consumed(iid, timeout=2)
        assert waited is not None, kind
        return time.monotonic() - start

    assert await post("guidance", "Focus on residential installs") < 0.5
    assert await post("pause") < 0.5
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.PAUSED
    frozen = len(gateway.calls)
    # The turn in flight finishes; the next step then holds at the pause.
    await eventually(lambda: probe.held, what="the run held at the pause")
    assert len(gateway.calls) <= frozen + 1 and not task.done()
    await post("resume")
    final = await asyncio.wait_for(task, 5)
    assert final.status is ExecutionStatus.COMPLETED
    later = [c for c in gateway.calls if c.context.phase == "execution" and c.context.subtask_id != "t1"]
    assert all("Guidance from the human (cli): Focus on residential installs" in c.prompt for c in later)
    applied = await store.query("SELECT json_extract(payload, '$.kind') FROM events WHERE type = ?",
                                (ev.INTERVENTION_APPLIED,))
    assert [r[0] for r in applied] == ["guidance", "pause", "resume"]
    assert not await store.query("SELECT id FROM interventions WHERE consumed_at IS NULL")


async def test_halt_from_another_process_cancels_in_flight_turns_and_keeps_state(store):
    engine, gateway = engine_for(store, latency=0.05, settings={"discussion": False})
    run_id = await planned(engine)
    gateway.latency = 5.0
    task = asyncio.create_task(engine.execute(run_id))
    await eventually(lambda: any(c.context.subtask_id == "t1" for c in gateway.calls), what="t1's first call")
    await engine.repo.add_intervention(run_id, InterventionKind.HALT, text="halted from the CLI",
                                       source="cli")
    final = await asyncio.wait_for(task, 2)
    assert final.status is ExecutionStatus.HALTED
    assert await engine.repo.status_reason(run_id) == "halted from the CLI"
    gateway.latency = 0
    assert (await engine.resume(run_id)).status is ExecutionStatus.COMPLETED


async def test_stale_control_rows_do_not_act_on_a_new_session(store):
    engine, gateway = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    # Written for a process that ended before taking them up.
    await engine.repo.add_intervention(run_id, InterventionKind.HALT, text="old", source="cli")
    await engine.repo.add_intervention(run_id, InterventionKind.GUIDANCE, text="Keep it short", source="cli")
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.COMPLETED
    first = next(c for c in gateway.calls if c.context.phase == "execution")
    assert "Guidance from the human (cli): Keep it short" in first.prompt  # guidance is standing instruction
    guidance_notes = [m for m in await engine.repo.messages(run_id) if "Keep it short" in m.content]
    assert len(guidance_notes) == 4  # once per subtask, not twice


async def test_control_on_a_read_only_store_changes_nothing(tmp_path, store):
    from podium.errors import ReadOnlyError

    engine, _ = engine_for(store, settings={"discussion": False})
    run_id = await planned(engine)
    before = await store.query_one("SELECT count(*) FROM events")
    archive = await ProjectStore.open(store.path, readonly=True)
    try:
        reader, _ = engine_for(archive)
        with pytest.raises(ReadOnlyError, match="read-only"):
            await reader.control(run_id).guide("hello")
    finally:
        await archive.close()
    assert (await store.query_one("SELECT count(*) FROM events"))[0] == before[0]


# ---------------------------------------------------------------- quality review


def reviewing(ok_ids=("t1", "t2", "t3", "t4")):
    def respond(call: Call):
        if call.context.phase == "review":
            return {"verdicts": [{"subtask_id": s, "ok": s in ok_ids, "reasons": f"{s} checked"}
                                 for s in ("t1", "t2", "t3", "t4")],
                    "result_ok": True, "reasons": "covers the objective"}
        if call.context.phase == "synthesis" and "sent your previous result back" in call.prompt:
            return "FINAL v2 with a cost table"
        if call.context.phase == "execution" and "sent your previous result back" in call.prompt:
            return f"out-{call.context.subtask_id} reworked{DONE}"
        return default(call)

    return respond


async def test_review_records_a_verdict_and_waits_for_the_human(store):
    engine, gateway = engine_for(store, reviewing(ok_ids=("t1", "t3", "t4")),
                                 settings={"discussion": False, "review": "human"})
    run_id = await planned(engine)
    final = await engine.execute(run_id)
    assert final.status is ExecutionStatus.REVIEW and final.result.startswith("FINAL")
    review_call = gateway.calls[-1]
    assert review_call.context.phase == "review" and "Accept when: t2 is done" in review_call.prompt
    [(payload,)] = await store.query("SELECT payload FROM events WHERE type = ?", (ev.REVIEW_VERDICT,))
    assert '"overall": "needs work: t2"' in payload and '"ok": false' in payload
    with pytest.raises(PodiumError, match="awaits your review"):
        await engine.resume(run_id)
    accepted = await engine.accept(run_id, by="tester")
    assert accepted.status is ExecutionStatus.COMPLETED
    [row] = await store.query("SELECT decision, decided_by FROM reviews")
    assert tuple(row) == ("accept", "tester")
    with pytest.raises(PodiumError, match="only a result awaiting review"):
        await engine.accept(run_id)


async def test_rework_reruns_only_what_was_sent_back_and_resynthesises(store):
    engine, gateway = engine_for(store, reviewing(), settings={"discussion": False, "review": "human"})
    run_id = await planned(engine)
    await engine.execute(run_id)
    before = {s.id: s for s in await engine.repo.subtasks(run_id)}
    calls_before = len(gateway.calls)

    final = await engine.rework(run_id, "Add a cost table", ["t2"], by="tester")
    assert final.status is ExecutionStatus.REVIEW and final.result == "FINAL v2 with a cost table"
    rerun = [c.context.subtask_id for c in gateway.calls[calls_before:] if c.context.phase == "execution"]
    assert sorted(rerun) == ["t2", "t4"]  # t2 and what depends on it, nothing else
    t2_call = next(c for c in gateway.calls[calls_before:] if c.context.subtask_id == "t2")
    assert "Add a cost table" in t2_call.prompt and "out-t2 by analyst" in t2_call.prompt  # previous output
    t4_call = next(c for c in gateway.calls[calls_before:] if c.context.subtask_id == "t4")
    assert "runs again because work it builds on was reworked" in t4_call.prompt
    after = {s.id: s for s in await engine.repo.subtasks(run_id)}
    assert after["t1"].finished_at == before["t1"].finished_at and after["t3"].output == before["t3"].output
    assert after["t2"].output == "out-t2 reworked"
    rounds = await engine.control_repo.reviews(run_id)
    assert [(r["round"], r["decision"], r["subtasks"]) for r in rounds] == [(1, "rework", ["t2"]),
                                                                            (2, None, [])]

    # Rework of the synthesis only: no subtask re-runs.
    mark = len(gateway.calls)
    final = await engine.rework(run_id, "Shorter please")
    assert [c.context.phase for c in gateway.calls[mark:]] == ["synthesis", "review"]
    assert (await engine.accept(run_id)).status is ExecutionStatus.COMPLETED


async def test_rework_bad_input_changes_nothing(store):
    engine, _ = engine_for(store, reviewing(), settings={"discussion": False, "review": "human"})
    run_id = await planned(engine)
    await engine.execute(run_id)
    before = await store.query_one("SELECT count(*) FROM events")
    with pytest.raises(PodiumError, match="no subtask 'zz'"):
        await engine.rework(run_id, "x", ["zz"])
    with pytest.raises(PodiumError, match="feedback is empty"):
        await engine.rework(run_id, "  ")
    assert (await store.query_one("SELECT count(*) FROM events"))[0] == before[0]


async def test_auto_review_accepts_and_records_the_verdict(store):
    engine, _ = engine_for(store, reviewing(), settings={"discussion": False, "review": "auto"})
    final = await engine.execute(await planned(engine))
    assert final.status is ExecutionStatus.COMPLETED
    [row] = await store.query("SELECT decision, decided_by FROM reviews")
    assert tuple(row) == ("accept", "auto")


async def test_halt_during_planning_cancels_the_call_in_flight(store):
    from podium.orchestrator.engine import RunStopped
    from tests.unit.test_orch_engine import TEAM

    engine, gateway = engine_for(store, latency=5.0)
    run_id = await engine.create_run("Heat pumps", TEAM)
    task = asyncio.create_task(engine.plan(run_id))
    await eventually(lambda: gateway.calls, what="the planning call")
    await engine.repo.add_intervention(run_id, InterventionKind.HALT, text="not now", source="cli")
    with pytest.raises(RunStopped, match="not now"):
        await asyncio.wait_for(task, 2)
    assert (await engine.repo.get_execution(run_id)).status is ExecutionStatus.HALTED
    assert len(gateway.calls) == 1
