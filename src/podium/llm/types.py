"""The gateway's contract: what callers pass in and get back.

The orchestrator depends on these types only; litellm stays behind the
gateway implementation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
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

    @classmethod
    def parse(cls, id_: str | None, name: str, raw: str) -> ToolCall:
        """A tool call from its wire form: arguments as JSON text (unparsable text gives no arguments)."""
        try:
            args = json.loads(raw) if raw.strip() else {}
        except ValueError:
            args = {}
        return cls(
            id=id_ or f"call_{uuid.uuid4().hex[:8]}",
            name=name,
            arguments=args if isinstance(args, dict) else {"value": args},
            raw_arguments=raw,
        )


class CallResult(BaseModel):
    content: str = ""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float = 0.0
    model: str = ""
    finish_reason: str | None = None


class LLMError(PodiumError):
    """A model call failed for good (after retries)."""


class LocalWorkerDied(PodiumError):
    """The local model's worker process died mid-call (a native crash); it restarts, so retry."""


class ProviderFault(Exception):
    """A call to one of Podium's own models failed the way a server's call fails (the scripted
    model's faults): transient, so worth another try. `status_code` is what an HTTP server would
    have answered (None: no answer at all). Never leaves the gateway: it becomes an LLMError."""

    status_code: int | None = 500


class RateLimited(ProviderFault):
    status_code = 429


class ServerFailed(ProviderFault):
    status_code = 500


class ProviderTimedOut(ProviderFault):
    """The provider gave up waiting (not a TimeoutError: that is the gateway's own deadline)."""

    status_code = 408


class Disconnected(ProviderFault, ConnectionError):
    """The connection dropped. A ConnectionError, so one that never comes back reads as an
    unreachable provider (errors.unreachable), as a refused connection to a server does."""

    status_code = None


class ModelConfigError(PodiumError):
    """A model string, key or endpoint is wrong: the user must fix configuration."""


class BudgetExceeded(PodiumError):
    """A call was refused before it was made because it would exceed a budget."""

    def __init__(self, what: str, used: float, limit: float) -> None:
        super().__init__(f"{what} budget exhausted ({used:g} of {limit:g})")
        self.what = what


def estimate_prompt_tokens(messages: list[ChatMessage], tools: list[dict[str, Any]] | None = None) -> int:
    """A cheap upper-ish guess of a prompt's tokens: ~4 characters a token plus a few a message.

    Used to reserve budget before a call; the real count comes back with the reply.
    """
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    if tools:
        chars += len(json.dumps(tools))
    return math.ceil(chars / 4) + 4 * len(messages)


class Reservation:
    """One call's hold on a budget, from admission until it finishes (see BudgetGuard.reserve)."""

    def __init__(self, guard: BudgetGuard, tokens: int, usd: float) -> None:
        self.guard = guard
        self.tokens = tokens
        self.usd = usd
        self.recorded: Usage | None = None

    def record(self, usage: Usage) -> None:
        """The call finished: count its real usage (and one step) instead of the estimate."""
        if self.recorded is None:
            self.recorded = usage
            self.guard.usage = self.guard.usage.add(usage)
            self.guard.steps += 1


class BudgetGuard:
    """Counts usage against a budget; refuses calls that would exceed it.

    Shared by every call of one run (planning, execution, consultation,
    synthesis), so all of them count. Calls in flight count too: each call
    holds a reservation (its token estimate, one step, its estimated cost)
    from admission until it finishes, so N concurrent calls cannot all pass
    the check against the same remaining budget.
    """

    def __init__(self, budget: Budget | None = None, usage: Usage | None = None, steps: int = 0) -> None:
        self.budget = budget or Budget()
        self.usage = usage or Usage()
        self.steps = steps
        # Held by calls in flight (admitted, not finished yet).
        self.reserved_tokens = 0
        self.reserved_usd = 0.0
        self.in_flight = 0
        self._released: asyncio.Event | None = None  # created by the first waiter, set on a release

    def refusal(self, estimated_tokens: int = 0, estimated_usd: float = 0.0, *,
                in_flight: bool = True) -> BudgetExceeded | None:
        """Why a call with this estimate may not start now, or None.

        `in_flight=False` ignores the reservations of calls in flight: a refusal then is final,
        since finished calls only ever add usage.
        """
        b, u = self.budget, self.usage
        tokens, usd, steps = u.tokens, u.cost_usd, self.steps
        if in_flight:
            tokens, usd = tokens + self.reserved_tokens, usd + self.reserved_usd
            steps += self.in_flight
        if b.tokens is not None and tokens + estimated_tokens > b.tokens:
            return BudgetExceeded("token", tokens + estimated_tokens, b.tokens)
        # Cost stays a post-hoc check (spent or held >= limit) unless a price gave an estimate.
        if b.usd is not None and (usd >= b.usd or (estimated_usd > 0 and usd + estimated_usd > b.usd)):
            return BudgetExceeded("cost (USD)", usd + estimated_usd, b.usd)
        if b.steps is not None and steps >= b.steps:
            return BudgetExceeded("step", steps, b.steps)
        return None

    def check(self, estimated_tokens: int = 0, estimated_usd: float = 0.0) -> None:
        """Raise BudgetExceeded unless used + reserved + this estimate fit every budget."""
        refused = self.refusal(estimated_tokens, estimated_usd)
        if refused is not None:
            raise refused

    @contextlib.asynccontextmanager
    async def reserve(self, estimated_tokens: int = 0, estimated_usd: float = 0.0
                      ) -> AsyncIterator[Reservation]:
        """Hold budget for one call; `record()` its usage on the yielded reservation when it returns.

        Admission: refused at once (BudgetExceeded) if the call cannot fit even when every call in
        flight has finished; otherwise, while it only fails to fit beside the reservations of calls
        in flight, it waits for one of them to finish (their real usage is often below their
        estimate) and checks again. The reservation is released however the block ends (success,
        error, cancellation); a call that ends without `record()` counts nothing, as before.
        """
        while True:
            final = self.refusal(estimated_tokens, estimated_usd, in_flight=False)
            if final is not None:
                raise final
            refused = self.refusal(estimated_tokens, estimated_usd)
            if refused is None:
                break
            if self.in_flight == 0:  # nothing to wait for
                raise refused
            if self._released is None:
                self._released = asyncio.Event()
            await self._released.wait()
        slot = Reservation(self, estimated_tokens, estimated_usd)
        self.reserved_tokens += estimated_tokens
        self.reserved_usd += estimated_usd
        self.in_flight += 1
        try:
            yield slot
        finally:
            # Synchronous on purpose: runs even while the task is being cancelled.
            self.reserved_tokens -= estimated_tokens
            self.reserved_usd -= estimated_usd
            self.in_flight -= 1
            if self.in_flight == 0:  # no float residue of released USD estimates
                self.reserved_tokens, self.reserved_usd = 0, 0.0
            if self._released is not None:
                self._released.set()
                self._released = None


class StructuredOutputError(LLMError):
    """The model's reply did not validate against the schema, even after one repair round."""

    def __init__(self, message: str, *, errors: list[str], raw: str) -> None:
        super().__init__(message)
        self.errors = errors
        self.raw = raw
