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

from podium.llm.custom_provider import Call, Done, PodiumProvider, Reply, StreamItem, ToolCallOut, text_of
from podium.llm.scripted import ScriptedRequest, ScriptRunner, approx_tokens, load_script

_RUNNERS: dict[str, ScriptRunner] = {}


def register_script(path: str | Path, key: str) -> ScriptRunner:
    """Load a script under a key (the litellm model name is "podium-scripted/KEY")."""
    runner = _RUNNERS.get(key)
    if runner is None:
        script = load_script(path)
        runner = ScriptRunner(script, Path(path))
        _RUNNERS[key] = runner
        # In litellm's price map, like any priced model, for budget estimates and streamed calls
        # (plain calls carry their cost, see prices()). An unpriced script is registered at zero
        # too: a model missing from the map costs a slow search of it per call.
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


def _request(call: Call) -> ScriptedRequest:
    messages, optional_params, meta = call.messages, call.params, call.metadata
    last_user = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), "")
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
        system=system,
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
    return sum(approx_tokens(text_of(m.get("content"))) + 3 for m in messages)


def _completion_tokens(reply: Any) -> int:
    return approx_tokens(reply.text) + sum(approx_tokens(c["arguments"]) for c in reply.tool_calls)


class ScriptedProvider(PodiumProvider):
    name = "podium-scripted"

    async def reply(self, call: Call) -> Reply:
        reply = runner_for(call.model).answer(_request(call))
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        if reply.fault:
            _raise_fault(reply.fault, call.model)
        calls = [ToolCallOut(c["id"], c["name"], c["arguments"]) for c in reply.tool_calls]
        return Reply(reply.text, _prompt_tokens(call.messages), _completion_tokens(reply),
                     "tool_calls" if calls else "stop", calls)

    def prices(self, model: str) -> tuple[float, float]:
        script = runner_for(model).script
        return script.input_cost_per_mtok / 1e6, script.output_cost_per_mtok / 1e6

    async def stream(self, call: Call) -> AsyncIterator[StreamItem]:
        reply = runner_for(call.model).answer(_request(call))
        pieces = re.findall(r"\s*\S+\s*", reply.text) or ([reply.text] if reply.text else [])
        pause = reply.latency_s / (len(pieces) + 1)
        if reply.fault and reply.fault != "disconnect":
            await asyncio.sleep(reply.latency_s)
            _raise_fault(reply.fault, call.model)
        if pause:
            await asyncio.sleep(pause)
        for i, piece in enumerate(pieces):
            if reply.fault == "disconnect" and i >= len(pieces) // 2:
                _raise_fault("disconnect", call.model)  # the connection drops mid-stream
            yield piece
            if pause:
                await asyncio.sleep(pause)
        if reply.fault == "disconnect":
            _raise_fault("disconnect", call.model)
        for c in reply.tool_calls:
            yield ToolCallOut(c["id"], c["name"], c["arguments"])
        yield Done("tool_calls" if reply.tool_calls else "stop", _prompt_tokens(call.messages),
                   _completion_tokens(reply))

    async def embed_texts(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        runner = runner_for(model)
        return [runner.embed(t) for t in texts], sum(approx_tokens(t) for t in texts)
