"""What the engine needs from its collaborators, as protocols.

The engine depends on these shapes only: the model gateway (llm/gateway.py),
long-term memory (memory/service.py) and tools (tools/). Tests pass small
implementations of the same methods.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict

from podium.llm.types import BudgetGuard, CallContext, CallResult, ChatMessage, DeltaCallback

M = TypeVar("M", bound=BaseModel)


class GatewayPort(Protocol):
    async def complete(self, messages: list[ChatMessage], *, context: CallContext,
                       guard: BudgetGuard | None = None, model: str | None = None,
                       tools: list[dict[str, Any]] | None = None, on_delta: DeltaCallback | None = None,
                       max_tokens: int | None = None, estimated_tokens: int = 0) -> CallResult: ...

    async def structured(self, messages: list[ChatMessage], schema: type[M], *, context: CallContext,
                         guard: BudgetGuard | None = None, model: str | None = None,
                         max_tokens: int | None = None) -> tuple[M, CallResult]: ...

    def supports_tools(self, model: str | None = None) -> bool: ...

    def resolve(self, model: str | None) -> str: ...


class RecalledItem(Protocol):
    """One long-term memory item recalled for an agent."""

    id: int
    text: str
    kind: str
    score: float


@runtime_checkable
class MemoryPort(Protocol):
    async def recall_for(self, *, agent: str, text: str, execution_id: str | None,
                         k: int = 3) -> list[Any]: ...

    async def remember_output(self, *, agent: str, text: str, execution_id: str,
                              subtask_id: str | None) -> None: ...

    async def remember_result(self, *, text: str, execution_id: str) -> None: ...

    async def remember_lessons(self, *, lessons: list[tuple[str | None, str]],
                               execution_id: str) -> None: ...


class ToolContext(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    execution_id: str
    subtask_id: str | None
    agent: str
    # The run's budget: a tool that calls a paid model is checked against it and counts there.
    guard: BudgetGuard | None = None


class ToolResultLike(Protocol):
    """What a tool call returns: text the agent sees, and whether it was an error."""

    @property
    def text(self) -> str: ...


class ToolsPort(Protocol):
    def specs_for(self, agent: Any, subtask: Any) -> list[dict[str, Any]]: ...

    async def call(self, name: str, arguments: dict[str, Any], *, ctx: Any) -> Any: ...
