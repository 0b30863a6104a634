"""litellm adapter for the embedded local model (provider "podium-local").

Imported only through podium.llm._litellm.get(), after litellm itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, Message, ModelResponse, Usage

from podium.llm.local_model import Delta, Finished, get_local_model


def _plain_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The chat template knows system/user/assistant text only: flatten tool traffic into text."""
    out: list[dict[str, str]] = []
    for m in messages:
        role = m.get("role", "user")
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        content = str(content or "")
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


class LocalProvider(CustomLLM):
    async def acompletion(
        self,
        model,
        messages,
        api_base,
        custom_prompt_dict,
        model_response: ModelResponse,
        print_verbose,
        encoding,
        api_key,
        logging_obj,
        optional_params,
        acompletion=None,
        litellm_params=None,
        logger_fn=None,
        headers=None,
        timeout=None,
        client=None,
    ):
        parts: list[str] = []
        done = Finished("stop", 0, 0)
        async for item in get_local_model().stream(_plain_messages(messages), **_options(optional_params)):
            if isinstance(item, Delta):
                parts.append(item.text)
            else:
                done = item
        model_response.choices[0].message = Message(content="".join(parts))  # type: ignore[union-attr]
        model_response.choices[0].finish_reason = done.finish_reason
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=done.prompt_tokens,
            completion_tokens=done.completion_tokens,
            total_tokens=done.prompt_tokens + done.completion_tokens,
        )
        model_response.model = f"podium-local/{model}"
        return model_response

    async def astreaming(
        self,
        model,
        messages,
        api_base,
        custom_prompt_dict,
        model_response,
        print_verbose,
        encoding,
        api_key,
        logging_obj,
        optional_params,
        acompletion=None,
        litellm_params=None,
        logger_fn=None,
        headers=None,
        timeout=None,
        client=None,
    ) -> AsyncIterator[GenericStreamingChunk]:
        async for item in get_local_model().stream(_plain_messages(messages), **_options(optional_params)):
            if isinstance(item, Delta):
                yield GenericStreamingChunk(
                    text=item.text, is_finished=False, finish_reason="", usage=None, index=0, tool_use=None
                )
            else:
                yield GenericStreamingChunk(
                    text="",
                    is_finished=True,
                    finish_reason=item.finish_reason,
                    index=0,
                    tool_use=None,
                    usage={
                        "prompt_tokens": item.prompt_tokens,
                        "completion_tokens": item.completion_tokens,
                        "total_tokens": item.prompt_tokens + item.completion_tokens,
                    },
                )

    async def aembedding(
        self,
        model,
        input,
        model_response,
        print_verbose,
        logging_obj,
        optional_params,
        api_key=None,
        api_base=None,
        timeout=None,
        litellm_params=None,
    ):
        texts = [input] if isinstance(input, str) else list(input)
        vectors, tokens = await get_local_model().embed(texts)
        model_response.data = [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ]
        model_response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        model_response.model = f"podium-local/{model}"
        return model_response
