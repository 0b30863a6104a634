"""What the engine hands the ToolBox and gets back. No I/O here."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Policy(StrEnum):
    """Whether a tool call runs at once, waits for a person, or is refused."""

    ALWAYS = "always"
    ASK = "ask"
    NEVER = "never"


class ToolContext(BaseModel):
    """Who calls a tool, in which run, and where its files live."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    execution_id: str | None = None
    subtask_id: str | None = None
    agent: str = "agent"
    # The agent's `tools` list (empty: every tool); None: looked up in the run's team.
    agent_tools: list[str] | None = None
    workspace: Path | None = None  # None: the ToolBox's own workspace for execution_id
    # The run's budget (llm.types.BudgetGuard): a tool that calls a paid model (generate_image)
    # is checked against it and counts what it spent there, as chat calls do. None: not in a run.
    guard: Any = None


class ToolResult(BaseModel):
    """Text the agent sees. `error` set means the call failed; the run goes on."""

    name: str
    content: str = ""
    error: str | None = None
    files: list[str] = Field(default_factory=list)  # workspace paths written by this call
    elapsed_ms: float = 0.0
    approval_id: int | None = None
    cost_usd: float = 0.0  # what the call spent on a model (an image), already counted in ctx.guard

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def text(self) -> str:
        """The message the model reads as the tool's answer."""
        return f"ERROR: {self.error}" if self.error is not None else self.content


class ToolError(Exception):
    """Raised inside a tool; turned into ToolResult.error, never out of ToolBox.call."""


class ToolInfo(BaseModel):
    """One tool as `podium tools` lists it."""

    name: str
    source: str  # "builtin" or "mcp:SERVER"
    description: str
    policy: Policy
    parameters: dict[str, Any] = Field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        """litellm (OpenAI) tool format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description[:1024],
                "parameters": self.parameters or {"type": "object", "properties": {}},
            },
        }
