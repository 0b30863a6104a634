"""The action registry: what an agent can ask for from inside its loop.

An action arrives either as a native tool call or as a fenced JSON signal
(see signals.py). Each action has a handler returning what the loop should
do next. Built in: `done`, `blocked`, `tool`. Peer consultation and
asking the human (issue 6) and workspace/shell/MCP tools (issue 9) plug in
with `register()` without touching the loop.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from podium.domain import Agent, Subtask
from podium.orchestrator.deps import AgentTurn
from podium.orchestrator.signals import Signal


@dataclass
class ActionResult:
    """continue: `text` goes back to the model; done: `text` is the output; blocked: the reason."""

    kind: Literal["continue", "done", "blocked"]
    text: str = ""


@dataclass
class ActionContext:
    """What a handler may use: the turn of the loop that called it (its deps, run, control
    channel via the run) and per-subtask scratch space."""

    loop: AgentTurn
    agent: Agent
    subtask: Subtask
    reply_text: str
    scratch: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Signal, ActionContext], Awaitable[ActionResult]]


@dataclass
class ActionSpec:
    name: str
    handler: Handler
    description: str  # one line shown to models without tools
    example: dict[str, Any]  # the fenced JSON shown to them
    parameters: dict[str, Any] | None = None  # JSON schema; None: not offered as a native tool
    aliases: tuple[str, ...] = ()


class ActionRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, ActionSpec] = {}
        self._aliases: dict[str, str] = {}

    def register(self, spec: ActionSpec) -> None:
        self._specs[spec.name] = spec
        for alias in spec.aliases:
            self._aliases[alias] = spec.name

    def copy(self) -> ActionRegistry:
        other = ActionRegistry()
        for spec in self._specs.values():
            other.register(spec)
        return other

    @property
    def names(self) -> set[str]:
        return set(self._specs) | set(self._aliases)

    def canonical(self, name: str) -> str | None:
        return name if name in self._specs else self._aliases.get(name)

    def prompt_lines(self, exclude: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
        """How to signal each action, for models without tool calling."""
        return [
            f"- {s.description}: ```json {json.dumps(s.example)}```"
            for s in self._specs.values() if s.name not in exclude
        ]

    def tool_specs(self, exclude: set[str] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
        """Actions offered as native tools (litellm/OpenAI tool format)."""
        specs = []
        for s in self._specs.values():
            if s.parameters is None or s.name in exclude:
                continue
            specs.append({"type": "function", "function": {
                "name": s.aliases[0] if s.aliases else s.name,
                "description": s.description, "parameters": s.parameters,
            }})
        return specs

    async def dispatch(self, signal: Signal, ctx: ActionContext) -> ActionResult:
        name = self.canonical(signal.action)
        if name is None:
            available = ", ".join(sorted(self._specs))
            return ActionResult("continue",
                                f"Unknown action {signal.action!r}. Available actions: {available}.")
        return await self._specs[name].handler(signal, ctx)


# ---------------------------------------------------------------- built-in actions


def _text_arg(signal: Signal, *keys: str) -> str:
    for key in keys:
        value = signal.args.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not None and not isinstance(value, str):
            return json.dumps(value)
    return ""


async def _done(signal: Signal, ctx: ActionContext) -> ActionResult:
    # The output is the signal's own "output" if it gave one, else the prose around it.
    output = _text_arg(signal, "output", "result") or ctx.reply_text
    return ActionResult("done", output)


async def _blocked(signal: Signal, ctx: ActionContext) -> ActionResult:
    return ActionResult("blocked", _text_arg(signal, "reason", "why", "message") or "no reason given")


async def _tool(signal: Signal, ctx: ActionContext) -> ActionResult:
    name = _text_arg(signal, "name", "tool")
    arguments = signal.args.get("arguments") or signal.args.get("args") or {}
    if not isinstance(arguments, dict):
        arguments = {"input": arguments}
    return ActionResult("continue", await ctx.loop.call_tool(name, arguments))


def builtin_actions() -> ActionRegistry:
    registry = ActionRegistry()
    registry.register(ActionSpec(
        "done", _done, "when the subtask is finished, end your reply with",
        {"action": "done"},
    ))
    registry.register(ActionSpec(
        "blocked", _blocked, "if you cannot do the subtask at all, say why with",
        {"action": "blocked", "reason": "what is missing"},
        parameters={"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]},
        aliases=("report_blocked",),
    ))
    registry.register(ActionSpec(
        "tool", _tool, "to use a tool, reply only with",
        {"action": "tool", "name": "TOOL_NAME", "arguments": {}},
    ))
    return registry
