"""What the app needs from below: the teams, and an Engine built on first use.

The engine (and through the gateway, litellm, ~3 s to import) is built the
first time a run needs it, in a thread, so the first frame does not wait
for it. The TUI only calls the Engine's public API; it never calls litellm.

New runs record the settings this app was started with. A run that recorded
others (an endpoint, concurrency, reply cap or review mode of its own, as a
headless `podium run` started it) goes on with an engine of its own built
from them, so resuming it here behaves as `podium resume` would.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from podium.errors import PodiumError


class Backend(Protocol):
    """The app's view of the orchestrator: injected so tests and the bench choose the model."""

    model: str | None
    team: str | None

    def team_names(self) -> list[str]: ...

    async def engine(self, store: Any, run_id: str | None = None) -> Any: ...


@dataclass
class EngineBackend:
    project: Path
    model: str | None = None
    api_base: str | None = None
    team: str | None = None
    settings: Any = None

    def __post_init__(self) -> None:
        self._engine: Any = None
        self.tools: Any = None
        self._lock = asyncio.Lock()
        self._memory: Any = None
        self._by_run: dict[str, Any] = {}  # run id -> the engine that drives it in this process

    def team_names(self) -> list[str]:
        from podium.orchestrator.teams import all_teams

        return sorted(all_teams(self.project))

    async def engine(self, store: Any, run_id: str | None = None) -> Any:
        """The engine for new runs, or the one that drives `run_id` here (the same one for as long
        as this app runs, so its control channel is the one the run listens to)."""
        async with self._lock:
            if self._engine is None:
                # The heavy imports (gateway -> litellm) run off the event loop.
                await asyncio.to_thread(importlib.import_module, "podium.orchestrator.engine")
                await asyncio.to_thread(importlib.import_module, "podium.llm.gateway")
                self._engine = await self._build(store)
            if run_id is None:
                return self._engine
            if run_id not in self._by_run:
                self._by_run[run_id] = await self._engine_for(store, run_id)
            return self._by_run[run_id]

    async def _engine_for(self, store: Any, run_id: str) -> Any:
        from podium.errors import NotFoundError
        from podium.llm.gateway import Gateway
        from podium.orchestrator.engine import Engine

        engine = self._engine
        try:
            execution = await engine.repo.get_execution(run_id)
        except NotFoundError:
            return engine  # the caller's operation says so
        recorded = execution.settings
        if recorded is None:  # from before runs recorded their settings: today's defaults
            return engine
        self.tools.allow_for_run(execution.id, recorded.allow_tools)
        settings = engine.settings.for_run(recorded)
        same = settings == engine.settings and recorded.api_base == self.api_base
        if same or recorded.api_base_withheld:
            return engine
        gateway = Gateway(recorded.model or recorded.default_model, api_base=recorded.api_base)
        return Engine(store, gateway, memory=self._memory, tools=self.tools, settings=settings,
                      run_settings=recorded)

    async def _build(self, store: Any) -> Any:
        try:
            from podium.orchestrator.engine import Engine
        except ImportError as exc:  # the orchestrator is not installed in this build
            raise PodiumError(f"cannot start runs: the orchestrator is unavailable ({exc})") from None
        from podium.domain import RunSettings, url_has_secret
        from podium.llm.config import resolve_model
        from podium.llm.gateway import Gateway
        from podium.memory.service import MemoryService
        from podium.orchestrator.settings import EngineSettings
        from podium.tools.toolbox import ToolBox

        # The same wiring as a headless `podium run`: memory across runs, built-in and MCP
        # tools; a tool call that needs approval waits for `y` here (or `podium approve`).
        configured = resolve_model(project=self.project).model
        gateway = Gateway(self.model or configured, api_base=self.api_base)
        memory = self._memory = MemoryService(store)
        self.tools = await ToolBox.open(store, memory=memory)
        # A person sits at the TUI: the leader reviews the result, then it waits for them
        # (`v`: accept, or send it back for rework), as `podium run --review` does headless.
        settings = self.settings if self.settings is not None else EngineSettings(review="human")
        withheld = self.api_base is not None and url_has_secret(self.api_base)
        recorded = RunSettings(model=self.model, default_model=configured,
                               api_base=None if withheld else self.api_base, api_base_withheld=withheld,
                               concurrency=settings.concurrency, review=settings.review)
        return Engine(store, gateway, memory=memory, tools=self.tools, settings=settings,
                      run_settings=recorded)

    async def aclose(self) -> None:
        """Stop what the engine started (MCP servers); pending approvals are denied."""
        if getattr(self, "tools", None) is not None:
            await self.tools.aclose()
