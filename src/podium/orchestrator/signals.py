"""Fenced JSON signals: how a model without tool calling tells the loop what it wants.

A reply may end with

    ```json
    {"action": "done"}
    ```

(or "blocked", "consult", "ask_human", "tool", ...). Weak models garble
this, so parsing is forgiving: any fenced block or bare object with an
"action" key counts, single quotes and trailing commas are repaired, and
text that is not a signal is simply not a signal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from podium.llm.types import ToolCall

_FENCE = re.compile(r"```(?:json|JSON)?\s*(\{.*?\})\s*```", re.DOTALL)
_BARE = re.compile(r"(\{[^{}]*[\"']action[\"'][^{}]*\})", re.DOTALL)


@dataclass
class Signal:
    """One requested action. `args` holds everything but the action name."""

    action: str
    args: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None  # set when it came from a native tool call


@dataclass
class ParsedReply:
    text: str  # the reply with signal blocks removed
    signals: list[Signal]


def _loads(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        pass
    fixed = re.sub(r",\s*([}\]])", r"\1", raw)
    if "'" in fixed and '"' not in fixed:
        fixed = fixed.replace("'", '"')
    try:
        return json.loads(fixed)
    except json.JSONDecodeError:
        return None


def _as_signal(obj: Any) -> Signal | None:
    if not isinstance(obj, dict):
        return None
    action = obj.get("action")
    if not isinstance(action, str) or not action.strip():
        return None
    args = {k: v for k, v in obj.items() if k != "action"}
    return Signal(action=action.strip().lower().replace("-", "_"), args=args)


def parse_reply(content: str) -> ParsedReply:
    """Split a reply into its prose and the signals it carries."""
    signals: list[Signal] = []
    spans: list[tuple[int, int]] = []
    for match in _FENCE.finditer(content):
        signal = _as_signal(_loads(match.group(1)))
        if signal is not None:
            signals.append(signal)
            spans.append(match.span())
    if not signals:
        for match in _BARE.finditer(content):
            signal = _as_signal(_loads(match.group(1)))
            if signal is not None:
                signals.append(signal)
                spans.append(match.span())
    text = content
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return ParsedReply(text=text.strip(), signals=signals)


def from_tool_calls(calls: list[ToolCall], action_names: set[str]) -> list[Signal]:
    """Native tool calls as signals: a call named like an action is that action, else a tool."""
    signals = []
    for call in calls:
        name = call.name
        if name in action_names:
            signals.append(Signal(action=name, args=dict(call.arguments), call_id=call.id))
        else:
            signals.append(Signal(action="tool", args={"name": name, "arguments": dict(call.arguments)},
                                  call_id=call.id))
    return signals
