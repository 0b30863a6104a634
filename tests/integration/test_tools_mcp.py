"""A real MCP server (tests/tools_mcp_server.py, written with the `mcp` SDK), over stdio and HTTP."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from podium.tools.mcp_registry import MCPServerConfig, add_server, get_server
from podium.tools.toolbox import ToolBox
from podium.tools.types import ToolContext
from tests.conftest import eventually_sync
from tests.tools_fixtures import store, vault  # noqa: F401  (fixtures)

SERVER = str(Path(__file__).resolve().parents[1] / "tools_mcp_server.py")
CTX = ToolContext(execution_id="run1", subtask_id="t1", agent="researcher")




def stdio(name: str = "tiny", *args: str, **kw) -> MCPServerConfig:
    return MCPServerConfig(name=name, transport="stdio", command=sys.executable, args=[SERVER, *args], **kw)


async def test_stdio_server_tools_are_listed_namespaced_and_called(store, vault):
    await add_server(store, stdio(timeout_s=5))
    async with await ToolBox.open(store, vault=vault, allow_tools=["tiny__*"]) as box:
        assert box.specs_for(None)[-1]["function"]["name"] == "fetch_url"  # not listed until started
        result = await box.call("tiny__add", {"a": 2, "b": 40}, ctx=CTX)
        assert result.ok and result.text == "42"
        names = [s["function"]["name"] for s in box.specs_for(None)]
        assert {"tiny__add", "tiny__shout", "tiny__echo_env"} <= set(names)
        add = next(i for i in box.catalogue() if i.name == "tiny__add")
        assert add.policy.value == "always"  # read-only hint: no approval needed
        shout = next(i for i in box.catalogue() if i.name == "tiny__shout")
        assert shout.policy.value == "ask"
        # Reused across calls (and subtasks): one start.
        assert (await box.call("tiny__shout", {"text": "hi"}, ctx=CTX)).text == "HI"
        assert box._connections["tiny"].starts == 1
        bad = await box.call("tiny__add", {"a": "two"}, ctx=CTX)
        assert "bad arguments for tiny__add" in bad.error
    # The listing was cached in the project file for the next run and `podium tools`.
    assert {t["name"] for t in (await get_server(store, "tiny")).tools} >= {"add", "shout"}


async def test_crash_and_hang_are_tool_errors_and_the_server_comes_back(store, vault):
    await add_server(store, stdio(timeout_s=1.5))
    async with await ToolBox.open(store, vault=vault, allow_tools=["*"]) as box:
        crashed = await box.call("tiny__crash", {}, ctx=CTX)
        assert "MCP server 'tiny' failed during crash" in crashed.error
        assert (await box.call("tiny__add", {"a": 1, "b": 1}, ctx=CTX)).text == "2"
        start = time.monotonic()
        hung = await box.call("tiny__slow", {"seconds": 30}, ctx=CTX)
        assert "did not answer slow within 1.5s" in hung.error
        assert time.monotonic() - start < 6
        assert (await box.call("tiny__add", {"a": 2, "b": 2}, ctx=CTX)).text == "4"
        assert box._connections["tiny"].starts == 3


async def test_a_server_that_will_not_start_is_a_clear_tool_error(store, vault):
    await add_server(store, stdio("broken", "--fail", timeout_s=5))
    await add_server(store, MCPServerConfig(name="ghost", transport="stdio", command="/no/such/binary"))
    async with await ToolBox.open(store, vault=vault, allow_tools=["*"]) as box:
        broken = await box.call("broken__anything", {}, ctx=CTX)
        assert "MCP server 'broken' will not start" in broken.error
        assert "refusing to start" in broken.error  # its stderr, so the user can fix it
        ghost = await box.call("ghost__x", {}, ctx=CTX)
        assert "command not found" in ghost.error
        # The built-ins still work: the run goes on.
        assert (await box.call("list_files", {}, ctx=CTX)).ok


async def test_secrets_reach_the_server_but_not_the_agent_or_the_file(store, vault):
    planted = "sk-mcp-PLANTED-5555"
    vault.set("TINY_SECRET", planted)
    await add_server(store, stdio(secrets=["TINY_SECRET"]))
    async with await ToolBox.open(store, vault=vault, allow_tools=["*"]) as box:
        result = await box.call("tiny__echo_env", {"name": "TINY_SECRET"}, ctx=CTX)
        assert result.text == "[secret TINY_SECRET]"  # the server had it; the agent sees its name
        leaked_env = await box.call("tiny__echo_env", {"name": "OPENAI_API_KEY"}, ctx=CTX)
        assert leaked_env.text == "<unset>"
    blob = await store.run(lambda c: "\n".join(str(tuple(r)) for r in c.execute("SELECT * FROM events")))
    assert planted not in blob and "TINY_SECRET" in blob


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def http_server(tmp_path):
    port = _free_port()
    token = "bearer-PLANTED-777"
    log = (tmp_path / "http.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, SERVER, "--http", str(port)],
        env={"PATH": "/usr/bin:/bin", "TINY_TOKEN": token},
        stdout=log,
        stderr=log,
    )

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return False
        return True

    eventually_sync(listening, what=f"the MCP test server on port {port}", timeout=30, interval=0.1,
                    detail=lambda: f"exit code {proc.poll()}")
    yield f"http://127.0.0.1:{port}/mcp", token
    proc.terminate()
    proc.wait(10)
    log.close()


async def test_streamable_http_server_with_a_token_from_the_vault(store, vault, http_server):
    url, token = http_server
    vault.set("TINY_TOKEN", token)
    vault.set("WRONG_TOKEN", "not-the-token")
    await add_server(store, MCPServerConfig(name="web", transport="http", url=url, secrets=["TINY_TOKEN"]))
    await add_server(store, MCPServerConfig(name="nope", transport="http", url=url, secrets=["WRONG_TOKEN"]))
    async with await ToolBox.open(store, vault=vault, allow_tools=["*"]) as box:
        result = await asyncio.wait_for(box.call("web__add", {"a": 20, "b": 22}, ctx=CTX), 30)
        assert result.text == "42", result.error
        refused = await asyncio.wait_for(box.call("nope__add", {"a": 1, "b": 1}, ctx=CTX), 30)
        assert "MCP server 'nope' will not start" in refused.error
        assert "not-the-token" not in refused.error
