"""The embedded local model (SmolLM2-135M on llama.cpp), for real. Kept short: small max_tokens."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from podium.llm.gateway import Gateway
from podium.llm.types import CallContext

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
