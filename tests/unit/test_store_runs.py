"""Subtask status has one writer: the runs repository (store/runs.py), its event in the same
transaction. A waiting subtask (a tool approval) moves only from the status it is expected in."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import podium
from podium import events as ev
from podium.domain import Agent, Execution, Plan, Subtask, SubtaskStatus, Team
from podium.store import ProjectStore, Tx
from podium.store.runs import RunRepository, move_waiting_subtask

TEAM = Team(name="t", leader="lead",
            agents=[Agent(name="lead", role="leader"), Agent(name="coder", role="coder")])
PLAN = Plan(subtasks=[Subtask(id="t1", agent="coder", description="write it")])
SRC = Path(podium.__file__).parent
OWNER = SRC / "store" / "runs.py"


async def _running(store: ProjectStore) -> tuple[RunRepository, str, Subtask]:
    repo = RunRepository(store)
    execution = Execution(objective="x", team=TEAM.name)
    await repo.create_execution(execution, TEAM)
    await repo.approve_plan(execution.id, 1, PLAN, "test")
    [subtask] = await repo.subtasks(execution.id)
    await repo.set_subtask_status(execution.id, subtask, SubtaskStatus.RUNNING)
    return repo, execution.id, subtask


async def _status_events(store: ProjectStore, run_id: str) -> list[dict]:
    return [_payload(e.payload) for e in await store.events_since(0, run_id) if e.type == ev.SUBTASK_STATUS]


def _payload(event: object) -> dict:
    return event if isinstance(event, dict) else dict(event.model_dump())  # type: ignore[attr-defined]


async def test_a_waiting_move_changes_the_status_with_its_event_in_one_transaction(store):
    repo, run_id, _ = await _running(store)
    [before] = await repo.subtasks(run_id)
    seen: list[int] = []

    def wait(tx: Tx) -> bool:
        moved = move_waiting_subtask(tx, run_id, "t1", SubtaskStatus.NEEDS_HELP,
                                     only_from=SubtaskStatus.RUNNING, reason="waiting for approval of x")
        seen.append(len(tx.events))
        return moved

    assert await store.write(wait) is True
    assert seen == [1]  # the event was emitted inside the same transaction
    [after] = await repo.subtasks(run_id)
    assert after.status is SubtaskStatus.NEEDS_HELP
    assert after.started_at == before.started_at and after.finished_at is None  # status only
    last = (await _status_events(store, run_id))[-1]
    assert (last["subtask_id"], last["agent"], last["status"], last["reason"]) == (
        "t1", "coder", "needs_help", "waiting for approval of x")


@pytest.mark.parametrize("status", [SubtaskStatus.DONE, SubtaskStatus.PENDING, SubtaskStatus.FAILED])
async def test_a_subtask_not_in_the_expected_status_is_left_alone(store, status):
    repo, run_id, subtask = await _running(store)
    await repo.set_subtask_status(run_id, subtask, status)
    count = len(await _status_events(store, run_id))
    moved = await store.write(lambda tx: move_waiting_subtask(
        tx, run_id, "t1", SubtaskStatus.RUNNING, only_from=SubtaskStatus.NEEDS_HELP, reason="approved"))
    assert moved is False
    assert (await repo.subtasks(run_id))[0].status is status
    assert len(await _status_events(store, run_id)) == count


async def test_no_run_or_no_subtask_moves_nothing(store):
    _, run_id, _ = await _running(store)
    for rid, sid in ((None, "t1"), (run_id, None), (run_id, "nope")):
        assert await store.write(lambda tx, rid=rid, sid=sid: move_waiting_subtask(
            tx, rid, sid, SubtaskStatus.NEEDS_HELP, only_from=SubtaskStatus.RUNNING, reason="r")) is False


SETS_STATUS = re.compile(r"UPDATE\s+subtasks\s+SET[^\"']*?\bstatus\s*=", re.IGNORECASE)
EMITS_STATUS = re.compile(r"\.emit\(\s*(?:ev|events)\.SUBTASK_STATUS\b")
# Benchmarks write synthetic events with no run (they measure the event log, not a subtask).
EMIT_ALLOWED = {OWNER, SRC / "bench" / "store_bench.py"}


def test_only_the_runs_repository_writes_subtask_status() -> None:
    writers = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if p != OWNER and SETS_STATUS.search(p.read_text(encoding="utf-8")))
    emitters = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                      if p not in EMIT_ALLOWED and EMITS_STATUS.search(p.read_text(encoding="utf-8")))
    assert (writers, emitters) == ([], [])
    # The patterns do find what they look for.
    owner = OWNER.read_text(encoding="utf-8")
    assert SETS_STATUS.search(owner) and EMITS_STATUS.search(owner)


async def test_a_subtask_starts_with_its_window_without_waiting_for_the_database(store):
    from podium.domain import Message, Phase, Role

    repo = RunRepository(store)
    execution = Execution(objective="x", team=TEAM.name)
    await repo.create_execution(execution, TEAM)
    plan = Plan(subtasks=[Subtask(id="t1", agent="coder", description="a"),
                          Subtask(id="t2", agent="coder", description="b")])
    await repo.approve_plan(execution.id, 1, plan, "test")
    t1, t2 = await repo.subtasks(execution.id)
    for sid, text in (("t1", "from t1"), ("t2", "own words"), (None, "from the leader")):
        await repo.add_message(Message(execution_id=execution.id, subtask_id=sid, agent="coder",
                                       role=Role.ASSISTANT, content=text, phase=Phase.EXECUTION))
    window, running = await repo.start_subtask(execution.id, t2, 5)
    assert [m.content for m in window] == ["from t1", "from the leader"]  # oldest first, not its own
    await running
    assert (await repo.subtasks(execution.id))[1].status is SubtaskStatus.RUNNING
    # A reply queued (not yet waited for) is in the next window already, as the database will have it.
    reply = Message(execution_id=execution.id, subtask_id="t2", agent="coder", role=Role.ASSISTANT,
                    content="t2's result", phase=Phase.EXECUTION)
    ended = repo.finish_subtask(execution.id, t2, SubtaskStatus.DONE, output="t2's result", reply=reply)
    window, running = await repo.start_subtask(execution.id, t1, 5)
    assert [m.content for m in window] == ["own words", "from the leader", "t2's result"]
    await ended
    await running
    read = await repo.recent_messages(execution.id, 5, exclude_subtask="t1")
    assert [m.content for m in read] == [m.content for m in window]
    assert (await repo.start_subtask(execution.id, t1, 0))[0] == []


async def test_a_subtask_ends_with_its_last_reply_and_usage_in_one_transaction(store):
    from podium.domain import Message, Phase, Role, Usage

    repo, run_id, subtask = await _running(store)
    reply = Message(execution_id=run_id, subtask_id="t1", agent="coder", role=Role.ASSISTANT,
                    content="the result", phase=Phase.EXECUTION, prompt_tokens=10, completion_tokens=5,
                    cost_usd=0.01)
    before = len(await store.events_since(0, run_id))
    await repo.finish_subtask(run_id, subtask, SubtaskStatus.DONE, output="the result", reply=reply,
                              run_usage=Usage(prompt_tokens=10, completion_tokens=5, cost_usd=0.01, calls=1),
                              steps=1, elapsed=0.5)
    new = (await store.events_since(0, run_id))[before:]
    assert [e.type for e in new] == [ev.MESSAGE_ADDED, ev.RUN_USAGE, ev.SUBTASK_STATUS]  # reply, then end
    [done] = await repo.subtasks(run_id)
    assert done.status is SubtaskStatus.DONE and done.output == "the result"
    assert done.usage.completion_tokens == 5 and done.usage.calls == 1
    assert (await repo.get_execution(run_id)).usage.cost_usd == pytest.approx(0.01)
