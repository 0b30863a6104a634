"""The cheapest correct call: hosted models skip litellm's success logging nobody reads; Podium's own
models skip litellm altogether and carry their prices themselves."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from podium.llm._litellm import get, without_success_logging
from podium.llm.gateway import Gateway
from podium.llm.types import CallContext
from tests.support.openai_server import FakeOpenAIServer

CTX = CallContext(execution_id="r1", phase="execution", agent="writer", subtask_id="t1")
ASK = [{"role": "user", "content": "Write the summary."}]
HOSTED = "openai/gpt-4o-mini"  # in litellm's price map


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    with FakeOpenAIServer(model="gpt-4o-mini") as srv:
        yield srv


def _counting_logger() -> tuple[object, list[str]]:
    from litellm.integrations.custom_logger import CustomLogger

    seen: list[str] = []

    class Counting(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[override]
            seen.append("success")

    return Counting(), seen


async def test_hosted_calls_skip_litellm_success_logging_but_keep_usage_and_cost(server):
    litellm = get()
    gw = Gateway(HOSTED, api_base=server.base_url)
    logger, seen = _counting_logger()
    saved = list(litellm.callbacks)
    litellm.callbacks = [logger]
    try:
        result = await gw.complete(ASK, context=CTX)
        await asyncio.sleep(0.05)  # litellm logs from a task it schedules
        assert seen == []  # the payload was never built
        assert result.content and result.usage.completion_tokens > 0
        assert result.usage.cost_usd > 0  # cost still comes from litellm's price map
        assert len(server.chat_requests()) == 1  # the call went over litellm to the server
        # The same call outside the gateway's context is logged: the check above can fail.
        await litellm.acompletion(model=HOSTED, messages=ASK, api_base=server.base_url,
                                  api_key="sk-test-not-a-real-key")
        await asyncio.sleep(0.05)
        assert seen == ["success"]
    finally:
        litellm.callbacks = saved


def test_the_flag_resets_after_the_block() -> None:
    from litellm._internal_context import is_internal_call  # fails loudly if litellm drops it

    with without_success_logging():
        assert is_internal_call.get() is True
    assert is_internal_call.get() is False


async def test_an_unpriced_scripted_model_costs_zero_and_a_priced_one_its_prices(tmp_path):
    free = tmp_path / "free.toml"
    free.write_text('[[rules]]\nreply = "done"\n')
    priced = tmp_path / "priced.toml"
    priced.write_text('input_cost_per_mtok = 2.0\noutput_cost_per_mtok = 4.0\n[[rules]]\nreply = "done"\n')
    gw = Gateway(f"scripted:{free}")
    assert (await gw.complete(ASK, context=CTX)).usage.cost_usd == 0.0
    u = (await gw.complete(ASK, context=CTX, model=f"scripted:{priced}")).usage
    assert u.cost_usd == pytest.approx(u.prompt_tokens * 2e-6 + u.completion_tokens * 4e-6) and u.cost_usd > 0
