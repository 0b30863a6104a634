"""The typed queries (app/queries.py) and the store reads behind them (store/queries.py),
against a real project file seeded through the repositories."""

from __future__ import annotations

import pytest

from podium import events as ev
from podium.app.queries import Queries
from podium.domain import (
    Agent,
    BoardColumn,
    Execution,
    ExecutionStatus,
    InterventionKind,
    Message,
    Phase,
    Plan,
    Role,
    RunBoard,
    Subtask,
    SubtaskStatus,
    Team,
    Usage,
    card_progress,
)
from podium.errors import NotFoundError, PodiumError
from podium.store.control import ControlRepository
from podium.store.memories import MemoryRepository
from podium.store.queries import RunQueries
from podium.store.runs import RunRepository
from podium.tools.approvals import Approvals

TEAM = Team(name="duo", leader="lead", agents=[Agent(name="lead", role="leads"),
                                               Agent(name="helper", role="helps")])
PLAN = Plan(rationale="two steps", subtasks=[
    Subtask(id="t1", agent="helper", description="Gather facts\nin detail", estimated_tokens=1000),
    Subtask(id="t2", agent="lead", description="Write it up", depends_on=["t1"], estimated_tokens=0),
])


async def _run(repo: RunRepository, run_id: str, created_at: float, objective: str = "An objective") -> None:
    await repo.create_execution(Execution(id=run_id, objective=objective, team=TEAM.name, model="m1",
                                          created_at=created_at, updated_at=created_at), TEAM)


async def _busy_run(store) -> str:  # type: ignore[no-untyped-def]
    """A run with an approved plan, usage on t1, a consultation, guidance, an answer and a pause."""
    repo, control = RunRepository(store), ControlRepository(store)
    await _run(repo, "abc123", 100.0, "Busy run")
    version = await repo.add_plan("abc123", PLAN, fallback=False, errors=[])
    await repo.approve_plan("abc123", version, PLAN, by="test")
    t1, t2 = await repo.subtasks("abc123")
    await repo.set_subtask_status("abc123", t1, SubtaskStatus.RUNNING)
    message = Message(execution_id="abc123", subtask_id="t1", agent="helper", role=Role.ASSISTANT,
                      content="facts", phase=Phase.EXECUTION, prompt_tokens=300, completion_tokens=100,
                      cost_usd=0.25)
    await repo.add_message(message, run_usage=Usage(prompt_tokens=300, completion_tokens=100, cost_usd=0.25,
                                                    calls=1), steps=3, elapsed=4.5)
    question = Message(execution_id="abc123", subtask_id="t1", agent="lead", role=Role.USER,
                       content="Is it so?", phase=Phase.CONSULTATION)
    cid = await control.start_consultation("abc123", t1, asker="helper", peer="lead", question="Is it so?",
                                           depth=1, wait=True, question_message=question)
    await control.finish_consultation("abc123", t1, cid, asker="helper", peer="lead", answer="Yes.",
                                      error=None, usage=Usage(prompt_tokens=20, completion_tokens=5,
                                                              cost_usd=0.01, calls=1),
                                      resume=True, elapsed_s=0.2)
    await repo.add_intervention("abc123", InterventionKind.GUIDANCE, text="be brief", source="tui")
    await repo.add_intervention("abc123", InterventionKind.PAUSE, source="cli")
    await repo.add_intervention("abc123", InterventionKind.ANSWER, text="42", subtask_id="t2", consumed=True)
    await repo.set_subtask_status("abc123", t2, SubtaskStatus.NEEDS_HELP)
    await repo.set_result("abc123", "The result.", ExecutionStatus.RUNNING)
    return "abc123"


# ---------------------------------------------------------------- lists


