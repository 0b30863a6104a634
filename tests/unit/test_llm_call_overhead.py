"""The cheapest correct litellm call: no success logging nobody reads, a direct price-map hit."""

from __future__ import annotations

import asyncio

from podium.llm._litellm import get, without_success_logging
from podium.llm.gateway import Gateway
from podium.llm.types import CallContext

CTX = CallContext(execution_id="r1", phase="execution", agent="writer", subtask_id="t1")
ASK = [{"role": "user", "content": "Write the summary."}]


def _counting_logger() -> tuple[object, list[str]]:
    from litellm.integrations.custom_logger import CustomLogger

    seen: list[str] = []

    class Counting(CustomLogger):
        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):  # type: ignore[override]
            seen.append("success")

    return Counting(), seen


async def test_gateway_calls_skip_litellm_success_logging_but_keep_usage_and_cost(tmp_path):
    litellm = get()
    script = tmp_path / "m.toml"
    script.write_text('input_cost_per_mtok = 2.0\noutput_cost_per_mtok = 4.0\n[[rules]]\nreply = "done"\n')
    gw = Gateway(f"scripted:{script}")
    logger, seen = _counting_logger()
    saved = list(litellm.callbacks)
    litellm.callbacks = [logger]
    try:
        result = await gw.complete(ASK, context=CTX)
        await asyncio.sleep(0.05)  # litellm logs from a task it schedules
        assert seen == []  # the payload was never built
        assert result.content == "done" and result.usage.completion_tokens > 0
        assert result.usage.cost_usd > 0  # cost still comes from litellm's price map
        # The same call outside the gateway's context is logged: the check above can fail.
        await litellm.acompletion(model=_litellm_model(gw), messages=ASK,
                                  metadata=CTX.model_dump())
        await asyncio.sleep(0.05)
        assert seen == ["success"]
    finally:
        litellm.callbacks = saved


def _litellm_model(gw: Gateway) -> str:
    return gw._target(None).litellm_model  # the provider's model name


def test_the_flag_resets_after_the_block() -> None:
    from litellm._internal_context import is_internal_call  # fails loudly if litellm drops it

    with without_success_logging():
        assert is_internal_call.get() is True
    assert is_internal_call.get() is False


async def test_an_unpriced_scripted_model_costs_zero_not_unknown(tmp_path):
    script = tmp_path / "m.toml"
    script.write_text('[[rules]]\nreply = "done"\n')
    gw = Gateway(f"scripted:{script}")
    result = await gw.complete(ASK, context=CTX)
    assert result.usage.cost_usd == 0.0
    resp = await get().acompletion(model=_litellm_model(gw), messages=ASK, metadata=CTX.model_dump())
    assert resp._hidden_params["response_cost"] == 0.0  # found in the price map, not searched for
