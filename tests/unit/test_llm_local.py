"""The embedded local model (SmolLM2-135M on llama.cpp), for real. Kept short: small max_tokens."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from podium.llm.gateway import Gateway
from podium.llm.types import CallContext
from tests.conftest import eventually

pytestmark = pytest.mark.local_model


class Status(BaseModel):
    status: Literal["done", "blocked"]
    note: str = Field(max_length=40)


async def test_local_completion_streams_real_tokens():
    gw = Gateway("local")
    deltas: list[str] = []
    result = await gw.complete(
        [{"role": "user", "content": "Say hello."}],
        context=CallContext(),
        max_tokens=12,
        on_delta=deltas.append,
    )
    assert result.content and "".join(deltas) == result.content
    assert 0 < result.usage.completion_tokens <= 12 and result.usage.prompt_tokens > 0
    assert result.usage.cost_usd == 0 and result.model == "local"


async def test_local_structured_output_is_constrained_to_the_schema():
    gw = Gateway("local")
    value, result = await gw.structured(
        [{"role": "user", "content": "The report is finished. Give its status."}],
        Status,
        context=CallContext(phase="review"),
        max_tokens=48,
    )
    assert value.status in ("done", "blocked") and len(value.note) <= 40
    assert result.usage.calls in (1, 2)


async def test_local_embeddings_place_similar_texts_closer():
    gw = Gateway("local")
    a, b, c = await gw.embed(
        ["The cat sat on the mat", "A kitten is sitting on a rug", "Quarterly tax filing deadlines"]
    )
    assert len(a) == len(b) == len(c) == 576
    dot = lambda u, v: sum(x * y for x, y in zip(u, v, strict=True))  # noqa: E731
    assert dot(a, b) > dot(a, c)


# ----------------------------------------------------------------- the worker process

async def test_llama_cpp_runs_in_a_worker_process_not_this_one():
    import os
    import sys

    from podium.llm.local_model import get_local_model

    local = get_local_model()
    info = await local.info()
    assert info["pid"] == local.worker_pid and info["pid"] != os.getpid()
    assert "llama_cpp" not in sys.modules  # native code never loads in Podium's own process
    assert info["threads"] >= 1 and "CPU" in info["system_info"]


async def test_a_worker_killed_mid_generation_fails_the_call_with_the_signal_and_restarts():
    import os
    import signal

    from podium.llm.local_model import Delta, get_local_model
    from podium.llm.types import LocalWorkerDied

    local = get_local_model()
    await local.load()
    victim = local.worker_pid
    with pytest.raises(LocalWorkerDied, match=r"local model worker died \(SIGSEGV\); restarted"):
        async for item in local.stream([{"role": "user", "content": "Tell a long story."}], max_tokens=400):
            if isinstance(item, Delta):
                os.kill(victim, signal.SIGSEGV)
    await eventually(lambda: local.worker_pid not in (None, victim), what="a new worker process")
    parts = [i async for i in local.stream([{"role": "user", "content": "Say hi."}], max_tokens=8)]
    assert parts[-1].completion_tokens > 0


async def test_the_gateway_retries_a_call_whose_worker_died_and_completes_it():
    import os
    import signal

    from podium.llm.local_model import get_local_model

    gw = Gateway("local")
    local = get_local_model()
    killed: list[int] = []

    def on_delta(_: str) -> None:
        if not killed:
            killed.append(local.worker_pid)
            os.kill(killed[0], signal.SIGKILL)

    result = await gw.complete(
        [{"role": "user", "content": "Write two sentences about boats."}],
        context=CallContext(), max_tokens=24, on_delta=on_delta,
    )
    assert killed and result.usage.completion_tokens > 0 and result.content
    assert local.worker_pid != killed[0]


async def test_a_cancelled_generation_stops_and_the_next_call_is_served():
    import asyncio
    import time

    from podium.llm.local_model import Delta, get_local_model

    local = get_local_model()
    await local.load()

    async def first_token_then_give_up() -> None:
        prompt = [{"role": "user", "content": "Count to a thousand."}]
        async for item in local.stream(prompt, max_tokens=2000):
            if isinstance(item, Delta):
                raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await first_token_then_give_up()
    start = time.monotonic()
    parts = [i async for i in local.stream([{"role": "user", "content": "Say hi."}], max_tokens=4)]
    assert parts[-1].completion_tokens > 0
    assert time.monotonic() - start < 10  # not behind 2000 tokens of the abandoned call


async def test_the_model_generates_with_extra_buffer_types_off_as_on_amx_cpus(monkeypatch):
    from podium.llm.local_model import LocalModel

    monkeypatch.setenv("PODIUM_LOCAL_EXTRA_BUFTS", "0")
    local = LocalModel()  # its own worker, started with the variable set
    try:
        info = await local.info()
        assert info["extra_bufts"] is False and "PODIUM_LOCAL_EXTRA_BUFTS" in info["extra_bufts_reason"]
        run = await local.direct([{"role": "user", "content": "Say hello."}], max_tokens=8)
        assert run["tokens"] > 0
    finally:
        local.close()


async def test_closing_stops_the_worker():
    from podium.llm.local_model import LocalModel

    local = LocalModel()
    await local.load()
    pid = local.worker_pid
    assert pid is not None
    local.close()
    assert local.worker_pid is None
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)
