"""The scripted model as a provider: scripted.py decides what to answer, this turns the decision
into a reply, a stream or the fault a real server would give (types.ProviderFault), so retries,
usage, cost and streaming go through the gateway's own path. No litellm here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from podium.llm.own_provider import Call, Done, OwnProvider, Reply, StreamItem, ToolCallOut, text_of
from podium.llm.scripted import ScriptedRequest, ScriptRunner, approx_tokens, load_script
from podium.llm.types import Disconnected, ModelConfigError, ProviderTimedOut, RateLimited, ServerFailed

_RUNNERS: dict[str, ScriptRunner] = {}


def register_script(path: str | Path, key: str) -> ScriptRunner:
    """Load a script under a key (the model name calls give: Call.model)."""
    runner = _RUNNERS.get(key)
    if runner is None:
        runner = ScriptRunner(load_script(path), Path(path))
        _RUNNERS[key] = runner
    return runner


def runner_for(key: str) -> ScriptRunner:
    try:
        return _RUNNERS[key]
    except KeyError:
        raise ModelConfigError(
            f"scripted model {key!r}: model not found (its script is not loaded)") from None


def _request(call: Call) -> ScriptedRequest:
    messages, params, meta = call.messages, call.params, call.metadata
    last_user = next((text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    system = next((text_of(m.get("content")) for m in messages if m.get("role") == "system"), "")
    fmt = params.get("response_format") or {}
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
        max_tokens=params.get("max_tokens"),
        schema=schema,
        structured=bool(fmt),
        tools=bool(params.get("tools")),
    )


def _raise_fault(kind: str) -> None:
    if kind == "rate_limit":
        raise RateLimited("scripted rate limit (HTTP 429)")
    if kind == "server_error":
        raise ServerFailed("scripted server error (HTTP 500)")
    if kind == "timeout":
        raise ProviderTimedOut("scripted timeout (HTTP 408)")
    if kind == "disconnect":
        raise Disconnected("scripted dropped connection")


def _prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(approx_tokens(text_of(m.get("content"))) + 3 for m in messages)


def _completion_tokens(reply: Any) -> int:
    return approx_tokens(reply.text) + sum(approx_tokens(c["arguments"]) for c in reply.tool_calls)


class ScriptedProvider(OwnProvider):
    async def reply(self, call: Call) -> Reply:
        reply = runner_for(call.model).answer(_request(call))
        if reply.latency_s:
            await asyncio.sleep(reply.latency_s)
        if reply.fault:
            _raise_fault(reply.fault)
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
            _raise_fault(reply.fault)
        if pause:
            await asyncio.sleep(pause)
        for i, piece in enumerate(pieces):
            if reply.fault == "disconnect" and i >= len(pieces) // 2:
                _raise_fault("disconnect")  # the connection drops mid-stream
            yield piece
            if pause:
                await asyncio.sleep(pause)
        if reply.fault == "disconnect":
            _raise_fault("disconnect")
        for c in reply.tool_calls:
            yield ToolCallOut(c["id"], c["name"], c["arguments"])
        yield Done("tool_calls" if reply.tool_calls else "stop", _prompt_tokens(call.messages),
                   _completion_tokens(reply))

    async def embed_texts(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        runner = runner_for(model)
        return [runner.embed(t) for t in texts], sum(approx_tokens(t) for t in texts)
