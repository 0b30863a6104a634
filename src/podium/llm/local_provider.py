"""litellm adapter for the embedded local model (provider "podium-local").

Imported only through podium.llm._litellm.get(), after litellm itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from podium.llm.custom_provider import Call, Done, PodiumProvider, Reply, StreamItem, text_of
from podium.llm.local_model import Delta, Finished, get_local_model


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
    """litellm response_format -> llama.cpp's, which enforces a schema with a grammar."""
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    return {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}


def _options(optional_params: dict[str, Any]) -> dict[str, Any]:
    stop = optional_params.get("stop")
    return {
        "max_tokens": optional_params.get("max_tokens") or optional_params.get("max_completion_tokens"),
        "response_format": _llama_format(optional_params.get("response_format")),
        "temperature": optional_params.get("temperature"),
        "stop": [stop] if isinstance(stop, str) else stop,
    }


class LocalProvider(PodiumProvider):
    name = "podium-local"

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
