"""The embedded local model as a provider: chat messages and OpenAI-style parameters in, the
worker's deltas out (local_model.py runs llama.cpp in its own process). No litellm here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from podium.llm.local_model import Delta, Finished, get_local_model
from podium.llm.own_provider import Call, Done, OwnProvider, Reply, StreamItem, text_of


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat template knows system/user/assistant text only: flatten tool traffic into text."""
    out: list[dict[str, str]] = []
    for m in messages:
        role = m.get("role", "user")
        content = text_of(m.get("content"))
        if role == "tool":
            role, content = (
                "user",
                f"Tool result ({m.get('name') or m.get('tool_call_id') or 'tool'}): {content}",
            )
        elif role not in ("system", "user", "assistant"):
            role = "user"
        if role == "assistant" and m.get("tool_calls"):
            names = ", ".join(c.get("function", {}).get("name", "?") for c in m["tool_calls"])
            content = (content + f"\n(called {names})").strip()
        out.append({"role": role, "content": content})
    return out


def _llama_format(fmt: Any) -> dict[str, Any] | None:
    """An OpenAI response_format -> llama.cpp's, which enforces a schema with a grammar."""
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}


def _options(params: dict[str, Any]) -> dict[str, Any]:
    stop = params.get("stop")
    return {
        "max_tokens": params.get("max_tokens") or params.get("max_completion_tokens"),
        "response_format": _llama_format(params.get("response_format")),
        "temperature": params.get("temperature"),
        "stop": [stop] if isinstance(stop, str) else stop,
    }


class LocalProvider(OwnProvider):
    async def reply(self, call: Call) -> Reply:
        parts: list[str] = []
        done = Finished("stop", 0, 0)
        async for item in get_local_model().stream(_plain_messages(call.messages), **_options(call.params)):
            if isinstance(item, Delta):
                parts.append(item.text)
            else:
                done = item
        return Reply("".join(parts), done.prompt_tokens, done.completion_tokens, done.finish_reason)

    async def stream(self, call: Call) -> AsyncIterator[StreamItem]:
        async for item in get_local_model().stream(_plain_messages(call.messages), **_options(call.params)):
            if isinstance(item, Delta):
                yield item.text
            else:
                yield Done(item.finish_reason, item.prompt_tokens, item.completion_tokens)

    async def embed_texts(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        return await get_local_model().embed(texts)
