"""Typed events: one model per type, checked when written, parsed once when read."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from podium import events as ev
from podium.cli.run_view import JsonLines, LiveProgress
from podium.domain import Event, ExecutionStatus, RunSettings, SubtaskStatus, UnparsedPayload
from podium.runview import RunState
from podium.store import ProjectStore

PLAN = {"subtasks": [{"id": "t1", "agent": "ana", "description": "Collect"},
                     {"id": "t2", "agent": "bob", "description": "Write", "depends_on": ["t1"]}]}

# One payload per event type, as its emitter writes it today (keyword arguments to tx.emit).
SAMPLES: dict[str, dict[str, Any]] = {
    ev.RUN_CREATED: {"objective": "Heat pumps", "team": "research", "model": None,
                     "budget": {"tokens": 5000, "usd": None, "steps": None, "wall_seconds": None},
                     "agents": ["ana", "bob"], "leader": "ana"},
    ev.RUN_SETTINGS: {"source": "resume", "changed": ["model"], **RunSettings(model="local").model_dump()},
    ev.RUN_STATUS: {"status": "paused", "reason": "paused by cli"},
    ev.RUN_USAGE: {"prompt_tokens": 10, "completion_tokens": 5, "cost_usd": 0.25, "calls": 1, "steps": 1,
                   "active_seconds": 1.5},
    ev.RUN_RESULT: {"result": "Done."},
    ev.RUN_FORKED: {"parent": "r1", "from_subtasks": ["t3"], "edited": ["t2"], "reused": ["t1", "t2"],
                    "rerun": ["t3", "t4"], "changes": ["objective"]},
    ev.DISCUSSION_CONTRIBUTION: {"message_id": 3, "agent": "ana", "content": "I would start with data."},
    ev.PLAN_PROPOSED: {"version": 1, "plan": PLAN, "fallback": False, "errors": []},
    ev.PLAN_CHANGED: {"action": "add", "subtask_id": "t2", "by": "user", "version": 2, "source": "cli",
                      "subtask": {"id": "t2", "agent": "a", "description": "more", "depends_on": ["t1"]},
                      "reset": [], "blocked": []},
    ev.PLAN_APPROVED: {"version": 1, "by": "human"},
    ev.PLAN_REJECTED: {"version": 1, "feedback": "more checks"},
    ev.SUBTASK_STATUS: {"subtask_id": "t1", "agent": "ana", "status": "done", "output": "found"},
    ev.MESSAGE_ADDED: {"message_id": 4, "agent": "ana", "subtask_id": "t1", "role": "assistant",
                       "phase": "execution", "content": "found", "prompt_tokens": 3, "completion_tokens": 2,
                       "cost_usd": 0.0},
    ev.STREAM_DELTA: {"agent": "ana", "subtask_id": "t1", "phase": "execution", "text": "fou"},
    ev.CONSULTATION_STARTED: {"id": 1, "subtask_id": "t1", "asker": "ana", "peer": "bob", "question": "Why?",
                              "depth": 1},
    ev.CONSULTATION_FINISHED: {"id": 1, "subtask_id": "t1", "asker": "ana", "peer": "bob", "tokens": 9,
                               "cost_usd": 0.0, "seconds": 0.5, "answer": "Because."},
    ev.INTERVENTION: {"id": 2, "kind": "guidance", "subtask_id": None, "text": "Be brief", "source": "tui"},
    ev.INTERVENTION_APPLIED: {"id": 2, "kind": "pause", "by": "host:1", "applied": False,
                              "reason": "stale: the process it was meant for had stopped"},
    ev.HELP_REQUESTED: {"subtask_id": "t1", "agent": "ana", "question": "Which year?"},
    ev.MEMORY_RECALLED: {"subtask_id": "t1", "agent": "bob", "phase": "consultation",
                         "items": [{"id": 7, "text": "Tromsø is cold", "kind": "fact", "score": 0.9}]},
    ev.MEMORY_STORED: {"id": 7, "kind": "lesson", "agent": None, "source_execution": "r1", "embedded": True,
                       "text": "Check the units"},
    ev.MEMORY_FORGOTTEN: {"id": 7, "kind": "fact", "agent": "ana"},
    ev.MEMORY_REEMBEDDED: {"embedder": "hash", "dim": 256, "space": 2, "embedded": 12,
                           "dropped_spaces": ["hash/128"]},
    ev.MEMORY_LESSONS_SKIPPED: {"reason": "the leader's lessons call failed: down", "fallback": 2},
    ev.TOOL_CALLED: {"subtask_id": "t1", "agent": "ana", "tool": "write_file",
                     "arguments": {"path": "a.txt", "content": "hi"}, "ms": 1.25, "result": "wrote a.txt",
                     "files": [{"path": "a.txt", "sha256": "ab", "size": 2}], "approval_id": 3},
    ev.IMAGE_GENERATED: {"subtask_id": "t2", "agent": "media", "path": "images/cover.png",
                         "prompt": "a lighthouse at dusk", "model": "openai/gpt-image-1", "size": "1024x1024",
                         "bytes": 69, "sha256": "ab", "revised_prompt": None},
    ev.TOOL_APPROVAL_REQUESTED: {"id": 3, "subtask_id": "t1", "agent": "ana", "tool": "shell",
                                 "arguments": {"command": "ls"}},
    ev.TOOL_APPROVAL_DECIDED: {"id": 3, "subtask_id": "t1", "agent": "ana", "tool": "shell", "approved": True,
                               "by": "human", "reason": None},
    ev.MCP_SERVER_CHANGED: {"name": "fs", "action": "added", "transport": "stdio"},
    ev.SOURCE_RECORDED: {"subtask_id": "t1", "agent": "ana", "id": "S2", "kind": "page",
                         "url": "https://example.org", "title": "Example", "sha256": "ab", "chars": 120,
                         "updated": True},
    ev.CLAIMS_CHECKED: {"subtask_id": "t3", "agent": "checker", "checks": [
        {"source": "S9", "claim": "sales tripled", "verdict": "not_found", "evidence": "no source S9"}]},
    ev.REVIEW_VERDICT: {"round": 1, "message_id": 9, "ok": False, "overall": "needs work: t2",
                        "reasons": "t2 is thin", "verdicts": [{"subtask_id": "t2", "ok": False,
                                                               "reasons": "thin"}]},
    ev.REVIEW_DECIDED: {"round": 1, "decision": "rework", "feedback": "deeper", "subtasks": ["t2"],
                        "reopened": ["t2"], "by": "human"},
    ev.CARD_CHANGED: {"card": "c3", "action": "finished", "column": "done", "title": "Heat pumps",
                      "by": "host:12", "run_id": "r1", "note": None},
    ev.PROPOSAL_MADE: {"number": 1, "kind": "subtask", "by": "analyst", "subtask_id": "t2",
                       "summary": "writer: a glossary after t1", "reason": "terms", "status": "pending"},
    ev.PROPOSAL_DECIDED: {"number": 1, "kind": "subtask", "decision": "accepted", "by": "planner",
                          "reason": "needed", "version": 3},
    ev.FORK_FILES_RESTORED: {"subtasks": ["t1"], "files": ["notes.md"], "skipped": [], "commit": None},
    ev.WORKSPACE_CHANGED: {"action": "applied", "kind": "git", "source": "/home/u/repo",
                           "branch": "podium/run-r1", "commit": "abc123", "files": 2, "to": "main"},
}


def test_every_event_type_has_a_model_and_a_sample() -> None:
    constants = {v for k, v in vars(ev).items() if k.isupper() and isinstance(v, str)}
    assert set(ev.MODELS) == constants == set(SAMPLES)
    for type_, model in ev.MODELS.items():
        assert model.model_fields["type"].default == type_


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_each_type_round_trips_through_the_union_and_json(type_: str) -> None:
    sample = SAMPLES[type_]
    typed = ev.validate_payload(type_, sample)
    assert type(typed) is ev.MODELS[type_]
    # What the store writes (the arguments as JSON) reads back as the same model.
    back = ev.parse_payload(type_, json.loads(json.dumps(sample)))
    assert back == typed and not isinstance(back, UnparsedPayload)
    # The discriminated union tells the types apart by `type`.
    assert ev.PAYLOADS.validate_python({"type": type_, **sample}) == typed
    assert json.loads(json.dumps(typed.as_dict())) == json.loads(json.dumps(sample))


async def test_stored_events_read_back_typed(tmp_path: Path) -> None:
    async with await ProjectStore.open(tmp_path / "p.podium") as store:
        async with store.bus.subscribe() as queue:
            stored = [t for t in sorted(SAMPLES) if t != ev.STREAM_DELTA]

            def write(tx: Any) -> None:
                for type_ in stored:
                    tx.emit(type_, "r1", **SAMPLES[type_])

            await store.write(write)
            published = [queue.get_nowait() for _ in stored]
        read = await store.events_since(0)
    assert [e.type for e in read] == stored == [e.type for e in published]
    for got, live in zip(read, published, strict=True):
        assert got.payload == live.payload == ev.validate_payload(got.type, SAMPLES[got.type])


@pytest.mark.parametrize(("type_", "payload", "message"), [
    (ev.SUBTASK_STATUS, {"agent": "ana", "status": "done"}, "subtask_id"),  # missing
    (ev.SUBTASK_STATUS, {"subtask_id": "t1", "agent": "ana", "status": "exploded"}, "status"),  # wrong value
    (ev.RUN_USAGE, {"prompt_tokens": "many"}, "prompt_tokens"),  # wrong type
    (ev.RUN_STATUS, {"status": "running", "reson": "typo"}, "does not declare: reson"),  # unknown field
    ("run.exploded", {"status": "running"}, "no event type 'run.exploded'"),  # unknown type
])
async def test_a_wrong_payload_is_refused_when_written_and_nothing_is_written(
        tmp_path: Path, type_: str, payload: dict[str, Any], message: str) -> None:
    async with await ProjectStore.open(tmp_path / "p.podium") as store:
        async with store.bus.subscribe() as queue:

            def write(tx: Any) -> None:
                tx.emit(ev.RUN_STATUS, "r1", status="running")  # a good one first: rolled back too
                tx.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
                tx.emit(type_, "r1", **payload)

            with pytest.raises(ev.InvalidEventError, match=message):
                await store.write(write)
            with pytest.raises(ev.InvalidEventError, match=message):
                await store.append_event(type_, "r1", **payload)
            assert queue.empty()
        assert await store.query("SELECT * FROM events") == []
        assert await store.query("SELECT * FROM meta WHERE key = 'k'") == []


def test_a_bad_stream_delta_is_refused_by_the_bus() -> None:
    from podium.store.bus import EventBus

    bus = EventBus()
    raw = Event.model_construct(seq=None, execution_id="r1", type=ev.STREAM_DELTA,
                                payload={"agent": "ana", "phase": "execution"}, created_at=1.0)
    with pytest.raises(ev.InvalidEventError, match="text"):
        bus.publish([raw])
    with pytest.raises(ev.InvalidEventError, match="not published"):
        bus.publish([Event(execution_id="r1", type=ev.STREAM_DELTA, payload={"agent": "ana"})])


async def test_a_good_stream_delta_reaches_subscribers_typed() -> None:
    from podium.store.bus import EventBus

    bus = EventBus()
    async with bus.subscribe("r1") as queue:
        bus.publish([Event.model_construct(seq=None, execution_id="r1", type=ev.STREAM_DELTA,
                                           payload=dict(SAMPLES[ev.STREAM_DELTA]), created_at=1.0)])
        got = queue.get_nowait()
    assert isinstance(got.payload, ev.StreamDelta) and got.payload.text == "fou"


# Rows as an older Podium wrote them (fewer fields), a newer one (more fields, a new type),
# and a damaged one: all read, none raises; the fold takes what it understands.
OLD_ROWS: list[tuple[str, dict[str, Any]]] = [
    (ev.RUN_CREATED, {"objective": "Old run", "team": "research", "model": "m", "budget": {"tokens": 900}}),
    (ev.PLAN_PROPOSED, {"version": 1, "plan": PLAN, "fallback": False}),
    (ev.SUBTASK_STATUS, {"subtask_id": "t1", "agent": "ana", "status": "running"}),
    (ev.MESSAGE_ADDED, {"message_id": 1, "agent": "ana", "subtask_id": "t1", "role": "assistant",
                        "phase": "execution", "content": "x", "tokens": 40}),
    (ev.RUN_USAGE, {"prompt_tokens": 30, "completion_tokens": 10, "cost_usd": 0.0, "calls": 1, "steps": 1}),
    (ev.RUN_STATUS, {"status": "completed", "why": "a field from a newer writer"}),
    ("board.moved", {"card": "t1"}),
    (ev.SUBTASK_STATUS, {"subtask_id": "t2", "status": "melted"}),
]


async def test_old_format_rows_still_parse(tmp_path: Path) -> None:
    async with await ProjectStore.open(tmp_path / "p.podium") as store:

        def seed(tx: Any) -> None:  # raw rows, as an older (or newer) Podium left them
            for i, (type_, payload) in enumerate(OLD_ROWS):
                tx.execute("INSERT INTO events (execution_id, type, payload, created_at) VALUES (?, ?, ?, ?)",
                           ("r1", type_, json.dumps(payload), 100.0 + i))

        await store.write(seed)
        events = await store.events_since(0, "r1")
    created, plan, status, message, usage, done, unknown, damaged = (e.payload for e in events)
    assert isinstance(created, ev.RunCreated) and created.agents == [] and created.leader is None
    assert created.budget.tokens == 900 and isinstance(plan, ev.PlanProposed) and plan.errors is None
    assert isinstance(status, ev.SubtaskStatusChanged) and status.status is SubtaskStatus.RUNNING
    assert isinstance(message, ev.MessageAdded) and message.model_extra == {"tokens": 40}
    assert isinstance(usage, ev.RunUsageRecorded) and usage.active_seconds == 0.0
    assert isinstance(done, ev.RunStatusChanged) and done.status is ExecutionStatus.COMPLETED
    assert isinstance(unknown, UnparsedPayload) and unknown.raw == {"card": "t1"}
    assert isinstance(damaged, UnparsedPayload) and "status" in damaged.problem
    state = RunState.fold("r1", events)
    assert state.objective == "Old run" and state.budget.tokens == 900 and state.usage.tokens == 40
    assert state.status is ExecutionStatus.COMPLETED and set(state.subtasks) == {"t1", "t2"}
    assert state.last_seq == len(OLD_ROWS)


def _event(seq: int, type_: str, **payload: Any) -> Event:
    return Event(seq=seq, execution_id="r1", type=type_, payload=payload, created_at=1000.0 + seq)


def test_the_headless_views_fold_with_the_shared_reducer(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    log = [
        _event(1, ev.PLAN_PROPOSED, **SAMPLES[ev.PLAN_PROPOSED]),
        _event(2, ev.RUN_STATUS, status="running"),
        _event(3, ev.SUBTASK_STATUS, subtask_id="t1", agent="ana", status="running"),
        _event(4, ev.MESSAGE_ADDED, **SAMPLES[ev.MESSAGE_ADDED]),
        _event(5, ev.SUBTASK_STATUS, subtask_id="t2", agent="bob", status="failed", error="no data"),
        _event(6, ev.MEMORY_STORED, **SAMPLES[ev.MEMORY_STORED]),
        _event(7, ev.RUN_USAGE, **SAMPLES[ev.RUN_USAGE]),
    ]
    live = LiveProgress(Console(file=io.StringIO(), width=120), "Heat pumps", "research", "local")
    lines = JsonLines()
    for e in log:
        live.handle(e)
        lines.handle(e)
    live.handle(Event(execution_id="r1", type=ev.STREAM_DELTA, payload=SAMPLES[ev.STREAM_DELTA]))
    expected = RunState.fold("r1", log)
    for view in (live.state, lines.state):
        assert view.status is expected.status is ExecutionStatus.RUNNING
        assert {k: t.status for k, t in view.subtasks.items()} == {"t1": "running", "t2": "failed"}
        assert view.usage == expected.usage and view.subtasks["t1"].usage.tokens == 5
    assert live.lessons == [(None, "Check the units")] and live.streaming == {"t1": "fou"}
    console = Console(file=io.StringIO(), width=120, record=True)
    console.print(live.render())
    shown = console.export_text()
    assert "running  0/2 done · 1 running · tokens 15 · $0.2500 · steps 1" in shown
    assert "no data" in shown and "fou" in shown
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [p["seq"] for p in printed] == list(range(1, 8))  # the delta is not printed
    assert printed[4] == {"seq": 5, "type": ev.SUBTASK_STATUS, "execution_id": "r1", "created_at": 1005.0,
                          "subtask_id": "t2", "agent": "bob", "status": "failed", "error": "no data"}


def test_run_settings_payload_carries_every_run_setting() -> None:
    fields = set(ev.RunSettingsRecorded.model_fields) - {"type", "source", "changed"}
    assert fields == set(RunSettings.model_fields)
    settings = RunSettings(model="openai/x", allow_tools=["shell"], concurrency=2)
    recorded = ev.validate_payload(ev.RUN_SETTINGS, {"source": "run", "changed": [], **settings.model_dump()})
    assert isinstance(recorded, ev.RunSettingsRecorded) and recorded.settings == settings

