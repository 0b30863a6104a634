"""One live connection to an MCP server, over the official `mcp` SDK.

The SDK's Client is an async context manager built on anyio task groups,
which must be entered and exited by the same task. So each connection has
an owner task that enters the client, reports ready, and waits to be told
to stop; calls from any subtask's task go through the shared session.

A server that will not start, crashes or hangs raises MCPCallError with a
message meant for the agent; the connection is torn down and started again
on the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable
from typing import IO, Any

from podium.tools.mcp_registry import MCPServerConfig

START_TIMEOUT = 30.0
STOP_TIMEOUT = 8.0


class MCPCallError(Exception):
    """A failure of the server or the connection (not of the tool's own work)."""


class MCPConnection:
    def __init__(self, config: MCPServerConfig, secret: Callable[[str], str]) -> None:
        self.config = config
        self._secret = secret
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._errlog: IO[str] | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self.tools: list[dict[str, Any]] = []
        self.starts = 0

    @property
    def alive(self) -> bool:
        return self._client is not None and self._task is not None and not self._task.done()

    # ------------------------------------------------------------ lifecycle

    async def ensure(self, start_timeout: float = START_TIMEOUT) -> list[dict[str, Any]]:
        """Start the server if it is not running; return its tools."""
        async with self._lock:
            if self.alive:
                return self.tools
            await self._stop_owner()
            await self._await_retiring()
            ready: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._own(ready, self._stop), name=f"mcp:{self.config.name}")
            self.starts += 1
            try:
                self.tools = await asyncio.wait_for(asyncio.shield(ready), start_timeout)
            except TimeoutError:
                await self._stop_owner()
                raise MCPCallError(
                    f"MCP server {self.config.name!r} did not start within {start_timeout:g}s"
                    + self._stderr_hint()
                ) from None
            except MCPCallError:
                await self._stop_owner()
                raise
            return self.tools

    async def aclose(self) -> None:
        async with self._lock:
            await self._stop_owner()
            await self._await_retiring()
        if self._errlog is not None:
            self._errlog.close()
            self._errlog = None

    def _retire(self) -> None:
        """Drop a failed session now and let it wind down in the background, so the
        agent hears about the failure at once instead of after the server's shutdown."""
        task, stop = self._detach()
        if task is None:
            return
        stopping = asyncio.create_task(_wind_down(task, stop))
        self._retiring.add(stopping)
        stopping.add_done_callback(self._retiring.discard)

    async def _await_retiring(self) -> None:
        if self._retiring:
            await asyncio.gather(*list(self._retiring), return_exceptions=True)

    def _detach(self) -> tuple[asyncio.Task[None] | None, asyncio.Event | None]:
        task, stop = self._task, self._stop
        self._task, self._stop, self._client = None, None, None
        return task, stop

    async def _stop_owner(self) -> None:
        task, stop = self._detach()
        if task is not None:
            await _wind_down(task, stop)

    async def _own(self, ready: asyncio.Future[list[dict[str, Any]]], stop: asyncio.Event) -> None:
        from mcp import Client

        client: Any = None
        try:
            transport, extra = self._transport()
            async with contextlib.AsyncExitStack() as stack:
                for cm in extra:
                    await stack.enter_async_context(cm)
                client = await stack.enter_async_context(
                    Client(transport, read_timeout_seconds=self.config.timeout_s)
                )
                listing = await client.list_tools()
                tools = [_tool_dict(t) for t in listing.tools]
                self._client = client
                ready.set_result(tools)
                await stop.wait()
        except asyncio.CancelledError:
            if not ready.done():
                ready.set_exception(MCPCallError(f"MCP server {self.config.name!r} start was cancelled"))
            raise
        except BaseException as exc:  # the SDK raises ExceptionGroups from its task groups
            if not ready.done():
                ready.set_exception(
                    MCPCallError(
                        f"MCP server {self.config.name!r} will not start: {_describe(exc)}"
                        + self._stderr_hint()
                    )
                )
        finally:
            if client is not None and self._client is client:  # a newer session may own the slot
                self._client = None

    def _transport(self) -> tuple[Any, list[Any]]:
        cfg = self.config
        secrets = {name: self._secret(name) for name in cfg.secrets}
        if cfg.transport == "http":
            from mcp.client.streamable_http import streamable_http_client
            from mcp.shared._httpx_utils import create_mcp_http_client

            headers = {"Authorization": f"Bearer {secrets[cfg.secrets[0]]}"} if cfg.secrets else None
            http = create_mcp_http_client(headers=headers)
            return streamable_http_client(cfg.url or "", http_client=http), [http]
        from mcp.client.stdio import StdioServerParameters, stdio_client

        if self._errlog is None:
            # The server's stderr goes to a private temp file, never our terminal or a log.
            # It lives as long as the connection (closed in aclose), so no `with` here.
            self._errlog = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")  # noqa: SIM115
        params = StdioServerParameters(
            command=cfg.command or "",
            args=cfg.args,
            env={**cfg.env, **secrets},
            cwd=cfg.cwd,
        )
        return stdio_client(params, errlog=self._errlog), []  # type: ignore[arg-type]  # a text file

    def _stderr_hint(self) -> str:
        if self._errlog is None:
            return ""
        try:
            fd = self._errlog.fileno()
            size = os.fstat(fd).st_size
            tail = os.pread(fd, 600, max(0, size - 600)).decode("utf-8", errors="replace").strip()
        except OSError:
            return ""
        last = " | ".join(line.strip() for line in tail.splitlines()[-3:] if line.strip())
        return f" (server said: {last[-300:]})" if last else ""

    # ------------------------------------------------------------ calls

    async def call(
        self, tool: str, arguments: dict[str, Any], timeout: float | None = None
    ) -> tuple[str, bool]:
        """(text, is_error) from the tool; MCPCallError when the server failed us."""
        await self.ensure()
        client = self._client
        if client is None:
            raise MCPCallError(f"MCP server {self.config.name!r} is not running")
        limit = timeout or self.config.timeout_s
        try:
            result = await asyncio.wait_for(
                client.call_tool(tool, arguments, read_timeout_seconds=limit), limit + 5
            )
        except Exception as exc:  # MCPError, TimeoutError, a broken stream...
            # After a hang or a crash the session cannot be trusted: restart it next time.
            hung = isinstance(exc, TimeoutError) or "timed out" in str(exc)
            if self._client is client:
                self._retire()
            if hung:
                raise MCPCallError(
                    f"MCP server {self.config.name!r} did not answer {tool} within {limit:g}s; "
                    "it was stopped and will restart on the next call"
                ) from None
            raise MCPCallError(
                f"MCP server {self.config.name!r} failed during {tool}: {_describe(exc)}"
                + self._stderr_hint()
                + "; it will restart on the next call"
            ) from None
        return _result_text(result), bool(result.is_error)


async def _wind_down(task: asyncio.Task[None], stop: asyncio.Event | None) -> None:
    """Ask the owner task to leave its client context; cancel it if it will not."""
    if stop is not None:
        stop.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
    except (TimeoutError, Exception):
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


def _tool_dict(tool: Any) -> dict[str, Any]:
    annotations = tool.annotations
    return {
        "name": tool.name,
        "description": tool.description or (annotations.title if annotations and annotations.title else ""),
        "input_schema": tool.input_schema or {"type": "object", "properties": {}},
        "read_only": bool(annotations and annotations.read_only_hint),
    }


def _result_text(result: Any) -> str:
    parts: list[str] = []
    for block in result.content:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource":
            res = block.resource
            parts.append(getattr(res, "text", None) or f"[resource {res.uri}]")
        elif kind == "resource_link":
            parts.append(f"[resource {block.uri}]")
        else:
            parts.append(f"[{kind} content omitted]")
    if not parts and result.structured_content is not None:
        import json

        parts.append(json.dumps(result.structured_content, default=str))
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    """The innermost meaningful message of an exception (groups included)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        text = f"command not found ({exc.filename or text})"
    return text.splitlines()[0][:300] if text else type(exc).__name__
