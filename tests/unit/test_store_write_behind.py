"""Writes queued without waiting (ProjectStore.write_behind) and the runs' recent-message logs."""

from __future__ import annotations

import asyncio

import pytest

from podium import events as ev
from podium.domain import Agent, Execution, Message, Phase, Plan, Role, Subtask, SubtaskStatus, Team
from podium.store import ProjectStore
from podium.store.recent_messages import RecentMessages
from podium.store.runs import RunRepository, _insert_message

TEAM = Team(name="t", leader="lead",
            agents=[Agent(name="lead", role="leader"), Agent(name="coder", role="coder")])


async def _run(store: ProjectStore, n: int = 2) -> tuple[RunRepository, str, list[Subtask]]:
    repo = RunRepository(store)
    execution = Execution(objective="x", team=TEAM.name)
    await repo.create_execution(execution, TEAM)
    plan = Plan(subtasks=[Subtask(id=f"t{i + 1}", agent="coder", description="d") for i in range(n)])
    await repo.approve_plan(execution.id, 1, plan, "test")
    return repo, execution.id, await repo.subtasks(execution.id)


def _msg(run_id: str, sid: str | None, text: str, role: Role = Role.ASSISTANT) -> Message:
    return Message(execution_id=run_id, subtask_id=sid, agent="coder", role=role, content=text,
                   phase=Phase.EXECUTION)


async def test_a_queued_write_is_seen_by_the_next_read_and_publishes_after_commit(store):
    repo, run_id, [t1, _] = await _run(store)
    async with store.bus.subscribe(run_id) as events:
        queued = repo.finish_subtask(run_id, t1, SubtaskStatus.DONE, output="out")
        assert not queued.done() and events.empty()  # returned before the commit
        # A read submitted afterwards runs after it on the store's one thread.
        [row] = await store.query("SELECT status, output FROM subtasks WHERE execution_id = ? AND id = 't1'",
                                  (run_id,))
        assert tuple(row) == ("done", "out")
        await queued
        published = events.get_nowait()
    assert published.type == ev.SUBTASK_STATUS and published.payload.status == "done"


async def test_a_failed_queued_write_fails_its_future_and_leaves_nothing(store):
    _, run_id, _ = await _run(store)

    def broken(tx):
        tx.execute("UPDATE executions SET objective = 'changed' WHERE id = ?", (run_id,))
        tx.execute("INSERT INTO no_such_table VALUES (1)")

    queued = store.write_behind(broken)
    with pytest.raises(Exception, match="no_such_table"):
        await queued
    [row] = await store.query("SELECT objective FROM executions WHERE id = ?", (run_id,))
    assert row[0] == "x"  # rolled back whole


async def test_the_log_matches_the_database_as_messages_are_queued(store):
    repo, run_id, [t1, _] = await _run(store)
    await repo.add_message(_msg(run_id, "t1", "first"))
    read = await repo.recent_messages(run_id, 3, exclude_subtask="t2")
    assert await repo.first_window(run_id, 3, "t2") == read
    # Queued after the seed: appended, in the database's order, before any commit.
    reply = _msg(run_id, "t1", "t1 done")
    pending = [repo.finish_subtask(run_id, t1, SubtaskStatus.DONE, output="o", reply=reply)]
    pending.append(asyncio.ensure_future(repo.add_message(_msg(run_id, None, "leader note"))))
    await asyncio.sleep(0)
    logged = await repo.first_window(run_id, 3, "t2")
    await asyncio.gather(*pending)
    read = await repo.recent_messages(run_id, 3, exclude_subtask="t2")
    assert [m.content for m in logged] == [m.content for m in read] == ["first", "t1 done", "leader note"]
    # Its own messages and system messages are left out, as the query leaves them out.
    await repo.add_message(_msg(run_id, "t2", "t2 says", Role.ASSISTANT))
    await repo.add_message(_msg(run_id, None, "a system note", Role.SYSTEM))
    assert [m.content for m in await repo.first_window(run_id, 5, "t2")] == \
        [m.content for m in await repo.recent_messages(run_id, 5, exclude_subtask="t2")]


async def test_a_message_written_without_being_declared_drops_the_log(store):
    repo, run_id, _ = await _run(store)
    await repo.first_window(run_id, 3, "t2")  # seeded
    sneaked = _msg(run_id, "t1", "written behind the log's back")
    await store.write(lambda tx: _insert_message(tx, sneaked))  # not declared
    assert store.recent.window(run_id, 3, "t2") is None  # so the next window is read again
    assert [m.content for m in await repo.first_window(run_id, 3, "t2")] == ["written behind the log's back"]


async def test_a_declared_message_that_was_never_written_drops_the_log(store):
    repo, run_id, _ = await _run(store)
    await repo.first_window(run_id, 3, "t2")
    ghost = _msg(run_id, "t1", "never written")

    def fails(tx):
        _insert_message(tx, ghost)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        await store.write(fails, messages=[ghost])
    assert await repo.first_window(run_id, 3, "t2") == []


def test_a_log_cut_short_cannot_answer_a_larger_window():
    log = RecentMessages(keep=3)
    seeded = log.seed("r")
    seeded([_msg("r", "t1", f"m{i}") for i in range(3)])
    assert [m.content for m in log.window("r", 2, None)] == ["m1", "m2"]
    assert log.window("r", 2, "t1") is None  # all three are t1's own: older ones may be missing
    log.queued([_msg("r", "t2", "m3")])
    assert [m.content for m in log.window("r", 1, "t1")] == ["m3"]
    assert log.window("other", 1, None) is None  # never seeded


async def test_subtasks_starting_together_on_a_run_without_a_log_all_get_the_full_window(store):
    repo, run_id, _ = await _run(store, 4)
    for text in ("the leader's plan", "a specialist's view"):
        await repo.add_message(_msg(run_id, None, text))
    windows = await asyncio.gather(*(repo.first_window(run_id, 5, f"t{i}") for i in (1, 2, 3, 4)))
    assert [[m.content for m in w] for w in windows] == [["the leader's plan", "a specialist's view"]] * 4


def test_a_log_is_not_used_before_its_seed_read_returns():
    log = RecentMessages()
    seeded = log.seed("r")
    log.queued([_msg("r", "t1", "queued meanwhile")])
    assert log.window("r", 3, None) is None
    seeded([_msg("r", None, "read")])
    assert [m.content for m in log.window("r", 3, None)] == ["read", "queued meanwhile"]
    stale = log.seed("r")  # a second seed (the log was dropped meanwhile, say)
    log.forget(["r"])
    stale([])
    assert log.window("r", 3, None) is None
