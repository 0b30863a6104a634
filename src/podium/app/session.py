"""One project session: the store, and the gateway, memory, tool box and engine(s) built on it.

Before this module the same wiring was built by the TUI's backend, `podium run`,
`podium review --accept` and the scheduler bench. A session opens the project
file; the engine (and through the gateway, litellm, ~3 s to import) is built the
first time it is asked for, with the heavy imports off the event loop, so a
terminal app's first frame does not wait for it.

Two ways to say how runs go:

- `run_settings` (a headless command): the settings a run records, with the
  endpoint to call when it differs from the recorded one (credentials are
  never recorded);
- `model` / `api_base` / `settings` (the terminal app): new runs record these,
  and a run that recorded others goes on with an engine of its own built
  from them (`engine_for(run_id)`), as `podium resume` would.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from podium.domain import RunSettings, Team, url_has_secret
from podium.errors import NotFoundError, PodiumError, ReadOnlyError
from podium.store import ProjectStore
from podium.store.runs import RunRepository

if TYPE_CHECKING:
    from podium.memory.service import MemoryService
    from podium.orchestrator.engine import Engine
    from podium.orchestrator.ports import GatewayPort
    from podium.orchestrator.settings import EngineSettings
    from podium.tools.approvals import ApprovalRequest
    from podium.tools.toolbox import ToolBox

ToolApprovalHook = Callable[["ApprovalRequest"], Awaitable[None] | None]
GatewayWrapper = Callable[["GatewayPort"], "GatewayPort"]


def interactive_settings() -> EngineSettings:
    """Engine settings for a person at the terminal app: the leader reviews the result, then it
    waits for them (accept, or send it back for rework), as `podium run --review` does headless."""
    from podium.orchestrator.settings import EngineSettings

    return EngineSettings(review="human")


class ProjectSession:
    """A project file opened for use cases; `async with ProjectSession.open(...)` or `aclose()`."""

    def __init__(self, project: Path, *, model: str | None = None, api_base: str | None = None,
                 team: str | None = None, settings: EngineSettings | None = None,
                 run_settings: RunSettings | None = None, endpoint: str | None = None,
                 readonly: bool = False, create: bool = True, tools: bool = True, memory: bool = True,
                 record: bool = True, on_tool_approval: ToolApprovalHook | None = None,
                 wrap_gateway: GatewayWrapper | None = None) -> None:
        """`record`: new runs record the settings they were started with (False: a bench).
        `wrap_gateway`: wraps each gateway built (a bench times the model calls)."""
        self.project = Path(project)
        self.model = model
        self.api_base = api_base
        self.team = team
        self.readonly = readonly
        self.create = create and not readonly
        self._settings = settings
        self._run_settings = run_settings
        self._endpoint = endpoint if endpoint is not None else (
            run_settings.api_base if run_settings is not None else api_base)
        self._with_tools = tools
        self._with_memory = memory
        self._record = record
        self._on_tool_approval = on_tool_approval
        self._wrap_gateway = wrap_gateway
        self._store: ProjectStore | None = None
        self._engine: Engine | None = None
        self._by_run: dict[str, Engine] = {}  # run id -> the engine that drives it in this process
        self._lock = asyncio.Lock()
        self.memory: MemoryService | None = None
        self.tools: ToolBox | None = None

    # ------------------------------------------------------------ opening and closing

    @classmethod
    async def open(cls, project: Path, *, model: str | None = None, api_base: str | None = None,
                   team: str | None = None, settings: EngineSettings | None = None,
                   run_settings: RunSettings | None = None, endpoint: str | None = None,
                   readonly: bool = False, create: bool = True, tools: bool = True, memory: bool = True,
                   record: bool = True, on_tool_approval: ToolApprovalHook | None = None,
                   wrap_gateway: GatewayWrapper | None = None) -> ProjectSession:
        """Open the project file (an engine is built when first asked for)."""
        session = cls(project, model=model, api_base=api_base, team=team, settings=settings,
                      run_settings=run_settings, endpoint=endpoint, readonly=readonly, create=create,
                      tools=tools, memory=memory, record=record, on_tool_approval=on_tool_approval,
                      wrap_gateway=wrap_gateway)
        await session.start()
        return session

    async def start(self) -> None:
        """Open the store (idempotent); raises PodiumError when it is not a Podium project."""
        if self._store is None:
            self._store = await ProjectStore.open(self.project, readonly=self.readonly, create=self.create)

    async def __aenter__(self) -> ProjectSession:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop what the engine started (MCP servers; pending tool approvals are denied), then close
        the store (always: an open aiosqlite thread would keep the process alive)."""
        try:
            if self.tools is not None:
                await self.tools.aclose()
        finally:
            self.tools = None
            if self._store is not None:
                store, self._store = self._store, None
                await store.close()

    @property
    def store(self) -> ProjectStore:
        if self._store is None:
            raise PodiumError("the project session is not open")
        return self._store

    @property
    def is_open(self) -> bool:
        return self._store is not None

    @property
    def runs(self) -> RunRepository:
        return RunRepository(self.store)

    def team_names(self) -> list[str]:
        from podium.orchestrator.teams import all_teams

        return sorted(all_teams(self.project))

    def get_team(self, name: str) -> Team:
        from podium.orchestrator.teams import get_team

        return get_team(name, self.project)

    # ------------------------------------------------------------ engines

    @property
    def engine(self) -> Engine:
        """The engine for new runs (built by `ensure_engine`)."""
        if self._engine is None:
            raise PodiumError("the session has no engine yet (await ensure_engine() first)")
        return self._engine

    async def ensure_engine(self) -> Engine:
        """The engine for new runs, built on first use."""
        async with self._lock:
            return await self._default_engine()

    async def engine_for(self, run_id: str | None = None) -> Engine:
        """The engine for new runs, or the one that drives `run_id` here: the same one for as long
        as this session lives, so its control channel is the one the run listens to."""
        async with self._lock:
            engine = await self._default_engine()
            if run_id is None:
                return engine
            if run_id not in self._by_run:
                self._by_run[run_id] = await self._engine_for(engine, run_id)
            return self._by_run[run_id]

    async def _default_engine(self) -> Engine:
        if self._engine is not None:
            return self._engine
        if self.readonly:
            raise ReadOnlyError(f"{self.project} is open read-only: runs cannot be started or changed here")
        # The heavy imports (gateway -> litellm) run off the event loop.
        try:
            await asyncio.to_thread(importlib.import_module, "podium.orchestrator.engine")
        except ImportError as exc:  # the orchestrator is not installed in this build
            raise PodiumError(f"cannot start runs: the orchestrator is unavailable ({exc})") from None
        await asyncio.to_thread(importlib.import_module, "podium.llm.gateway")
        self._engine = await self._build()
        return self._engine

    def _recorded(self, settings: EngineSettings) -> tuple[RunSettings, str | None]:
        """What new runs record, and the endpoint to call."""
        if self._run_settings is not None:
            return self._run_settings, self._endpoint
        from podium.llm.config import resolve_model

        configured = resolve_model(project=self.project).model
        withheld = self.api_base is not None and url_has_secret(self.api_base)
        recorded = RunSettings(model=self.model, default_model=configured,
                               api_base=None if withheld else self.api_base, api_base_withheld=withheld,
                               concurrency=settings.concurrency, review=settings.review)
        return recorded, self.api_base

    def _engine_settings(self) -> EngineSettings:
        from podium.orchestrator.settings import EngineSettings

        if self._run_settings is not None:
            return (self._settings or EngineSettings()).for_run(self._run_settings)
        return self._settings if self._settings is not None else interactive_settings()

    def gateway(self, model: str | None, endpoint: str | None) -> GatewayPort:
        from podium.llm.gateway import Gateway

        gateway: GatewayPort = Gateway(model, api_base=endpoint)
        return self._wrap_gateway(gateway) if self._wrap_gateway is not None else gateway

    async def _build(self) -> Engine:
        from podium.orchestrator.engine import Engine

        settings = self._engine_settings()
        recorded, endpoint = self._recorded(settings)
        if self._with_memory:
            from podium.memory.service import MemoryService

            self.memory = MemoryService(self.store)
        if self._with_tools:
            from podium.tools.toolbox import ToolBox

            # Built-in and MCP tools; a call that needs approval waits for a person
            # (the TUI's card, `podium approve`).
            self.tools = await ToolBox.open(self.store, allow_tools=list(recorded.allow_tools),
                                            on_approval=self._on_tool_approval, memory=self.memory)
        # The gateway's default is the run's one model, else the configured default; agents' and
        # teams' own models sit between those two (Execution.model_for).
        gateway = self.gateway(recorded.model or recorded.default_model, endpoint)
        return Engine(self.store, gateway, memory=self.memory, tools=self.tools, settings=settings,
                      run_settings=recorded if self._record else None)

    async def _engine_for(self, engine: Engine, run_id: str) -> Engine:
        """The engine a run goes on with: this session's, or one built from what the run recorded
        (another endpoint, concurrency, reply cap or review mode)."""
        from podium.orchestrator.engine import Engine

        try:
            execution = await RunRepository(self.store).get_execution(run_id)
        except NotFoundError:
            return engine  # the caller's operation says so
        recorded = execution.settings
        if recorded is None:  # from before runs recorded their settings: today's defaults
            return engine
        if self.tools is not None:
            self.tools.allow_for_run(execution.id, recorded.allow_tools)
        settings = engine.settings.for_run(recorded)
        same = settings == engine.settings and recorded.api_base == self._endpoint
        if same or recorded.api_base_withheld:
            return engine
        gateway = self.gateway(recorded.model or recorded.default_model, recorded.api_base)
        return Engine(self.store, gateway, memory=self.memory, tools=self.tools, settings=settings,
                      run_settings=recorded)

    def reconfigure(self, settings: RunSettings, endpoint: str | None, team: Team) -> RunSettings:
        """Go on with these run settings (before anything runs): a new gateway and engine settings
        on the session's engine. Returns the settings with the team's models resolved."""
        from podium.orchestrator.settings import EngineSettings

        engine = self.engine
        self._run_settings, self._endpoint = settings, endpoint
        engine.gateway = self.gateway(settings.model or settings.default_model, endpoint)
        engine.settings = (self._settings or EngineSettings()).for_run(settings)
        if self.tools is not None:
            self.tools.allow_tools = list(settings.allow_tools)
        resolved = engine.settings_for(team, settings)
        engine.run_settings = self._run_settings = resolved
        return resolved
