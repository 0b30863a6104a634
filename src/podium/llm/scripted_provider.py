"""litellm adapter for the scripted model (provider "podium-scripted").

Imported only through podium.llm._litellm.get(), after litellm itself.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, Message, ModelResponse, Usage

from podium.llm.scripted import ScriptedRequest, ScriptRunner, approx_tokens, load_script

_RUNNERS: dict[str, ScriptRunner] = {}


def register_script(path: str | Path, key: str) -> ScriptRunner:
    """Load a script under a key (the litellm model name is "podium-scripted/KEY")."""
    runner = _RUNNERS.get(key)
    if runner is None:
        script = load_script(path)
        runner = ScriptRunner(script, Path(path))
        _RUNNERS[key] = runner
        if script.input_cost_per_mtok or script.output_cost_per_mtok:
            # Cost goes through litellm's own price map, like any priced model.
            litellm.register_model(
                {
                    f"podium-scripted/{key}": {
                        "input_cost_per_token": script.input_cost_per_mtok / 1e6,
                        "output_cost_per_token": script.output_cost_per_mtok / 1e6,
                        "litellm_provider": "podium-scripted",
                        "mode": "chat",
                    }
                }
            )
    return runner


def runner_for(model: str) -> ScriptRunner:
    key = model.split("/", 1)[-1]
    try:
        return _RUNNERS[key]
    except KeyError:
        raise litellm.NotFoundError(
            f"scripted model {key!r} is not loaded", model=model, llm_provider="podium-scripted"
        ) from None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _request(
    messages: list[dict[str, Any]], optional_params: dict, litellm_params: dict | None
) -> ScriptedRequest:
    meta = (litellm_params or {}).get("metadata") or {}
    last_user = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    fmt = optional_params.get("response_format") or {}
    schema = None
    if isinstance(fmt, dict):
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
    return ScriptedRequest(
        phase=str(meta.get("phase") or "adhoc"),
        agent=meta.get("agent"),
        subtask_id=meta.get("subtask_id"),
        execution_id=meta.get("execution_id"),
        last_user=last_user,
        max_tokens=optional_params.get("max_tokens"),
        schema=schema,
        structured=bool(fmt),
        tools=bool(optional_params.get("tools")),
    )


def _raise_fault(kind: str, model: str) -> None:
    provider = "podium-scripted"
    if kind == "rate_limit":
        raise litellm.RateLimitError("scripted rate limit", llm_provider=provider, model=model)
    if kind == "server_error":
        raise litellm.InternalServerError("scripted server error", llm_provider=provider, model=model)
    if kind == "timeout":
        raise litellm.Timeout("scripted timeout", model=model, llm_provider=provider)
    if kind == "disconnect":
        raise litellm.APIConnectionError("scripted dropped connection", llm_provider=provider, model=model)


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(approx_tokens(_text_of(m.get("content"))) + 3 for m in messages)


class ScriptedProvider(CustomLLM):
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
        runner = runner_for(model)
        reply = runner.answer(_request(messages, optional_params, litellm_params))
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        if reply.fault:
            _raise_fault(reply.fault, model)
        calls = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in reply.tool_calls
        ]
        model_response.choices[0].message = Message(content=reply.text or None, tool_calls=calls or None)  # type: ignore[union-attr]
        model_response.choices[0].finish_reason = "tool_calls" if calls else "stop"
        completion = approx_tokens(reply.text) + sum(approx_tokens(c["arguments"]) for c in reply.tool_calls)
        prompt = _prompt_tokens(messages)
        model_response.usage = Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,  # type: ignore[attr-defined]
            total_tokens=prompt + completion,
        )
        model_response.model = f"podium-scripted/{model}"
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
        runner = runner_for(model)
        reply = runner.answer(_request(messages, optional_params, litellm_params))
        pieces = re.findall(r"\s*\S+\s*", reply.text) or ([reply.text] if reply.text else [])
        pause = reply.latency_s / (len(pieces) + 1)
        if reply.fault and reply.fault != "disconnect":
            await asyncio.sleep(reply.latency_s)
            _raise_fault(reply.fault, model)
        if pause:
            await asyncio.sleep(pause)
        for i, piece in enumerate(pieces):
            if reply.fault == "disconnect" and i >= len(pieces) // 2:
                _raise_fault("disconnect", model)  # the connection drops mid-stream
            yield GenericStreamingChunk(
                text=piece, is_finished=False, finish_reason="", usage=None, index=0, tool_use=None
            )
            if pause:
                await asyncio.sleep(pause)
        if reply.fault == "disconnect":
            _raise_fault("disconnect", model)
        for n, call in enumerate(reply.tool_calls):
            yield GenericStreamingChunk(
                text="",
                is_finished=False,
                finish_reason="",
                usage=None,
                index=0,
                tool_use={
                    "id": call["id"],
                    "type": "function",
                    "index": n,
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                },
            )
        completion = approx_tokens(reply.text) + sum(approx_tokens(c["arguments"]) for c in reply.tool_calls)
        prompt = _prompt_tokens(messages)
        yield GenericStreamingChunk(
            text="",
            is_finished=True,
            finish_reason="tool_calls" if reply.tool_calls else "stop",
            index=0,
            tool_use=None,
            usage={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
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
        runner = runner_for(model)
        texts = [input] if isinstance(input, str) else list(input)
        model_response.data = [
            {"object": "embedding", "index": i, "embedding": runner.embed(t)} for i, t in enumerate(texts)
        ]
        tokens = sum(approx_tokens(t) for t in texts)
        model_response.usage = Usage(prompt_tokens=tokens, completion_tokens=0, total_tokens=tokens)
        model_response.model = f"podium-scripted/{model}"
        return model_response
