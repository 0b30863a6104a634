"""Gateway benchmark: what the gateway adds over a bare call to the same provider (the scripted
model, called directly as the gateway calls it), what litellm alone costs a call (a hosted model's
floor), and how fast the local model writes.

Figures only; nothing here passes or fails.
"""

from __future__ import annotations

import gc
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

MESSAGES = [{"role": "user", "content": "Say hello to the team."}]
REPLY = "Hello team, ready when you are."


async def _interleaved_ms(
    fns: dict[str, Callable[[], Awaitable[object]]], n: int, rounds: int = 7
) -> dict[str, float]:
    """Per-call ms for each fn: rounds alternate between them (so load from other processes hits all
    alike), GC paused while timing; the median round is reported."""
    for fn in fns.values():  # warm up caches and lazy imports
        for _ in range(max(5, n // 20)):
            await fn()
    per_round = max(1, n // rounds)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(per_round):
                    await fn()
                samples[name].append((time.perf_counter() - start) / per_round * 1000)
    finally:
        gc.enable()
    return {name: statistics.median(values) for name, values in samples.items()}


async def _consume(stream: object) -> None:
    async for _ in stream:  # type: ignore[attr-defined]
        pass


def _version_seconds(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "podium", "--version"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _stamp(seen: list[float], _: str) -> None:
    seen.append(time.perf_counter())


async def _local_speed(tokens: int, rounds: int = 5) -> dict[str, float]:
    """The local model's generation speed (first token to last) three ways, interleaved, same
    prompt and sampling: through the gateway (its own code + the worker's pipe), through the worker's
    pipe alone, and llama.cpp direct (timed inside the worker, next to the model). Medians."""
    from podium.llm.gateway import Gateway
    from podium.llm.local_model import Delta, get_local_model
    from podium.llm.types import CallContext

    gateway = Gateway("local")
    local = get_local_model()
    prompt = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]
    sampling: dict[str, Any] = {"max_tokens": tokens, "temperature": 0.8}
    await gateway.complete(prompt, context=CallContext(phase="bench"), max_tokens=8)  # load the model
    samples: dict[str, list[float]] = {k: [] for k in ("via", "pipe", "direct", "ttft_via", "ttft_pipe",
                                                        "ttft_direct", "tokens")}
    for _ in range(rounds):
        stamps: list[float] = []
        start = time.perf_counter()
        result = await gateway.complete(
            prompt, context=CallContext(phase="bench"), max_tokens=tokens, temperature=0.8,
            on_delta=partial(_stamp, stamps),
        )
        end = time.perf_counter()
        n = result.usage.completion_tokens
        if stamps and n > 1:
            samples["via"].append((n - 1) / (end - stamps[0]))
            samples["ttft_via"].append((stamps[0] - start) * 1000)
            samples["tokens"].append(n)
        pipe: list[float] = []
        produced = 0
        start = time.perf_counter()
        async for item in local.stream(prompt, **sampling):
            if isinstance(item, Delta):
                pipe.append(time.perf_counter())
            else:
                produced = item.completion_tokens
        end = time.perf_counter()
        if pipe and produced > 1:
            samples["ttft_pipe"].append((pipe[0] - start) * 1000)
            samples["pipe"].append((produced - 1) / (end - pipe[0]))
        direct = await local.direct(prompt, repeat_penalty=1.1, **sampling)
        samples["direct"].append(direct["tokens_per_s"])
        samples["ttft_direct"].append(direct["ttft_ms"])

    def med(key: str) -> float:
        return statistics.median(samples[key]) if samples[key] else 0.0

    return {
        "local_tokens_per_s": med("via"),
        "local_pipe_tokens_per_s": med("pipe"),
        "local_direct_tokens_per_s": med("direct"),
        "local_ttft_ms": med("ttft_via"),
        "local_pipe_ttft_ms": med("ttft_pipe"),
        "local_direct_ttft_ms": med("ttft_direct"),
        "local_tokens": med("tokens"),
    }


async def run(calls: int = 300, tokens: int = 128, local: bool = True) -> dict[str, float]:
    from podium.llm import own_calls
    from podium.llm._litellm import get
    from podium.llm.gateway import Gateway
    from podium.llm.own_provider import Call
    from podium.llm.types import CallContext

    litellm = get()  # only for its reference line: the scripted model never goes through it
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.toml"
        script.write_text(f'[[rules]]\nreply = "{REPLY}"\n', encoding="utf-8")
        gateway = Gateway(f"scripted:{script}")
        ctx = CallContext(phase="bench", agent="bench")
        # the same provider and request, minus the gateway
        provider = own_calls.provider("scripted")
        call = Call(model=gateway._target(None).provider_model, messages=MESSAGES, params={},
                    metadata=ctx.model_dump())

        def printed(s: str) -> None:
            pass

        async def bare_mock_stream() -> None:
            await _consume(
                await litellm.acompletion(
                    model="gpt-4o-mini", messages=MESSAGES, mock_response=REPLY, stream=True
                )
            )

        streamed = max(1, calls // 3)
        plain = await _interleaved_ms(
            {
                "litellm_mock_ms": lambda: litellm.acompletion(
                    model="gpt-4o-mini", messages=MESSAGES, mock_response=REPLY
                ),
                "bare_scripted_ms": lambda: provider.reply(call),
                "gateway_ms": lambda: gateway.complete(MESSAGES, context=ctx),
            },
            calls,
        )
        stream = await _interleaved_ms(
            {
                "litellm_mock_stream_ms": bare_mock_stream,
                "bare_scripted_stream_ms": lambda: _consume(provider.stream(call)),
                "gateway_stream_ms": lambda: gateway.complete(MESSAGES, context=ctx, on_delta=printed),
            },
            streamed,
        )
        figures.update(plain)
        figures.update(stream)

    figures["overhead_ms"] = figures["gateway_ms"] - figures["bare_scripted_ms"]
    figures["overhead_stream_ms"] = figures["gateway_stream_ms"] - figures["bare_scripted_stream_ms"]
    figures["version_s"] = _version_seconds()

    rows = [
        ("scripted provider, called bare", "bare_scripted_ms", "bare_scripted_stream_ms", ""),
        ("gateway, scripted model", "gateway_ms", "gateway_stream_ms", ""),
        ("gateway minus bare (same provider)", "overhead_ms", "overhead_stream_ms", "   target < 0.5 ms"),
        ("litellm alone, mock_response", "litellm_mock_ms", "litellm_mock_stream_ms",
         "   litellm's own work, no network"),
    ]
    print(f"llm benchmark ({calls} plain calls, {streamed} streamed; interleaved rounds, median)")
    print(f"  {'':<38}{'plain':>10}{'streamed':>12}")
    for label, a, b, note in rows:
        print(f"  {label:<38}{figures[a]:>7.3f} ms{figures[b]:>9.3f} ms{note}")
    if local:
        speed = await _local_speed(tokens)
        figures.update(speed)
        direct = speed["local_direct_tokens_per_s"] or 1.0
        print(
            f"  {'local model via gateway, streamed':<38}{speed['local_tokens_per_s']:>7.1f} tokens/s "
            f"({speed['local_tokens_per_s'] / direct:.2f} of direct; ~{speed['local_tokens']:.0f} tokens, "
            f"first after {speed['local_ttft_ms']:.0f} ms)   target >= 0.95 of direct"
        )
        print(
            f"  {'local model, worker pipe only':<38}{speed['local_pipe_tokens_per_s']:>7.1f} tokens/s "
            f"(first after {speed['local_pipe_ttft_ms']:.0f} ms)"
        )
        print(
            f"  {'local model, llama.cpp direct':<38}{speed['local_direct_tokens_per_s']:>7.1f} tokens/s "
            f"(first after {speed['local_direct_ttft_ms']:.0f} ms, inside the worker)"
        )
        added = speed["local_pipe_ttft_ms"] - speed["local_direct_ttft_ms"]
        print(f"  {'worker added to first token':<38}{added:>7.1f} ms      target < 20 ms")
        figures["local_worker_ttft_added_ms"] = added
    print(f"  {'podium --version':<38}{figures['version_s']:>7.3f} s    target < 0.3 s")
    version = importlib.metadata.version("litellm")
    print(f"  ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, litellm {version})")
    return figures
