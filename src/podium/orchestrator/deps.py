"""What agents, consultation, collaboration and the run's phases depend on: a small typed bundle.

The engine composes an `AgentDeps` from its collaborators and hands it down;
nothing below the engine sees the engine itself. `AgentTurn` is what an
action handler (and a consultation) may use of the agent loop that called it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from podium import events as ev
from podium.domain import Agent, Event, Phase, Subtask
from podium.orchestrator.ports import GatewayPort, MemoryPort, ToolsPort
from podium.orchestrator.runstate import RunState
from podium.orchestrator.settings import EngineSettings
from podium.store.bus import EventBus
from podium.store.control import ControlRepository
from podium.store.runs import RunRepository


class DeltaPublisher(Protocol):
    """Makes the callback that publishes one agent's streamed text, or None if nobody listens."""

    def __call__(self, run_id: str, agent: str, subtask_id: str | None,
                 phase: Phase = Phase.EXECUTION) -> Callable[[str], None] | None: ...


def delta_event(run_id: str, agent: str, subtask_id: str | None, phase: Phase, text: str) -> Event:
    return Event.model_construct(seq=None, execution_id=run_id, type=ev.STREAM_DELTA,
                                 payload={"agent": agent, "subtask_id": subtask_id, "phase": phase.value,
                                          "text": text}, created_at=time.time())


def bus_publisher(bus: EventBus) -> DeltaPublisher:
    """Streamed text goes to `bus` as transient events (never stored)."""

    def publisher(run_id: str, agent: str, subtask_id: str | None,
                  phase: Phase = Phase.EXECUTION) -> Callable[[str], None] | None:
        if not bus.subscriber_count:
            return None

        def publish(text: str) -> None:
            if text:
                bus.publish([delta_event(run_id, agent, subtask_id, phase, text)])

        return publish

    return publisher


@dataclass(frozen=True)
class AgentDeps:
    """Everything below the engine may use: the model, the repositories, memory, tools,
    the engine's settings and where streamed text goes."""

    gateway: GatewayPort
    runs: RunRepository  # runs, subtasks, messages, usage, events without a row
    control_repo: ControlRepository  # consultations, help requests, reviews, interventions
    settings: EngineSettings
    publish: DeltaPublisher
    memory: MemoryPort | None = None
    tools: ToolsPort | None = None


class AgentTurn(Protocol):
    """What an action handler or a consultation may use of the agent loop that called it."""

    deps: AgentDeps
    run: RunState
    subtask: Subtask
    agent: Agent
    scratch: dict[str, Any]

    @property
    def run_id(self) -> str: ...

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str: ...
