"""What several phases share: stored replies, halting, and holding while paused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from podium.domain import ExecutionStatus, Message, Phase, Role
from podium.llm.types import CallResult
from podium.orchestrator.control import Halted, RunControl
from podium.orchestrator.deps import AgentDeps
from podium.orchestrator.runstate import RunGuard


async def store_reply(deps: AgentDeps, run_id: str, agent: str, phase: Phase, result: CallResult,
                      guard: RunGuard, *, content: str | None = None,
                      extra: tuple[str, dict[str, Any]] | None = None) -> Message:
    """A model reply outside any subtask, stored with its event and the run's totals."""
    message = Message(
        execution_id=run_id, agent=agent, role=Role.ASSISTANT, phase=phase,
        content=result.content if content is None else content,
        prompt_tokens=result.usage.prompt_tokens, completion_tokens=result.usage.completion_tokens,
        cost_usd=result.usage.cost_usd, latency_ms=result.latency_ms,
    )
    message.id = await deps.runs.add_message(message, run_usage=guard.usage, steps=guard.steps,
                                             elapsed=guard.elapsed(), extra_event=extra)
    return message


async def halt(deps: AgentDeps, run_id: str, guard: RunGuard, reason: str) -> None:
    """The run stops, resumable: its totals are kept and its status says why."""
    await deps.runs.record_usage(run_id, guard.usage, guard.steps, guard.elapsed())
    await deps.runs.set_status(run_id, ExecutionStatus.HALTED, reason)


@asynccontextmanager
async def halt_cancels(control: RunControl) -> AsyncIterator[None]:
    """A halt cancels the model call in flight here (planning, synthesis) and raises Halted."""
    task = asyncio.current_task()
    assert task is not None

    def cancel() -> None:
        task.cancel()

    unregister = control.on_halt(cancel)
    try:
        yield
    except asyncio.CancelledError:
        if not control.halted:
            raise
        task.uncancel()
        raise Halted(control.halt_reason) from None
    finally:
        unregister()


async def show_status(deps: AgentDeps, run_id: str, status: ExecutionStatus, reason: str | None = None
                      ) -> None:
    if (await deps.runs.get_execution(run_id)).status is not status:
        await deps.runs.set_status(run_id, status, reason)


async def wait_if_paused(deps: AgentDeps, run_id: str, control: RunControl, status: ExecutionStatus) -> None:
    """Before a step no agent's turn boundary guards (synthesis, review): hold while paused,
    then show `status`. A pause taken while the last turns were in flight has no agent left
    to stop it, so it holds here; the run shows paused meanwhile. Raises Halted on a halt."""
    while True:
        if control.paused:
            # Another process's pause leaves a synthesising run's status alone: say it here.
            await show_status(deps, run_id, ExecutionStatus.PAUSED, "paused")
        await control.wait_running()
        await show_status(deps, run_id, status)
        if not control.paused:  # no pause landed while that was written
            return


async def hold_while_paused(deps: AgentDeps, run_id: str, control: RunControl) -> None:
    """Wait out a pause (the run shows paused meanwhile); raise Halted on a halt."""
    while control.paused:
        # Another process's pause leaves the status alone: say it here.
        await show_status(deps, run_id, ExecutionStatus.PAUSED, "paused")
        await control.wait_running()
    if control.halted:
        raise Halted(control.halt_reason)
