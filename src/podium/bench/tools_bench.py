"""Tool benchmark: what a call through the ToolBox costs on top of the tool itself.

For a built-in (read_file) and an MCP tool (a tiny stdio server started
here with the `mcp` SDK) it prints the median and p95 of a full ToolBox
call (argument checks, policy, the tool, secret scrubbing, and the durable
TOOL_CALLED event) next to the bare tool, plus the MCP server's start time.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

SERVER = '''
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("bench")


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


if __name__ == "__main__":
    app.run()
'''


async def _time(n: int, fn: Callable[[], Awaitable[Any]]) -> list[float]:
    await fn()  # warm up
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(n: int = 200) -> dict[str, float]:
    from podium.domain import Agent, Execution, ExecutionStatus, Team
    from podium.secrets.vault import Vault
    from podium.store import ProjectStore
    from podium.store.runs import RunRepository
    from podium.tools.builtins import BUILTINS, Env, ReadArgs
    from podium.tools.mcp_registry import MCPServerConfig, add_server
    from podium.tools.toolbox import ToolBox
    from podium.tools.types import ToolContext

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "server.py").write_text(SERVER)
        store = await ProjectStore.open(root / "bench.podium")
        team = Team(name="bench", leader="bench", agents=[Agent(name="bench", role="bench")])
        await RunRepository(store).create_execution(
            Execution(id="bench", objective="bench", team="bench", status=ExecutionStatus.RUNNING), team)
        await add_server(
            store,
            MCPServerConfig(
                name="bench", transport="stdio", command=sys.executable, args=[str(root / "server.py")]
            ),
        )
        box = await ToolBox.open(store, vault=Vault(root / "config", backend="file"))
        ctx = ToolContext(execution_id="bench", subtask_id="t1", agent="bench")
        try:
            await box.call("write_file", {"path": "notes.txt", "content": "hello\n" * 100}, ctx=ctx)
            env = Env(workspace=box.workspace("bench"), ctx=ctx, allow_network=False)
            args = ReadArgs(path="notes.txt")
            bare_read = await _time(n, lambda: BUILTINS["read_file"].impl(args, env))
            full_read = await _time(n, lambda: box.call("read_file", {"path": "notes.txt"}, ctx=ctx))

            start = time.perf_counter()
            await box.start("bench")
            figures["mcp_start_ms"] = (time.perf_counter() - start) * 1000
            conn = box._connections["bench"]
            bare_mcp = await _time(n, lambda: conn.call("add", {"a": 1, "b": 2}))
            full_mcp = await _time(n, lambda: box.call("bench__add", {"a": 1, "b": 2}, ctx=ctx))
        finally:
            await box.aclose()
            await store.close()

    print(f"tools benchmark ({n} calls each; full = through ToolBox.call with its durable event)")
    print(f"  {'':<28}{'median ms':>10}{'p95 ms':>10}")
    for label, samples in (
        ("read_file, bare", bare_read),
        ("read_file, full call", full_read),
        ("MCP stdio add, bare", bare_mcp),
        ("MCP stdio add, full call", full_mcp),
    ):
        med, p95 = statistics.median(samples), _p(samples, 0.95)
        key = label.replace(", ", "_").replace(" ", "_").lower()
        figures[f"{key}_median_ms"] = med
        figures[f"{key}_p95_ms"] = p95
        print(f"  {label:<28}{med:>10.3f}{p95:>10.3f}")
    builtin_overhead = statistics.median(full_read) - statistics.median(bare_read)
    mcp_overhead = statistics.median(full_mcp) - statistics.median(bare_mcp)
    figures["builtin_overhead_ms"] = builtin_overhead
    figures["mcp_overhead_ms"] = mcp_overhead
    print(
        f"  ToolBox overhead per call: built-in {builtin_overhead:.3f} ms, MCP {mcp_overhead:.3f} ms (median)"
    )
    print(f"  MCP server start (spawn, handshake, tools/list): {figures['mcp_start_ms']:.0f} ms")
    return figures
