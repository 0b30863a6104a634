"""The pure parts: folding events into a run view, and laying a plan out as a graph."""

from __future__ import annotations

from podium import events as ev
from podium.domain import Event, ExecutionStatus, PlanStatus, Subtask, SubtaskStatus
from podium.tui.graph_layout import layers_of, layout, neighbour
from podium.tui.state import RunState


def event(seq: int, type: str, **payload: object) -> Event:
    return Event(seq=seq, execution_id="r1", type=type, payload=payload, created_at=1000.0 + seq)


PLAN = {"subtasks": [
    {"id": "t1", "agent": "researcher", "description": "Collect", "estimated_tokens": 1000},
    {"id": "t2", "agent": "analyst", "description": "Analyse", "depends_on": ["t1"]},
    {"id": "t3", "agent": "checker", "description": "Check", "depends_on": ["t1"]},
    {"id": "t4", "agent": "writer", "description": "Write", "depends_on": ["t2", "t3", "t1"]},
]}


def history() -> list[Event]:
    return [
        event(1, ev.RUN_CREATED, objective="Heat pumps", team="research", model="m", agents=["researcher"],
              leader="analyst", budget={"tokens": 5000}),
        event(2, ev.RUN_STATUS, status="planning"),
        event(3, ev.PLAN_PROPOSED, version=1, plan=PLAN, fallback=False),
        event(4, ev.RUN_STATUS, status="awaiting_approval"),
        event(5, ev.PLAN_REJECTED, version=1, feedback="more checks"),
        event(6, ev.PLAN_PROPOSED, version=2, plan=PLAN, fallback=True, errors=["cycle"]),
        event(7, ev.PLAN_APPROVED, version=2),
        event(8, ev.RUN_STATUS, status="running"),
        event(9, ev.SUBTASK_STATUS, subtask_id="t1", agent="researcher", status="running"),
        event(10, ev.MESSAGE_ADDED, subtask_id="t1", agent="researcher", role="assistant", content="x",
              prompt_tokens=300, completion_tokens=200, cost_usd=0.01),
        event(11, ev.HELP_REQUESTED, subtask_id="t1", agent="researcher", question="Which year?"),
        event(12, ev.RUN_USAGE, prompt_tokens=300, completion_tokens=200, cost_usd=0.01, calls=1, steps=1),
        event(13, ev.INTERVENTION, kind="answer", subtask_id="t1", text="2024"),
        event(14, ev.SUBTASK_STATUS, subtask_id="t1", agent="researcher", status="done", output="found"),
        event(15, ev.RUN_STATUS, status="completed"),
    ]


def test_folding_the_log_gives_the_run_as_it_ended() -> None:
    s = RunState.fold("r1", history())
    assert s.objective == "Heat pumps" and s.leader == "analyst" and s.budget.tokens == 5000
    assert s.status is ExecutionStatus.COMPLETED and s.finished_at == 1015.0
    assert [p.status for p in s.plans] == [PlanStatus.REJECTED, PlanStatus.APPROVED]
    assert s.plans[0].feedback == "more checks" and s.plan is not None and s.plan.fallback
    t1 = s.subtasks["t1"]
    assert t1.status is SubtaskStatus.DONE and t1.output == "found" and t1.usage.tokens == 500
    assert s.usage.tokens == 500 and s.steps == 1
    assert not s.help_requests and s.last_seq == 15
    card = {c.subtask_id: c for c in s.cards()}["t1"]
    assert card.column.value == "Done" and card.progress == 1.0


def test_any_prefix_of_the_log_is_a_consistent_moment() -> None:
    events = history()
    at_help = RunState.fold("r1", events[:11])
    assert at_help.help_requests == {"t1": "Which year?"}
    assert any("asks for help" in w for w in at_help.waits_on_person)
    assert at_help.running_count == 1
    at_approval = RunState.fold("r1", events[:4])
    assert at_approval.awaiting_approval and at_approval.waits_on_person[0].startswith("plan awaits")
    assert all(t.status is SubtaskStatus.PENDING for t in at_approval.subtasks.values())


def test_malformed_or_unknown_events_are_skipped_not_fatal() -> None:
    s = RunState("r1")
    assert not s.apply(event(1, "something.new", x=1))
    assert not s.apply(event(2, ev.RUN_STATUS, status="exploded"))
    assert not s.apply(event(3, ev.PLAN_PROPOSED, version=1, plan={"subtasks": "nope"}))
    assert s.status is ExecutionStatus.PLANNING and s.last_seq == 3


def tasks(*specs: tuple[str, list[str]]) -> list[Subtask]:
    return [Subtask(id=i, agent="a", description=f"do {i}", depends_on=d) for i, d in specs]


def test_layers_follow_the_deepest_dependency_and_survive_cycles() -> None:
    plan = tasks(("t1", []), ("t2", ["t1"]), ("t3", ["t1"]), ("t4", ["t2", "t3"]), ("t5", ["t4", "t1"]))
    assert [[t.id for t in layer] for layer in layers_of(plan)] == [["t1"], ["t2", "t3"], ["t4"], ["t5"]]
    cyclic = tasks(("a", ["b"]), ("b", ["a"]), ("c", ["zz"]))
    assert sum(len(layer) for layer in layers_of(cyclic)) == 3


def test_edges_are_box_drawn_and_long_edges_are_noted_on_the_node() -> None:
    plan = tasks(("t1", []), ("t2", ["t1"]), ("t3", ["t1"]), ("t4", ["t2", "t3"]), ("t5", ["t4", "t1"]))
    g = layout(plan, 44)
    fan_out, fan_in = g.connectors[2], g.connectors[5]
    assert "┬" in fan_out or "├" in fan_out
    assert fan_out.count("┐") + fan_out.count("┬") >= 1
    assert "┘" in fan_in or "┴" in fan_in
    assert g.node("t5").skipped_deps == ["t1"]  # type: ignore[union-attr]
    assert all(n.width * len(layer) <= 44 for layer in g.layers for n in layer)


def test_arrow_keys_move_along_the_graph() -> None:
    plan = tasks(("t1", []), ("t2", ["t1"]), ("t3", ["t1"]), ("t4", ["t2", "t3"]))
    g = layout(plan, 44)
    assert neighbour(g, None, "down") == "t1"
    assert neighbour(g, "t1", "down") == "t2"
    assert neighbour(g, "t2", "right") == "t3"
    assert neighbour(g, "t3", "right") == "t3"
    assert neighbour(g, "t3", "down") == "t4"
    assert neighbour(g, "t4", "up") in {"t2", "t3"}
    assert neighbour(g, "t1", "up") == "t1"
