"""A small in-test gateway with the Gateway's methods, for engine unit tests.

It really enforces the BudgetGuard (a reservation held while the call is in flight) and really
streams through on_delta, so the engine's handling of both is exercised.
Replies come from a function of (messages, context, schema) the test gives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from podium.domain import Usage
from podium.llm.types import BudgetGuard, CallContext, CallResult, LLMError, ToolCall, estimate_prompt_tokens


class FakeStructuredError(LLMError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("not valid: " + "; ".join(errors))
        self.errors = errors


@dataclass
class Call:
    messages: list[dict[str, Any]]
    context: CallContext
    schema: Any = None
    tools: list[dict[str, Any]] | None = None

    @property
    def prompt(self) -> str:
        return "\n".join(str(m.get("content") or "") for m in self.messages)


Reply = str | CallResult | dict[str, Any] | Exception


@dataclass
class FakeGateway:
    respond: Callable[[Call], Reply]
    latency: float = 0.0
    tools: bool = False
    calls: list[Call] = field(default_factory=list)

    def resolve(self, model: str | None) -> str:
        return model or "fake"

    def supports_tools(self, model: str | None = None) -> bool:
        return self.tools

    async def _call(self, call: Call, guard: BudgetGuard | None, on_delta: Any = None,
                    estimated_tokens: int = 0, max_tokens: int | None = None) -> CallResult:
        if guard is None:
            return await self._answer(call, on_delta)
        # Reserve like the Gateway: prompt estimate + reply cap, held while the call is in flight.
        prompt = max(estimated_tokens, estimate_prompt_tokens(call.messages, call.tools))
        estimate = prompt + (max_tokens or 0)
        async with guard.reserve(estimate) as slot:
            result = await self._answer(call, on_delta)
            slot.record(result.usage)
        return result

    async def _answer(self, call: Call, on_delta: Any) -> CallResult:
        self.calls.append(call)
        if self.latency:
            await asyncio.sleep(self.latency)
        reply = self.respond(call)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, dict):
            reply = json.dumps(reply)
        result = reply if isinstance(reply, CallResult) else CallResult(content=reply)
        prompt_tokens = len(call.prompt) // 4
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=max(1, len(result.content) // 4),
                      cost_usd=0.001, calls=1)
        result = result.model_copy(update={"usage": usage, "model": "fake"})
        if on_delta is not None:
            for word in result.content.split(" "):
                out = on_delta(word + " ")
                if asyncio.iscoroutine(out):
                    await out
        return result

    async def complete(self, messages: list[dict[str, Any]], *, context: CallContext,
                       guard: BudgetGuard | None = None, model: str | None = None,
                       tools: list[dict[str, Any]] | None = None, on_delta: Any = None,
                       max_tokens: int | None = None, estimated_tokens: int = 0) -> CallResult:
        return await self._call(Call(messages, context, tools=tools), guard, on_delta, estimated_tokens,
                                max_tokens)

    async def structured(self, messages: list[dict[str, Any]], schema: Any, *, context: CallContext,
                         guard: BudgetGuard | None = None, model: str | None = None,
                         max_tokens: int | None = None) -> tuple[Any, CallResult]:
        result = await self._call(Call(messages, context, schema=schema), guard, max_tokens=max_tokens)
        try:
            return schema.model_validate_json(result.content), result
        except ValidationError as exc:
            raise FakeStructuredError([e["msg"] for e in exc.errors()]) from None


def tool_call(name: str, **arguments: Any) -> CallResult:
    return CallResult(content="", tool_calls=[ToolCall(id=f"c-{name}", name=name, arguments=arguments,
                                                       raw_arguments=json.dumps(arguments))])


def plan_json(*subtasks: tuple[str, str, list[str]]) -> dict[str, Any]:
    return {"rationale": "test plan", "subtasks": [
        {"id": sid, "agent": agent, "description": f"do {sid}", "depends_on": deps,
         "acceptance_criteria": [f"{sid} is done"], "estimated_tokens": 100}
        for sid, agent, deps in subtasks]}


class PauseProbe:
    """Counts the tasks held at a run's pause: RunControl.wait_running entered while paused.

    Every step of a run (an agent's turn boundary, the scheduler's gate, the holds before the
    synthesis and the review) passes `wait_running`; a task blocked there moves on only when the
    run is resumed or halted. So once `held` is non-zero after the turns in flight have finished,
    the run has reached its hold: a test can check that nothing else started without sleeping.
    """

    def __init__(self, control: Any) -> None:
        self.held = 0
        original = control.wait_running

        async def wait_running() -> None:
            paused = bool(control.paused)
            self.held += paused
            try:
                await original()
            finally:
                self.held -= paused

        control.wait_running = wait_running
