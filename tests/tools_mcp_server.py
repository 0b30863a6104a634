"""A tiny real MCP server for the tests, written with the official `mcp` SDK.

python tests/tools_mcp_server.py                 # stdio
python tests/tools_mcp_server.py --http PORT     # streamable HTTP on 127.0.0.1:PORT/mcp,
                                                 # requiring `Authorization: Bearer $TINY_TOKEN`
python tests/tools_mcp_server.py --fail          # exits before speaking MCP (a broken server)
"""

from __future__ import annotations

import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

app = MCPServer("tiny")


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def shout(text: str) -> str:
    """Upper-case a text (a tool with side effects, for approval tests)."""
    return text.upper()


@app.tool()
def echo_env(name: str) -> str:
    """Return the value of an environment variable of the server process."""
    return os.environ.get(name, "<unset>")


@app.tool()
def slow(seconds: float) -> str:
    """Block for a while (a hung server)."""
    time.sleep(seconds)
    return "done"


@app.tool()
def crash() -> str:
    """Kill the server process mid-call."""
    os._exit(3)


def _http(port: int) -> None:
    import uvicorn

    token = os.environ.get("TINY_TOKEN", "")
    inner = app.streamable_http_app(streamable_http_path="/mcp")

    async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode() != f"Bearer {token}":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
        await inner(scope, receive, send)

    uvicorn.run(guarded, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    if "--fail" in sys.argv:
        print("tiny: refusing to start (configuration missing)", file=sys.stderr)
        sys.exit(1)
    if "--http" in sys.argv:
        _http(int(sys.argv[sys.argv.index("--http") + 1]))
    else:
        app.run()
