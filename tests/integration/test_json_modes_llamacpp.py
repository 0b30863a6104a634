"""JSON modes against llama.cpp's own OpenAI-compatible server running the embedded SmolLM2."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from podium.llm import json_modes
from podium.llm.gateway import Gateway
from podium.llm.local_model import model_path
from podium.llm.types import CallContext
from tests.support.llama_server import llama_server

# One llama.cpp server for the module: its tests stay on one xdist worker.
pytestmark = [pytest.mark.local_model, pytest.mark.xdist_group("llamacpp_server")]
MODEL = "openai/smollm2"


class Pick(BaseModel):
    colour: Literal["red", "green", "blue"]
    word: str = Field(max_length=12)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with llama_server(str(model_path())) as base:
        yield base


async def test_probe_finds_llamacpp_enforces_json_object_with_schema(server: str) -> None:
    mode = await json_modes.describe(MODEL, server, timeout=120)
    # llama-cpp-python's server refuses "json_schema" (only text | json_object) and enforces the
    # schema given with "json_object": the probe token came back, so the grammar was applied
    assert (mode.mode, mode.source) == ("json_object", "probe"), mode.steps
    assert [s.outcome for s in mode.steps] == ["rejected", "enforced"]
    assert json_modes.cached(MODEL, server) is not None


async def test_structured_call_is_constrained_by_the_server(server: str) -> None:
    gateway = Gateway(MODEL, api_base=server, timeout=120)
    sent: list[dict] = []
    complete = gateway.complete

    async def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(kwargs.get("extra") or {})
        return await complete(*args, **kwargs)

    gateway.complete = spy  # type: ignore[method-assign]
    value, _ = await gateway.structured(
        [{"role": "user", "content": "Pick a colour and a word."}], Pick,
        context=CallContext(phase="check"), max_tokens=40)
    assert isinstance(value, Pick)
    assert len(sent) == 1, "the first reply should validate: the server enforces the schema"
    assert sent[0]["response_format"]["type"] == "json_object"
