"""One base for Podium's own in-process models (the scripted model, the embedded local model).

A provider says what it replies, streams and embeds, as plain values; the gateway calls it
directly (own_calls.py), never through litellm, which would wrap these values in its response
objects only for the gateway to unwrap them again. Nothing here imports litellm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCallOut:
    id: str
    name: str
    arguments: str


@dataclass
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    tool_calls: list[ToolCallOut] = field(default_factory=list)


@dataclass
class Done:
    """The end of a stream: why it ended and what it cost."""

    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


StreamItem = str | ToolCallOut | Done


@dataclass
class Call:
    """What a provider needs to know about one request."""

    model: str  # the provider's name for the model (a script's key; the local model ignores it)
    messages: list[dict[str, Any]]
    params: dict[str, Any]  # max_tokens, response_format, tools, temperature, stop, ... (OpenAI names)
    metadata: dict[str, Any]  # the caller's CallContext (phase, agent, subtask, execution)


class OwnProvider:
    """A model Podium runs itself: what it replies, streams and embeds, and what that costs."""

    async def reply(self, call: Call) -> Reply:
        raise NotImplementedError

    def prices(self, model: str) -> tuple[float, float]:
        """USD per prompt token and per completion token (flat: Podium's own models have no tiers)."""
        return 0.0, 0.0

    def stream(self, call: Call) -> AsyncIterator[StreamItem]:
        """Text deltas, then any tool calls, then one Done."""
        raise NotImplementedError

    async def embed_texts(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        """One vector per text, in order, and the tokens they took."""
        raise NotImplementedError


def text_of(content: Any) -> str:
    """A message's content as text (content parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
