"""One base for Podium's litellm custom providers (the local model, the scripted model).

litellm's CustomLLM hooks take fifteen positional parameters and fill
litellm's response objects; a provider here only says what it replies,
streams and embeds, as plain values. Imported only after litellm itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, Message, ModelResponse, Usage


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

    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any]  # litellm's optional_params: max_tokens, response_format, tools, ...
    metadata: dict[str, Any]  # the caller's CallContext (phase, agent, subtask, execution)


class PodiumProvider(CustomLLM):
    name = "podium"

    async def reply(self, call: Call) -> Reply:
        raise NotImplementedError

    def prices(self, model: str) -> tuple[float, float]:
        """USD per prompt token and per completion token (flat: Podium's own models have no tiers)."""
        return 0.0, 0.0

    def stream(self, call: Call) -> AsyncIterator[StreamItem]:
        raise NotImplementedError

    async def embed_texts(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        raise NotImplementedError

    # ------------------------------------------------------------- litellm's hooks

    async def acompletion(  # type: ignore[override]
        self, model: str, messages: list[dict[str, Any]], api_base: Any, custom_prompt_dict: Any,
        model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any,
        optional_params: dict[str, Any], acompletion: Any = None,
        litellm_params: dict[str, Any] | None = None, logger_fn: Any = None, headers: Any = None,
        timeout: Any = None, client: Any = None,
    ) -> ModelResponse:
        out = await self.reply(_call(model, messages, optional_params, litellm_params))
        calls = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in out.tool_calls
        ]
        choice: Any = model_response.choices[0]
        choice.message = Message(content=out.text or None, tool_calls=calls or None)
        choice.finish_reason = out.finish_reason
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=out.prompt_tokens,
            completion_tokens=out.completion_tokens,
            total_tokens=out.prompt_tokens + out.completion_tokens,
        )
        model_response.model = f"{self.name}/{model}"
        # The cost is known here; given with the response, litellm does not search its price map.
        per_prompt, per_completion = self.prices(model)
        model_response._hidden_params["response_cost"] = (
            out.prompt_tokens * per_prompt + out.completion_tokens * per_completion)
        return model_response

    async def astreaming(  # type: ignore[override,misc]
        self, model: str, messages: list[dict[str, Any]], api_base: Any, custom_prompt_dict: Any,
        model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any,
        optional_params: dict[str, Any], acompletion: Any = None,
        litellm_params: dict[str, Any] | None = None, logger_fn: Any = None, headers: Any = None,
        timeout: Any = None, client: Any = None,
    ) -> AsyncIterator[GenericStreamingChunk]:
        calls = 0
        async for item in self.stream(_call(model, messages, optional_params, litellm_params)):
            if isinstance(item, str):
                yield GenericStreamingChunk(
                    text=item, is_finished=False, finish_reason="", usage=None, index=0, tool_use=None
                )
            elif isinstance(item, ToolCallOut):
                yield GenericStreamingChunk(
                    text="", is_finished=False, finish_reason="", usage=None, index=0,
                    tool_use={"id": item.id, "type": "function", "index": calls,
                              "function": {"name": item.name, "arguments": item.arguments}},
                )
                calls += 1
            else:
                yield GenericStreamingChunk(
                    text="", is_finished=True, finish_reason=item.finish_reason, index=0, tool_use=None,
                    usage={"prompt_tokens": item.prompt_tokens, "completion_tokens": item.completion_tokens,
                           "total_tokens": item.prompt_tokens + item.completion_tokens},
                )

    async def aembedding(  # type: ignore[override]
        self, model: str, input: Any, model_response: Any, print_verbose: Any, logging_obj: Any,
        optional_params: dict[str, Any], api_key: Any = None, api_base: Any = None, timeout: Any = None,
        litellm_params: Any = None,
    ) -> Any:
        texts = [input] if isinstance(input, str) else list(input)
        vectors, tokens = await self.embed_texts(model, texts)
        model_response.data = [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ]
        model_response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        model_response.model = f"{self.name}/{model}"
        return model_response


def _call(model: str, messages: list[dict[str, Any]], optional_params: dict[str, Any],
          litellm_params: dict[str, Any] | None) -> Call:
    return Call(model=model, messages=messages, params=optional_params,
                metadata=(litellm_params or {}).get("metadata") or {})


def text_of(content: Any) -> str:
    """A message's content as text (content parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""