async def test_runs_are_newest_first_with_usage_and_a_limit(store):
    repo = RunRepository(store)
    await _run(repo, "old00001", 100.0, "Old")
    await _busy_run(store)  # created at 100.0 too, but written later: ordered by created_at only
    await _run(repo, "new00001", 300.0, "New")
    runs = await Queries(store).runs()
    assert runs[0].id == "new00001" and {r.id for r in runs} == {"old00001", "abc123", "new00001"}
    busy = next(r for r in runs if r.id == "abc123")
    assert busy.objective == "Busy run" and busy.team == "duo" and busy.model == "m1"
    assert busy.usage == Usage(prompt_tokens=300, completion_tokens=100, cost_usd=0.25, calls=1)
    assert busy.usage.tokens == 400 and busy.steps == 3 and busy.active_seconds == 4.5
    assert busy.known_status is ExecutionStatus.RUNNING
    assert [r.id for r in await Queries(store).runs(limit=1)] == ["new00001"]


async def test_a_status_this_build_does_not_know_still_lists(store):
    await _run(RunRepository(store), "future01", 100.0)
    await store.write(lambda tx: tx.execute("UPDATE executions SET status = 'levitating'"))
    [run] = await Queries(store).runs()
    assert run.status == "levitating" and run.known_status is None
    assert (await Queries(store).run("future01")).status == "levitating"  # type: ignore[union-attr]


async def test_run_and_find_run_by_id_or_unique_prefix(store):
    repo = RunRepository(store)
    await _run(repo, "abc111", 100.0)
    await _run(repo, "abc222", 101.0)
    await _run(repo, "x_y", 102.0)
    queries = Queries(store)
    assert (await queries.run("abc111")).id == "abc111"  # type: ignore[union-attr]
    assert await queries.run("abc") is None  # exact ids only
    assert (await queries.find_run("abc2")).id == "abc222"  # type: ignore[union-attr]
    assert (await queries.find_run("abc111")).id == "abc111"  # type: ignore[union-attr]
    with pytest.raises(PodiumError, match="ambiguous"):
        await queries.find_run("abc")
    assert await queries.find_run("zzz") is None
    assert await queries.find_run("") is None
    assert await queries.find_run("x%") is None  # LIKE wildcards are taken literally
    assert (await queries.find_run("x_")).id == "x_y"  # type: ignore[union-attr]


# ---------------------------------------------------------------- one run


async def test_headline_carries_the_result_and_the_summary(store):
    run_id = await _busy_run(store)
    queries = Queries(store)
    headline = await queries.headline(run_id)
    assert headline is not None and headline.result == "The result." and headline.objective == "Busy run"
    assert headline.usage.calls == 1 and headline.created_at == 100.0
    assert await queries.headline("nope") is None


async def test_detail_gathers_the_whole_run(store):
    run_id = await _busy_run(store)
    detail = await Queries(store).detail("abc1")  # a prefix, as people type it
    assert detail.execution.id == run_id and detail.team == TEAM
    assert [p.version for p in detail.plans] == [1] and detail.plans[0].plan.rationale == "two steps"
    assert [s.id for s in detail.subtasks] == ["t1", "t2"]
    assert [m.content for m in detail.messages] == ["facts", "Is it so?"]
    [c] = detail.consultations
    assert (c.asker, c.peer, c.answer, c.usage.tokens, c.depth) == ("helper", "lead", "Yes.", 25, 1)
    assert c.finished_at is not None and c.finished_at >= c.started_at
    kinds = [(i.kind, i.text, i.source, i.consumed_at is not None) for i in detail.interventions]
    assert kinds == [(InterventionKind.GUIDANCE, "be brief", "tui", False),
                     (InterventionKind.PAUSE, "", "cli", False), (InterventionKind.ANSWER, "42", "cli", True)]
    assert detail.reviews == [] and detail.settings_history == []
    events = await store.events_since(0, run_id, limit=10_000)
    assert detail.events == len(events) > 10
    with pytest.raises(NotFoundError):
        await Queries(store).detail("nope")


async def test_board_puts_cards_in_their_columns(store):
    run_id = await _busy_run(store)
    board = await Queries(store).board(run_id)
    assert list(board.columns) == list(BoardColumn)
    [t1] = board.columns[BoardColumn.IN_PROGRESS]
    [t2] = board.columns[BoardColumn.NEEDS_HELP]
    assert (t1.subtask_id, t1.title, t1.agent) == ("t1", "Gather facts", "helper")
    assert t1.progress == pytest.approx(0.4)  # 400 of an estimated 1000 tokens
    assert t2.subtask_id == "t2" and t2.progress == 0.0  # no estimate
    assert all(not board.columns[c] for c in (BoardColumn.TODO, BoardColumn.DONE, BoardColumn.FAILED))
    with pytest.raises(NotFoundError):
        await Queries(store).board("nope")


