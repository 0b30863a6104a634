"""The gateway's contract: what callers pass in and get back.

The orchestrator depends on these types only; litellm stays behind the
gateway implementation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from podium.domain import Budget, Usage
from podium.errors import PodiumError

# litellm-format chat messages: {"role": ..., "content": ..., ...}
ChatMessage = dict[str, Any]
# Called with each streamed text delta as it arrives.
DeltaCallback = Callable[[str], Awaitable[None] | None]


class CallContext(BaseModel):
    """Who is calling and why: recorded with usage and visible to the scripted model."""

    execution_id: str | None = None
    phase: str = "adhoc"
    agent: str | None = None
    subtask_id: str | None = None


class ToolCall(BaseModel):
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    raw_arguments: str = ""


class CallResult(BaseModel):
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    model: str = ""
    finish_reason: str | None = None


class LLMError(PodiumError):
    """A model call failed for good (after retries)."""


class ModelConfigError(PodiumError):
    """A model string, key or endpoint is wrong: the user must fix configuration."""


class BudgetExceeded(PodiumError):
    """A call was refused before it was made because it would exceed a budget."""

    def __init__(self, what: str, used: float, limit: float) -> None:
        super().__init__(f"{what} budget exhausted ({used:g} of {limit:g})")
        self.what = what


class BudgetGuard:
    """Counts usage against a budget; refuses calls that would exceed it.

    Shared by every call of one run (planning, execution, consultation,
    synthesis), so all of them count.
    """

    def __init__(self, budget: Budget | None = None, usage: Usage | None = None, steps: int = 0) -> None:
        self.budget = budget or Budget()
        self.usage = usage or Usage()
        self.steps = steps

    def check(self, estimated_tokens: int = 0) -> None:
        b, u = self.budget, self.usage
        if b.tokens is not None and u.tokens + estimated_tokens > b.tokens:
            raise BudgetExceeded("token", u.tokens + estimated_tokens, b.tokens)
        if b.usd is not None and u.cost_usd >= b.usd:
            raise BudgetExceeded("cost (USD)", u.cost_usd, b.usd)
        if b.steps is not None and self.steps >= b.steps:
            raise BudgetExceeded("step", self.steps, b.steps)

    def record(self, usage: Usage) -> None:
        self.usage = self.usage.add(usage)
        self.steps += 1


class StructuredOutputError(LLMError):
    """The model's reply did not validate against the schema, even after one repair round."""

    def __init__(self, message: str, *, errors: list[str], raw: str) -> None:
        super().__init__(message)
        self.errors = errors
        self.raw = raw
