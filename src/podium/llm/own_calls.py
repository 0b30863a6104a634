"""Calls to Podium's own in-process models (the scripted model, the embedded local model), direct.

litellm would only wrap their replies in its response objects for the gateway to unwrap again
(about 2 ms of CPU a call) and takes seconds to import; hosted models still go through it. The
gateway keeps what is common to both: deadline, retries, budget, latency (gateway.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from podium.domain import Usage
from podium.llm.own_provider import Call, Done, OwnProvider, ToolCallOut
from podium.llm.types import CallResult, ToolCall

KINDS = frozenset({"scripted", "local"})  # models.kind() of the models served here

_PROVIDERS: dict[str, OwnProvider] = {}


def provider(kind: str) -> OwnProvider:
    """This process's provider of `kind` (one is enough: scripted runners are keyed per gateway)."""
    found = _PROVIDERS.get(kind)
    if found is None:
        if kind == "scripted":
            from podium.llm.scripted_provider import ScriptedProvider

            found = ScriptedProvider()
        elif kind == "local":
            from podium.llm.local_provider import LocalProvider

            found = LocalProvider()
        else:
            raise ValueError(f"not one of Podium's own models: {kind!r}")
        _PROVIDERS[kind] = found
    return found


def cost(own: OwnProvider, model: str, prompt_tokens: int, completion_tokens: int) -> float:
    per_prompt, per_completion = own.prices(model)
    return prompt_tokens * per_prompt + completion_tokens * per_completion


def _usage(own: OwnProvider, model: str, prompt_tokens: int, completion_tokens: int) -> Usage:
    return Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 cost_usd=cost(own, model, prompt_tokens, completion_tokens), calls=1)


async def reply(own: OwnProvider, call: Call) -> CallResult:
    out = await own.reply(call)
    return CallResult(
        content=out.text,
        tool_calls=[ToolCall.parse(c.id, c.name, c.arguments) for c in out.tool_calls],
        usage=_usage(own, call.model, out.prompt_tokens, out.completion_tokens),
        finish_reason=out.finish_reason,
    )


async def stream(own: OwnProvider, call: Call, feed: Callable[[str], Awaitable[None]]) -> CallResult:
    """The streamed reply, each text delta passed to `feed` as it comes."""
    parts: list[str] = []
    calls: list[ToolCall] = []
    done = Done("", 0, 0)
    async for item in own.stream(call):
        if isinstance(item, str):
            if item:
                parts.append(item)
                await feed(item)
        elif isinstance(item, ToolCallOut):
            calls.append(ToolCall.parse(item.id, item.name, item.arguments))
        else:
            done = item
    return CallResult(
        content="".join(parts),
        tool_calls=calls,
        usage=_usage(own, call.model, done.prompt_tokens, done.completion_tokens),
        finish_reason=done.finish_reason or None,
    )


async def embed(own: OwnProvider, model: str, texts: list[str]) -> list[list[float]]:
    vectors, _ = await own.embed_texts(model, texts)
    return vectors
