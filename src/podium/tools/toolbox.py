"""The ToolBox the engine is handed: tool specs per agent, calls, approvals, records.

`call()` never raises for a tool's failure: bad arguments, an unknown tool,
a path escape, a timeout, a crashed MCP server all come back as a
ToolResult with `error` set, which the agent reads and the transcript
shows. Each call is recorded as a TOOL_CALLED event, in the same
transaction as the rows of the workspace files it wrote. Secret values the
ToolBox knows (the vault's) are replaced by their names in everything an
agent sees or the project file stores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from podium.domain import Agent, Subtask
from podium.llm.images import ImageConfig, resolve_image
from podium.llm.search import SearchConfig, resolve_search
from podium.llm.types import ModelConfigError
from podium.secrets.vault import Vault, VaultError
from podium.store import ProjectStore
from podium.store.images import ImageLog
from podium.store.run_workspaces import RunWorkspaceRepository
from podium.store.sources import SourceRepository
from podium.store.tools import ToolRepository
from podium.tools import mcp_registry
from podium.tools.approvals import (
    ApprovalRequest,
    Approvals,
    effective_policy,
    load_policies,
    matches,
)
from podium.tools.builtins import BUILTINS, Env, schema_of
from podium.tools.mcp_client import MCPCallError, MCPConnection
from podium.tools.mcp_registry import SEPARATOR, MCPServerConfig, namespaced
from podium.tools.types import Policy, ToolContext, ToolError, ToolInfo, ToolResult
from podium.tools.workspace import FileRecord, Workspace, describe_file, workspace_root_for
from podium.tools.worktree_access import RepoAccess, repo_access

log = logging.getLogger(__name__)
ApprovalHook = Callable[[ApprovalRequest], Awaitable[None] | None]
RECORD_LIMIT = 4000  # characters of arguments/result kept in the event
# Names agents' and plans' tool lists may use for a group of tools.
GROUPS = {"files": "files", "workspace": "files", "shell": "shell", "web": "web", "search": "web",
          "memory": "memory", "claims": "claims"}
GROUPS |= {"images": "images", "image": "images"}  # generate_image (opt-in: the media agent's)
OFFLINE_ENV = "PODIUM_OFFLINE"
C = TypeVar("C", SearchConfig, ImageConfig)


def _configured(chosen: C | Literal["configured"] | None, resolve: Callable[[Path], C | None],
                project: Path) -> tuple[C | None, str | None]:
    """What the caller chose, or (`"configured"`) what `resolve` finds for the project, with why
    there is none when a setting is bad (the tool is off then; `podium tools` says why)."""
    if not isinstance(chosen, str):
        return chosen, None
    try:
        return resolve(project), None
    except ModelConfigError as exc:
        return None, str(exc)


class ToolBox:
    def __init__(
        self,
        store: ProjectStore,
        *,
        workspace_root: Path | None = None,
        vault: Vault | None = None,
        allow_tools: Iterable[str] = (),
        on_approval: ApprovalHook | None = None,
        offline: bool | None = None,
        memory: Any = None,
        approval_poll: float = 0.25,
        shell_network: bool = False,
        search: SearchConfig | Literal["configured"] | None = "configured",
        image: ImageConfig | Literal["configured"] | None = "configured",
    ) -> None:
        self.store = store
        self.workspace_root = Path(workspace_root) if workspace_root else workspace_root_for(store.path)
        self._vault = vault
        self.allow_tools = [p.strip() for p in allow_tools if p.strip()]
        self._run_allow: dict[str, list[str]] = {}  # run id -> patterns that run was started with
        self.on_approval = on_approval
        if offline is None:
            offline = os.environ.get(OFFLINE_ENV, "").lower() in ("1", "true", "yes")
        self.offline = offline
        self.memory = memory
        self.shell_network = shell_network
        self.approvals = Approvals(store, approval_poll)
        self.records = ToolRepository(store)
        self.sources = SourceRepository(store)
        # The web_search provider (podium.toml / $PODIUM_SEARCH) and the generate_image model
        # (podium.toml / $PODIUM_IMAGE_MODEL) next to the project file, unless the caller chose.
        self.search: SearchConfig | None
        self.image: ImageConfig | None
        self.search, self.search_error = _configured(search, resolve_search, store.path)
        self.image, self.image_error = _configured(image, resolve_image, store.path)
        self.images = ImageLog(store)
        self.run_workspaces = RunWorkspaceRepository(store)
        self._servers: dict[str, MCPServerConfig] = {}
        self._connections: dict[str, MCPConnection] = {}
        self._start_failures: dict[str, tuple[float, str]] = {}
        self._policies: dict[str, Policy] = {}
        self._secrets: dict[str, str] = {}  # value -> name, for scrubbing
        self._loaded = False
        self._team_tools: dict[tuple[str, str], list[str]] = {}

    def allow_for_run(self, run_id: str, patterns: Iterable[str]) -> None:
        """Approve these tools' calls up front in one run only (as its `--allow-tools` said)."""
        self._run_allow[run_id] = [p.strip() for p in patterns if p.strip()]

    @classmethod
    async def open(cls, store: ProjectStore, **kwargs: Any) -> ToolBox:
        box = cls(store, **kwargs)
        await box.reload()
        return box

    async def reload(self) -> None:
        """Read MCP servers and policy overrides from the project file."""
        self._servers = {s.name: s for s in await mcp_registry.list_servers(self.store)}
        self._policies = await load_policies(self.store)
        self._loaded = True

    async def _ensure_loaded(self) -> None:
        if not self._loaded:
            await self.reload()

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            self._vault = Vault()
        return self._vault

    def workspace(self, execution_id: str | None) -> Workspace:
        return Workspace(self.workspace_root / (execution_id or "scratch"))

    # ------------------------------------------------------------ catalogue

    def catalogue(self) -> list[ToolInfo]:
        """Every tool known now, with its effective policy: built-ins, then each MCP server's
        tools as last listed (a server starts only when a tool of it is called, or on `start()`)."""
        found: list[ToolInfo] = []
        for b in BUILTINS.values():
            if b.name == "fetch_url" and self.offline:
                continue
            if b.name == "memory_search" and self.memory is None:
                continue
            if b.name == "web_search" and (self.offline or self.search is None):
                continue
            if b.name == "generate_image" and (self.offline or self.image is None):
                continue
            via = f" (via {self.search.provider})" if b.name == "web_search" and self.search else ""
            if b.name == "generate_image" and self.image is not None:
                via = f" (model {self.image.model})"
            found.append(
                ToolInfo(
                    name=b.name,
                    source="builtin",
                    description=b.description + via,
                    policy=effective_policy(b.name, b.policy, self._policies),
                    parameters=schema_of(b.args),
                )
            )
        for server in self._servers.values():
            conn = self._connections.get(server.name)
            listing = conn.tools if conn is not None and conn.alive else server.tools or []
            for t in listing:
                name = namespaced(server.name, t["name"])
                default = Policy.ALWAYS if t.get("read_only") else Policy.ASK
                found.append(
                    ToolInfo(
                        name=name,
                        source=f"mcp:{server.name}",
                        description=t.get("description") or t["name"],
                        policy=effective_policy(name, default, self._policies),
                        parameters=t.get("input_schema") or {"type": "object", "properties": {}},
                    )
                )
        return found

    async def tools(self, *, start_servers: bool = False) -> list[ToolInfo]:
        """The catalogue, after (optionally) starting MCP servers to refresh their listings."""
        await self._ensure_loaded()
        if start_servers:
            await asyncio.gather(*(self.start(name) for name in self._servers))
        return self.catalogue()

    @property
    def servers(self) -> dict[str, MCPServerConfig]:
        return dict(self._servers)

    def start_error(self, server: str) -> str | None:
        failed = self._start_failures.get(server)
        return failed[1] if failed else None

    async def start(self, server: str, *, retry_after: float = 30.0) -> list[dict[str, Any]]:
        """Start (or reuse) an MCP server and refresh its cached tool listing.

        Raises ToolError with the reason when it will not start; a server that just
        failed is not retried for `retry_after` seconds, so every subtask does not wait on it.
        """
        await self._ensure_loaded()
        if server not in self._servers:
            raise ToolError(f"no MCP server named {server!r}")
        conn = self._connection(server)
        if conn.alive:
            return conn.tools
        failed = self._start_failures.get(server)
        if failed is not None and time.monotonic() - failed[0] < retry_after:
            raise ToolError(failed[1])
        try:
            tools = await conn.ensure()
        except (MCPCallError, VaultError) as exc:
            message = self.scrub(str(exc))
            self._start_failures[server] = (time.monotonic(), message)
            raise ToolError(message) from None
        self._start_failures.pop(server, None)
        config = self._servers[server]
        if tools != config.tools:
            config.tools = tools
            await mcp_registry.cache_tools(self.store, server, tools)
        return tools

    @staticmethod
    def allowed(wanted: list[str], info: ToolInfo) -> bool:
        """Whether an agent with this `tools` list may use a tool (an empty list: every tool)."""
        builtin = BUILTINS.get(info.name) if info.source == "builtin" else None
        if not wanted:
            return builtin is None or not builtin.opt_in
        group = builtin.group if builtin is not None else "mcp"
        server = info.source.removeprefix("mcp:") if info.source.startswith("mcp:") else None
        for entry in wanted:
            e = entry.strip().lower()
            if GROUPS.get(e) == group or (e == "mcp" and server) or (server and e == server):
                return True
            if matches([entry], info.name):
                return True
        return False

    def specs_for(self, agent: Agent | str | None, subtask: Subtask | None = None) -> list[dict[str, Any]]:
        """The tools `agent` may call, in litellm's tool format (never-policy tools left out)."""
        return [t.spec() for t in self.tools_for(agent, subtask)]

    def tools_for(self, agent: Agent | str | None, subtask: Subtask | None = None) -> list[ToolInfo]:
        # subtask.tools are the planner's hints; the agent's own list is what limits it.
        wanted = agent.tools if isinstance(agent, Agent) else []
        return [t for t in self.catalogue() if t.policy is not Policy.NEVER and self.allowed(wanted, t)]

    def prompt_for(self, agent: Agent | str | None, subtask: Subtask | None = None) -> str:
        """Tool instructions for models without tool calling: the fenced JSON signal."""
        infos = self.tools_for(agent, subtask)
        if not infos:
            return ""
        lines = [
            "You can use tools. To call one, reply with only this fenced block and wait for the result:",
            '```json\n{"action": "tool", "name": "TOOL_NAME", "arguments": {...}}\n```',
            "Tools:",
        ]
        for t in infos:
            props = t.parameters.get("properties", {})
            required = set(t.parameters.get("required", []))
            args = ", ".join(
                f"{k}{'' if k in required else '?'}: {v.get('type', 'any')}" for k, v in props.items()
            )
            lines.append(f"- {t.name}({args}): {t.description}")
        return "\n".join(lines)

    # ------------------------------------------------------------ calls

    async def call(self, name: str, arguments: dict[str, Any] | str | None, *, ctx: Any) -> ToolResult:
        """Run one tool call for an agent; every failure is a ToolResult error, never an exception.

        `ctx` is a ToolContext or anything with execution_id, subtask_id and agent.
        """
        start = time.perf_counter()
        ctx = _as_context(ctx)
        args: dict[str, Any] = {}
        written: list[str] = []
        approval_id: int | None = None
        try:
            await self._ensure_loaded()
            args = _parse_arguments(arguments)
            if ctx.agent_tools is None:
                ctx = ctx.model_copy(update={"agent_tools": await self._agent_tools(ctx)})
            info = await self._find(name, ctx)
            approval_id = await self._authorise(info, args, ctx)
            content, written, spent = await self._dispatch(info, args, ctx)
            result = ToolResult(name=name, content=content, files=written, cost_usd=spent)
        except ToolError as exc:
            result = ToolResult(name=name, error=str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or an OS error must not take the run down
            result = ToolResult(name=name, error=f"{name} failed unexpectedly: {type(exc).__name__}: {exc}")
        result.elapsed_ms = (time.perf_counter() - start) * 1000
        result.approval_id = approval_id
        result.content = self.scrub(result.content)
        result.error = self.scrub(result.error) if result.error is not None else None
        try:
            await self._record(name, args, result, ctx)
        except Exception as exc:  # the agent still gets its result; the record is what is lost
            log.warning("could not record the %s call: %s", name, exc)
        return result

    async def _find(self, name: str, ctx: ToolContext) -> ToolInfo:
        if not isinstance(name, str) or not name:
            raise ToolError("a tool call needs a tool name")
        server = name.split(SEPARATOR, 1)[0] if SEPARATOR in name else None
        if server in self._servers:
            # Lazy start: the first call to a server's tool starts it (and refreshes its listing).
            await self.start(server)
        catalogue = self.catalogue()
        for info in catalogue:
            if info.name == name:
                if not self.allowed(ctx.agent_tools or [], info):
                    raise ToolError(f"{ctx.agent} may not use {name}")
                return info
        names = ", ".join(i.name for i in catalogue if self.allowed(ctx.agent_tools or [], i)) or "none"
        raise ToolError(f"unknown tool {name!r}; available tools: {names}")

    async def _agent_tools(self, ctx: ToolContext) -> list[str]:
        """The calling agent's `tools` list, from the team stored with its run."""
        if ctx.execution_id is None:
            return []
        key = (ctx.execution_id, ctx.agent)
        if key not in self._team_tools:
            self._team_tools[key] = await self.records.agent_tools(ctx.execution_id, ctx.agent)
        return self._team_tools[key]

    async def _authorise(self, info: ToolInfo, args: dict[str, Any], ctx: ToolContext) -> int | None:
        if info.policy is Policy.NEVER:
            raise ToolError(f"{info.name} is not allowed in this project (policy: never)")
        if info.policy is Policy.ALWAYS:
            return None
        shown = json.loads(self.scrub(json.dumps(args)))
        where = {
            "execution_id": ctx.execution_id,
            "subtask_id": ctx.subtask_id,
            "agent": ctx.agent,
            "tool": info.name,
            "arguments": shown,
        }
        if matches([*self.allow_tools, *self._run_allow.get(ctx.execution_id or "", [])], info.name):
            return await self.approvals.record_automatic(**where, by="--allow-tools")
        request = await self.approvals.request(**where)
        if self.on_approval is not None:
            maybe = self.on_approval(request)
            if asyncio.iscoroutine(maybe):
                await maybe
        try:
            approved = await request.wait()
        except asyncio.CancelledError:
            # The run was halted while this agent waited: close the request, then stop.
            await asyncio.shield(self.approvals.withdraw(request, "the run stopped before a decision"))
            raise
        if not approved:
            who = request.record.decided_by or "a person"
            why = f": {request.record.reason}" if request.record.reason else ""
            raise ToolError(f"{info.name} was denied by {who}{why}")
        return request.id

    async def _dispatch(
        self, info: ToolInfo, args: dict[str, Any], ctx: ToolContext
    ) -> tuple[str, list[str], float]:
        """What the tool said, the workspace files it wrote, and what it spent on a paid model."""
        if info.source == "builtin":
            builtin = BUILTINS[info.name]
            try:
                parsed = builtin.args.model_validate(args)
            except ValidationError as exc:
                raise ToolError(f"bad arguments for {info.name}: {_validation_summary(exc)}") from None
            workspace = Workspace(ctx.workspace) if ctx.workspace else self.workspace(ctx.execution_id)
            env = Env(
                workspace=workspace,
                ctx=ctx,
                allow_network=not self.offline,
                shell_network=self.shell_network,
                protect=(self.store.path,),
                repo=await self._repo_access(ctx, workspace) if info.name == "run_command" else None,
                memory=self.memory,
                search=self.search,
                sources=self.sources,
                image=self.image,
                images=self.images,
            )
            text, written = await builtin.impl(parsed, env)
            return text, written, env.spent_usd
        server, tool = info.name.split(SEPARATOR, 1)
        _validate_schema(info, args)
        conn = self._connection(server)
        remote = next(
            (
                t["name"]
                for t in conn.tools or self._servers[server].tools or []
                if namespaced(server, t["name"]) == info.name
            ),
            tool,
        )
        try:
            text, is_error = await conn.call(remote, args)
        except (MCPCallError, VaultError) as exc:
            raise ToolError(str(exc)) from None
        if is_error:
            raise ToolError(f"{info.name}: {text}")
        return text, [], 0.0

    async def _repo_access(self, ctx: ToolContext, workspace: Workspace) -> RepoAccess | None:
        """A run on a git worktree of the user's repository (`--workspace`): the git folders the
        shell's box opens for it, found from what Podium recorded when it made the worktree."""
        if ctx.execution_id is None or ctx.workspace is not None:
            return None
        ws = await self.run_workspaces.get(ctx.execution_id)
        if ws is None or ws.kind != "git" or not ws.git_dir:
            return None
        if Path(ws.path).resolve() != workspace.root.resolve():
            return None  # this tool box's workspace is not the one recorded
        return await asyncio.to_thread(repo_access, ws.source, ws.git_dir)

    def _connection(self, server: str) -> MCPConnection:
        conn = self._connections.get(server)
        if conn is None:
            conn = MCPConnection(self._servers[server], self._secret)
            self._connections[server] = conn
        return conn

    def _secret(self, name: str) -> str:
        value = self.vault.require(name)
        self._secrets[value] = name
        return value

    # ------------------------------------------------------------ secrets

    def _known_secrets(self) -> dict[str, str]:
        if not getattr(self, "_vault_scanned", False):
            self._vault_scanned = True
            try:
                for name in self.vault.names():
                    value = self.vault.get(name)
                    if value:
                        self._secrets[value] = name
            except VaultError:
                pass  # an unreadable vault has nothing we could leak
        return self._secrets

    def scrub(self, text: str) -> str:
        """Replace every known secret value with its name."""
        if not text:
            return text
        for value, name in sorted(self._known_secrets().items(), key=lambda kv: -len(kv[0])):
            if len(value) >= 4 and value in text:
                text = text.replace(value, f"[secret {name}]")
        return text

    # ------------------------------------------------------------ records

    async def _record(self, name: str, args: dict[str, Any], result: ToolResult, ctx: ToolContext) -> None:
        if self.store.readonly:
            return
        workspace = Workspace(ctx.workspace) if ctx.workspace else self.workspace(ctx.execution_id)
        files: list[FileRecord] = []
        for rel in result.files:
            try:
                files.append(describe_file(workspace.root, rel))
            except OSError:
                continue
        scrubbed = self.scrub(json.dumps(args, default=str))
        shown_args: Any = json.loads(scrubbed) if len(scrubbed) <= RECORD_LIMIT else _clip(scrubbed)
        payload: dict[str, Any] = {
            "subtask_id": ctx.subtask_id,
            "agent": ctx.agent,
            "tool": name,
            "arguments": shown_args,
            "ms": round(result.elapsed_ms, 2),
        }
        if result.error is not None:
            payload["error"] = _clip(result.error)
        else:
            payload["result"] = _clip(result.content)
        await self.records.record_call(
            ctx.execution_id, subtask_id=ctx.subtask_id, agent=ctx.agent, tool=name,
            files=[self._scrubbed(f) for f in files], payload=payload, approval_id=result.approval_id,
        )

    def _scrubbed(self, f: FileRecord) -> FileRecord:
        """A text file's content as the project file keeps it: secret values replaced by names."""
        if f.content is None or not f.is_text:
            return f
        text = f.content.decode("utf-8", errors="replace")
        return dataclasses.replace(f, content=self.scrub(text).encode())

    # ------------------------------------------------------------ shutdown

    async def aclose(self) -> None:
        """Deny what still waits for a person and stop every MCP server."""
        await self.approvals.deny_all("the run stopped before a decision")
        conns, self._connections = list(self._connections.values()), {}
        await asyncio.gather(*(c.aclose() for c in conns), return_exceptions=True)

    async def __aenter__(self) -> ToolBox:
        await self._ensure_loaded()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _as_context(ctx: Any) -> ToolContext:
    if isinstance(ctx, ToolContext):
        return ctx
    if isinstance(ctx, dict):
        return ToolContext.model_validate(ctx)
    fields = {k: getattr(ctx, k) for k in ToolContext.model_fields if getattr(ctx, k, None) is not None}
    return ToolContext.model_validate(fields)


def _parse_arguments(arguments: dict[str, Any] | str | None) -> dict[str, Any]:
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError as exc:
            raise ToolError(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    return arguments


def _validation_summary(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


_VALIDATORS: dict[str, tuple[str, Any]] = {}


def _validate_schema(info: ToolInfo, args: dict[str, Any]) -> None:
    """Check arguments against the server's schema here, for a clear message before any I/O."""
    import jsonschema

    key = json.dumps(info.parameters, sort_keys=True)
    cached = _VALIDATORS.get(info.name)
    if cached is None or cached[0] != key:
        try:
            cls = jsonschema.validators.validator_for(info.parameters)
            cls.check_schema(info.parameters)
            cached = (key, cls(info.parameters))
        except jsonschema.SchemaError:
            cached = (key, None)  # the server's schema is broken; let the server judge
        _VALIDATORS[info.name] = cached
    validator = cached[1]
    if validator is None:
        return
    error = jsonschema.exceptions.best_match(validator.iter_errors(args))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "arguments"
        raise ToolError(f"bad arguments for {info.name}: {where}: {error.message}")


def _clip(text: str) -> str:
    return (
        text if len(text) <= RECORD_LIMIT else text[:RECORD_LIMIT] + f"... [{len(text) - RECORD_LIMIT} more]"
    )
