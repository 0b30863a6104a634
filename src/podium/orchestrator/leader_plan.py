"""The leader's plan: ask, mend, repair, fall back. One code path for the engine and the benchmark.

1. The leader answers a structured call with the plan schema. Validating the reply mends it first
   (plan_mend.py), so a duplicate id, a cycle or an unknown agent costs no repair round.
2. Only what cannot be mended (no JSON, no subtasks, a subtask with no description) gets the
   gateway's repair round, which shows the leader the schema's errors.
3. If no usable plan came back, the deterministic fallback plan is used and the caller says so.
   (The plan is also checked as a whole, validate_plan; a mended plan always passes, so this
   guards against a gateway that hands back an unchecked draft.)

`PlanOutcome.stage` says which step produced the plan: "first_try" (the first reply, unchanged),
"mended" (the first reply, mended), "repaired" (the reply to the repair round, maybe mended too)
or "fallback".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from podium.domain import Plan, Team
from podium.llm.types import (
    BudgetExceeded,
    BudgetGuard,
    CallContext,
    CallResult,
    ChatMessage,
    LLMError,
    ModelConfigError,
    StructuredOutputError,
)
from podium.orchestrator.planning import draft_to_plan, fallback_plan, plan_schema, validate_plan
from podium.orchestrator.ports import GatewayPort

Stage = Literal["first_try", "mended", "repaired", "fallback"]
STAGES: tuple[Stage, ...] = ("first_try", "mended", "repaired", "fallback")

# (the call's result, the plan it gave, that plan's problems) -> None
OnReply = Callable[[CallResult, Plan, list[str]], Awaitable[None]]


@dataclass(frozen=True)
class PlanOutcome:
    plan: Plan  # the leader's (maybe mended) plan, or the fallback plan
    stage: Stage
    errors: list[str] = field(default_factory=list)  # why the fallback plan was used
    calls: int = 0  # model calls made, the repair round included

    @property
    def fallback(self) -> bool:
        return self.stage == "fallback"


async def leader_plan(gateway: GatewayPort, team: Team, objective: str, *, messages: list[ChatMessage],
                      context: CallContext, guard: BudgetGuard | None = None, model: str | None = None,
                      max_subtasks: int = 12, max_tokens: int | None = None,
                      on_reply: OnReply | None = None,
                      on_failure: Callable[[], Awaitable[None]] | None = None) -> PlanOutcome:
    """Ask the team's leader for a plan; see the module docstring. Budget and configuration
    errors propagate; any other model failure ends in the fallback plan."""
    schema = plan_schema(team, max_subtasks)
    try:
        draft, result = await gateway.structured(messages, schema, context=context, guard=guard, model=model,
                                                 max_tokens=max_tokens)
    except (BudgetExceeded, ModelConfigError):
        raise
    except LLMError as exc:
        if on_failure is not None:
            await on_failure()
        calls = 2 if isinstance(exc, StructuredOutputError) else 1  # the reply and its repair round
        return PlanOutcome(fallback_plan(objective, team), "fallback", structured_errors(exc), calls)
    calls = max(result.usage.calls, 1)  # 2: the gateway's repair round was needed
    candidate = draft_to_plan(draft)
    errors = validate_plan(candidate, team)
    if on_reply is not None:
        await on_reply(result, candidate, errors)
    if errors:
        return PlanOutcome(fallback_plan(objective, team), "fallback", errors, calls)
    stage: Stage = "repaired" if calls > 1 else "mended" if candidate.mends else "first_try"
    return PlanOutcome(candidate, stage, [], calls)


def structured_errors(exc: LLMError) -> list[str]:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, list) and errors:
        return [str(e) for e in errors][:8]
    if isinstance(errors, str) and errors:
        return [errors]
    return [f"the reply was not a valid plan: {exc}"]