async def test_an_unplanned_run_has_an_empty_board(store):
    await _run(RunRepository(store), "empty001", 100.0)
    board = await Queries(store).board("empty001")
    assert board.run_id == "empty001" and all(cards == [] for cards in board.columns.values())


def test_card_progress():
    s = Subtask(id="t", agent="a", description="d", estimated_tokens=100,
                usage=Usage(prompt_tokens=500, completion_tokens=0))
    assert card_progress(s) == 0.95  # over its estimate, but not done
    assert card_progress(s.model_copy(update={"status": SubtaskStatus.DONE})) == 1.0
    blocked = s.model_copy(update={"status": SubtaskStatus.BLOCKED})
    [card] = RunBoard.of("r", [blocked]).columns[BoardColumn.FAILED]
    assert card.progress == 0.95


async def test_usage_in_total_and_per_subtask(store):
    run_id = await _busy_run(store)
    usage = await Queries(store).usage(run_id)
    assert usage.total == Usage(prompt_tokens=300, completion_tokens=100, cost_usd=0.25, calls=1)
    assert usage.steps == 3 and usage.active_seconds == 4.5
    assert list(usage.by_subtask) == ["t1", "t2"]
    assert usage.by_subtask["t1"] == Usage(prompt_tokens=300, completion_tokens=100, cost_usd=0.25, calls=1)
    assert usage.by_subtask["t2"] == Usage()
    with pytest.raises(NotFoundError):
        await Queries(store).usage("nope")


# ---------------------------------------------------------------- store reads the app and benches use


async def test_interventions_by_kind_and_event_times(store):
    run_id = await _busy_run(store)
    reads = RunQueries(store)
    standing = await reads.interventions(run_id, kinds=(InterventionKind.GUIDANCE, InterventionKind.ANSWER))
    assert [(i.kind, i.text) for i in standing] == [(InterventionKind.GUIDANCE, "be brief"),
                                                    (InterventionKind.ANSWER, "42")]
    assert await reads.interventions(run_id, kinds=()) == []
    assert await reads.interventions("nope") == []
    times = await reads.event_times(run_id, ev.INTERVENTION)
    assert [payload["kind"] for _, payload in times] == ["guidance", "pause", "answer"]
    assert all(at > 0 for at, _ in times) and times == sorted(times, key=lambda t: t[0])
    assert await reads.event_count("nope") == 0


async def test_approval_run(store):
    run_id = await _busy_run(store)
    request = await Approvals(store).request(execution_id=run_id, subtask_id="t1", agent="helper",
                                             tool="write_file", arguments={"path": "x"})
    queries = Queries(store)
    assert await queries.approval_run(request.id) == run_id
    assert await queries.approval_run(request.id + 1) is None


async def test_checkpoint_empties_the_write_ahead_log(store):
    await _busy_run(store)
    wal = store.path.with_name(store.path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    await store.checkpoint()
    assert wal.stat().st_size == 0
    assert (await Queries(store).run("abc123")) is not None  # the data is in the file


async def test_all_vectors_of_a_space(store):
    from podium.memory.embedders import HashedEmbedder
    from podium.memory.service import MemoryService
    from podium.store import vectors

    memory = MemoryService(store, HashedEmbedder())
    await memory.add_fact("heat pumps work in the cold")
    await memory.add_fact("oil heating costs more")
    space = await store.run(vectors.active_space)
    assert space is not None
    ids, matrix = await store.run(lambda conn: vectors.all_vectors(conn, space))
    stored = await MemoryRepository(store).list()
    assert sorted(ids.tolist()) == sorted(m.id for m in stored)
    assert matrix.shape == (2, space.dim)
    assert abs(float((matrix[0] ** 2).sum()) - 1.0) < 1e-3  # unit vectors, as embedded
