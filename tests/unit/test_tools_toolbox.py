"""The ToolBox: built-in calls, records, errors the agent reads, approvals, secrets."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import pytest

from podium import events
from podium.domain import Agent
from podium.store import ProjectStore
from podium.tools import builtins
from podium.tools.approvals import decide, list_approvals, set_policy
from podium.tools.toolbox import ToolBox
from podium.tools.types import Policy, ToolContext
from tests.conftest import eventually
from tests.tools_fixtures import store, vault  # noqa: F401  (fixtures)

CTX = ToolContext(execution_id="run1", subtask_id="t1", agent="developer")


@dataclasses.dataclass
class Reads:
    count: int = 0


def count_reads(project: ProjectStore) -> Reads:
    """Counts the reads made through `project` (query, query_one) from now on."""
    reads = Reads()
    for name in ("query", "query_one"):
        original = getattr(project, name)

        def counted(*args, _original=original, **kwargs):
            reads.count += 1
            return _original(*args, **kwargs)

        setattr(project, name, counted)
    return reads


async def _events(store, type_):
    rows = await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq", (type_,))
    return [json.loads(r["payload"]) for r in rows]


async def test_write_read_list_search_are_recorded_with_their_files(store, vault):
    box = await ToolBox.open(store, vault=vault)
    wrote = await box.call(
        "write_file", {"path": "pkg/fizz.py", "content": "def fizz():\n    return 1\n"}, ctx=CTX
    )
    assert wrote.ok and wrote.files == ["pkg/fizz.py"]
    assert (box.workspace("run1").root / "pkg" / "fizz.py").exists()
    assert (await box.call("read_file", {"path": "pkg/fizz.py"}, ctx=CTX)).text.startswith("def fizz")
    assert "pkg/fizz.py" in (await box.call("list_files", {}, ctx=CTX)).text
    assert "pkg/fizz.py:2:" in (await box.call("search_files", {"pattern": "return"}, ctx=CTX)).text

    row = await store.query_one("SELECT * FROM workspace_files WHERE execution_id = 'run1'")
    assert row["path"] == "pkg/fizz.py" and row["subtask_id"] == "t1" and row["agent"] == "developer"
    assert bytes(row["content"]).startswith(b"def fizz") and row["tool"] == "write_file"
    calls = await _events(store, events.TOOL_CALLED)
    assert [c["tool"] for c in calls] == ["write_file", "read_file", "list_files", "search_files"]
    assert calls[0]["files"][0]["path"] == "pkg/fizz.py" and calls[0]["arguments"]["path"] == "pkg/fizz.py"
    await box.aclose()


@pytest.mark.parametrize(
    ("name", "args", "expected"),
    [
        ("write_file", {"path": "../escape.txt", "content": "x"}, "'..' would leave the workspace"),
        ("write_file", {"path": "/tmp/abs.txt", "content": "x"}, "absolute paths"),
        ("write_file", {"path": "a.txt"}, "bad arguments for write_file: content: Field required"),
        ("write_file", '{"path": "a.txt", "content": ', "arguments are not valid JSON"),
        ("read_file", {"path": "missing.txt"}, "no such file"),
        ("teleport", {}, "unknown tool 'teleport'; available tools: read_file"),
        ("run_command", {"command": "true", "timeout": -1}, "bad arguments for run_command"),
    ],
)
async def test_bad_calls_are_tool_errors_not_exceptions(store, vault, name, args, expected):
    box = await ToolBox.open(store, vault=vault, allow_tools=["*"])
    result = await box.call(name, args, ctx=CTX)
    assert not result.ok and expected in result.error and result.text.startswith("ERROR: ")
    (event,) = await _events(store, events.TOOL_CALLED)
    assert expected in event["error"]


async def test_an_unexpected_crash_inside_a_tool_is_still_a_tool_error(store, vault, monkeypatch):
    async def boom(a, env):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(
        builtins.BUILTINS, "list_files", dataclasses.replace(builtins.BUILTINS["list_files"], impl=boom)
    )
    box = await ToolBox.open(store, vault=vault)
    result = await box.call("list_files", {}, ctx=CTX)
    assert "disk on fire" in result.error


async def test_command_timeout_is_a_tool_error_and_written_files_are_recorded(store, vault):
    box = await ToolBox.open(store, vault=vault, allow_tools=["run_command"])
    slow = await box.call("run_command", {"command": "sleep 20", "timeout": 0.3}, ctx=CTX)
    assert "timed out after 0.3s" in slow.error
    made = await box.call(
        "run_command", {"command": "mkdir -p out && echo 42 > out/answer.txt && echo ok"}, ctx=CTX
    )
    assert made.ok and made.text.startswith("exit code 0") and made.files == ["out/answer.txt"]
    row = await store.query_one("SELECT content, tool FROM workspace_files WHERE path = 'out/answer.txt'")
    assert bytes(row["content"]) == b"42\n" and row["tool"] == "run_command"


async def test_never_policy_refuses_and_hides_the_tool(store, vault):
    await set_policy(store, "run_command", Policy.NEVER)
    box = await ToolBox.open(store, vault=vault, allow_tools=["*"])
    assert "run_command" not in [s["function"]["name"] for s in box.specs_for(None)]
    result = await box.call("run_command", {"command": "echo hi"}, ctx=CTX)
    assert "policy: never" in result.error


async def test_agent_tool_lists_limit_what_it_sees_and_calls(store, vault):
    box = await ToolBox.open(store, vault=vault)
    writer = Agent(name="writer", role="writes", tools=["files"])
    names = [s["function"]["name"] for s in box.specs_for(writer)]
    assert names == ["read_file", "write_file", "list_files", "search_files"]
    everyone = [s["function"]["name"] for s in box.specs_for(Agent(name="dev", role="codes"))]
    assert "run_command" in everyone
    ctx = ToolContext(execution_id="run1", subtask_id="t1", agent="writer", agent_tools=["files"])
    assert (
        "writer may not use run_command" in (await box.call("run_command", {"command": "ls"}, ctx=ctx)).error
    )
    assert "write_file" in box.prompt_for(writer) and "run_command" not in box.prompt_for(writer)
    assert '"action": "tool"' in box.prompt_for(writer)


async def test_ask_pauses_until_approved_in_process(store, vault):
    seen = []

    async def hook(request):
        seen.append(request)

    box = await ToolBox.open(store, vault=vault, on_approval=hook, approval_poll=0.05)
    reads = count_reads(store)
    call = asyncio.create_task(box.call("run_command", {"command": "echo approved-run"}, ctx=CTX))
    await eventually(lambda: seen, what="the approval hook")
    # The waiting call polls the file for a decision (and for an answer); once a second round has
    # begun, the first found none, and the call still waits.
    after_hook = reads.count
    await eventually(lambda: reads.count >= after_hook + 3, what="the waiting call polling for a decision")
    assert not call.done(), "the call must wait for a decision"
    (request,) = seen
    assert request.tool == "run_command" and request.subtask_id == "t1" and request.agent == "developer"
    await request.approve(by="tui")
    result = await call
    assert result.ok and "approved-run" in result.text and result.approval_id == request.id
    (decision,) = await _events(store, events.TOOL_APPROVAL_DECIDED)
    assert decision["approved"] is True and decision["by"] == "tui"


async def test_deny_from_another_process_reaches_the_waiting_agent(store, vault, tmp_path):
    box = await ToolBox.open(store, vault=vault, approval_poll=0.05)
    call = asyncio.create_task(box.call("run_command", {"command": "touch should-not-exist"}, ctx=CTX))
    other = await ProjectStore.open(tmp_path / "p.podium")  # a second connection, as `podium approve` has
    try:
        pending = await eventually(lambda: list_approvals(other, "run1", pending_only=True),
                                   what="the pending approval, seen from the second connection")
        await decide(other, pending[0].id, False, by="cli", reason="not on my machine")
    finally:
        await other.close()
    result = await asyncio.wait_for(call, 5)
    assert result.error == "run_command was denied by cli: not on my machine"
    assert not (box.workspace("run1").root / "should-not-exist").exists()


async def test_allow_tools_approves_up_front_and_records_the_decision(store, vault):
    box = await ToolBox.open(store, vault=vault, allow_tools=["run_command"])
    result = await box.call("run_command", {"command": "echo fine"}, ctx=CTX)
    assert result.ok
    (record,) = await list_approvals(store, "run1")
    assert record.status == "approved" and record.decided_by == "--allow-tools"


async def test_aclose_denies_what_still_waits(store, vault):
    box = await ToolBox.open(store, vault=vault, approval_poll=0.05)
    call = asyncio.create_task(box.call("run_command", {"command": "echo x"}, ctx=CTX))
    await eventually(lambda: box.approvals.pending, what="the pending approval")
    await box.aclose()
    assert "denied by podium" in (await call).error


async def test_known_secrets_never_reach_the_agent_or_the_file(store, vault):
    planted = "PLANTED-secret-value-42"
    vault.set("API_TOKEN", planted)
    box = await ToolBox.open(store, vault=vault, allow_tools=["*"])
    result = await box.call("write_file", {"path": "notes.txt", "content": f"token is {planted}"}, ctx=CTX)
    read = await box.call("read_file", {"path": "notes.txt"}, ctx=CTX)
    assert planted not in read.text and "[secret API_TOKEN]" in read.text
    assert result.ok
    dump = await store.run(
        lambda c: "\n".join(
            str(tuple(r))
            for t in ("events", "workspace_files")
            for r in c.execute(f"SELECT * FROM {t}").fetchall()
        )
    )
    assert planted not in dump


async def test_context_from_the_engine_port_is_accepted(store, vault):
    class EngineContext:  # the orchestrator's own ToolContext shape
        execution_id = "run1"
        subtask_id = "t9"
        agent = "tester"

    box = await ToolBox.open(store, vault=vault)
    result = await box.call("list_files", None, ctx=EngineContext())
    assert result.ok
    (event,) = await _events(store, events.TOOL_CALLED)
    assert event["subtask_id"] == "t9" and event["agent"] == "tester"


async def test_the_run_team_limits_an_agent_the_engine_names_only(store, vault):
    team = {
        "name": "t",
        "leader": "lead",
        "agents": [
            {"name": "lead", "role": "leads"},
            {"name": "writer", "role": "writes", "tools": ["files"]},
        ],
    }
    await store.write(
        lambda tx: tx.execute("UPDATE executions SET team_json = ? WHERE id = 'run1'", (json.dumps(team),))
    )
    box = await ToolBox.open(store, vault=vault, allow_tools=["*"])
    writer = ToolContext(execution_id="run1", subtask_id="t1", agent="writer")
    assert (
        "writer may not use run_command"
        in (await box.call("run_command", {"command": "ls"}, ctx=writer)).error
    )
    assert (await box.call("write_file", {"path": "a.md", "content": "#"}, ctx=writer)).ok
    lead = ToolContext(execution_id="run1", subtask_id="t2", agent="lead")
    assert (await box.call("run_command", {"command": "true"}, ctx=lead)).ok


async def test_memory_search_uses_the_memory_service(store, vault):
    from podium.memory.embedders import HashedEmbedder
    from podium.memory.service import MemoryService

    memory = MemoryService(store, HashedEmbedder(), gateway_factory=None)
    await memory.add_fact("Customers are mostly in Tromsø and heat with oil.")
    without = await ToolBox.open(store, vault=vault)
    assert "memory_search" not in [i.name for i in without.catalogue()]
    box = await ToolBox.open(store, vault=vault, memory=memory)
    result = await box.call("memory_search", {"query": "where are the customers"}, ctx=CTX)
    assert result.ok and "Tromsø" in result.text


async def test_waiting_for_approval_moves_the_card_to_needs_help_and_back(store, vault):
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO subtasks (execution_id, id, position, agent, description, status)"
            " VALUES ('run1', 't1', 0, 'developer', 'code', 'running')"
        )
    )
    box = await ToolBox.open(store, vault=vault, approval_poll=0.05)
    call = asyncio.create_task(box.call("run_command", {"command": "true"}, ctx=CTX))
    await eventually(lambda: box.approvals.pending, what="the pending approval")
    status = lambda: store.query_one("SELECT status FROM subtasks WHERE id = 't1'")  # noqa: E731
    assert (await status())["status"] == "needs_help"
    await box.approvals.pending[0].approve()
    assert (await call).ok
    assert (await status())["status"] == "running"
    moves = [e["status"] for e in await _events(store, events.SUBTASK_STATUS)]
    assert moves == ["needs_help", "running"]


async def test_a_halt_while_waiting_withdraws_the_request(store, vault):
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO subtasks (execution_id, id, position, agent, description, status)"
            " VALUES ('run1', 't1', 0, 'developer', 'code', 'running')"
        )
    )
    box = await ToolBox.open(store, vault=vault, approval_poll=0.05)
    call = asyncio.create_task(box.call("run_command", {"command": "true"}, ctx=CTX))
    await eventually(lambda: box.approvals.pending, what="the pending approval")
    call.cancel()  # what the engine does to in-flight turns on halt
    with pytest.raises(asyncio.CancelledError):
        await call
    (record,) = await list_approvals(store, "run1")
    assert record.status == "denied" and record.decided_by == "podium"
    row = await store.query_one("SELECT status FROM subtasks WHERE id = 't1'")
    assert row["status"] == "needs_help"  # left for the engine, which knows the run halted


@pytest.mark.parametrize(("answer", "approved"), [("yes, go ahead", True), ("No: too risky", False)])
async def test_podium_answer_to_the_waiting_subtask_decides_the_tool_call(store, vault, answer, approved):
    import time

    box = await ToolBox.open(store, vault=vault, approval_poll=0.05)
    call = asyncio.create_task(box.call("run_command", {"command": "echo via-answer"}, ctx=CTX))
    await eventually(lambda: box.approvals.pending, what="the pending approval")
    # What `podium answer RUN t1 ...` writes (the interventions table of the control channel).
    await store.write(
        lambda tx: tx.execute(
            "INSERT INTO interventions (execution_id, kind, subtask_id, text, source, created_at)"
            " VALUES ('run1', 'answer', 't1', ?, 'cli', ?)",
            (answer, time.time()),
        )
    )
    result = await asyncio.wait_for(call, 5)
    assert result.ok is approved
    (record,) = await list_approvals(store, "run1")
    assert record.decided_by == "podium answer"
    if not approved:
        assert result.error == "run_command was denied by podium answer: No: too risky"
