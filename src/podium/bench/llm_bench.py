"""Gateway benchmark: what the gateway adds over bare litellm, and how fast the local model writes.

Figures only; nothing here passes or fails.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

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


async def _gateway_code_us(gateway: object, ctx: object, n: int = 3000) -> float:
    """The gateway's own code per call, with litellm's transport replaced by a canned response."""
    from podium.llm._litellm import get

    litellm = get()
    real = litellm.acompletion
    canned = await real(model=gateway._target(None).litellm_model, messages=MESSAGES)  # type: ignore[attr-defined]

    async def transport(**_: object) -> object:
        return canned

    litellm.acompletion = transport
    try:
        times = await _interleaved_ms(
            {
                "bare": lambda: transport(model="x", messages=MESSAGES),
                "gateway": lambda: gateway.complete(MESSAGES, context=ctx),
            },
            n,
        )  # type: ignore[attr-defined]
    finally:
        litellm.acompletion = real
    return (times["gateway"] - times["bare"]) * 1000


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


def _direct_rate(messages: list[dict[str, str]], tokens: int) -> float:
    """llama.cpp alone, same instance and sampling: the ceiling the gateway is measured against."""
    from podium.llm.local_model import get_local_model

    local = get_local_model()
    with local._chat_lock:
        stamps = [
            time.perf_counter()
            for chunk in local._chat.create_chat_completion(
                messages=messages, stream=True, max_tokens=tokens, temperature=0.8, repeat_penalty=1.1
            )
            if chunk["choices"][0].get("delta", {}).get("content")
        ]
    return (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0


async def _local_speed(tokens: int, rounds: int = 3) -> dict[str, float]:
    """Generation tokens/s (first token to last) through the gateway and llama.cpp direct,
    interleaved; time to first token through the gateway. Medians over rounds."""
    from podium.llm.gateway import Gateway
    from podium.llm.types import CallContext

    gateway = Gateway("local")
    prompt = [{"role": "user", "content": "Write a long story about a lighthouse keeper and a storm."}]
    await gateway.complete(prompt, context=CallContext(phase="bench"), max_tokens=8)  # load the model
    via, direct, ttfts, counts = [], [], [], []
    for _ in range(rounds):
        stamps: list[float] = []
        start = time.perf_counter()
        result = await gateway.complete(
            prompt,
            context=CallContext(phase="bench"),
            max_tokens=tokens,
            temperature=0.8,
            on_delta=lambda _, seen=stamps: seen.append(time.perf_counter()),
        )
        end = time.perf_counter()
        n = result.usage.completion_tokens
        if stamps and n > 1:
            via.append((n - 1) / (end - stamps[0]))
            ttfts.append((stamps[0] - start) * 1000)
            counts.append(n)
        direct.append(await asyncio.to_thread(_direct_rate, prompt, tokens))
    return {
        "local_tokens_per_s": statistics.median(via) if via else 0.0,
        "local_direct_tokens_per_s": statistics.median(direct),
        "local_ttft_ms": statistics.median(ttfts) if ttfts else 0.0,
        "local_tokens": statistics.median(counts) if counts else 0,
    }


async def run(calls: int = 300, tokens: int = 128, local: bool = True) -> dict[str, float]:
    from podium.llm._litellm import get
    from podium.llm.gateway import Gateway
    from podium.llm.types import CallContext

    litellm = get()
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.toml"
        script.write_text(f'[[rules]]\nreply = "{REPLY}"\n', encoding="utf-8")
        gateway = Gateway(f"scripted:{script}")
        ctx = CallContext(phase="bench", agent="bench")
        scripted_model = gateway._target(None).litellm_model  # the same provider, minus the gateway

        def printed(s: str) -> None:
            pass

        async def bare_mock_stream() -> None:
            await _consume(
                await litellm.acompletion(
                    model="gpt-4o-mini", messages=MESSAGES, mock_response=REPLY, stream=True
                )
            )

        async def bare_scripted_stream() -> None:
            await _consume(
                await litellm.acompletion(
                    model=scripted_model,
                    messages=MESSAGES,
                    stream=True,
                    stream_options={"include_usage": True},
                    metadata=ctx.model_dump(),
                )
            )

        streamed = max(1, calls // 3)
        plain = await _interleaved_ms(
            {
                "bare_mock_ms": lambda: litellm.acompletion(
                    model="gpt-4o-mini", messages=MESSAGES, mock_response=REPLY
                ),
                "bare_scripted_ms": lambda: litellm.acompletion(
                    model=scripted_model, messages=MESSAGES, metadata=ctx.model_dump()
                ),
                "gateway_ms": lambda: gateway.complete(MESSAGES, context=ctx),
            },
            calls,
        )
        stream = await _interleaved_ms(
            {
                "bare_mock_stream_ms": bare_mock_stream,
                "bare_scripted_stream_ms": bare_scripted_stream,
                "gateway_stream_ms": lambda: gateway.complete(MESSAGES, context=ctx, on_delta=printed),
            },
            streamed,
        )
        figures.update(plain)
        figures.update(stream)
        figures["gateway_code_us"] = await _gateway_code_us(gateway, ctx)

    figures["overhead_ms"] = figures["gateway_ms"] - figures["bare_scripted_ms"]
    figures["overhead_stream_ms"] = figures["gateway_stream_ms"] - figures["bare_scripted_stream_ms"]
    figures["version_s"] = _version_seconds()

    rows = [
        ("bare litellm, mock_response", "bare_mock_ms", "bare_mock_stream_ms", ""),
        ("bare litellm, scripted provider", "bare_scripted_ms", "bare_scripted_stream_ms", ""),
        ("gateway, scripted model", "gateway_ms", "gateway_stream_ms", ""),
        ("gateway minus bare (same provider)", "overhead_ms", "overhead_stream_ms", "   target < 0.5 ms"),
    ]
    print(f"llm benchmark ({calls} plain calls, {streamed} streamed; interleaved rounds, median)")
    print(f"  {'':<38}{'plain':>10}{'streamed':>12}")
    for label, a, b, note in rows:
        print(f"  {label:<38}{figures[a]:>7.2f} ms{figures[b]:>9.2f} ms{note}")
    print(f"  {'gateway code alone (transport stubbed)':<38}{figures['gateway_code_us'] / 1000:>7.3f} ms")
    if local:
        speed = await _local_speed(tokens)
        figures.update(speed)
        print(
            f"  {'local model via gateway, streamed':<38}{speed['local_tokens_per_s']:>7.1f} tokens/s "
            f"(~{speed['local_tokens']:.0f} tokens, first after {speed['local_ttft_ms']:.0f} ms)"
            "   target >= 90"
        )
        print(f"  {'local model, llama.cpp direct':<38}{speed['local_direct_tokens_per_s']:>7.1f} tokens/s")
    print(f"  {'podium --version':<38}{figures['version_s']:>7.3f} s    target < 0.3 s")
    version = importlib.metadata.version("litellm")
    print(f"  ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, litellm {version})")
    return figures
