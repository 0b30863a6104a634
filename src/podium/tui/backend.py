"""What the app needs from below: the teams, and an Engine built on first use.

The engine (and through the gateway, litellm, ~3 s to import) is built the
first time a run needs it, in a thread, so the first frame does not wait
for it. The TUI only calls the Engine's public API; it never calls litellm.
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

    async def engine(self, store: Any) -> Any: ...


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

    def team_names(self) -> list[str]:
        from podium.orchestrator.teams import all_teams

        return sorted(all_teams(self.project))

    async def engine(self, store: Any) -> Any:
        async with self._lock:
            if self._engine is None:
                # The heavy imports (gateway -> litellm) run off the event loop.
                await asyncio.to_thread(importlib.import_module, "podium.orchestrator.engine")
                await asyncio.to_thread(importlib.import_module, "podium.llm.gateway")
                self._engine = await self._build(store)
            return self._engine

    async def _build(self, store: Any) -> Any:
        try:
            from podium.orchestrator.engine import Engine
        except ImportError as exc:  # the orchestrator is not installed in this build
            raise PodiumError(f"cannot start runs: the orchestrator is unavailable ({exc})") from None
        from podium.llm.config import resolve_model
        from podium.llm.gateway import Gateway
        from podium.memory.service import MemoryService
        from podium.orchestrator.settings import EngineSettings
        from podium.tools.toolbox import ToolBox

        # The same wiring as a headless `podium run`: memory across runs, built-in and MCP
        # tools; a tool call that needs approval waits for `y` here (or `podium approve`).
        default = self.model or resolve_model(project=self.project).model
        gateway = Gateway(default, api_base=self.api_base)
        memory = MemoryService(store)
        self.tools = await ToolBox.open(store, memory=memory)
        # A person sits at the TUI: the leader reviews the result, then it waits for them
        # (`v`: accept, or send it back for rework), as `podium run --review` does headless.
        settings = self.settings if self.settings is not None else EngineSettings(review="human")
        return Engine(store, gateway, memory=memory, tools=self.tools, settings=settings)

    async def aclose(self) -> None:
        """Stop what the engine started (MCP servers); pending approvals are denied."""
        if getattr(self, "tools", None) is not None:
            await self.tools.aclose()
