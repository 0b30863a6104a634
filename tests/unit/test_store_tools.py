"""The tool repositories on a real project file: call records with their files,
agents' tool lists from a stored team, registered MCP servers."""

from __future__ import annotations

import json

import pytest

from podium import events
from podium.errors import NotFoundError, PodiumError
from podium.store import ProjectStore
from podium.store.mcp_servers import MCPServerRecord, MCPServerRepository
from podium.store.tools import ToolRepository
from podium.tools.workspace import FileRecord

TEAM = {"agents": [{"name": "coder", "tools": ["files", "shell"]}, {"name": "writer"}]}


async def _run(store: ProjectStore, run_id: str, team_json: str = json.dumps(TEAM)) -> None:
    await store.write(lambda tx: tx.execute(
        "INSERT INTO executions (id, objective, team, team_json, status, created_at, updated_at)"
        " VALUES (?, 'x', 'software', ?, 'running', 0, 0)", (run_id, team_json),
    ).close())


async def _called(store: ProjectStore) -> list[dict]:
    rows = await store.query("SELECT payload FROM events WHERE type = ? ORDER BY seq", (events.TOOL_CALLED,))
    return [json.loads(r[0]) for r in rows]


def _file(path: str, content: bytes) -> FileRecord:
    return FileRecord(path=path, sha256=f"sha-{content!r}", size=len(content), is_text=True, content=content)


async def test_a_call_keeps_its_files_with_its_event_and_the_last_version_wins(store):
    repo = ToolRepository(store)
    await _run(store, "r1")
    payload = {"subtask_id": "t1", "agent": "coder", "tool": "write_file", "arguments": {}, "ms": 1.0}
    stored = await repo.record_call("r1", subtask_id="t1", agent="coder", tool="write_file",
                                    files=[_file("a.py", b"one")], payload=payload, approval_id=7)
    assert stored == [{"path": "a.py", "sha256": "sha-b'one'", "size": 3}]
    await repo.record_call("r1", subtask_id="t2", agent="coder", tool="write_file",
                           files=[_file("a.py", b"second")], payload=payload)
    (f,) = await repo.workspace_files("r1")
    assert (f.content, f.subtask_id, f.size) == (b"second", "t2", 6)
    first, second = await _called(store)
    assert first == {**payload, "files": stored, "approval_id": 7}
    assert list(first)[-2:] == ["files", "approval_id"]
    assert "approval_id" not in second


async def test_files_of_a_call_outside_a_stored_run_are_not_kept_but_the_call_is(store):
    repo = ToolRepository(store)
    payload = {"subtask_id": None, "agent": "a", "tool": "write_file", "arguments": {}, "ms": 1.0}
    assert await repo.record_call("nope", subtask_id=None, agent="a", tool="write_file",
                                  files=[_file("a.py", b"x")], payload=payload) == []
    assert await repo.record_call(None, subtask_id=None, agent="a", tool="write_file",
                                  files=[_file("a.py", b"x")], payload=payload) == []
    assert await _called(store) == [payload, payload]
    with pytest.raises(NotFoundError):
        await repo.workspace_files("nope")


async def test_agent_tools_come_from_the_stored_team_and_tolerate_a_bad_one(store):
    repo = ToolRepository(store)
    await _run(store, "r1")
    await _run(store, "r2", team_json="{not json")
    assert await repo.agent_tools("r1", "coder") == ["files", "shell"]
    assert await repo.agent_tools("r1", "writer") == []
    assert await repo.agent_tools("r1", "stranger") == []
    assert await repo.agent_tools("r2", "coder") == []
    assert await repo.agent_tools("missing", "coder") == []


async def test_mcp_servers_need_replace_to_change_and_replacing_forgets_the_listing(store):
    repo = MCPServerRepository(store)
    server = MCPServerRecord(name="calc", transport="stdio", command="calc-server", secrets=["CALC_KEY"])
    await repo.add(server)
    with pytest.raises(PodiumError, match="--replace"):
        await repo.add(server)
    await repo.cache_tools("calc", [{"name": "add"}])
    assert (await repo.get("calc")).tools == [{"name": "add"}]
    await repo.add(MCPServerRecord(name="calc", transport="http", url="http://x"), replace=True)
    got = await repo.get("calc")
    assert (got.transport, got.url, got.tools, got.secrets) == ("http", "http://x", None, [])
    assert [s.name for s in await repo.enabled()] == ["calc"]
    await repo.remove("calc")
    with pytest.raises(NotFoundError):
        await repo.remove("calc")
    assert await repo.enabled() == []
